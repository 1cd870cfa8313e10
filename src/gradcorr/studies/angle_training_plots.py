"""The angle-training study's figures (`studies.angle_training`): the initialisation sweep (Fig. 4c / 14),
the angle penalty (Fig. 4d / 15) and the four approaches side by side. Each function takes the study's
tables and returns a matplotlib Figure with one column (or row) per model type."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from gradcorr.studies.angle_training import REFERENCE  # noqa: E402
from gradcorr.studies.plotting import model_type_label  # noqa: E402

AUROC_COLOR, ANGLE_COLOR = "tab:red", "tab:blue"
INTERPRETABILITY = {"cosine": "cosine", "auroc": "AUROC", "aupr": "AUPR"}


def _band(ax: plt.Axes, x: np.ndarray, frame: pd.DataFrame, score: str, color: str, label: str) -> None:
    """Mean over trials with a band of +-1 SD (none for one trial)."""
    mean, sd = frame[f"{score}_mean"].to_numpy(float), np.nan_to_num(frame[f"{score}_sd"].to_numpy(float))
    ax.plot(x, mean, "o-", color=color, label=label, ms=4)
    ax.fill_between(x, mean - sd, mean + sd, color=color, alpha=0.2, lw=0)


def _auroc_and_angle(ax: plt.Axes, x: np.ndarray, frame: pd.DataFrame) -> plt.Axes:
    """Test AUROC on the left axis (red), the SD of the saliency angles on the right (blue)."""
    _band(ax, x, frame, "test_auroc", AUROC_COLOR, "test AUROC")
    ax.set_ylabel("test AUROC", color=AUROC_COLOR)
    twin = ax.twinx()
    _band(twin, x, frame, "angle_sd_all", ANGLE_COLOR, "angle SD")
    twin.set_ylabel("SD of angles (deg)", color=ANGLE_COLOR)
    return twin


def _empty(message: str) -> plt.Figure:
    fig, ax = plt.subplots(figsize=(5, 2))
    ax.axis("off")
    ax.text(0.5, 0.5, message, ha="center", va="center")
    return fig


def fig_init_sweep(init: pd.DataFrame) -> plt.Figure:
    """Per model type: test AUROC and angle SD (mean +- SD over trials) against the initial normal scale
    sigma (log axis); the He-normal reference as dashed lines."""
    sweep = init[init["init_sigma"].notna()]
    if sweep.empty:
        return _empty("no initialisation arms in this run (angle_training.sigmas)")
    types = list(sweep["model_type"].unique())
    fig, axes = plt.subplots(1, len(types), figsize=(4.2 * len(types), 3.4), squeeze=False)
    for ax, model_type in zip(axes[0], types):
        mine = sweep[sweep["model_type"] == model_type]
        twin = _auroc_and_angle(ax, mine["init_sigma"].to_numpy(float), mine)
        reference = init[(init["model_type"] == model_type) & (init["arm"] == REFERENCE)]
        if len(reference):
            ax.axhline(reference["test_auroc_mean"].iloc[0], color=AUROC_COLOR, ls="--", lw=0.8)
            twin.axhline(reference["angle_sd_all_mean"].iloc[0], color=ANGLE_COLOR, ls="--", lw=0.8)
        ax.set(xscale="log", xlabel="initial sd sigma", title=model_type_label(model_type))
    fig.suptitle("Initialisation scale (dashed: He-normal)", fontsize=10)
    fig.tight_layout()
    return fig


def fig_angle_penalty(penalty: pd.DataFrame, histograms: pd.DataFrame) -> plt.Figure:
    """Per model type (columns): test AUROC and angle SD against the penalty weight lambda (0: no penalty,
    the He-normal reference); the raw map's interpretability; the mean angle distribution per lambda."""
    types = list(penalty.loc[penalty["arm"] != REFERENCE, "model_type"].unique())
    if not types:
        return _empty("no angle-penalty arms in this run (angle_training.lambdas)")
    fig, axes = plt.subplots(3, len(types), figsize=(4.4 * len(types), 8.4), squeeze=False)
    for j, model_type in enumerate(types):
        mine = penalty[penalty["model_type"] == model_type].sort_values("angle_lambda")
        x = np.arange(len(mine))
        labels = [f"{v:g}" for v in mine["angle_lambda"]]
        _auroc_and_angle(axes[0, j], x, mine)
        axes[0, j].set_title(model_type_label(model_type))
        for score, color in zip(INTERPRETABILITY, ("tab:green", "tab:purple", "tab:orange")):
            _band(axes[1, j], x, mine, f"{score}_raw", color, INTERPRETABILITY[score])
        axes[1, j].set(ylabel="interpretability (raw map)")
        axes[1, j].legend(fontsize=7)
        for ax in axes[:2, j]:
            ax.set_xticks(x, labels, rotation=45, fontsize=7)
        axes[1, j].set_xlabel("angle penalty lambda")
        colors = plt.cm.viridis(np.linspace(0, 0.9, len(mine)))
        for (arm, value), color in zip(mine[["arm", "angle_lambda"]].itertuples(index=False), colors):
            h = histograms[(histograms["model_type"] == model_type) & (histograms["arm"] == arm)]
            if len(h):
                centres = (h["angle_lo"].to_numpy() + h["angle_hi"].to_numpy()) / 2
                axes[2, j].plot(centres, h["density"], color=color, lw=1, label=f"{value:g}")
        axes[2, j].set(xlabel="angle to simplex (deg)", ylabel="density (log)", xlim=(-90, 90), yscale="log",
                       ylim=(1e-5, 1.5))  # a penalised model's spike at 0 beside the others' wide spread
        axes[2, j].legend(title="lambda", fontsize=6, title_fontsize=7)
    fig.tight_layout()
    return fig


