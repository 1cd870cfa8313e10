"""The regularization study's figures (`studies.regularization`): the paper's Fig. 1 a-d (classification vs
interpretability AUROC at early stopping and at the last epoch, both through training, and their change after
early stopping) and, beyond the paper, whether ground-truth-free scores follow interpretability through
training. Each function takes the study's tables and returns a matplotlib Figure and the numbers it draws."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from gradcorr.studies.regularization import RAW, TRACKED, expected_sign, trained_epochs  # noqa: E402

ES_COLOR, LAST_COLOR = "tab:orange", "tab:blue"  # the paper's Fig. 1a
REGIMES = {"none": ("standard", "tab:gray", "o"), "manifold_mixup": ("manifold mixup", "tab:purple", "^")}
MAX_CURVES = 12  # more combinations than this in Tables 1 and 2 together: panels b and c show Table 1's only
EXAMPLES = 4
Z_SCORES = {"valid_kld_kmer": "tab:green", "valid_kld_attr_mean": "tab:purple", "valid_angle_sd": "tab:red"}
SCORE_NAMES = {"val_auroc": "validation AUROC", "valid_kld_kmer": "KLD k-mer (valid)",
               "valid_kld_attr_mean": "KLD k-attr-mean (valid)", "valid_angle_sd": "angle SD (valid)",
               "test_kld_kmer": "KLD k-mer (test)", "test_kld_attr_mean": "KLD k-attr-mean (test)",
               "test_angle_sd": "angle SD (test)", RAW: "interpretability AUROC (raw)"}
REGIME_COLUMNS = ["panel", "model", "combination", "regularizer", "checkpoint", "epoch", "x", "y", "trials"]
TRACKING_COLUMNS = ["panel", "model", "candidate", "epoch", "y"]


def _message(message: str) -> plt.Figure:
    fig, ax = plt.subplots(figsize=(5, 2))
    ax.axis("off")
    ax.text(0.5, 0.5, message, ha="center", va="center")
    return fig


def regime_label(settings: Mapping[str, Any]) -> str:
    """A combination named as the paper's tables name it: 'Standard-1 bs128 do0.1 lr0.001' (+ ' bn', ' 2-phase')."""
    name = "Manifold" if settings["regularizer"] == "manifold_mixup" else "Standard"
    label = (f"{name}-{int(settings['width'])} bs{int(settings['batch_size'])} do{float(settings['dropout']):g} "
             f"lr{float(settings['learning_rate']):g}")
    bn = " bn" if str(settings["batchnorm"]).lower() == "true" else ""
    return label + bn + (" 2-phase" if settings["schedule"] == "two_phase" else "")


def _completed(epochs: pd.DataFrame) -> pd.DataFrame:
    """The epochs that completed (`regularization.trained_epochs`) of every model."""
    return pd.concat([trained_epochs(h) for _, h in epochs.groupby("model", sort=False)] or [epochs.iloc[:0]])


def _shown(epochs: pd.DataFrame, blocks: dict[str, list[str]]) -> list[str]:
    """The combinations of panels b and c: Tables 1 and 2's that the run has, only Table 1's when they are many."""
    have = set(epochs["combination"])
    names = list(dict.fromkeys(n for n in [*blocks.get("table1", []), *blocks.get("table2", [])] if n in have))
    return names if len(names) <= MAX_CURVES else [n for n in blocks.get("table1", []) if n in have]


