"""Ensemble difference: how much closer correction brings one model's map to an ensemble average.

On ChIP-seq data there is no ground truth, so the paper (Fig. 3e / 9) takes the average saliency map E
of an ensemble of models as its proxy (`ensemble_average`; its angles are Fig. 10's). For each single
model with raw map S it measures, per position, D = ||S - E|| and D_corr = ||correct(S) - E|| (L2 over
the alphabet), bins positions by the single model's raw angle in 5-degree bins, and reports the
reduction 100 (mean D - mean D_corr) / mean D per bin. The published code compares with the raw E;
`correct_ensemble=True` compares with correct(E) instead.

Per-model results are sums and counts per bin, so models (and TFs) combine by adding, and the
reduction of the pooled positions follows exactly.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

from gradcorr._arrays import to_float64
from gradcorr.correction import correct, simplex_angle

__all__ = ["DIFF_EDGES", "angle_bins", "combine_differences", "ensemble_agreement", "ensemble_average",
           "ensemble_difference", "overall_reduction", "position_distances", "reduction_table", "sequence_reduction"]

DIFF_EDGES = np.arange(-90.0, 91.0, 5.0)  # 36 bins of 5 degrees
_DISTANCE_KEYS = ("n", "distance_raw", "distance_corrected")


def ensemble_average(maps: Iterable[Any]) -> np.ndarray:
    """Mean of raw maps over models, reading one map at a time (float64 running sum, then divide).

    The ensemble's angles (Fig. 10) are those of this AVERAGE RAW MAP, not an average of angles:
    off-simplex components that disagree between models cancel in the average.

    Parameters
    ----------
    maps : iterable of array-like, each shape (N, A, L)
        Raw maps of the same sequences, one per model (a generator keeps one in memory).

    Returns
    -------
    numpy.ndarray, shape (N, A, L)
        The average, float64.
    """
    total, k = None, 0
    for m in maps:
        m = to_float64(m)
        if total is None:
            total = m.copy()
        elif m.shape != total.shape:
            raise ValueError(f"maps differ in shape: {m.shape} vs {total.shape}")
        else:
            total += m
        k += 1
    if total is None:
        raise ValueError("no maps to average")
    return total / k


def position_distances(raw: Any, ensemble: Any, correct_ensemble: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Per-position L2 distances of a model's raw and corrected map to the ensemble average.

    Parameters
    ----------
    raw : array-like, shape (N, A, L)
        One model's raw map.
    ensemble : array-like, shape (N, A, L)
        The ensemble average E of raw maps.
    correct_ensemble : bool, default False
        Compare with correct(E) instead of E (the published code compares with E).

    Returns
    -------
    d, d_corrected : numpy.ndarray, each shape (N, L)
        ||S - E|| and ||correct(S) - E|| per position.
    """
    raw, ensemble = to_float64(raw), to_float64(ensemble)
    if raw.shape != ensemble.shape:
        raise ValueError(f"map and ensemble differ in shape: {raw.shape} vs {ensemble.shape}")
    target = correct(ensemble, axis=1) if correct_ensemble else ensemble
    return (np.linalg.norm(raw - target, axis=1),
            np.linalg.norm(correct(raw, axis=1) - target, axis=1))


def angle_bins(angle: np.ndarray, edges: np.ndarray = DIFF_EDGES) -> np.ndarray:
    """Bin index of each angle (the last bin includes its right edge).

    Parameters
    ----------
    angle : numpy.ndarray
        Angles in degrees, any shape.
    edges : numpy.ndarray, shape (B + 1,), default 5-degree bins over [-90, 90]
        Ascending.

    Returns
    -------
    numpy.ndarray of int, the shape of `angle`
        0 to B - 1; -1 for NaN or an angle outside the edges.
    """
    idx = np.searchsorted(edges, angle, side="right") - 1
    idx = np.where(angle == edges[-1], len(edges) - 2, idx)
    return np.where(np.isnan(angle) | (idx < 0) | (idx > len(edges) - 2), -1, idx)


def ensemble_difference(raw: Any, ensemble: Any, *, edges: np.ndarray = DIFF_EDGES,
                        correct_ensemble: bool = False) -> dict[str, np.ndarray]:
    """One model's distances to the ensemble, summed per bin of its raw angle (Fig. 3e / 9).

    Parameters
    ----------
    raw : array-like, shape (N, A, L)
        One model's raw map.
    ensemble : array-like, shape (N, A, L)
        The ensemble average E of raw maps.
    edges : numpy.ndarray, shape (B + 1,), default 5-degree bins over [-90, 90]
    correct_ensemble : bool, default False
        Compare with correct(E) instead of E.

    Returns
    -------
    dict of str to numpy.ndarray
        `edges` (B+1,), `n` (B,) positions per bin, `distance_raw` and `distance_corrected` (B,)
        sums of D and D_corr. Positions with no angle (zero gradient) are left out.
    """
    d, d_corr = position_distances(raw, ensemble, correct_ensemble)
    idx = angle_bins(simplex_angle(to_float64(raw), axis=1), edges).ravel()
    keep = idx >= 0
    nbins = len(edges) - 1
    return {"edges": np.asarray(edges, dtype=np.float64),
            "n": np.bincount(idx[keep], minlength=nbins).astype(np.int64),
            "distance_raw": np.bincount(idx[keep], weights=d.ravel()[keep], minlength=nbins),
            "distance_corrected": np.bincount(idx[keep], weights=d_corr.ravel()[keep], minlength=nbins)}


