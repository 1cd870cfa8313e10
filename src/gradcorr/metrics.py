"""Scoring attribution maps against the known ground truth of synthetic sequences.

Every function takes arrays shaped (N, A, L) like PyTorch: N sequences, A letters (4 for DNA), L
positions. `attr` is an attribution map (raw or corrected), `x` the one-hot input and `model` the
per-sequence ground-truth sequence model M (each column a probability vector; background columns
are exactly 1/A). Inputs may be NumPy arrays or PyTorch tensors (converted to NumPy at the top);
results are always NumPy arrays or plain floats, computed in float64.

The per-sequence AUROC / AUPR are vectorised over sequences (one sort of an (N, L) array, no Python
loop per sequence) and equal, sequence by sequence, what the published code gets from scikit-learn:
see `interpretability_auc`.
"""

from __future__ import annotations

import warnings
from typing import Any, Literal

import numpy as np

from gradcorr._arrays import to_float64

__all__ = ["attribution_snr", "classification_scores", "cosine_similarity", "grad_times_input", "information_content",
           "interpretability_auc", "interpretability_scores", "pearson", "position_labels", "spearman"]

Negatives = Literal["background", "rest"]


def information_content(model: Any, eps: float = 1e-10) -> np.ndarray:
    """Information (bits) of each position of the sequence model.

    I = log2(A) + sum_a M log2(M + eps), A read from the array: log2(A) for a one-hot column and
    ~0 for a uniform (background) column. `eps` (1e-10, as in the published code) keeps log2 finite
    at M = 0; it leaves background columns at about 6e-10 bits rather than exactly 0.

    Parameters
    ----------
    model : array-like, shape (N, A, L)
        Ground-truth sequence models M, each column a probability vector.
    eps : float, default 1e-10
        Added inside the logarithm.

    Returns
    -------
    numpy.ndarray, shape (N, L)
        Information content in bits.
    """
    m = to_float64(model)
    return np.log2(m.shape[1]) + np.sum(m * np.log2(m + eps), axis=1)


def grad_times_input(attr: Any, x: Any) -> np.ndarray:
    """One score per position: the sum over the alphabet of attr * x (the observed letter's score).

    Parameters
    ----------
    attr : array-like, shape (N, A, L)
        Attribution maps.
    x : array-like, shape (N, A, L)
        One-hot sequences.

    Returns
    -------
    numpy.ndarray, shape (N, L)
        Grad-times-input scores.
    """
    return np.sum(to_float64(attr) * to_float64(x), axis=1)


def cosine_similarity(attr: Any, model: Any) -> np.ndarray:
    """Per-sequence cosine between the whole flattened map and flattened (M - 1/A).

    Subtracting 1/A zeroes the background, so only motif positions contribute to the target vector.
    A sequence whose map or centred model is all zero has no direction: its cosine is defined as 0
    (not NaN), so it counts as "no agreement" in means.

    Parameters
    ----------
    attr : array-like, shape (N, A, L)
        Attribution maps (raw or corrected).
    model : array-like, shape (N, A, L)
        Ground-truth sequence models M.

    Returns
    -------
    numpy.ndarray, shape (N,)
        Cosine similarity per sequence, in [-1, 1].
    """
    a = to_float64(attr)
    m = to_float64(model)
    n = a.shape[0]
    a = a.reshape(n, -1)
    t = (m - 1.0 / m.shape[1]).reshape(n, -1)
    denom = np.linalg.norm(a, axis=1) * np.linalg.norm(t, axis=1)
    dot = np.sum(a * t, axis=1)
    out = np.zeros(n)
    np.divide(dot, denom, out=out, where=denom > 0)
    return out


