"""Figures of the consistency paper (Majdandzic, Rajesh & Koo): Fig. 2 (AUROC vs SNR, SNR vs each KLD,
k-mer distributions and angular densities of two models), Fig. 5 (other methods), Fig. 6 (sensitivity).

Each scatter has one point per model: colour by regularizer, marker by first-layer activation (circle
relu, triangle exp), filled when the model passes the AUROC filter, hollow when not; Pearson r over
the models that pass.
"""

from __future__ import annotations

from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from gradcorr.kld import angular_density, attributed_kmer_counts, kmer_counts, kmer_names, local_vectors  # noqa: E402
from gradcorr.metrics import pearson  # noqa: E402
from gradcorr.studies.plotting import METHOD_NAMES  # noqa: E402

REG_NAMES = {"none": "standard", "mixup": "mixup", "manifold_mixup": "manifold mixup", "noise": "input noise",
             "manifold_noise": "manifold noise", "adversarial": "adversarial", "spectral_norm": "spectral norm"}
REG_COLORS = dict(zip(REG_NAMES, plt.get_cmap("tab10").colors))
MARKERS = {"relu": "o", "exp": "^"}
KLD_NAMES = {"kld_kmer": "KLD (k-mer)", "kld_attr_mean": "KLD (k-attr-mean)"}


def _scatter(ax: plt.Axes, table: pd.DataFrame, x: str, y: str, highlight: tuple[str, ...] = ()) -> None:
    """One point per model of `table` (x, y columns); `highlight` models annotated Model 1, Model 2, ..."""
    for (reg, act, passed), rows in table.groupby(["regularizer", "activation", "passed"], sort=True):
        color = REG_COLORS[reg]
        ax.scatter(rows[x], rows[y], marker=MARKERS[act], s=24, alpha=0.85, linewidths=1,
                   facecolors=color if passed else "none", edgecolors=color)
    for number, name in enumerate(highlight, start=1):
        row = table[table["model"] == name]
        if len(row):
            ax.annotate(f"Model {number}", (row[x].iloc[0], row[y].iloc[0]), xytext=(6, 6),
                        textcoords="offset points", fontsize=8, arrowprops={"arrowstyle": "-", "lw": 0.6})
    ax.set(xlabel=KLD_NAMES.get(x, x.replace("_", " ")), ylabel=KLD_NAMES.get(y, y.replace("_", " ")))


def _legend(ax: plt.Axes, table: pd.DataFrame) -> None:
    handles = [plt.Line2D([], [], ls="", marker="s", color=REG_COLORS[r], label=REG_NAMES[r])
               for r in REG_NAMES if r in set(table["regularizer"])]
    handles += [plt.Line2D([], [], ls="", marker=MARKERS[a], color="grey", label=a)
                for a in MARKERS if a in set(table["activation"])]
    handles.append(plt.Line2D([], [], ls="", marker="o", markerfacecolor="none", color="grey",
                              label="fails AUROC filter"))
    ax.legend(handles=handles, frameon=False, fontsize=7)


def _snr_vs_kld(ax: plt.Axes, table: pd.DataFrame, kld: str, highlight: tuple[str, ...]) -> None:
    _scatter(ax, table, kld, "snr", highlight)
    ax.set_ylabel("attribution SNR")
    r = pearson(table[table["passed"]], kld, "snr")
    ax.text(0.03, 0.95, f"Pearson r = {r:.3f}", transform=ax.transAxes, va="top", fontsize=8)