def fig_regimes(models: pd.DataFrame, epochs: pd.DataFrame, blocks: dict[str, list[str]]
                ) -> tuple[plt.Figure, pd.DataFrame]:
    """Fig. 1 a-d: (a) test AUROC vs interpretability AUROC (raw map) of every model at early stopping (orange)
    and at the last epoch (blue); (b) test AUROC and (c) interpretability AUROC per epoch, mean over trials, of
    Table 1's and 2's combinations; (d) their change from early stopping to the last epoch, standard vs manifold
    mixup. Returns the figure and the numbers drawn (one row per point, or per curve and epoch)."""
    if models.empty:
        return _message("no models in this run (regularization)"), pd.DataFrame(columns=REGIME_COLUMNS)
    fig, ((a, b), (c, d)) = plt.subplots(2, 2, figsize=(11, 8.5))
    parts = []
    for cp, color, label in (("last", LAST_COLOR, "last epoch"), ("es", ES_COLOR, "early stopping")):
        points = models.dropna(subset=[f"{cp}_test_auroc", f"{cp}_{RAW}"])
        a.scatter(points[f"{cp}_test_auroc"], points[f"{cp}_{RAW}"], s=14, color=color, alpha=0.8, label=label)
        parts.append(pd.DataFrame({"panel": "a", "model": points["model"], "combination": points["combination"],
                                   "regularizer": points["regularizer"], "checkpoint": cp,
                                   "x": points[f"{cp}_test_auroc"], "y": points[f"{cp}_{RAW}"]}))
    a.set(xlabel="classification AUROC (test)", ylabel="interpretability AUROC (raw)")
    a.legend(fontsize=7, frameon=False)
    completed = _completed(epochs)
    shown = _shown(completed, blocks)
    colors = plt.get_cmap("tab10" if len(shown) <= 10 else "tab20").colors
    for i, name in enumerate(shown):
        mine = completed[completed["combination"] == name]
        for ax, score, panel in ((b, "test_auroc", "b"), (c, RAW, "c")):
            per_epoch = mine.groupby("epoch")[score].agg(["mean", "count"])
            ax.plot(per_epoch.index, per_epoch["mean"], color=colors[i % len(colors)], lw=1.2,
                    label=regime_label(mine.iloc[0]))
            parts.append(pd.DataFrame({"panel": panel, "combination": name, "regularizer": mine["regularizer"].iloc[0],
                                       "epoch": per_epoch.index, "y": per_epoch["mean"].to_numpy(),
                                       "trials": per_epoch["count"].to_numpy()}))
    for ax, what in ((b, "classification AUROC (test)"), (c, "interpretability AUROC (raw)")):
        ax.set(xlabel="epoch", ylabel=f"{what}, mean over trials")
        if not shown:
            ax.text(0.5, 0.5, "no Table 1 or 2 combinations in this run", ha="center", va="center",
                    transform=ax.transAxes)
    if shown:
        c.legend(fontsize=6, frameon=False)
    for regularizer in models["regularizer"].unique():
        label, color, marker = REGIMES.get(regularizer, (regularizer, "tab:green", "s"))
        mine = models[models["regularizer"] == regularizer]
        dx = (mine["last_test_auroc"] - mine["es_test_auroc"]).astype(float)
        dy = (mine[f"last_{RAW}"] - mine[f"es_{RAW}"]).astype(float)
        ok = dx.notna() & dy.notna()
        d.scatter(dx[ok], dy[ok], s=16, color=color, marker=marker, alpha=0.8, label=label)
        parts.append(pd.DataFrame({"panel": "d", "model": mine["model"][ok], "combination": mine["combination"][ok],
                                   "regularizer": regularizer, "checkpoint": "last - es", "x": dx[ok], "y": dy[ok]}))
    d.axhline(0, color="black", lw=0.5)
    d.axvline(0, color="black", lw=0.5)
    d.set(xlabel="change in classification AUROC (last - early stopping)",
          ylabel="change in interpretability AUROC (raw)")
    d.legend(fontsize=7, frameon=False)
    for ax, letter in zip((a, b, c, d), "abcd"):
        ax.set_title(letter, loc="left", fontweight="bold")
    fig.tight_layout()
    return fig, pd.concat(parts, ignore_index=True).reindex(columns=REGIME_COLUMNS)


def _zscore(values: pd.Series) -> np.ndarray:
    """(v - mean) / SD over the finite values; NaN throughout when they do not vary."""
    v = values.to_numpy(float)
    sd = np.nanstd(v) if np.isfinite(v).any() else 0.0
    return (v - np.nanmean(v)) / sd if sd > 0 else np.full_like(v, np.nan)


def _largest_drops(completed: pd.DataFrame, n: int) -> list[tuple[str, pd.DataFrame, int]]:
    """The `n` models whose raw interpretability AUROC drops most from the early-stopping to the last epoch:
    (model, its completed epochs, its early-stopping epoch)."""
    drops = []
    for model, h in completed.groupby("model", sort=False):
        if h.empty or RAW not in h:
            continue
        es = h.loc[h["val_auroc"].idxmax()]
        drop = float(es[RAW]) - float(h[RAW].iloc[-1])
        if np.isfinite(drop):
            drops.append((-drop, str(model), h, int(es["epoch"])))
    return [(model, h, es) for _, model, h, es in sorted(drops, key=lambda t: t[:2])[:n]]