def position_labels(info: np.ndarray, threshold: float = 0.1,
                    negatives: Negatives = "background") -> tuple[np.ndarray, np.ndarray]:
    """Motif (positive) and background (negative) positions of sequences, from the information content.

    Parameters
    ----------
    info : numpy.ndarray, shape (N, L)
        Information content of the ground truth (`information_content`).
    threshold : float, default 0.1
        Positions with more information (bits) are positives.
    negatives : {"background", "rest"}, default "background"
        "background": positions at the sequence's minimum information (I ~ 0), so low-information
        motif positions (0 < I <= threshold) are neither class (the paper, tfomics). "rest": every
        position that is not positive (the authors' helper.py).

    Returns
    -------
    positives, negatives : numpy.ndarray of bool, each shape (N, L)
    """
    pos = info > threshold
    if negatives == "background":
        # Background = positions at the sequence's minimum information (I ~ 0). Low-information motif
        # positions (0 < I <= threshold) are neither class and are left out.
        neg = (info == info.min(axis=1, keepdims=True)) & ~pos
    elif negatives == "rest":
        neg = ~pos
    else:
        raise ValueError(f"negatives must be 'background' or 'rest', not {negatives!r}")
    return pos, neg


def _curves_auc(scores: np.ndarray, pos: np.ndarray, neg: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-row trapezoidal ROC AUC and PR AUC at distinct score thresholds, vectorised over rows.

    Positions in neither mask are ignored. Within a row the included positions are sorted by score,
    descending; cumulative positive / negative counts are read at the last position of each run of
    equal scores (one threshold per distinct score, as sklearn's curve functions do). Other positions
    are replaced by the previous threshold's point (forward fill), which adds zero-width trapezoids.
    ROC starts at (0, 0), so tied positives/negatives count 1/2 (= Mann-Whitney with average ranks);
    the PR curve starts at (recall 0, precision 1), as sklearn's precision_recall_curve does.
    """
    n, length = scores.shape
    inc = pos | neg
    # Included positions first, then by descending score.
    order = np.lexsort((-scores, ~inc), axis=-1)
    s = np.take_along_axis(scores, order, axis=1)
    p = np.take_along_axis(pos, order, axis=1)
    q = np.take_along_axis(neg & ~pos, order, axis=1)
    i = np.take_along_axis(inc, order, axis=1)

    zeros = np.zeros((n, 1))
    tp = np.concatenate([zeros, np.cumsum(p, axis=1, dtype=np.float64)], axis=1)
    fp = np.concatenate([zeros, np.cumsum(q, axis=1, dtype=np.float64)], axis=1)
    group_end = np.ones((n, length), dtype=bool)
    group_end[:, :-1] = (s[:, 1:] != s[:, :-1]) | ~i[:, 1:]
    valid = np.concatenate([np.ones((n, 1), dtype=bool), i & group_end], axis=1)
    idx = np.maximum.accumulate(np.where(valid, np.arange(length + 1), 0), axis=1)
    tp = np.take_along_axis(tp, idx, axis=1)
    fp = np.take_along_axis(fp, idx, axis=1)

    n_pos = tp[:, -1:]
    n_neg = fp[:, -1:]
    with np.errstate(invalid="ignore", divide="ignore"):
        tpr = tp / n_pos
        fpr = fp / n_neg
        auroc = 0.5 * np.sum(np.diff(fpr, axis=1) * (tpr[:, 1:] + tpr[:, :-1]), axis=1)
        called = tp + fp
        precision = np.where(called > 0, tp / np.where(called > 0, called, 1.0), 1.0)
        aupr = 0.5 * np.sum(np.diff(tpr, axis=1) * (precision[:, 1:] + precision[:, :-1]), axis=1)
    undefined = (n_pos[:, 0] == 0) | (n_neg[:, 0] == 0)
    auroc[undefined] = np.nan
    aupr[undefined] = np.nan
    return auroc, aupr


def interpretability_auc(
    attr: Any,
    x: Any,
    model: Any,
    threshold: float = 0.1,
    negatives: Negatives = "background",
) -> tuple[np.ndarray, np.ndarray]:
    """Per-sequence AUROC and AUPR of grad-times-input scores against motif positions, each (N,).

    Positives: positions with information I > threshold. Negatives (default "background"): positions
    whose I equals the sequence's minimum (background, I ~ 0); positions with 0 < I <= threshold are
    left out. This is the rule of the paper's section 4.3 and of tfomics
    `evaluate.interpretability_performance` (p-koo/tfomics). `negatives="rest"` instead labels every
    non-positive position negative, which is what p-koo/GradientCorrection's own
    `gradient_correction/helper.py::interpretability_performance` does (no exclusion).

    AUROC equals sklearn `roc_auc_score` (trapezoid under the ROC curve; ties count 1/2).
    AUPR is the published definition: `auc(recall, precision)` from `precision_recall_curve`, i.e. the
    trapezoidal area under the PR curve including its (recall 0, precision 1) end point, as in
    p-koo/GradientCorrection `gradient_correction/helper.py` (and `gradientcorrection/metrics.py`, tfomics);
    it is NOT `average_precision_score` (a step sum), which the published code does not use.

    A sequence with no positive or no negative position gets NaN for both.
    Vectorised over sequences: 500 x 200 takes milliseconds.

    Parameters
    ----------
    attr : array-like, shape (N, A, L)
        Attribution maps (raw or corrected).
    x : array-like, shape (N, A, L)
        One-hot sequences.
    model : array-like, shape (N, A, L)
        Ground-truth sequence models M.
    threshold : float, default 0.1
        Information (bits) above which a position is a motif position.
    negatives : {"background", "rest"}, default "background"
        Which positions are negatives (`position_labels`).

    Returns
    -------
    auroc, aupr : numpy.ndarray, each shape (N,)
        Per-sequence areas; NaN for a sequence without positives or negatives.
    """
    scores = grad_times_input(attr, x)
    pos, neg = position_labels(information_content(model), threshold, negatives)
    return _curves_auc(scores, pos, neg)


def _nanmean(v: np.ndarray) -> float:
    """Mean ignoring NaN; NaN (without a warning) when every value is NaN."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return float(np.nanmean(v)) if v.size else float("nan")


def interpretability_scores(
    attr: Any,
    x: Any,
    model: Any,
    threshold: float = 0.1,
    negatives: Negatives = "background",
) -> dict[str, float]:
    """Mean over sequences of cosine similarity, AUROC and AUPR of maps against the ground truth.

    NaN per-sequence values (sequences without positives or negatives) are left out of the means.

    Parameters
    ----------
    attr, x, model, threshold, negatives
        As in `interpretability_auc`.

    Returns
    -------
    dict
        {"cosine": float, "auroc": float, "aupr": float}.
    """
    auroc, aupr = interpretability_auc(attr, x, model, threshold, negatives)
    cos = cosine_similarity(attr, model)
    return {"cosine": _nanmean(cos), "auroc": _nanmean(auroc), "aupr": _nanmean(aupr)}


def classification_scores(y_true: Any, y_score: Any) -> dict[str, float]:
    """Test-set AUROC (`roc_auc_score`) and AUPR (`average_precision_score`) of a model's predictions.

    Parameters
    ----------
    y_true : array-like, shape (N,) or (N, 1)
        Binary labels.
    y_score : array-like, shape (N,) or (N, 1)
        Predicted probabilities or scores.

    Returns
    -------
    dict
        {"auroc": float, "aupr": float}.
    """
    from sklearn.metrics import average_precision_score, roc_auc_score  # a second of import, paid where used

    yt = to_float64(y_true).ravel()
    ys = to_float64(y_score).ravel()
    return {"auroc": float(roc_auc_score(yt, ys)), "aupr": float(average_precision_score(yt, ys))}


def attribution_snr(
    attr: Any,
    x: Any,
    model: Any,
    threshold: float = 0.1,
    top_k: int = 10,
) -> np.ndarray:
    """Attribution signal-to-noise ratio per sequence (consistency paper, crajesh6/acme).

    signal = mean grad-times-input at positions with I > threshold; noise = mean of the `top_k`
    largest positive grad-times-input scores at background positions (I at the sequence's minimum),
    and 0 when there are fewer than `top_k` such positive scores; SNR = signal / noise. NaN (no motif
    position) and +-inf (zero noise) are mapped to 0, as the published analysis counts them.

    Parameters
    ----------
    attr : array-like, shape (N, A, L)
        Attribution maps (the published analysis uses raw maps).
    x : array-like, shape (N, A, L)
        One-hot sequences.
    model : array-like, shape (N, A, L)
        Ground-truth sequence models M.
    threshold : float, default 0.1
        Information (bits) above which a position is a motif position.
    top_k : int, default 10
        Background scores averaged into the noise.

    Returns
    -------
    numpy.ndarray, shape (N,)
        SNR per sequence (0 where undefined).
    """
    if top_k < 1:
        raise ValueError("top_k must be at least 1")
    scores = grad_times_input(attr, x)
    pos, bg = position_labels(information_content(model), threshold, "background")
    n_sig = pos.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        signal = np.where(pos, scores, 0.0).sum(axis=1) / n_sig
    cand = bg & (scores > 0)
    length = scores.shape[1]
    if top_k > length:
        noise = np.zeros(scores.shape[0])
    else:
        vals = np.where(cand, scores, -np.inf)
        top = np.partition(vals, length - top_k, axis=1)[:, length - top_k:]
        enough = cand.sum(axis=1) >= top_k
        noise = np.where(enough, np.where(enough[:, None], top, 0.0).mean(axis=1), 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        snr = signal / noise
    return np.where(np.isfinite(snr), snr, 0.0)


def pearson(table: Any, a: str, b: str) -> float:
    """Pearson r of two columns of a table over the rows where both are finite.

    Parameters
    ----------
    table : pandas.DataFrame or mapping of columns
        The table.
    a, b : str
        Column names.

    Returns
    -------
    float
        Pearson r; NaN with fewer than 3 such rows or a constant column.
    """
    x, y = np.asarray(table[a], dtype=float), np.asarray(table[b], dtype=float)
    ok = np.isfinite(x) & np.isfinite(y)
    if ok.sum() < 3 or x[ok].std() == 0 or y[ok].std() == 0:
        return float("nan")
    return float(np.corrcoef(x[ok], y[ok])[0, 1])


def spearman(x: Any, y: Any) -> float:
    """Spearman rank correlation of two sequences of numbers over the pairs where both are finite.

    Pearson r of the ranks, ties given their average rank (so it is the tie-corrected Spearman rho of
    `scipy.stats.spearmanr`, without needing scipy).

    Parameters
    ----------
    x, y : array-like, shape (n,)
        The paired values.

    Returns
    -------
    float
        Spearman rho in [-1, 1]; NaN with fewer than 3 finite pairs or a constant side.
    """
    x, y = np.asarray(x, dtype=float).reshape(-1), np.asarray(y, dtype=float).reshape(-1)
    if x.shape != y.shape:
        raise ValueError(f"x and y differ in length: {x.shape[0]} vs {y.shape[0]}")
    ok = np.isfinite(x) & np.isfinite(y)
    return pearson({"x": _average_ranks(x[ok]), "y": _average_ranks(y[ok])}, "x", "y")


def _average_ranks(v: np.ndarray) -> np.ndarray:
    """Ranks 1..n of `v`, tied values sharing the mean of their ranks."""
    order = np.argsort(v, kind="stable")
    ranks = np.empty(len(v))
    ranks[order] = np.arange(1, len(v) + 1)
    _, inverse, counts = np.unique(v, return_inverse=True, return_counts=True)
    sums = np.bincount(inverse, weights=ranks)
    return sums[inverse] / counts[inverse]
