"""Figures of the synthetic study (gradient-correction paper Figs. 2, 3a-d, 4a, 5, 6, 8, 10, 12), drawn from
the interpretability table and the angle summaries.

Each function returns a matplotlib Figure; the stages save it with `plotting.save_figure`. Dicts keyed
by model type accept "cnn_deep_exp" (coloured as in `plotting.MODEL_COLORS` and titled "CNN-deep-exp")
or any other label, drawn in order.
"""

from __future__ import annotations

from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.colors import LogNorm  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402

from gradcorr._arrays import to_float64  # noqa: E402
from gradcorr.angles import ANGLE_EDGES, histogram_sd, pooled_mean_sd  # noqa: E402
from gradcorr.correction import correct, simplex_angle  # noqa: E402
from gradcorr.metrics import information_content  # noqa: E402
from gradcorr.studies.plotting import (  # noqa: E402
    LETTERS,
    METHOD_NAMES,
    MODEL_COLORS,
    THRESHOLD_COLORS,
    angle_bars,
    logo,
    model_type_label,
    share_ylim,
)

METRICS = {"cosine": "cosine similarity", "auroc": "AUROC", "aupr": "AUPR"}


def fig_interpretability(table: pd.DataFrame, method: str = "saliency") -> plt.Figure:
    """Fig. 2 (Fig. 5 for other methods): interpretability vs classification AUROC, and improvement.

    Top row: test AUROC (x) against each interpretability metric of the raw map (y). Bottom row: the
    raw score (x) against the improvement from correction (corrected - raw; y), green above zero and
    red below. One point per model, coloured by architecture and first-layer activation.
    """
    fig, axes = plt.subplots(2, 3, figsize=(12, 7.5), constrained_layout=True)
    groups = table.groupby(["arch", "activation"], sort=False)
    for col, (metric, name) in enumerate(METRICS.items()):
        top, bottom = axes[0, col], axes[1, col]
        for (arch, activation), rows in groups:
            style = {"color": MODEL_COLORS.get(f"{arch}_{activation}"), "s": 22, "alpha": 0.8,
                     "label": model_type_label(f"{arch}_{activation}")}
            top.scatter(rows["test_auroc"], rows[f"{metric}_raw"], **style)
            bottom.scatter(rows[f"{metric}_raw"], rows[f"{metric}_improvement"], **style)
        top.set(xlabel="classification AUROC", ylabel=f"interpretability {name}")
        bottom.set(xlabel=f"{name} before correction", ylabel=f"{name} improvement")
        span = max(table[f"{metric}_improvement"].abs().max(), 1e-3) * 1.15
        bottom.set_ylim(-span, span)
        bottom.axhspan(0, span, color="tab:green", alpha=0.12, lw=0)
        bottom.axhspan(-span, 0, color="tab:red", alpha=0.12, lw=0)
        bottom.axhline(0, color="black", lw=0.8)
    for ax, letter in zip(axes.flat, "abcdef"):
        ax.set_title(letter, loc="left", fontweight="bold")
    axes[0, 0].legend(frameon=False, fontsize=8)
    published = "source" in table and (table["source"] == "published").all()
    models = "of the authors' published models" if published else "models"
    fig.suptitle(f"Synthetic data, {METHOD_NAMES.get(method, method)}: {len(table)} {models}")
    return fig


def _color(key: str, default: str = "tab:gray") -> str:
    return MODEL_COLORS.get(key, default)


def logo_window(ground_truth: np.ndarray, window: int = 100) -> tuple[int, int]:
    """[start, stop) of the `window` consecutive positions with the largest total information of the
    ground truth M (bits) of one sequence, (A, L); the leftmost such window on ties; all of L when
    L <= window."""
    info = information_content(to_float64(ground_truth)[None])[0]
    length = info.size
    if length <= window:
        return 0, length
    sums = np.convolve(info, np.ones(window), mode="valid")
    start = int(np.flatnonzero(sums >= sums.max() - 1e-9)[0])
    return start, start + window


