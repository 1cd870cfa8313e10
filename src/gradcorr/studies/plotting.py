"""What the figures of every study share: matplotlib without a display, the names and colours of
methods and model types, sequence logos, probabilities as bits, angle bars, and saving a figure.

Each study's figures are in its own module (`synthetic_plots`, `invivo_plots`, `consistency_plots`);
each function there returns a matplotlib Figure, and the stages save it with `save_figure`.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import logomaker  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from gradcorr.data.io import atomic_path  # noqa: E402

METHOD_NAMES = {"saliency": "saliency maps", "integrated_gradients": "integrated gradients",
                "smoothgrad": "SmoothGrad", "expected_gradients": "expected gradients",
                "gradient_shap": "gradient SHAP"}
MODEL_COLORS = {"cnn_shallow_relu": "tab:blue", "cnn_shallow_exp": "tab:orange",
                "cnn_deep_relu": "tab:green", "cnn_deep_exp": "tab:red"}
LETTERS = "ACGT"
THRESHOLD_COLORS = ("tab:blue", "tab:orange", "tab:red")
KIND_COLORS = {"raw": "tab:gray", "corrected": "tab:blue"}  # maps before and after the gradient correction
UNIFORM_TOL = 1e-6  # rows this close to uniform carry no information; logomaker's sum can round below zero


def model_type_label(key: str) -> str:
    """The paper's name of a model type: 'cnn_deep_exp' -> 'CNN-deep-exp'; other keys unchanged."""
    if key in MODEL_COLORS:
        arch, activation = key.rsplit("_", 1)
        return f"{arch.replace('cnn_', 'CNN-')}-{activation}"
    return key


def message_figure(message: str) -> plt.Figure:
    """A small figure that only says `message` (why there is nothing to draw)."""
    fig, ax = plt.subplots(figsize=(5, 2))
    ax.axis("off")
    ax.text(0.5, 0.5, message, ha="center", va="center")
    return fig


def logo(ax: plt.Axes, values: np.ndarray, start: int) -> None:
    """Logo of an (A, W) map, letters above and below zero, x in sequence positions."""
    frame = pd.DataFrame(values.T, columns=list(LETTERS[: values.shape[0]]),
                         index=np.arange(start, start + values.shape[1]))
    logomaker.Logo(frame, ax=ax, color_scheme="classic")
    ax.axhline(0, color="black", lw=0.5)


def information_matrix(ppm: np.ndarray) -> pd.DataFrame:
    """A (W, 4) probability matrix as a logomaker information matrix (bits), columns A C G T.

    Rows are clipped at zero and renormalised first (logomaker would print a warning and renormalise), and rows
    within UNIFORM_TOL of uniform are made exactly uniform: their information is zero, and logomaker's rounding
    could otherwise make it slightly negative, which it rejects.
    """
    probs = np.clip(np.asarray(ppm, dtype=float), 0.0, None)
    sums = probs.sum(axis=1, keepdims=True)
    probs = np.divide(probs, sums, out=np.full_like(probs, 1.0 / probs.shape[1]), where=sums > 0)
    near_uniform = np.all(np.abs(probs - 1.0 / probs.shape[1]) < UNIFORM_TOL, axis=1)
    probs[near_uniform] = 1.0 / probs.shape[1]
    frame = pd.DataFrame(probs, columns=list(LETTERS[: probs.shape[1]]))
    return logomaker.transform_matrix(frame, from_type="probability", to_type="information")


def angle_bars(ax: plt.Axes, positions: np.ndarray, angle: np.ndarray) -> None:
    """Bar per position of the angle to the simplex; red where |angle| > 45 degrees, none where undefined."""
    ang = np.nan_to_num(angle)
    ax.bar(positions, ang, width=0.8, color=np.where(np.abs(ang) > 45, "tab:red", "tab:gray"))
    ax.axhline(0, color="black", lw=0.5)
    ax.set(ylim=(-90, 90), yticks=[-90, -45, 0, 45, 90], ylabel="angle to\nsimplex (deg)")


def share_ylim(axes: list[plt.Axes]) -> None:
    """Give `axes` one y-range, the union of their current ones (raw and corrected logos on one scale)."""
    lo = min(ax.get_ylim()[0] for ax in axes)
    hi = max(ax.get_ylim()[1] for ax in axes)
    for ax in axes:
        ax.set_ylim(lo, hi)


def save_figure(fig: plt.Figure, pdf: str | Path, png: str | Path) -> None:
    """Write a figure as PDF and PNG (150 dpi) atomically, without time stamps, and close it."""
    with atomic_path(pdf) as tmp:
        fig.savefig(tmp, format="pdf", metadata={"CreationDate": None, "ModDate": None})
    with atomic_path(png) as tmp:
        fig.savefig(tmp, format="png", dpi=150)
    plt.close(fig)
