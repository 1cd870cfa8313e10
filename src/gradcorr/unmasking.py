"""Unmasking one-hot sequences by attribution rank (DiffROAR: Shah, Jain & Netrapalli, *Do input gradients
highlight discriminative features?*).

DiffROAR keeps the top-k positions of every sequence by its attribution (and, separately, the bottom-k), masks
the rest, retrains a model on each unmasked dataset and compares their accuracies. Here, for any alphabet:

- `keep_mask`: which positions each sequence keeps: the `fraction` of its L positions with the highest
  (`keep="top"`) or lowest (`"bottom"`) score; ties in a seeded random order, so a flat score keeps a random
  set rather than the first positions.
- `unmask`: the sequences with every other position replaced by `fill` (`FILLS`): "zeros", the zero vector (off
  the simplex, as the paper zeros pixels), or "uniform", 1/A for every letter (the simplex centre).
- `random_scores` and `input_agnostic_scores`: the paper's baselines, a random ranking (model-agnostic) and one
  ranking shared by every sequence (the mean position score over a reference set, such as the training set).

Scores come from maps through `gradcorr.faithfulness.position_scores` ("observed" or "l2").
"""

from __future__ import annotations

from typing import Any

import numpy as np

from gradcorr._arrays import to_float64

__all__ = ["FILLS", "KEEPS", "input_agnostic_scores", "keep_mask", "random_scores", "unmask"]

FILLS = ("zeros", "uniform")
KEEPS = ("top", "bottom")


def keep_mask(scores: Any, fraction: float, keep: str = "top", seed: int = 0) -> np.ndarray:
    """The positions each sequence keeps: round(fraction * L) of them, by score.

    Parameters
    ----------
    scores : array_like, shape (N, L)
        Per-position scores (higher: more important).
    fraction : float
        Share of positions kept, in [0, 1].
    keep : {"top", "bottom"}, default "top"
        Keep the highest or the lowest scores.
    seed : int, default 0
        Seeds the order of tied scores (one random permutation per sequence).

    Returns
    -------
    numpy.ndarray of bool, shape (N, L)
        Exactly round(fraction * L) True per row.
    """
    scores = to_float64(scores)
    if scores.ndim != 2:
        raise ValueError(f"scores must have shape (N, L); got {scores.shape}")
    if np.isnan(scores).any():
        raise ValueError("scores hold NaN")
    if not 0 <= fraction <= 1:
        raise ValueError(f"fraction must be in [0, 1]; got {fraction!r}")
    if keep not in KEEPS:
        raise ValueError(f"keep must be one of {KEEPS}; got {keep!r}")
    n, length = scores.shape
    k = int(round(fraction * length))
    tiebreak = np.random.default_rng(seed).random((n, length))
    key = -scores if keep == "top" else scores
    order = np.lexsort((tiebreak, key), axis=1)  # by key, then by the random tie-break
    mask = np.zeros((n, length), dtype=bool)
    np.put_along_axis(mask, order[:, :k], True, axis=1)
    return mask


def unmask(x: Any, scores: Any, fraction: float, *, keep: str = "top", fill: str = "zeros",
           seed: int = 0) -> np.ndarray:
    """One-hot sequences with only their kept positions (`keep_mask`) left, every other position `fill`.

    Parameters
    ----------
    x : array_like, shape (N, A, L)
        One-hot sequences.
    scores : array_like, shape (N, L)
        Per-position scores of the sequences' maps.
    fraction : float
        Share of positions kept.
    keep : {"top", "bottom"}, default "top"
    fill : {"zeros", "uniform"}, default "zeros"
        What a masked position becomes: the zero vector, or 1/A for every letter.
    seed : int, default 0
        Seeds the order of tied scores.

    Returns
    -------
    numpy.ndarray, shape (N, A, L), float32
    """
    x = np.asarray(x, dtype=np.float32)
    if x.ndim != 3:
        raise ValueError(f"x must have shape (N, A, L); got {x.shape}")
    if np.shape(scores) != (x.shape[0], x.shape[2]):
        raise ValueError(f"scores must have shape (N, L) = {(x.shape[0], x.shape[2])}; got {np.shape(scores)}")
    if fill not in FILLS:
        raise ValueError(f"fill must be one of {FILLS}; got {fill!r}")
    kept = keep_mask(scores, fraction, keep, seed)[:, None, :]
    value = np.float32(0.0 if fill == "zeros" else 1.0 / x.shape[1])
    return np.where(kept, x, value).astype(np.float32)


def random_scores(n: int, length: int, seed: int = 0) -> np.ndarray:
    """The model-agnostic baseline: independent uniform scores, a random ranking per sequence.

    Parameters
    ----------
    n, length : int
        Sequences and positions.
    seed : int, default 0

    Returns
    -------
    numpy.ndarray, shape (n, length), float64
    """
    return np.random.default_rng(seed).random((n, length))


def input_agnostic_scores(reference_scores: Any, n: int) -> np.ndarray:
    """The input-agnostic baseline: every sequence ranked by the mean score of each position over a reference
    set (for example the training set's position scores).

    Parameters
    ----------
    reference_scores : array_like, shape (M, L)
        Per-position scores of the reference set.
    n : int
        Sequences to rank.

    Returns
    -------
    numpy.ndarray, shape (n, L), float64
    """
    reference_scores = to_float64(reference_scores)
    if reference_scores.ndim != 2 or not len(reference_scores):
        raise ValueError(f"reference_scores must have shape (M, L) with M >= 1; got {reference_scores.shape}")
    return np.broadcast_to(reference_scores.mean(axis=0), (n, reference_scores.shape[1])).copy()