def fig_sequence_logos(raw: Any, x: Any, ground_truth: Any, index: int, window: int = 100, *,
                       model: str = "", sequence_label: Any = None, method: str = "saliency") -> plt.Figure:
    """Fig. 3a / 6: one sequence's raw map, angles, corrected map and ground truth M - 1/A.

    `raw`, `x`, `ground_truth` are (N, A, L) arrays of one model; `index` is the row shown (e.g.
    the summary's representative). Shown: `window` positions with the most ground-truth information
    (see `logo_window`), the same x-range in all four rows; the raw and corrected logos share a
    y-range. The observed sequence (from `x`) labels the bottom axis when the window is short.
    `sequence_label` (e.g. the dataset index) names the sequence in the title.
    """
    raw_s, x_s, gt_s = to_float64(raw)[index], to_float64(x)[index], to_float64(ground_truth)[index]
    start, stop = logo_window(gt_s, window)
    sl = slice(start, stop)
    corrected = correct(raw_s[None])[0]
    angle = simplex_angle(raw_s[None])[0]
    target = gt_s - 1.0 / gt_s.shape[0]

    fig, axes = plt.subplots(4, 1, figsize=(max(8.0, 0.1 * (stop - start)), 8.5), sharex=True,
                             constrained_layout=True)
    logo(axes[0], raw_s[:, sl], start)
    axes[0].set_ylabel(f"raw {method}\nscore")
    pos = np.arange(start, stop)
    angle_bars(axes[1], pos, angle[sl])
    logo(axes[2], corrected[:, sl], start)
    axes[2].set_ylabel(f"corrected {method}\nscore")
    share_ylim([axes[0], axes[2]])
    logo(axes[3], target[:, sl], start)
    axes[3].set_ylabel("ground truth\nM - 0.25")
    axes[3].set_xlim(start - 0.5, stop - 0.5)
    if stop - start <= 120:
        letters = np.array(list(LETTERS[: x_s.shape[0]]))[np.argmax(x_s[:, sl], axis=0)]
        axes[3].set_xticks(pos, letters, fontsize=6, family="monospace")
        axes[3].set_xlabel(f"position {start}-{stop - 1} (observed sequence)")
    else:
        axes[3].set_xlabel("position")
    for ax, letter in zip(axes, ("raw map", "angle (red: |angle| > 45 deg)", "corrected map",
                                 "ground truth")):
        ax.set_title(letter, loc="left", fontsize=9)
    name = f"sequence {sequence_label} (row {index})" if sequence_label is not None else f"row {index}"
    fig.suptitle(f"{model}: {name}; positions {start}-{stop - 1}, the {stop - start}-position window "
                 "with the most ground-truth information", fontsize=10)
    return fig


def _density(hist: np.ndarray, edges: np.ndarray) -> np.ndarray:
    total = hist.sum()
    return hist / (total * np.diff(edges)) if total else np.zeros(hist.shape)


def _draw_hist2d(ax: plt.Axes, counts: np.ndarray, x_edges: np.ndarray, y_edges: np.ndarray, cmap: str,
                 alpha: float = 1.0) -> None:
    """Log-coloured 2-D histogram (x bins along rows of `counts`), empty bins transparent."""
    data = np.ma.masked_equal(counts.T.astype(float), 0)
    if data.count():
        ax.pcolormesh(x_edges, y_edges, data, cmap=cmap, norm=LogNorm(vmin=1, vmax=max(data.max(), 2)),
                      alpha=alpha, shading="flat", rasterized=True)


def _nonzero_range(counts: np.ndarray, edges: np.ndarray, pad: float = 0.05) -> tuple[float, float]:
    """y-limits covering the bins (columns of `counts`) that hold data, padded."""
    cols = np.flatnonzero(counts.sum(axis=0))
    if cols.size == 0:
        return float(edges[0]), float(edges[-1])
    lo, hi = edges[cols[0]], edges[cols[-1] + 1]
    span = hi - lo
    return float(lo - pad * span), float(hi + pad * span)


def fig_angle_analysis(combined_by_model_type: dict[str, dict[str, np.ndarray]],
                       method: str = "saliency") -> plt.Figure:
    """Fig. 3c-d / 8: one row per model type, four panels (4 axes per row).

    (a) angle density at ground-truth positions, (b) cosine improvement (corrected - raw) against
    angle at ground-truth positions with the bound 1 - cos(angle) in red, (c) angle density at
    background positions, (d) grad-times-input against angle at background positions, raw (blue)
    and corrected (red). 2-D histograms are coloured by log count.
    """
    types = list(combined_by_model_type)
    fig, axes = plt.subplots(len(types), 4, figsize=(16, 3.4 * len(types)), squeeze=False,
                             constrained_layout=True)
    for row, key in zip(axes, types):
        s = combined_by_model_type[key]
        edges = s["angle_edges"]
        centers = 0.5 * (edges[1:] + edges[:-1])
        label = model_type_label(key)
        for ax, region, name in ((row[0], "ground_truth", "ground-truth"), (row[2], "background", "background")):
            _, sd = pooled_mean_sd(s, region)
            ax.stairs(_density(s[f"angle_hist_{region}"], edges), edges, fill=True, alpha=0.5,
                      color=_color(key))
            ax.set(xlim=(-90, 90), xticks=[-90, -45, 0, 45, 90], xlabel="angle to simplex (deg)",
                   ylabel="density (1/deg)")
            ax.set_title(f"{label}: {name} positions\nn = {int(s[f'angle_n_{region}'])}, SD {sd:.1f} deg",
                         fontsize=9)
        ax = row[1]
        _draw_hist2d(ax, s["improvement_hist"], edges, s["improvement_edges"], "viridis")
        ax.plot(centers, 1 - np.cos(np.radians(centers)), color="red", lw=1.2, label="1 - cos(angle)")
        lo, hi = _nonzero_range(s["improvement_hist"], s["improvement_edges"])
        ax.set(xlim=(-90, 90), xticks=[-90, -45, 0, 45, 90], ylim=(min(lo, -0.05), max(hi, 0.3)),
               xlabel="angle to simplex (deg)", ylabel="cosine improvement\n(corrected - raw)")
        ax.axhline(0, color="black", lw=0.5)
        ax.legend(frameon=False, fontsize=8, loc="upper center")
        ax.set_title(f"{label}: ground-truth positions\nimprovement vs angle (log count)", fontsize=9)
        ax = row[3]
        gti_edges = s["gti_edges"]
        _draw_hist2d(ax, s["gti_hist_raw"], edges, gti_edges, "Blues", alpha=0.8)
        _draw_hist2d(ax, s["gti_hist_corrected"], edges, gti_edges, "Reds", alpha=0.6)
        lo, hi = _nonzero_range(s["gti_hist_raw"] + s["gti_hist_corrected"], gti_edges)
        ax.set(xlim=(-90, 90), xticks=[-90, -45, 0, 45, 90], ylim=(lo, hi),
               xlabel="angle to simplex (deg)",
               ylabel=("grad-times-input\n(units: each model's 99.5th pct)" if "gti_scale" in s
                       else f"grad-times-input\n({method} score)"))
        ax.axhline(0, color="black", lw=0.5)
        ax.legend(handles=[Patch(color="tab:blue", label="raw"), Patch(color="tab:red", label="corrected")],
                  frameon=False, fontsize=8, loc="upper right")
        outside = s["gti_outside"]
        ax.set_title(f"{label}: background positions\ngrad-times-input vs angle (log count);\n"
                     f"beyond the bins: {int(outside[0])} raw, {int(outside[1])} corrected", fontsize=9)
    for ax, letter in zip(axes[0], "abcd"):
        ax.set_title(f"({letter}) {ax.get_title()}", fontsize=9)
    fig.suptitle(f"Angles between {method} gradients and the simplex (synthetic data, test sequences)")
    return fig


