"""Figures of the ChIP-seq half (paper Figs. 3b, 3e, 4b, 7, 9, 13).

Each function returns a matplotlib Figure (and, for the logos, the table of what is drawn); the
stages save it with `plotting.save_figure`.
"""

from __future__ import annotations

from typing import Any

import matplotlib

matplotlib.use("Agg")
import logomaker  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from gradcorr.correction import correct, simplex_angle  # noqa: E402
from gradcorr.studies.plotting import (  # noqa: E402
    LETTERS,
    THRESHOLD_COLORS,
    angle_bars,
    information_matrix,
    logo,
    model_type_label,
)


def fig_angle_reduction(densities: pd.DataFrame, reductions: pd.DataFrame, model_type: str) -> plt.Figure:
    """Fig. 3e / 9: per TF, angle densities of single models (top) and of the ensemble map (middle), and the
    ensemble-difference reduction against the single model's angle (bottom), one line per TF."""
    fig, axes = plt.subplots(3, 1, figsize=(6.5, 9), sharex=True, constrained_layout=True)
    colors = plt.get_cmap("tab10")
    for i, (tf, d) in enumerate(densities.groupby("tf", sort=False)):
        centres = (d["angle_lo"] + d["angle_hi"]) / 2
        width = (d["angle_hi"] - d["angle_lo"]).to_numpy()
        for ax, column in ((axes[0], "count_single"), (axes[1], "count_ensemble")):
            counts = d[column].to_numpy(dtype=float)
            ax.plot(centres, counts / max(counts.sum(), 1) / width, color=colors(i % 10), lw=1.2, label=tf)
        r = reductions[reductions["tf"] == tf]
        axes[2].plot((r["angle_lo"] + r["angle_hi"]) / 2, r["reduction_percent"], marker="o", ms=3,
                     color=colors(i % 10), label=tf)
    axes[0].set(ylabel="density", title=f"{model_type_label(model_type)}: angles of single-model saliency")
    axes[1].set(ylabel="density", title="angles of the ensemble-averaged saliency map")
    axes[2].axhline(0, color="black", lw=0.5)
    axes[2].set(xlabel="angle of the single model's gradient to the simplex (deg)",
                ylabel="ensemble difference\nreduction (%)", xlim=(-90, 90),
                title="L2 distance to the ensemble average: decrease after correction")
    axes[0].legend(fontsize=7, ncol=2, frameon=False)
    return fig


def fig_invivo_large_angles(large: pd.DataFrame, synthetic: pd.DataFrame | None, model_type: str) -> plt.Figure:
    """Fig. 4b / 13: per threshold, the mean percentage of positions above it, one point per TF (box across
    TFs), beside the synthetic study's mean (dashed) when that study ran."""
    columns = [c for c in large.columns if c.startswith("percent_above_")]
    fig, ax = plt.subplots(figsize=(5, 4), constrained_layout=True)
    for j, column in enumerate(columns):
        values = large[column].to_numpy(dtype=float)
        ax.boxplot(values, positions=[j], widths=0.5, showfliers=False)
        jitter = np.linspace(-0.12, 0.12, len(values)) if len(values) > 1 else np.zeros(1)
        ax.scatter(j + jitter, values, color=THRESHOLD_COLORS[j % 3], s=18, zorder=3)
        for x, v, tf in zip(j + jitter, values, large["source"]):
            ax.annotate(tf, (x, v), fontsize=6, xytext=(3, 0), textcoords="offset points")
        if synthetic is not None:
            ax.hlines(float(synthetic[column].iloc[0]), j - 0.35, j + 0.35, colors=THRESHOLD_COLORS[j % 3],
                      linestyles="dashed", label="synthetic mean" if j == 0 else None)
    ax.set_xticks(range(len(columns)), [f"> {c.removeprefix('percent_above_')} deg" for c in columns])
    ax.set(ylabel="positions per sequence (%)",
           title=f"{model_type_label(model_type)}: large gradient angles, ChIP-seq TFs")
    if synthetic is not None:
        ax.legend(fontsize=7, frameon=False)
    return fig


