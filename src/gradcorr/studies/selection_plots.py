"""The model-selection figure (`selection`): per group of models (model type, TF), a heat map of the
Spearman correlations of each selector with each score, and under it each selector against one score,
one point per model, the selector's pick marked.

The function returns a matplotlib Figure; the stages save it with `plotting.save_figure`.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from gradcorr.studies.plotting import MODEL_COLORS, model_type_label  # noqa: E402
from gradcorr.studies.selection import LOWER_IS_BETTER, POOLED, select_by  # noqa: E402


def fig_model_selection(correlations: pd.DataFrame, points: pd.DataFrame, *, group: str, selectors: Sequence[str],
                        scores: Sequence[str], score: str, top_k: int, title: str, model: str = "model") -> plt.Figure:
    """Heat maps of the correlations (top row), then one row per selector against `score`.

    Parameters
    ----------
    correlations : pandas.DataFrame
        `selection.rank_correlations`: one row per group, selector and score; its groups are the
        columns of the figure, in order (the pooled group "all" draws every model, coloured by group).
    points : pandas.DataFrame
        One row per model: `group`, `model`, the selectors and scores.
    group : str
        The group column of both tables.
    selectors, scores : sequence of str
        The heat maps' rows and columns; each selector gets a row of scatter plots.
    score : str
        The score of the scatter plots: its `top_k` best models are ringed, the selector's pick a red star.
    top_k : int
        How many of the best models to ring.
    title : str
        The figure's title.
    model : str, default "model"
        The column naming each model.

    Returns
    -------
    matplotlib.figure.Figure
    """
    groups = list(dict.fromkeys(correlations[group].astype(str)))
    ncols, nrows = max(len(groups), 1), 1 + len(selectors)
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.4 * ncols, 1.0 + 3.0 * nrows), squeeze=False,
                             layout="constrained", gridspec_kw={"height_ratios": [1.3] + [1] * len(selectors)})
    image = None
    for j, name in enumerate(groups):
        rows = correlations[correlations[group].astype(str) == name]
        image = _heat_map(axes[0, j], rows, selectors, scores, labels=j == 0)
        axes[0, j].set_title(f"{model_type_label(name)}\nSpearman correlation", fontsize=9)
        members = points if name == POOLED else points[points[group].astype(str) == name]
        for i, selector in enumerate(selectors):
            _selection_scatter(axes[i + 1, j], members, selector, score, group=group, model=model, top_k=top_k)
    if image is not None:
        fig.colorbar(image, ax=axes[0, :].tolist(), shrink=0.8, label="Spearman rho")
    fig.suptitle(title)
    return fig


def _heat_map(ax: plt.Axes, rows: pd.DataFrame, selectors: Sequence[str], scores: Sequence[str],
              labels: bool) -> matplotlib.image.AxesImage:
    """Selectors x scores of Spearman rho, each cell written out ("n/a" where it is NaN)."""
    matrix = rows.pivot(index="selector", columns="score", values="spearman").reindex(
        index=list(selectors), columns=list(scores)).to_numpy(dtype=float)
    image = ax.imshow(matrix, cmap="RdBu_r", vmin=-1, vmax=1, aspect="auto")
    for (i, j), value in np.ndenumerate(matrix):
        ax.text(j, i, "n/a" if np.isnan(value) else f"{value:.2f}", ha="center", va="center", fontsize=6)
    ax.set_xticks(range(len(scores)), [_short(s) for s in scores], rotation=90, fontsize=7)
    ax.set_yticks(range(len(selectors)), [_short(s) for s in selectors] if labels else [], fontsize=7)
    return image


def _short(column: str) -> str:
    """A column's name for a tick label: 'cosine_corrected' -> 'cosine corr.', 'kld_attr_mean' -> 'kld attr mean'."""
    return column.replace("_corrected", " corr.").replace("agreement_", "agreement ").replace("_", " ")


def _selection_scatter(ax: plt.Axes, members: pd.DataFrame, selector: str, score: str, *, group: str, model: str,
                       top_k: int) -> None:
    """`score` against `selector`, one point per model (coloured by group), the top k ringed, the pick starred."""
    colors = [MODEL_COLORS.get(str(g), "tab:gray") for g in members[group]]
    ax.scatter(members[selector], members[score], s=14, c=colors, alpha=0.7)
    picked = select_by(members, selector, score, top_k=top_k, model=model, lower_is_better=score in LOWER_IS_BETTER)
    if picked["n_models"]:
        ascending = score in LOWER_IS_BETTER
        top = members.assign(_s=pd.to_numeric(members[score], errors="coerce")).dropna(subset=["_s"])
        top = top.sort_values("_s", ascending=ascending).head(top_k)
        ax.scatter(top[selector], top[score], s=60, facecolors="none", edgecolors="black", lw=0.8,
                   label=f"top {top_k} by score")
        ax.scatter([picked["selector_value"]], [picked["score_value"]], s=120, marker="*", color="tab:red",
                   label=f"pick: rank {picked['score_rank']} of {picked['n_models']}")
        ax.legend(fontsize=6, loc="best")
    else:
        ax.text(0.5, 0.5, "no models", ha="center", va="center", transform=ax.transAxes)
    ax.set_xlabel(selector, fontsize=8)
    ax.set_ylabel(score, fontsize=8)
    ax.tick_params(labelsize=7)