def fig_tracking(epochs: pd.DataFrame, tracking: pd.DataFrame) -> tuple[plt.Figure, pd.DataFrame]:
    """Beyond the paper: (left) per candidate score, the Spearman rho over each model's epochs with its raw
    interpretability AUROC (box and points; expected sign: + for KLDs and validation AUROC, - for angle SDs);
    (right) up to `EXAMPLES` models with the largest drop in interpretability after early stopping (dashed):
    interpretability per epoch and the z-scored validation KLDs and angle SD on a twin axis. Returns the figure
    and the numbers drawn."""
    rho = tracking[tracking["target"] == RAW] if len(tracking) else tracking
    if epochs.empty or rho.empty:
        return _message("no models in this run (regularization)"), pd.DataFrame(columns=TRACKING_COLUMNS)
    fig = plt.figure(figsize=(13, 6))
    grid = fig.add_gridspec(2, 3, width_ratios=[1.3, 1, 1])
    left = fig.add_subplot(grid[:, 0])
    candidates = [*[c for c in TRACKED if c in set(rho["candidate"])],
                  *[c for c in rho["candidate"].unique() if c not in TRACKED]]
    parts = []
    rng = np.random.default_rng(0)  # the points' jitter: the same figure every run
    for i, candidate in enumerate(candidates):
        mine = rho[(rho["candidate"] == candidate) & rho["rho"].notna()]
        values = mine["rho"].to_numpy(float)
        if len(values):
            left.boxplot(values, positions=[i], widths=0.5, showfliers=False)
            color = "tab:blue" if expected_sign(candidate) > 0 else "tab:red"
            left.scatter(i + rng.uniform(-0.15, 0.15, len(values)), values, s=8, alpha=0.6, color=color)
        parts.append(pd.DataFrame({"panel": "rho", "model": mine["model"], "candidate": candidate, "y": values}))
    left.axhline(0, color="black", lw=0.5)
    left.set_xticks(range(len(candidates)), [SCORE_NAMES.get(c, c) for c in candidates], rotation=40, ha="right",
                    fontsize=7)
    left.set(xlim=(-0.6, len(candidates) - 0.4), ylim=(-1.05, 1.05),
             ylabel="Spearman rho with interpretability AUROC (raw)\nover each model's epochs")
    left.set_title("blue: expected positive, red: expected negative", fontsize=8)
    for k, (model, h, es) in enumerate(_largest_drops(_completed(epochs), EXAMPLES)):
        ax = fig.add_subplot(grid[k // 2, 1 + k % 2])
        ax.plot(h["epoch"], h[RAW], color="black", lw=1.2, label=SCORE_NAMES[RAW])
        ax.axvline(es, color=ES_COLOR, ls="--", lw=0.8)
        parts.append(pd.DataFrame({"panel": "example", "model": model, "candidate": RAW, "epoch": h["epoch"],
                                   "y": h[RAW]}))
        twin = ax.twinx()
        for score, color in Z_SCORES.items():
            if score in h:
                z = _zscore(h[score])
                twin.plot(h["epoch"], z, color=color, lw=0.9, label=f"{SCORE_NAMES[score]}, z-score")
                parts.append(pd.DataFrame({"panel": "example", "model": model, "candidate": f"{score}_z",
                                           "epoch": h["epoch"], "y": z}))
        ax.set_title(model, fontsize=7)
        ax.set_xlabel("epoch", fontsize=7)
        ax.set_ylabel("interpretability AUROC", fontsize=7)
        twin.set_ylabel("z-score", fontsize=7)
        if k == 0:
            handles = ax.get_legend_handles_labels()[0] + twin.get_legend_handles_labels()[0]
            ax.legend(handles=handles, fontsize=5, frameon=False)
    fig.tight_layout()
    return fig, pd.concat(parts, ignore_index=True).reindex(columns=TRACKING_COLUMNS)
