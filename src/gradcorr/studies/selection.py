"""Model selection without ground truth: do the consistency paper's KLDs (Majdandzic, Rajesh & Koo) pick
the most interpretable model?

The paper scores each model's attribution maps by two KL divergences computed without ground truth
(`kld_kmer`, `kld_attr_mean`; higher is more consistent) and proposes picking the model with the
highest. Where ground truth exists (the synthetic study) this tests it: within each model type (and
over all models), the Spearman correlation of each KLD, and of the test AUROC as the usual selector,
with each ground-truth score, and whether the model each selector picks lies among the type's top
models by that score. In vivo, where there is no ground truth, the agreement of each ensemble member
with the ensemble average stands in for it (`ensemble_difference.ensemble_agreement`), per TF.

One function per workflow stage (`select_synthetic_models`, `select_invivo_members`), over plain
functions on tables that also serve any other table of models. The figures are drawn in
`selection_plots`, imported only by the stages that draw.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from gradcorr.data.io import read_arrays, read_attrs, read_tsv, write_tsv
from gradcorr.metrics import spearman

log = logging.getLogger(__name__)

KLD_SELECTORS = ("kld_kmer", "kld_attr_mean")
# selected on too when the table has them (the authors' k-attr-mean, where the evaluation writes it)
OPTIONAL_SELECTORS = ("kld_attr_mean_published",)
BASELINE_SELECTOR = "test_auroc"
GROUND_TRUTH_SCORES = ("cosine_raw", "cosine_corrected", "auroc_raw", "auroc_corrected", "aupr_raw",
                       "aupr_corrected", "snr")
AGREEMENT_SCORES = ("agreement_cosine", "agreement_distance")
LOWER_IS_BETTER = ("agreement_distance",)  # every other score and selector: higher is better
POOLED = "all"  # the group of all models together


def selectors_of(table: pd.DataFrame) -> list[str]:
    """The selectors a table holds: both KLDs, the optional ones it has, then test AUROC (the baseline)."""
    return [*KLD_SELECTORS, *(c for c in OPTIONAL_SELECTORS if c in table.columns), BASELINE_SELECTOR]


def _groups(table: pd.DataFrame, group: str, pooled: bool) -> Iterator[tuple[str, pd.DataFrame]]:
    """(name, rows) per value of `group` in order of appearance, then (POOLED, all rows) if `pooled`."""
    for name, frame in table.groupby(group, sort=False):
        yield str(name), frame
    if pooled:
        yield POOLED, table


def _finite(frame: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """The rows of `frame` whose `columns` are all finite numbers."""
    values = frame[list(columns)].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float)
    return frame[np.isfinite(values).all(axis=1)]


def rank_correlations(table: pd.DataFrame, *, group: str, selectors: Sequence[str], scores: Sequence[str],
                      pooled: bool = False) -> pd.DataFrame:
    """Spearman correlation of every selector with every score, within each group of models.

    Parameters
    ----------
    table : pandas.DataFrame
        One row per model, with columns `group`, `selectors` and `scores`.
    group : str
        The column whose values group the models (model type, TF).
    selectors, scores : sequence of str
        The columns to correlate.
    pooled : bool, default False
        Also over all models together, as group "all".

    Returns
    -------
    pandas.DataFrame
        One row per group, selector and score: `group`, selector, score, n_models (the models where
        both are finite) and spearman (NaN with fewer than 3 such models or a constant column).
    """
    rows = []
    for name, frame in _groups(table, group, pooled):
        for selector in selectors:
            for score in scores:
                both = _finite(frame, [selector, score])
                rows.append({group: name, "selector": selector, "score": score, "n_models": len(both),
                             "spearman": spearman(both[selector], both[score])})
    return pd.DataFrame(rows, columns=[group, "selector", "score", "n_models", "spearman"])


def select_by(frame: pd.DataFrame, selector: str, score: str, *, top_k: int, model: str = "model",
              lower_is_better: bool = False) -> dict:
    """The model with the highest `selector`, and how it ranks by `score` among the models of `frame`.

    Parameters
    ----------
    frame : pandas.DataFrame
        One row per model; only the rows where selector and score are both finite count.
    selector, score : str
        Columns: the one that picks (highest wins; the first row on ties) and the one that judges.
    top_k : int
        The pick is a hit when it ranks among the best `top_k` by score.
    model : str, default "model"
        The column naming each model.
    lower_is_better : bool, default False
        Whether a lower score is better (a distance).

    Returns
    -------
    dict
        n_models, selected (its name), selector_value, score_value, score_rank (1 = the best; ties
        share the best rank), best (the best model by score) and best_score, is_best, in_top_k, top_k,
        and the chance a model drawn at random has of each: chance_best (1 / n), chance_top_k
        (min(top_k, n) / n). With no such model: n_models 0, NaN or None, and no hit.
    """
    frame = _finite(frame, [selector, score])
    n = len(frame)
    if n == 0:
        return {"n_models": 0, "selected": None, "selector_value": np.nan, "score_value": np.nan,
                "score_rank": np.nan, "best": None, "best_score": np.nan, "is_best": False, "in_top_k": False,
                "top_k": top_k, "chance_best": np.nan, "chance_top_k": np.nan}
    values = frame[score].astype(float)
    ranks = values.rank(ascending=lower_is_better, method="min")
    pick = frame[selector].astype(float).idxmax()
    best = (values.idxmin() if lower_is_better else values.idxmax())
    rank = int(ranks[pick])
    return {"n_models": n, "selected": frame.at[pick, model], "selector_value": float(frame.at[pick, selector]),
            "score_value": float(values[pick]), "score_rank": rank, "best": frame.at[best, model],
            "best_score": float(values[best]), "is_best": rank == 1, "in_top_k": rank <= top_k, "top_k": top_k,
            "chance_best": 1.0 / n, "chance_top_k": min(top_k, n) / n}


def model_selections(table: pd.DataFrame, *, group: str, selectors: Sequence[str], scores: Sequence[str],
                     top_k: int, model: str = "model", pooled: bool = False,
                     lower_is_better: Sequence[str] = LOWER_IS_BETTER) -> pd.DataFrame:
    """`select_by` for every group, selector and score.

    Parameters
    ----------
    table : pandas.DataFrame
        One row per model, with columns `group`, `model`, `selectors` and `scores`.
    group : str
        The column whose values group the models (model type, TF).
    selectors, scores : sequence of str
        The columns that pick and the columns that judge.
    top_k : int
        How many of the best models by score count as a hit.
    model : str, default "model"
        The column naming each model.
    pooled : bool, default False
        Also over all models together, as group "all".
    lower_is_better : sequence of str, default ("agreement_distance",)
        The scores for which lower is better.

    Returns
    -------
    pandas.DataFrame
        One row per group, selector and score: `group`, selector, score and the items of `select_by`.
    """
    rows = [{group: name, "selector": selector, "score": score,
             **select_by(frame, selector, score, top_k=top_k, model=model,
                         lower_is_better=score in lower_is_better)}
            for name, frame in _groups(table, group, pooled) for selector in selectors for score in scores]
    return pd.DataFrame(rows)


def selection_summary(selections: pd.DataFrame, *, group: str) -> pd.DataFrame:
    """How often each selector's pick is the best model, or among the top k, over the groups.

    Parameters
    ----------
    selections : pandas.DataFrame
        The table of `model_selections`; its pooled rows (group "all") and groups without a
        model are left out.
    group : str
        Its group column.

    Returns
    -------
    pandas.DataFrame
        One row per selector and score: n_groups, hits_best, rate_best, chance_best (its mean over
        the groups), hits_top_k, rate_top_k, chance_top_k, top_k and median_rank.
    """
    rows = selections[(selections[group] != POOLED) & (selections["n_models"] > 0)]
    summary = rows.groupby(["selector", "score"], sort=False).agg(
        n_groups=("n_models", "size"), hits_best=("is_best", "sum"), chance_best=("chance_best", "mean"),
        hits_top_k=("in_top_k", "sum"), chance_top_k=("chance_top_k", "mean"), top_k=("top_k", "first"),
        median_rank=("score_rank", "median")).reset_index()
    summary["rate_best"] = summary["hits_best"] / summary["n_groups"]
    summary["rate_top_k"] = summary["hits_top_k"] / summary["n_groups"]
    return summary[["selector", "score", "n_groups", "hits_best", "rate_best", "chance_best", "hits_top_k",
                    "rate_top_k", "chance_top_k", "top_k", "median_rank"]]


def _require(table: pd.DataFrame, path: str | Path, columns: Sequence[str]) -> None:
    """ValueError naming the file and the columns it lacks."""
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise ValueError(f"{path}: no column {', '.join(missing)}")


def select_synthetic_models(table: str | Path, out: dict[str, str | Path], *, method: str, top_k: int = 5,
                            score: str = "cosine_corrected") -> None:
    """Test the KLDs as model selectors on the synthetic study's models of one attribution method.

    Parameters
    ----------
    table : str or Path
        The interpretability table of `method` (one row per model: its ground-truth scores, test
        AUROC and KLDs).
    out : dict
        Output paths: "correlations" (`rank_correlations` per model type and over all models),
        "selections" (`model_selections`, also over all models), "summary" (`selection_summary`
        over the model types), "points" (the figure's numbers: per model its selectors, scores and
        the picks), "pdf" and "png" (the figure: heat maps of the correlations, and each selector
        against `score` per model type, the pick marked).
    method : str
        The attribution method, for the figure's title.
    top_k : int, default 5
        A pick is a hit when it is among the type's `top_k` models by the score.
    score : str, default "cosine_corrected"
        The ground-truth score the figure's scatter plots show.
    """
    from gradcorr.studies import plotting, selection_plots  # matplotlib only in the jobs that draw

    frame = read_tsv(table)
    selectors = selectors_of(frame)
    _require(frame, table, ["model", "arch", "activation", *selectors, *GROUND_TRUTH_SCORES])
    frame = frame.assign(model_type=frame["arch"].astype(str) + "_" + frame["activation"].astype(str))
    kwargs = {"group": "model_type", "selectors": selectors, "scores": GROUND_TRUTH_SCORES, "pooled": True}
    correlations = rank_correlations(frame, **kwargs)
    selections = model_selections(frame, top_k=top_k, **kwargs)
    summary = selection_summary(selections, group="model_type")
    points = selection_points(frame, group="model_type", selectors=selectors, scores=GROUND_TRUTH_SCORES)
    write_tsv(correlations, out["correlations"])
    write_tsv(selections, out["selections"])
    write_tsv(summary, out["summary"])
    write_tsv(points, out["points"])
    fig = selection_plots.fig_model_selection(correlations, points, group="model_type", selectors=selectors,
                                              scores=GROUND_TRUTH_SCORES, score=score, top_k=top_k,
                                              title=f"Model selection without ground truth: {method}")
    plotting.save_figure(fig, out["pdf"], out["png"])
    _log_summary(summary, score)


def selection_points(table: pd.DataFrame, *, group: str, selectors: Sequence[str], scores: Sequence[str],
                     model: str = "model") -> pd.DataFrame:
    """Per model its group, selectors and scores, and `selected_by_<selector>`: whether it is its group's pick.

    Parameters
    ----------
    table : pandas.DataFrame
        One row per model.
    group : str
        The column whose values group the models.
    selectors, scores : sequence of str
        The columns to keep; a pick is the model with the highest selector of its group (the first on
        ties), among the models where it is finite.
    model : str, default "model"
        The column naming each model.

    Returns
    -------
    pandas.DataFrame
        The columns `group`, `model`, selectors, scores and one boolean column per selector.
    """
    points = table[[group, model, *selectors, *scores]].reset_index(drop=True)
    for selector in selectors:
        picked = np.zeros(len(points), dtype=bool)
        for _, rows in points.groupby(group, sort=False):
            values = _finite(rows, [selector])[selector].astype(float)
            if len(values):
                picked[values.idxmax()] = True
        points[f"selected_by_{selector}"] = picked
    return points


def _log_summary(summary: pd.DataFrame, score: str) -> None:
    """One log line per selector: how often its pick is among the top k by `score`, against chance."""
    for row in summary[summary["score"] == score].itertuples():
        log.info("%s -> %s: top-%d hit in %d of %d groups (chance %.2f), best in %d", row.selector, score,
                 row.top_k, row.hits_top_k, row.n_groups, row.chance_top_k, row.hits_best)


def member_agreement(ensemble_file: str | Path) -> pd.DataFrame:
    """Each member's mean agreement with its ensemble, from an ensemble file of `invivo.analyse_ensemble`.

    Parameters
    ----------
    ensemble_file : str or Path
        The file; its attributes name the TF and the members, its `agreement_cosine` and
        `agreement_distance` arrays hold one row per member.

    Returns
    -------
    pandas.DataFrame
        One row per member: tf, model, agreement_cosine and agreement_distance (means over sequences).
    """
    attrs = read_attrs(ensemble_file)
    try:
        arrays = read_arrays(ensemble_file, AGREEMENT_SCORES)
    except KeyError:
        raise ValueError(f"{ensemble_file}: no member agreement (written by an older gradcorr); "
                         "rerun the invivo_ensemble rule") from None
    models = attrs["models"]
    models = json.loads(models) if isinstance(models, str) else list(models)
    frame = pd.DataFrame({"tf": str(attrs["tf"]), "model": [str(m) for m in models]})
    for key in AGREEMENT_SCORES:
        frame[key] = np.nanmean(arrays[key], axis=1) if arrays[key].size else np.nan
    return frame


def select_invivo_members(classification: str | Path, ensembles: list[str | Path], out: dict[str, str | Path], *,
                          model_type: str, top_k: int = 2, score: str = "agreement_cosine") -> None:
    """Test the KLDs as selectors among each TF's ensemble members, the ensemble average standing in
    for ground truth.

    Parameters
    ----------
    classification : str or Path
        The classification table (per member: tf, model, arch, activation, test AUROC and KLDs).
    ensembles : list of str or Path
        The ensemble files of `model_type`, one per TF (`invivo.analyse_ensemble`, with agreement).
    out : dict
        Output paths: "table" (per TF, selector and agreement measure: the Spearman correlation and
        the pick, as `rank_correlations` and `model_selections`), "points" (the figure's numbers: per
        member its selectors, agreement and the picks), "pdf" and "png" (the figure).
    model_type : str
        "<arch>_<activation>".
    top_k : int, default 2
        A pick is a hit when it is among the TF's `top_k` most agreeing members.
    score : str, default "agreement_cosine"
        The agreement measure the figure's scatter plots show.
    """
    from gradcorr.studies import plotting, selection_plots  # matplotlib only in the jobs that draw

    table = read_tsv(classification)
    selectors = selectors_of(table)
    _require(table, classification, ["tf", "model", "arch", "activation", *selectors])
    table = table[table["arch"].astype(str) + "_" + table["activation"].astype(str) == model_type]
    agreement = pd.concat([member_agreement(p) for p in ensembles], ignore_index=True)
    frame = agreement.merge(table, on=["tf", "model"], how="left", validate="one_to_one")
    unmatched = frame.loc[frame["arch"].isna(), ["tf", "model"]]
    if not unmatched.empty:
        raise ValueError(f"{classification}: no row for {', '.join(unmatched['tf'] + ' ' + unmatched['model'])}")
    kwargs = {"group": "tf", "selectors": selectors, "scores": AGREEMENT_SCORES}
    correlations = rank_correlations(frame, **kwargs)
    selections = model_selections(frame, top_k=top_k, **kwargs)
    keys = ["tf", "selector", "score"]
    write_tsv(correlations.merge(selections.drop(columns="n_models"), on=keys, validate="one_to_one"), out["table"])
    points = selection_points(frame, group="tf", selectors=selectors, scores=AGREEMENT_SCORES)
    extra = [c for c in ("member", "n_filters") if c in frame.columns]
    points = pd.concat([points, frame[extra].reset_index(drop=True)], axis=1)
    write_tsv(points, out["points"])
    fig = selection_plots.fig_model_selection(correlations, points, group="tf", selectors=selectors,
                                              scores=AGREEMENT_SCORES, score=score, top_k=top_k,
                                              title=f"Member selection without ground truth: {model_type}")
    plotting.save_figure(fig, out["pdf"], out["png"])
    _log_summary(selection_summary(selections, group="tf"), score)