def representative_row(sequence_reduction: np.ndarray) -> int:
    """The sequence whose ensemble-difference reduction is the lower median (NaNs left out; row 0 if all NaN)."""
    valid = np.flatnonzero(~np.isnan(sequence_reduction))
    if valid.size == 0:
        return 0
    order = valid[np.argsort(sequence_reduction[valid], kind="stable")]
    return int(order[(len(order) - 1) // 2])


def attribution_window(ensemble: np.ndarray, x: np.ndarray, window: int) -> tuple[int, int]:
    """[start, stop) of the `window` positions with the largest summed |ensemble grad-times-input| (leftmost)."""
    score = np.abs((ensemble * x).sum(axis=0))
    if score.size <= window:
        return 0, score.size
    sums = np.convolve(score, np.ones(window), mode="valid")
    start = int(np.flatnonzero(sums >= sums.max() - 1e-12 * max(sums.max(), 1))[0])
    return start, start + window


def jaspar_motif(jaspar_id: str, release: str) -> pd.DataFrame:
    """A JASPAR motif (read offline through pyjaspar) as an information matrix, rows positions, columns ACGT."""
    from gradcorr.motifs import jaspar_motifs

    motif = jaspar_motifs(release, ids=[jaspar_id]).iloc[0]
    info = information_matrix(motif["pwm"].T)
    info.attrs["name"] = f"{motif['name']} ({jaspar_id}, {release})"
    return info


def fig_invivo_logos(raw: np.ndarray, x: np.ndarray, ensemble: np.ndarray, window: int, *,
                     motif: pd.DataFrame | None, title: str) -> tuple[plt.Figure, pd.DataFrame]:
    """Fig. 3b / 7 for one positive sequence: raw saliency, angle, corrected saliency, ensemble average, and the
    TF's known motif below. Arrays are (A, L) of one sequence. Returns the figure and the drawn values."""
    start, stop = attribution_window(ensemble, x, window)
    sl, pos = slice(start, stop), np.arange(start, stop)
    corrected, angle = correct(raw, axis=0), simplex_angle(raw, axis=0)
    rows = 5 if motif is not None else 4
    fig, axes = plt.subplots(rows, 1, figsize=(max(8.0, 0.12 * (stop - start)), 2.0 * rows), constrained_layout=True)
    logo(axes[0], raw[:, sl], start)
    angle_bars(axes[1], pos, angle[sl])
    logo(axes[2], corrected[:, sl], start)
    logo(axes[3], ensemble[:, sl], start)
    for ax in axes[:4]:
        ax.set_xlim(start - 0.5, stop - 0.5)
    lo = min(axes[0].get_ylim()[0], axes[2].get_ylim()[0])
    hi = max(axes[0].get_ylim()[1], axes[2].get_ylim()[1])
    for ax in (axes[0], axes[2]):
        ax.set_ylim(lo, hi)
    letters = np.array(list(LETTERS))[np.argmax(x[:, sl], axis=0)]
    axes[3].set_xticks(pos, letters, fontsize=6, family="monospace")
    for ax, name in zip(axes, ("raw saliency", "angle (red: |angle| > 45 deg)", "corrected saliency",
                               "ensemble-average saliency (observed sequence below)")):
        ax.set_title(name, loc="left", fontsize=9)
    if motif is not None:
        logomaker.Logo(motif, ax=axes[4], color_scheme="classic")
        axes[4].set(ylabel="bits", ylim=(0, 2))
        axes[4].set_title(f"JASPAR motif {motif.attrs.get('name', '')}", loc="left", fontsize=9)
    fig.suptitle(f"{title}; positions {start}-{stop - 1}", fontsize=10)
    table: dict[str, Any] = {"position": pos, "base": letters, "angle": angle[sl]}
    for name, values in (("raw", raw), ("corrected", corrected), ("ensemble", ensemble)):
        for a, letter in enumerate(LETTERS):
            table[f"{name}_{letter}"] = values[a, sl]
    return fig, pd.DataFrame(table)
