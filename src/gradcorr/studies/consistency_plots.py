"""Figures of the consistency paper (Majdandzic, Rajesh & Koo): Fig. 2 (AUROC vs SNR, SNR vs each KLD,
k-mer distributions and angular densities of two models; 2g their logos), Fig. 4 (AUPR vs SNR), Fig. 5
(other methods), Fig. 6 (sensitivity).

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

from gradcorr.correction import correct  # noqa: E402
from gradcorr.kld import angular_density, attributed_kmer_counts, kmer_counts, kmer_names, local_vectors  # noqa: E402
from gradcorr.metrics import grad_times_input, information_content, pearson  # noqa: E402
from gradcorr.studies.plotting import LETTERS, METHOD_NAMES, logo, share_ylim  # noqa: E402

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
        density, theta, phi = angular_density(local_vectors(d["raw"], am["window"]),
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


def fig_aupr_snr(models: pd.DataFrame, highlight: tuple[str, ...], *, method: str) -> tuple[plt.Figure, pd.DataFrame]:
    """Fig. 4: test AUPR against attribution SNR, one point per model of `models` (marked as in Fig. 2a),
    with `highlight` (Fig. 2's Model 1 and Model 2) annotated. Returns the figure and the points drawn
    (`label` names the annotated models)."""
    fig, ax = plt.subplots(figsize=(5.5, 4.5), constrained_layout=True)
    _scatter(ax, models, "test_aupr", "snr", highlight)
    ax.set(xlabel="test AUPR", ylabel="attribution SNR",
           title=f"{METHOD_NAMES.get(method, method)}: {len(models)} models, "
                 f"{int(models['passed'].sum())} pass the AUROC filter")
    _legend(ax, models)
    labels = {name: f"Model {number}" for number, name in enumerate(highlight, start=1)}
    points = models[["model", "regularizer", "activation", "passed", "test_aupr", "snr"]].copy()
    points["label"] = points["model"].map(labels).fillna("")
    return fig, points


LOGO_PAD = 5  # positions shown either side of a sequence's ground truth in Fig. 2g


def truth_span(info: np.ndarray, threshold: float = 0.1, pad: int = LOGO_PAD) -> tuple[int, int]:
    """[start, stop) from `pad` positions before the first to `pad` after the last position whose
    information `info` (bits, one sequence, (L,)) is above `threshold` (the SNR's motif positions),
    clipped to the sequence; all of it when no position is."""
    motif = np.flatnonzero(info > threshold)
    if motif.size == 0:
        return 0, info.size
    return max(int(motif[0]) - pad, 0), min(int(motif[-1]) + 1 + pad, info.size)


def _logo_block(axes: list[plt.Axes], chosen: dict[str, dict[str, Any]], row: int, span: tuple[int, int],
                method: str) -> pd.DataFrame:
    """Fig. 2g's logos of one sequence (`row` of the files) over `span` on `axes` (ground truth, then
    each model's raw and corrected grad-times-input); returns the numbers drawn."""
    first = next(iter(chosen.values()))
    start, stop = span
    sl, x, letters = slice(start, stop), first["x"][row].astype(float), LETTERS[: first["x"].shape[1]]
    info = information_content(first["ground_truth"][row][None])[0]
    truth = first["ground_truth"][row] * np.where(info > 1e-6, info, 0.0)  # background (I ~ 6e-10) blank
    logo(axes[0], truth[:, sl], start)
    index = int(first["index"][row])
    axes[0].set(ylabel="bits", ylim=(0, np.log2(len(letters))))
    axes[0].set_title(f"test sequence {index} (row {row}): ground truth, M x information", loc="left", fontsize=9)
    table: dict[str, Any] = {"index": index, "row": row, "position": np.arange(start, stop),
                             "base": np.array(list(letters))[np.argmax(x[:, sl], axis=0)],
                             **{f"truth_{a}": truth[i, sl] for i, a in enumerate(letters)}}
    for number, (name, d) in enumerate(chosen.items(), start=1):
        pair = axes[2 * number - 1:2 * number + 1]
        for ax, kind, values in zip(pair, ("raw", "corrected"), (d["raw"][row], correct(d["raw"][row], axis=0))):
            logo(ax, values[:, sl] * x[:, sl], start)
            ax.set_ylabel(f"Model {number}\n{kind}")
            ax.set_title(f"Model {number} ({name}): {kind} {method} x input", loc="left", fontsize=9)
            table[f"{name}_{kind}"] = grad_times_input(values[None], x[None])[0, sl]
        share_ylim(pair)
    for ax in axes:
        ax.set_xlim(start - 0.5, stop - 0.5)
    return pd.DataFrame(table)


def fig_saliency_logos(chosen: dict[str, dict[str, Any]], *, method: str, n_sequences: int = 3
                       ) -> tuple[plt.Figure, pd.DataFrame]:
    """Fig. 2g: grad-times-input logos (map x one-hot) of Model 1 and Model 2 on the first `n_sequences`
    sequences of their attribution files, raw and corrected, under the ground truth.

    `chosen` maps each model's name (Model 1 first) to its attribution file's contents
    (`data.io.read_attributions`: "index", "x", "ground_truth", "raw"); the files must hold the same
    sequences. Per sequence, a block of logos over the span of its ground truth (`truth_span`): the
    information-weighted motif M x I (bits) on top, then each model's raw and corrected map, the two
    of one model on a shared y-range.

    Returns
    -------
    fig : matplotlib.figure.Figure
    numbers : pandas.DataFrame
        One row per sequence and position drawn: `index` (test set row), `row` (in the files),
        `position`, `base` (observed), `truth_A` ... (the ground-truth logo) and, per model,
        `<model>_raw` and `<model>_corrected` (grad-times-input: the height of the observed letter).
    """
    names = list(chosen)
    first = chosen[names[0]]
    for name in names[1:]:
        if not np.array_equal(chosen[name]["index"], first["index"]):
            raise ValueError(f"{name}: attributed on other sequences than {names[0]}")
    info = information_content(first["ground_truth"])
    spans = [truth_span(info[row]) for row in range(min(n_sequences, len(first["index"])))]
    per_block = 1 + 2 * len(names)
    widest = max(stop - start for start, stop in spans)
    fig, axes = plt.subplots(per_block * len(spans), 1, squeeze=False, constrained_layout=True,
                             figsize=(max(8.0, 0.1 * widest), 1.25 * per_block * len(spans)))
    numbers = [_logo_block(list(axes[row * per_block:(row + 1) * per_block, 0]), chosen, row, span, method)
               for row, span in enumerate(spans)]
    fig.suptitle(f"Model 1 and Model 2, {METHOD_NAMES.get(method, method)} x input, raw and corrected, under the "
                 "ground truth")
    return fig, pd.concat(numbers, ignore_index=True)


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