def _short_label(approach: str, angle_lambda: float) -> str:
    """A tick label for an approach of the comparison table."""
    if approach.startswith("angle penalty"):
        return f"angle penalty\nlambda {angle_lambda:g}"
    return {"unconstrained + post hoc correction": "post hoc\ncorrection",
            "projected first layer (trained)": "projected\nfirst layer",
            "projected initialisation only": "projected\ninit only"}.get(approach, approach)


def fig_comparison(comparison: pd.DataFrame) -> plt.Figure:
    """Per model type (rows): test AUROC, angle SD, and cosine / AUPR of the raw and the corrected map for
    each approach, mean +- SD over trials."""
    if comparison.empty:
        return _empty("no arms to compare in this run")
    types = list(comparison["model_type"].unique())
    fig, axes = plt.subplots(len(types), 4, figsize=(15, 3.2 * len(types)), squeeze=False)
    for i, model_type in enumerate(types):
        mine = comparison[comparison["model_type"] == model_type]
        x = np.arange(len(mine))
        labels = [_short_label(approach, value) for approach, value in zip(mine["approach"], mine["angle_lambda"])]
        bars = ((axes[i, 0], "test_auroc", "test AUROC"), (axes[i, 1], "angle_sd_all", "SD of angles (deg)"))
        for ax, score, title in bars:
            ax.bar(x, mine[f"{score}_mean"], yerr=mine[f"{score}_sd"].fillna(0), color="tab:gray", capsize=3)
            ax.set_title(title, fontsize=9)
        for ax, score in ((axes[i, 2], "cosine"), (axes[i, 3], "aupr")):
            for shift, kind, color in ((-0.2, "raw", "tab:gray"), (0.2, "corrected", "tab:green")):
                ax.bar(x + shift, mine[f"{score}_{kind}_mean"], 0.4, yerr=mine[f"{score}_{kind}_sd"].fillna(0),
                       color=color, capsize=3, label=kind)
            ax.set_title(f"{INTERPRETABILITY[score]} with the ground truth", fontsize=9)
            ax.legend(fontsize=7)
        lows = mine["test_auroc_mean"].min()
        axes[i, 0].set_ylim(max(0.0, lows - 0.1), 1.0)
        axes[i, 0].set_ylabel(model_type_label(model_type))
        for ax in axes[i]:
            ax.set_xticks(x, labels, fontsize=6)
    fig.tight_layout()
    return fig