def combine_differences(differences: Iterable[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Sum the per-bin results of several models, as if their positions were pooled.

    Parameters
    ----------
    differences : iterable of dict
        Results of `ensemble_difference`, all with the same edges.

    Returns
    -------
    dict of str to numpy.ndarray
        The same keys, summed.
    """
    out: dict[str, np.ndarray] | None = None
    for diff in differences:
        if out is None:
            out = {k: np.array(v, copy=True) for k, v in diff.items()}
            continue
        if not np.array_equal(out["edges"], diff["edges"]):
            raise ValueError("cannot combine ensemble differences with different angle bins")
        for key in _DISTANCE_KEYS:
            out[key] = out[key] + diff[key]
    if out is None:
        raise ValueError("no ensemble differences to combine")
    return out


def reduction_table(diff: dict[str, np.ndarray]) -> pd.DataFrame:
    """The reduction of the distance to the ensemble by correction, per angle bin.

    Parameters
    ----------
    diff : dict
        A (combined) result of `ensemble_difference`.

    Returns
    -------
    pandas.DataFrame, one row per bin
        Its edges, positions, mean D, mean D_corr and the reduction 100 (mean D - mean D_corr) / mean D
        in percent (NaN for empty bins).
    """
    edges, n = diff["edges"], diff["n"].astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_raw = np.where(n > 0, diff["distance_raw"] / n, np.nan)
        mean_corr = np.where(n > 0, diff["distance_corrected"] / n, np.nan)
        reduction = np.where(mean_raw > 0, 100.0 * (mean_raw - mean_corr) / mean_raw, np.nan)
    return pd.DataFrame({"angle_lo": edges[:-1], "angle_hi": edges[1:], "n_positions": diff["n"],
                         "distance_raw": mean_raw, "distance_corrected": mean_corr,
                         "reduction_percent": reduction})


def overall_reduction(diff: dict[str, np.ndarray]) -> float:
    """The reduction in percent over all positions (every bin pooled).

    Parameters
    ----------
    diff : dict
        A (combined) result of `ensemble_difference`.

    Returns
    -------
    float
        NaN when the distances are all 0.
    """
    total = float(diff["distance_raw"].sum())
    return 100.0 * (total - float(diff["distance_corrected"].sum())) / total if total > 0 else float("nan")


def sequence_reduction(raw: Any, ensemble: Any, correct_ensemble: bool = False) -> np.ndarray:
    """Per sequence, the reduction in percent of the summed per-position distance.

    Parameters
    ----------
    raw, ensemble, correct_ensemble
        As in `position_distances`.

    Returns
    -------
    numpy.ndarray, shape (N,)
        NaN for a sequence whose distances are all 0.
    """
    d, d_corr = position_distances(raw, ensemble, correct_ensemble)
    total = d.sum(axis=1)
    out = np.full(total.shape, np.nan)
    np.divide(100.0 * (total - d_corr.sum(axis=1)), total, out=out, where=total > 0)
    return out


def ensemble_agreement(raw: Any, ensemble: Any) -> tuple[np.ndarray, np.ndarray]:
    """Per sequence, how well one model's corrected map agrees with the corrected ensemble average.

    The stand-in for ground truth when there is none (in vivo): correction is linear, so correct(E)
    is also the average of the members' corrected maps.

    Parameters
    ----------
    raw : array-like, shape (N, A, L)
        One model's raw map.
    ensemble : array-like, shape (N, A, L)
        The ensemble average E of raw maps.

    Returns
    -------
    cosine : numpy.ndarray, shape (N,)
        Cosine similarity of the flattened correct(S) and correct(E), in [-1, 1]; 0 where either is all
        zero (no direction, so no agreement, as in `metrics.cosine_similarity`).
    distance : numpy.ndarray, shape (N,)
        Mean over positions of ||correct(S) - correct(E)||.
    """
    raw, ensemble = to_float64(raw), to_float64(ensemble)
    if raw.shape != ensemble.shape:
        raise ValueError(f"map and ensemble differ in shape: {raw.shape} vs {ensemble.shape}")
    s, e = correct(raw, axis=1), correct(ensemble, axis=1)
    distance = np.linalg.norm(s - e, axis=1).mean(axis=1)
    s, e = s.reshape(len(s), -1), e.reshape(len(e), -1)
    denom = np.linalg.norm(s, axis=1) * np.linalg.norm(e, axis=1)
    cosine = np.zeros(len(s))
    np.divide(np.sum(s * e, axis=1), denom, out=cosine, where=denom > 0)
    return np.clip(cosine, -1.0, 1.0), distance
