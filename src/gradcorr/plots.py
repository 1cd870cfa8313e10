"""Figures of the gradient-correction paper, drawn from the per-model tables."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from gradcorr.io import atomic_path  # noqa: E402

METRICS = {"cosine": "cosine similarity", "auroc": "AUROC", "aupr": "AUPR"}
METHOD_NAMES = {"saliency": "saliency maps", "integrated_gradients": "integrated gradients",
                "smoothgrad": "SmoothGrad", "expected_gradients": "expected gradients"}
MODEL_COLORS = {"cnn_shallow_relu": "tab:blue", "cnn_shallow_exp": "tab:orange",
                "cnn_deep_relu": "tab:green", "cnn_deep_exp": "tab:red"}


def model_label(arch: str, activation: str) -> str:
    """'cnn_deep', 'exp' -> 'CNN-deep-exp', the paper's naming."""
    return f"{arch.replace('cnn_', 'CNN-')}-{activation}"


def fig2(table: pd.DataFrame, method: str = "saliency") -> plt.Figure:
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
                     "label": model_label(arch, activation)}
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


def save_figure(fig: plt.Figure, pdf: str | Path, png: str | Path) -> None:
    """Write a figure as PDF and PNG (150 dpi) atomically, without time stamps, and close it."""
    with atomic_path(pdf) as tmp:
        fig.savefig(tmp, format="pdf", metadata={"CreationDate": None, "ModDate": None})
    with atomic_path(png) as tmp:
        fig.savefig(tmp, format="png", dpi=150)
    plt.close(fig)
