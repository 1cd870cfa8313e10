"""Angles between attribution maps and the simplex: per-model summaries that stream across models.

The paper (sections 5.3-5.5, Figs. 3, 4, 8, 10, 12) studies the angle between each position's
gradient vector and the simplex plane. With hundreds of models per method nothing can hold every
map at once, so each model's maps are reduced by `model_angle_summary` to a fixed-size dict of
histogram counts and sums (plus small per-sequence arrays). Summaries of several models combine by
adding (`combine_summaries`), which equals summarising the concatenated data, and the table
numbers (pooled angle SD, percent of large angles) follow from the combined sums
(`summary_table_row`). The ensemble maps of Fig. 10 are the running mean of the RAW maps
(`ensemble_difference.ensemble_average`), whose angles differ from the mean of the single models' angles.

All arrays are (N, A, L) like PyTorch; angles are in degrees, in [-90, 90].
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

from gradcorr._arrays import to_float64
from gradcorr.correction import correct, simplex_angle
from gradcorr.metrics import cosine_similarity, grad_times_input, information_content, position_labels

__all__ = ["ANGLE_EDGES", "THRESHOLDS", "angle_bin_table", "angle_histogram", "combine_summaries", "gti_scale",
           "histogram_sd", "large_angle_percent", "large_angle_table", "model_angle_summary", "per_position_cosine",
           "pooled_mean_sd", "representative_sequence", "summary_table_row"]

ANGLE_EDGES = np.arange(-90.0, 91.0, 1.0)            # 180 one-degree bins
IMPROVEMENT_EDGES = np.linspace(-1.0, 1.0, 201)      # 200 bins of 0.01; improvement lies in [-1, 1]
RELATIVE_GTI_EDGES = np.linspace(-2.0, 2.0, 201)    # grad-times-input over the model's own scale
GTI_PERCENTILE = 99.5
THRESHOLDS = (30.0, 45.0, 60.0)
REGIONS = ("all", "ground_truth", "background")

# How each summary key combines across models.
_EDGE_KEYS = ("angle_edges", "improvement_edges", "gti_edges", "thresholds")
_SUM_KEYS = (*(f"angle_{s}_{r}" for r in REGIONS for s in ("hist", "n", "sum", "sumsq")),
             "improvement_hist", "gti_hist_raw", "gti_hist_corrected", "gti_outside", "n_models")
_MAX_KEYS = ("improvement_bound_excess",)
_CONCAT_KEYS = ("large_angle_percent", "sequence_cosine_improvement", "representative", "gti_scale")


def per_position_cosine(a: Any, b: Any) -> np.ndarray:
    """Cosine between the A-vectors of two maps at each position.

    Parameters
    ----------
    a, b : array-like, shape (N, A, L)
        Two maps (for example a raw map and the centred ground truth M - 1/A).

    Returns
    -------
    numpy.ndarray, shape (N, L)
        Cosine per position; NaN where either vector is zero.
    """
    a, b = to_float64(a), to_float64(b)
    denom = np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)
    out = np.full(denom.shape, np.nan)
    np.divide(np.sum(a * b, axis=1), denom, out=out, where=denom > 0)
    return out


def large_angle_percent(angles: Any, thresholds: Iterable[float] = THRESHOLDS) -> np.ndarray:
    """Per sequence, the percentage of positions with |angle| above each threshold (Figs. 4a, 4b).

    Positions with a NaN angle (zero gradient vector) are left out of numerator and denominator; a
    sequence with no valid angle gets NaN.

    Parameters
    ----------
    angles : array-like, shape (N, L)
        Angles in degrees (`correction.simplex_angle`).
    thresholds : iterable of float, default (30, 45, 60)
        Thresholds T in degrees.

    Returns
    -------
    numpy.ndarray, shape (N, T)
        Percentages in [0, 100].
    """
    ang = np.abs(to_float64(angles))
    valid = ~np.isnan(ang)
    n_valid = valid.sum(axis=1)
    out = np.full((ang.shape[0], len(tuple(thresholds))), np.nan)
    for j, t in enumerate(thresholds):
        above = (valid & (np.where(valid, ang, 0.0) > t)).sum(axis=1)
        np.divide(100.0 * above, n_valid, out=out[:, j], where=n_valid > 0)
    return out


def gti_scale(raw: Any, x: Any, percentile: float = GTI_PERCENTILE) -> float:
    """A model's grad-times-input scale, so that models of different output scales share histogram bins.

    Parameters
    ----------
    raw : array-like, shape (N, A, L)
        Raw maps of one model.
    x : array-like, shape (N, A, L)
        One-hot sequences.
    percentile : float, default 99.5
        Percentile of |grad-times-input| over all positions.

    Returns
    -------
    float
        The percentile; 1 when it is 0 or not finite.
    """
    scale = float(np.percentile(np.abs(grad_times_input(raw, x)), percentile))
    return scale if np.isfinite(scale) and scale > 0 else 1.0


def representative_sequence(raw: Any, ground_truth: Any, threshold: float = 0.1) -> tuple[int, np.ndarray]:
    """The representative sequence of one model's maps (the logos of Fig. 3a / 6).

    Improvement = whole-map cosine to M - 1/A of the corrected map minus that of the raw map
    (`metrics.cosine_similarity`). Rule: among sequences with at least one ground-truth position
    (information > threshold; all sequences if none has one), sort improvements ascending (ties
    in row order) and take the element at position (n - 1) // 2, the lower median (the median
    itself when n is odd).

    Parameters
    ----------
    raw : array-like, shape (N, A, L)
        Raw maps of one model.
    ground_truth : array-like, shape (N, A, L)
        Ground-truth sequence models M.
    threshold : float, default 0.1
        Information (bits) above which a position is a ground-truth position.

    Returns
    -------
    row : int
        The representative sequence's row.
    improvement : numpy.ndarray, shape (N,)
        The cosine improvement of every sequence.
    """
    raw, gt = to_float64(raw), to_float64(ground_truth)
    imp = cosine_similarity(correct(raw), gt) - cosine_similarity(raw, gt)
    eligible = np.flatnonzero((information_content(gt) > threshold).any(axis=1))
    if eligible.size == 0:
        eligible = np.arange(raw.shape[0])
    order = eligible[np.argsort(imp[eligible], kind="stable")]
    return int(order[(len(order) - 1) // 2]), imp


def _hist2d_counts(u: np.ndarray, v: np.ndarray, u_edges: np.ndarray, v_edges: np.ndarray) -> np.ndarray:
    counts, _, _ = np.histogram2d(u, v, bins=[u_edges, v_edges])
    return counts.astype(np.int64)


def model_angle_summary(raw: Any, x: Any, ground_truth: Any, threshold: float = 0.1, *,
                        gti_edges: np.ndarray | None = None,
                        angle_edges: np.ndarray = ANGLE_EDGES,
                        improvement_edges: np.ndarray = IMPROVEMENT_EDGES,
                        thresholds: Iterable[float] = THRESHOLDS) -> dict[str, np.ndarray]:
    """Fixed-size summary of one model's raw maps: everything Figs. 3, 4, 8, 10, 12 need.

    Angles are those of the RAW map (the corrected map's angle is 0 by construction). Regions:
    "all" positions, "ground_truth" (information of M > threshold) and "background" (information
    at the sequence's minimum), as in `metrics.position_labels`; positions with a NaN angle are left out.

    Parameters
    ----------
    raw : array-like, shape (N, A, L)
        Raw maps of one model.
    x : array-like, shape (N, A, L)
        One-hot sequences.
    ground_truth : array-like, shape (N, A, L)
        Ground-truth sequence models M.
    threshold : float, default 0.1
        Information (bits) above which a position is a ground-truth position.
    gti_edges : numpy.ndarray, shape (G + 1,), optional
        Bins of absolute grad-times-input; by default relative to the model's scale (see below).
    angle_edges : numpy.ndarray, shape (H + 1,), default 1-degree bins over [-90, 90]
    improvement_edges : numpy.ndarray, shape (B + 1,), default 0.01 bins over [-1, 1]
    thresholds : iterable of float, default (30, 45, 60)
        The T thresholds of `large_angle_percent`.

    Returns
    -------
    dict of str to numpy.ndarray
        Keys:

        - angle_edges (H+1,), improvement_edges (B+1,), gti_edges (G+1,), thresholds (T,): the bins;
        - angle_hist_<region> (H,) counts, angle_n_<region>, angle_sum_<region>, angle_sumsq_<region>
          (scalars), so pooled means and SDs over models are exact;
        - improvement_hist (H, B): (angle, improvement) at ground-truth positions, improvement =
          cos(correct(raw)_i, (M - 1/A)_i) - cos(raw_i, (M - 1/A)_i), positions where either cosine is
          undefined (corrected vector zero, angle +-90) left out;
        - improvement_bound_excess (scalar): max of improvement - (1 - cos(angle)) over those positions
          (-inf if none). M - 1/A lies in the plane, so raw . t = corrected . t and
          |corrected| = |raw| cos(angle): improvement = cos(corrected, t) (1 - cos(angle)) <= 1 - cos(angle);
        - gti_hist_raw, gti_hist_corrected (H, G): (angle, grad-times-input) at background positions,
          for the raw and the corrected map; gti_outside (2,) counts points beyond gti_edges (raw,
          corrected). By default grad-times-input is relative to the model's own scale (`gti_scale`,
          kept in the summary), binned by RELATIVE_GTI_EDGES, so summaries of any models add: angles
          and cosines do not change under a positive scale. Explicit `gti_edges` bin absolute values
          (scale 1); summaries to be combined must then share them;
        - large_angle_percent (N, T): per sequence, percent of positions with |angle| > t;
        - sequence_cosine_improvement (N,) and representative (scalar row) from `representative_sequence`;
        - n_models (scalar 1).
    """
    raw, x, gt = to_float64(raw), to_float64(x), to_float64(ground_truth)
    if not raw.shape == x.shape == gt.shape or raw.ndim != 3:
        raise ValueError(f"raw, x and ground_truth must share one (N, A, L) shape: "
                         f"{raw.shape}, {x.shape}, {gt.shape}")
    angle_edges = np.asarray(angle_edges, dtype=np.float64)
    improvement_edges = np.asarray(improvement_edges, dtype=np.float64)
    if gti_edges is None:
        scale, gti_edges = gti_scale(raw, x), RELATIVE_GTI_EDGES
    else:
        scale, gti_edges = 1.0, np.asarray(gti_edges, dtype=np.float64)
    thresholds = np.asarray(tuple(thresholds), dtype=np.float64)

    angle = simplex_angle(raw)
    corrected = correct(raw)
    valid = ~np.isnan(angle)
    pos, bg = position_labels(information_content(gt), threshold, "background")
    masks = {"all": valid, "ground_truth": pos & valid, "background": bg & valid}

    out: dict[str, np.ndarray] = {"angle_edges": angle_edges, "improvement_edges": improvement_edges,
                                  "gti_edges": gti_edges, "thresholds": thresholds}
    for region, mask in masks.items():
        a = angle[mask]
        out[f"angle_hist_{region}"] = np.histogram(a, bins=angle_edges)[0].astype(np.int64)
        out[f"angle_n_{region}"] = np.asarray(a.size, dtype=np.int64)
        out[f"angle_sum_{region}"] = np.asarray(a.sum())
        out[f"angle_sumsq_{region}"] = np.asarray(np.square(a).sum())

    target = gt - 1.0 / gt.shape[1]
    improvement = per_position_cosine(corrected, target) - per_position_cosine(raw, target)
    sel = masks["ground_truth"] & ~np.isnan(improvement)
    a, imp = angle[sel], improvement[sel]
    out["improvement_hist"] = _hist2d_counts(a, np.clip(imp, -1.0, 1.0), angle_edges, improvement_edges)
    excess = imp - (1.0 - np.cos(np.radians(a)))
    out["improvement_bound_excess"] = np.asarray(excess.max() if excess.size else -np.inf)

    sel = masks["background"]
    a = angle[sel]
    outside = []
    for name, attr in (("raw", raw), ("corrected", corrected)):
        g = grad_times_input(attr, x)[sel] / scale
        out[f"gti_hist_{name}"] = _hist2d_counts(a, g, angle_edges, gti_edges)
        outside.append(int(np.sum((g < gti_edges[0]) | (g > gti_edges[-1]))))
    out["gti_outside"] = np.asarray(outside, dtype=np.int64)

    out["large_angle_percent"] = large_angle_percent(angle, thresholds)
    row, seq_imp = representative_sequence(raw, gt, threshold)
    out["sequence_cosine_improvement"] = seq_imp
    out["representative"] = np.asarray(row, dtype=np.int64)
    out["gti_scale"] = np.asarray(scale)
    out["n_models"] = np.asarray(1, dtype=np.int64)
    return out


def combine_summaries(summaries: Iterable[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Combine summaries (e.g. of all models of one type), as if their positions had been summarised together.

    Counts and sums add, the bound excess takes the maximum, per-sequence arrays and representative
    rows concatenate in input order. Summaries are read one at a time, so a generator keeps only one
    in memory; combined summaries can be combined again.

    Parameters
    ----------
    summaries : iterable of dict
        Summaries of `model_angle_summary` (or combined ones), all with the same bin edges.

    Returns
    -------
    dict of str to numpy.ndarray
        A summary with the same keys.

    Raises
    ------
    ValueError
        For a dict that is not a summary, summaries with different bin edges, or none at all.
    """
    out: dict[str, np.ndarray] | None = None
    for s in summaries:
        keys = set(_EDGE_KEYS + _SUM_KEYS + _MAX_KEYS + _CONCAT_KEYS)
        if set(s) != keys:
            raise ValueError(f"not an angle summary: missing {sorted(keys - set(s))}, "
                             f"unexpected {sorted(set(s) - keys)}")
        if out is None:
            out = {k: np.atleast_1d(np.asarray(s[k])) if k in _CONCAT_KEYS else np.asarray(s[k]).copy()
                   for k in keys}
            continue
        for k in _EDGE_KEYS:
            if not np.array_equal(out[k], s[k]):
                raise ValueError(f"summaries with different {k} cannot be combined; "
                                 "pass one set of bin edges to every model_angle_summary call")
        for k in _SUM_KEYS:
            out[k] = out[k] + s[k]
        for k in _MAX_KEYS:
            out[k] = np.maximum(out[k], s[k])
        for k in _CONCAT_KEYS:
            out[k] = np.concatenate([out[k], np.atleast_1d(s[k])])
    if out is None:
        raise ValueError("no summaries to combine")
    return out


def pooled_mean_sd(summary: dict[str, np.ndarray], region: str) -> tuple[float, float]:
    """Mean and population SD (ddof 0, as np.nanstd) of the angle in a region, from its count and sums.

    Parameters
    ----------
    summary : dict
        A (combined) summary.
    region : {"all", "ground_truth", "background"}

    Returns
    -------
    mean, sd : float
        In degrees; NaN when the region holds no position.
    """
    n = float(summary[f"angle_n_{region}"])
    if n == 0:
        return float("nan"), float("nan")
    s, ss = float(summary[f"angle_sum_{region}"]), float(summary[f"angle_sumsq_{region}"])
    return s / n, float(np.sqrt(max(ss - s * s / n, 0.0) / n))


def summary_table_row(combined: dict[str, np.ndarray]) -> dict[str, float]:
    """One row of the angle summary table from a (combined) summary.

    Parameters
    ----------
    combined : dict
        A (combined) summary.

    Returns
    -------
    dict of str to float
        angle_mean_<region> and angle_sd_<region> for all, ground-truth and background positions
        (pooled over every position of every model), n_positions_<region>, percent_above_<t> (mean
        over the sequences of all models of the percentage of positions with |angle| > t),
        improvement_bound_excess, n_models and n_sequences.
    """
    row: dict[str, float] = {"n_models": int(combined["n_models"]),
                             "n_sequences": int(combined["large_angle_percent"].shape[0])}
    for region in REGIONS:
        mean, sd = pooled_mean_sd(combined, region)
        row[f"angle_mean_{region}"] = mean
        row[f"angle_sd_{region}"] = sd
        row[f"n_positions_{region}"] = int(combined[f"angle_n_{region}"])
    pct = combined["large_angle_percent"]
    for j, t in enumerate(combined["thresholds"]):
        col = pct[:, j][~np.isnan(pct[:, j])]
        row[f"percent_above_{t:g}"] = float(col.mean()) if col.size else float("nan")
    row["improvement_bound_excess"] = float(combined["improvement_bound_excess"])
    return row


def angle_histogram(attr: Any, edges: np.ndarray = ANGLE_EDGES, mask: np.ndarray | None = None) -> np.ndarray:
    """Histogram of the angle of a map at every position, NaN angles left out.

    Parameters
    ----------
    attr : array-like, shape (N, A, L)
        Raw maps (or an ensemble average of them).
    edges : numpy.ndarray, shape (H + 1,), default 1-degree bins over [-90, 90]
    mask : numpy.ndarray of bool, shape (N, L), optional
        Only these positions.

    Returns
    -------
    numpy.ndarray of int64, shape (H,)
        Counts per bin.
    """
    angle = simplex_angle(to_float64(attr))
    keep = ~np.isnan(angle) if mask is None else (~np.isnan(angle) & mask)
    return np.histogram(angle[keep], bins=edges)[0].astype(np.int64)


def histogram_sd(hist: np.ndarray, edges: np.ndarray = ANGLE_EDGES) -> float:
    """SD of the angle from its histogram, taking each count at its bin's centre.

    Parameters
    ----------
    hist : numpy.ndarray, shape (H,)
        Counts per bin (`angle_histogram`).
    edges : numpy.ndarray, shape (H + 1,), default 1-degree bins over [-90, 90]

    Returns
    -------
    float
        The population SD in degrees; NaN for an empty histogram.
    """
    hist = np.asarray(hist, dtype=np.float64)
    if hist.sum() == 0:
        return float("nan")
    weights, centres = hist / hist.sum(), _centers(edges)
    mean = (weights * centres).sum()
    return float(np.sqrt((weights * (centres - mean) ** 2).sum()))


def _centers(edges: np.ndarray) -> np.ndarray:
    return (edges[:-1] + edges[1:]) / 2


def _row_mean(hist2d: np.ndarray, edges: np.ndarray, absolute: bool = False) -> np.ndarray:
    """Mean of the second variable in each row (angle bin) of a 2-D histogram, from bin centres."""
    values = np.abs(_centers(edges)) if absolute else _centers(edges)
    counts = hist2d.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (hist2d * values).sum(axis=1) / counts


def angle_bin_table(combined: dict[str, np.ndarray]) -> pd.DataFrame:
    """The numbers behind Fig. 3c-d / 8 for one (combined) summary, one row per angle bin.

    Parameters
    ----------
    combined : dict
        A (combined) summary.

    Returns
    -------
    pandas.DataFrame, H rows
        Per bin: its edges; counts and densities (per degree) of the angle at ground-truth and
        background positions; the mean cosine improvement at ground-truth positions with its bound
        1 - cos(angle) at the bin centre; the mean |grad-times-input| at background positions before
        and after correction (bin-centre estimates).
    """
    edges = combined["angle_edges"]
    widths = np.diff(edges)
    row = {"angle_lo": edges[:-1], "angle_hi": edges[1:]}
    for region in ("ground_truth", "background"):
        hist = combined[f"angle_hist_{region}"]
        row[f"n_{region}"] = hist
        row[f"density_{region}"] = hist / max(hist.sum(), 1) / widths
    row["improvement_mean"] = _row_mean(combined["improvement_hist"], combined["improvement_edges"])
    row["improvement_bound"] = 1 - np.cos(np.radians(_centers(edges)))
    for name in ("raw", "corrected"):
        row[f"abs_gti_{name}_mean"] = _row_mean(combined[f"gti_hist_{name}"], combined["gti_edges"], absolute=True)
    return pd.DataFrame(row)


def large_angle_table(summary: dict[str, np.ndarray]) -> pd.DataFrame:
    """The numbers behind Fig. 4a / 12.

    Parameters
    ----------
    summary : dict
        A (combined) summary.

    Returns
    -------
    pandas.DataFrame, one row per sequence
        Its row in the summary and the percentage of positions above each threshold.
    """
    pct = summary["large_angle_percent"]
    columns = {f"percent_above_{t:g}": pct[:, j] for j, t in enumerate(summary["thresholds"])}
    return pd.DataFrame({"row": np.arange(len(pct)), **columns})