def fig_large_angles(combined_by_model_type: dict[str, dict[str, np.ndarray]],
                     method: str = "saliency") -> plt.Figure:
    """Fig. 4a / 12: per model type (one axis each), histograms over sequences of the percent of
    positions with |angle| above each threshold (30, 45, 60 deg)."""
    types = list(combined_by_model_type)
    fig, axes = plt.subplots(1, len(types), figsize=(max(6.0, 4.2 * len(types)), 3.6), squeeze=False,
                             constrained_layout=True)
    bins = np.linspace(0, 100, 51)
    for ax, key in zip(axes[0], types):
        s = combined_by_model_type[key]
        pct = s["large_angle_percent"]
        for j, t in enumerate(s["thresholds"]):
            col = pct[:, j][~np.isnan(pct[:, j])]
            ax.hist(col, bins=bins, histtype="stepfilled", alpha=0.45,
                    color=THRESHOLD_COLORS[j % len(THRESHOLD_COLORS)],
                    label=f"> {t:g} deg (mean {col.mean():.1f}%)" if col.size else f"> {t:g} deg")
        hi = np.nanmax(pct) if np.isfinite(pct).any() else 100.0
        ax.set(xlim=(0, min(100.0, max(10.0, hi * 1.1))), xlabel="positions with |angle| above threshold (%)",
               ylabel="sequences")
        ax.set_title(f"{model_type_label(key)}: {pct.shape[0]} sequences, {int(s['n_models'])} model(s)", fontsize=9)
        ax.legend(frameon=False, fontsize=8)
    fig.suptitle(f"Large angles between {method} gradients and the simplex,\nper sequence", fontsize=11)
    return fig


def fig_ensemble_angles(single: dict[str, np.ndarray], ensemble: dict[str, np.ndarray],
                        edges: np.ndarray = ANGLE_EDGES, method: str = "saliency") -> plt.Figure:
    """Fig. 10: per model type (one axis each), angle density of single models (pooled histogram
    counts, blue) against that of the ensemble-averaged raw map (orange). Values are angle counts
    over `edges`, e.g. a combined summary's angle_hist_all and `angles.angle_histogram(
    ensemble_difference.ensemble_average(maps))`."""
    types = list(single)
    fig, axes = plt.subplots(1, len(types), figsize=(max(6.0, 4.2 * len(types)), 3.6), squeeze=False,
                             constrained_layout=True)
    for ax, key in zip(axes[0], types):
        for hist, name, style in ((single[key], "single models", {"fill": True, "alpha": 0.45, "color": "tab:blue"}),
                                  (ensemble[key], "ensemble average", {"lw": 1.5, "color": "tab:orange"})):
            hist = np.asarray(hist)
            sd = histogram_sd(hist, edges)
            ax.stairs(_density(hist, edges), edges, label=f"{name} (binned SD {sd:.1f} deg)", **style)
        ax.set(xlim=(-90, 90), xticks=[-90, -45, 0, 45, 90], xlabel="angle to simplex (deg)",
               ylabel="density (1/deg)")
        ax.set_title(model_type_label(key), fontsize=9)
        ax.legend(frameon=False, fontsize=8)
    fig.suptitle(f"Angles of {method} maps at all positions:\n"
                 "single models vs the ensemble-averaged raw map", fontsize=11)
    return fig