def fig_snr_kld(models: pd.DataFrame, chosen: dict[str, dict[str, Any]], x_test: np.ndarray, *, method: str,
                settings: dict[str, Any]) -> tuple[plt.Figure, pd.DataFrame]:
    """Fig. 2 a-f: (a) test AUROC vs attribution SNR; (b, c) SNR vs each KLD with Pearson r; (d) the
    attributed k-mer frequencies of Model 1 and Model 2 (`chosen`: model -> its attribution file's
    contents) against the prior of all test sequences `x_test`, with a ranked log-log inset; (e, f)
    their angular densities. Returns the figure and the k-mer frequencies drawn in (d)."""
    km, am = settings["kmer"], settings["attr_mean"]
    names = list(chosen)
    fig = plt.figure(figsize=(13, 8), constrained_layout=True)
    grid = fig.add_gridspec(2, 3)
    panels = [fig.add_subplot(grid[row, col]) for row in range(2) for col in range(3)]
    _scatter(panels[0], models, "test_auroc", "snr", tuple(names))
    panels[0].set(xlabel="test AUROC", ylabel="attribution SNR")
    _legend(panels[0], models)
    for ax, kld in zip(panels[1:3], KLD_NAMES):
        _snr_vs_kld(ax, models, kld, tuple(names))

    ax = panels[3]
    prior = kmer_counts(x_test, km["k"]).astype(float)
    freq = {"prior": prior / prior.sum()}
    for name, d in chosen.items():
        counts = attributed_kmer_counts(d["raw"], d["x"], **km).astype(float)
        freq[name] = counts / max(counts.sum(), 1.0)
    order = np.argsort(-freq["prior"], kind="stable")
    inset = ax.inset_axes([0.52, 0.5, 0.45, 0.45])
    styles = [{"color": "black", "lw": 1.2, "zorder": 3}, {"color": "tab:red", "lw": 0.6, "alpha": 0.7},
              {"color": "tab:blue", "lw": 0.6, "alpha": 0.7}]
    for label, style, (name, f) in zip(["prior", "Model 1", "Model 2"], styles, freq.items()):
        ax.plot(f[order], label=label if name == "prior" else f"{label} ({name})", **style)
        ranked = np.sort(f[f > 0])[::-1]
        inset.loglog(np.arange(1, len(ranked) + 1), ranked, **style)
    ax.set(xlabel=f"{km['k']}-mer (ordered by prior frequency)", ylabel="frequency")
    inset.set_xlabel("rank", fontsize=7)
    inset.set_ylabel("frequency", fontsize=7)
    inset.tick_params(labelsize=6)
    ax.legend(frameon=False, fontsize=7, loc="upper left", bbox_to_anchor=(0.0, 0.42))
    for ax, label, (name, d) in zip(panels[4:], ["Model 1", "Model 2"], chosen.items()):
        density, theta, phi = angular_density(local_vectors(d["raw"], am["window"], am["basis"]),
                                              am["percentile"], am["bin_width"])
        image = ax.imshow(density, origin="lower", aspect="auto", cmap="viridis",
                          extent=(phi[0], phi[-1], theta[0], theta[-1]))
        fig.colorbar(image, ax=ax, label="density")
        kld = models.loc[models["model"] == name, ["kld_attr_mean", "snr"]].iloc[0]
        ax.set(xlabel="azimuth (rad)", ylabel="polar angle (rad)",
               title=f"{label}: {name}\nKLD {kld['kld_attr_mean']:.3f}, SNR {kld['snr']:.2f}")
    for ax, letter in zip(panels, "abcdef"):
        ax.set_title(letter, loc="left", fontweight="bold")
    fig.suptitle(f"Consistency on synthetic data, {METHOD_NAMES.get(method, method)}: {len(models)} models, "
                 f"{int(models['passed'].sum())} pass the AUROC filter")
    return fig, pd.DataFrame({"kmer": kmer_names(km["k"]), **freq})


def fig_snr_kld_methods(tables: dict[str, pd.DataFrame], highlight: tuple[str, ...]) -> plt.Figure:
    """Fig. 5: attribution SNR vs the k-mer KLD (top row) and the k-attr-mean KLD (bottom row), one
    column per method of `tables`, with Fig. 2's Model 1 and Model 2 annotated."""
    fig, axes = plt.subplots(2, len(tables), figsize=(4.5 * len(tables), 7.5), squeeze=False,
                             constrained_layout=True)
    for col, (method, table) in enumerate(tables.items()):
        for row, kld in enumerate(KLD_NAMES):
            _snr_vs_kld(axes[row, col], table, kld, highlight)
        axes[0, col].set_title(METHOD_NAMES.get(method, method))
    _legend(axes[0, 0], next(iter(tables.values())))
    return fig


SWEEPS = [("kld_kmer", "k", "k-mer size k"), ("kld_kmer", "percentile", "attribution threshold (percentile)"),
          ("kld_attr_mean", "window", "window size k")]


def fig_sensitivity(sweep: pd.DataFrame, *, method: str) -> tuple[plt.Figure, pd.DataFrame]:
    """Fig. 6: mean KLD over the trials that pass the filter of each regularizer (colour) and BatchNorm
    (solid on, dashed off) against each swept parameter (columns: k and threshold of the k-mer
    method, window of k-attr-mean); rows exp then relu first layer. Returns the figure and the means."""
    kept = sweep[sweep["passed"]]
    means = (kept.groupby(["activation", "regularizer", "batchnorm", "metric", "parameter", "value"])["kld"]
             .agg(["mean", "count"]).reset_index())
    activations = [a for a in ("exp", "relu") if a in set(sweep["activation"])]
    fig, axes = plt.subplots(len(activations), 3, figsize=(13, 3.6 * len(activations)), squeeze=False,
                             constrained_layout=True)
    for row, act in enumerate(activations):
        for col, (metric, parameter, label) in enumerate(SWEEPS):
            ax = axes[row, col]
            mine = means[(means["activation"] == act) & (means["metric"] == metric) & (means["parameter"] == parameter)]
            for (reg, bn), line in mine.groupby(["regularizer", "batchnorm"]):
                ax.plot(line["value"], line["mean"], marker=".", color=REG_COLORS[reg], ls="-" if bn else "--",
                        label=f"{REG_NAMES[reg]}, {'BN' if bn else 'no BN'}")
            ax.set(xlabel=label, ylabel=KLD_NAMES[metric], title=f"{act} first layer")
        axes[row, 0].legend(frameon=False, fontsize=6, ncol=2)
    fig.suptitle(f"Sensitivity of the consistency KLDs, {METHOD_NAMES.get(method, method)}: mean over "
                 f"{kept['model'].nunique()} models passing the AUROC filter")
    return fig, means
