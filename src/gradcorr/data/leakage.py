"""Synthetic DNA data for measuring the feature leakage of attributions: the DNA analogue of BlockMNIST.

Shah, Jain & Netrapalli ("Do input gradients highlight discriminative features?", 2021) pair an MNIST digit
(the signal, which sets the label) with a label-independent null patch, so that an attribution's mass on the
null patch is leakage. Here each sequence is two blocks of ``block_length`` bp, L = 2 * block_length:

- motifs: four JASPAR motifs ``motif_ids`` (default: the first four ``synthetic.CORE_MOTIF_IDS``), called
  a, b, c, d in that order, PWMs from pyjaspar's local database (``release``; no network);
- signal block: the motif grammar that sets the label. Label 1 iff the block holds a then b with exactly
  ``spacing`` bp between a's end and b's start; label 0 iff it holds c then d at the same spacing. The pair's
  start is uniform over the places where it fits in the block;
- null block: ``n_null`` single motifs, each uniform over {a, b, c, d} independently of the label, at random
  places in the block that leave at least 1 bp between two motifs (so each motif is its own run in the
  ``motifs`` mask), redrawn (identities and places) while any two of them form a grammar pair (a then b, or
  c then d, exactly ``spacing`` bp apart). The null block thus holds the same kinds of motifs in both classes
  and never the grammar: its motifs tell nothing of the label on their own. Given the identities, read left
  to right, the places are uniform over all such arrangements;
- placement: ``"random"`` puts the signal block on the left or the right with probability 1/2 each,
  independently of the label (BlockMNIST); ``"fixed"`` always on the left (the BlockMNIST-Top analogue);
- ground truth: each sequence has its own sequence model M (4, L), 0.25 everywhere except motif columns,
  which hold the motif's PWM, as in the billboard data (``synthetic``); x is sampled from M with
  ``synthetic.sample_one_hot``. No grammar pair can form across the two blocks (its other motif would have to
  sit where the signal pair's own motif sits), so the signal block is the only place the label is written.

Arrays, for each split in train, valid, test (``synthetic.split_shuffled``, so ``io.read_xy`` and
``synthetic.read_dataset`` read the written file): ``x_{split}`` (N, 4, L) float32 one-hot (rows ACGT),
``y_{split}`` (N, 1) float32, ``model_{split}`` (N, 4, L) float32, ``signal_{split}`` and ``null_{split}``
(N, L) bool (the two blocks' positions), ``motifs_{split}`` (N, L) bool (the columns holding any motif) and
``side_{split}`` (N,) int8 (0: signal block on the left, 1: on the right).

All randomness comes from one ``numpy.random.default_rng(seed)``, so one seed always gives the same arrays
(and, through :func:`write_leakage`, the same bytes). The sequences are drawn with the signal block first and
only then arranged by side, so with one seed the ``"fixed"`` and ``"random"`` datasets hold the same blocks,
the same one-hot letters and the same order: only the side differs, which pairs the two placements exactly.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from gradcorr.data.io import read_split, write_arrays
from gradcorr.data.synthetic import CORE_MOTIF_IDS, _motif_pwm, sample_one_hot, split_shuffled, split_sizes

__all__ = ["LEAKAGE_KEYS", "PLACEMENTS", "generate_leakage", "leakage_attrs", "null_share", "read_leakage",
           "write_leakage"]

PLACEMENTS: tuple[str, ...] = ("random", "fixed")
LEAKAGE_KEYS: tuple[str, ...] = ("x", "y", "model", "signal", "null", "motifs", "side")

_LEAKAGE_SETTINGS: dict[str, Any] = {"n": 10000, "block_length": 100, "placement": "random", "spacing": 5, "n_null": 2,
                             "motif_ids": tuple(CORE_MOTIF_IDS[:4]), "release": "JASPAR2016",
                             "positive_fraction": 0.5, "split": (0.7, 0.1, 0.2), "seed": 0}
_PAIRS = ((0, 1), (2, 3))  # (a, b) for label 1, (c, d) for label 0, as indices into the motifs


# --------------------------------------------------------------------------- settings


def _check_whole(name: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _check_leakage(n: int, block_length: int, placement: str, spacing: int, n_null: int,
                    motif_ids: Sequence[str], release: str, positive_fraction: float,
                    split: Sequence[float]) -> list[np.ndarray]:
    """ValueError naming the first bad argument of generate_leakage; the four PWMs otherwise.

    Checks that the pair and the null motifs always fit their block, so no redraw can loop forever: the null
    redraw ends because draws of one motif identity never form a pair."""
    if placement not in PLACEMENTS:
        raise ValueError(f"placement must be one of {PLACEMENTS}, got {placement!r}")
    _check_whole("n", n, 2)
    _check_whole("block_length", block_length, 1)
    _check_whole("spacing", spacing, 0)
    _check_whole("n_null", n_null, 0)
    if not (isinstance(positive_fraction, numbers.Real) and 0 < positive_fraction < 1):
        raise ValueError(f"positive_fraction must be in (0, 1), got {positive_fraction!r}")
    if isinstance(motif_ids, str) or len(motif_ids) != 4:
        raise ValueError(f"motif_ids must name exactly 4 motifs (a, b, c, d), got {motif_ids!r}")
    if len(set(motif_ids)) != 4:
        raise ValueError(f"motif_ids must be 4 distinct motifs, got {list(motif_ids)}")
    split_sizes(n, split)
    pwms = [np.asarray(_motif_pwm(release, str(m)), dtype=np.float32) for m in motif_ids]
    widths = [p.shape[1] for p in pwms]
    pair = max(widths[i] + widths[j] for i, j in _PAIRS) + spacing
    if pair > block_length:
        raise ValueError(f"block_length {block_length} is too short for the grammar pair: the widest pair with "
                         f"spacing {spacing} takes {pair} bp")
    room = n_null * max(widths) + max(n_null - 1, 0)
    if room > block_length:
        raise ValueError(f"block_length {block_length} is too short for n_null={n_null} motifs: the widest need "
                         f"{room} bp with 1 bp between them")
    return pwms


# --------------------------------------------------------------------------- sampling


def _null_placement(rng: np.random.Generator, widths: np.ndarray, block_length: int, n_null: int,
                    spacing: int) -> tuple[np.ndarray, np.ndarray]:
    """(motif indices, starts) of one null block, left to right, redrawn while two motifs form a grammar pair.

    Identities are uniform over the 4 motifs; given them, the n_null + 1 free stretches (beyond the 1 bp kept
    between neighbours) are uniform over the compositions of the free length (stars and bars)."""
    while True:
        ids = rng.integers(0, 4, size=n_null)
        w = widths[ids]
        free = block_length - int(w.sum()) - (n_null - 1)
        cuts = np.sort(rng.choice(free + n_null, size=n_null, replace=False))
        starts = cuts + np.concatenate([[0], np.cumsum(w[:-1])])  # cuts are distinct: >= 1 bp between motifs
        gap = starts[None, :] - (starts + w)[:, None]  # gap[i, j]: bp from i's end to j's start
        paired = np.zeros((n_null, n_null), dtype=bool)
        for first, second in _PAIRS:
            paired |= (ids[:, None] == first) & (ids[None, :] == second)
        if not (paired & (gap == spacing)).any():
            return ids, starts


# --------------------------------------------------------------------------- dataset


def generate_leakage(
    n: int = 10000,
    block_length: int = 100,
    placement: str = "random",
    spacing: int = 5,
    n_null: int = 2,
    motif_ids: Sequence[str] = tuple(CORE_MOTIF_IDS[:4]),
    release: str = "JASPAR2016",
    positive_fraction: float = 0.5,
    split: Sequence[float] = (0.7, 0.1, 0.2),
    seed: int = 0,
) -> dict[str, np.ndarray]:
    """Generate the leakage dataset (see the module docstring), shuffled and split into train/valid/test.

    Order of random draws: sides (N,), pair starts (N,), each sequence's null block in turn (with its
    redraws), the one-hot letters (signal block first), the shuffle. The first round(n * positive_fraction)
    sequences drawn are the positives.

    Parameters
    ----------
    n : int, default 10000
        Sequences in all, >= 2.
    block_length : int, default 100
        Length of each block; L = 2 * block_length. Must hold the widest pair at ``spacing`` and ``n_null`` of
        the widest motif with 1 bp between them.
    placement : {"random", "fixed"}, default "random"
        Signal block left or right at random, or always left.
    spacing : int, default 5
        bp between the end of a (or c) and the start of b (or d), >= 0.
    n_null : int, default 2
        Motifs in the null block, >= 0.
    motif_ids : 4 str, default the first four ``synthetic.CORE_MOTIF_IDS``
        Distinct JASPAR IDs of a, b, c, d.
    release : str, default "JASPAR2016"
        The pyjaspar release the PWMs come from.
    positive_fraction : float, default 0.5
        In (0, 1).
    split : 3 floats, default (0.7, 0.1, 0.2)
        Train/valid/test fractions (``synthetic.split_sizes``).
    seed : int, default 0

    Returns
    -------
    dict of str to numpy.ndarray
        For * in train, valid, test: x_* (N, 4, L) float32 one-hot, y_* (N, 1) float32 (1: the a-b pair),
        model_* (N, 4, L) float32, signal_*, null_*, motifs_* (N, L) bool, side_* (N,) int8.

    Raises
    ------
    ValueError
        For a bad argument, naming it, or when a split given a share (or any sequences) holds no positives
        or no negatives.
    """
    pwms = _check_leakage(n, block_length, placement, spacing, n_null, motif_ids, release, positive_fraction,
                           split)
    widths = np.array([p.shape[1] for p in pwms])
    n_pos = int(np.floor(positive_fraction * n + 0.5))
    y = (np.arange(n) < n_pos).astype(np.float32)[:, None]
    first = np.where(y[:, 0] == 1, _PAIRS[0][0], _PAIRS[1][0])  # a or c; its partner is the next motif
    pair_width = widths[first] + spacing + widths[first + 1]

    rng = np.random.default_rng(seed)
    side = rng.integers(0, 2, size=n).astype(np.int8)
    if placement == "fixed":
        side[:] = 0
    pair_start = rng.integers(0, block_length - pair_width + 1)

    length = 2 * block_length
    model = np.full((n, 4, length), 0.25, dtype=np.float32)  # signal block first; arranged by side below
    motifs = np.zeros((n, length), dtype=bool)
    for i in range(n):
        starts = [int(pair_start[i]), int(pair_start[i] + widths[first[i]] + spacing)]
        ids = [int(first[i]), int(first[i]) + 1]
        if n_null:
            null_ids, null_starts = _null_placement(rng, widths, block_length, n_null, spacing)
            ids += null_ids.tolist()
            starts += (null_starts + block_length).tolist()
        for j, s in zip(ids, starts):
            model[i, :, s:s + widths[j]] = pwms[j]
            motifs[i, s:s + widths[j]] = True
    x = sample_one_hot(model, rng)
    signal = np.broadcast_to(np.arange(length) < block_length, (n, length)).copy()

    right = side == 1  # swapping the blocks is a roll by one block
    for arr in (x, model, motifs, signal):
        arr[right] = np.roll(arr[right], block_length, axis=-1)

    arrays = {"x": x, "y": y, "model": model, "signal": signal, "null": ~signal, "motifs": motifs, "side": side}
    return split_shuffled(arrays, rng.permutation(n), split,
                          f"raise n, or change positive_fraction {positive_fraction} or split {tuple(split)}")


def leakage_attrs(**settings: Any) -> dict[str, Any]:
    """Root attributes for write_leakage: every setting, the motifs and what the file holds.

    Parameters
    ----------
    **settings
        The keyword arguments given to generate_leakage; the others take its defaults.

    Returns
    -------
    dict
        Every setting of generate_leakage (motif_ids and split as lists), length (L), motif_widths,
        motif_roles ({"a": id, "b": id, "c": id, "d": id}), grammar (a line on the label's rule) and layout
        (a line on the keys).

    Raises
    ------
    ValueError
        For an unknown setting or a bad value (as generate_leakage).
    """
    unknown = sorted(set(settings) - set(_LEAKAGE_SETTINGS))
    if unknown:
        raise ValueError(f"unknown setting(s) {', '.join(map(repr, unknown))}; generate_leakage takes "
                         f"{sorted(_LEAKAGE_SETTINGS)}")
    config = {**_LEAKAGE_SETTINGS, **settings}
    pwms = _check_leakage(*(config[k] for k in ("n", "block_length", "placement", "spacing", "n_null",
                                                 "motif_ids", "release", "positive_fraction", "split")))
    ids = [str(m) for m in config["motif_ids"]]
    grammar = (f"label 1: {ids[0]} then {ids[1]}, label 0: {ids[2]} then {ids[3]}, {config['spacing']} bp from "
               f"the first's end to the second's start, in the signal block; the null block holds "
               f"{config['n_null']} of the four motifs, label-independent, never such a pair")
    layout = ("x_{split} (N, 4, L) float32 one-hot, rows ACGT; y_{split} (N, 1) float32; model_{split} (N, 4, L) "
              "float32 ground-truth sequence model; signal_{split}, null_{split} (N, L) bool block masks; "
              "motifs_{split} (N, L) bool motif columns; side_{split} (N,) int8, 0 signal left, 1 right; "
              "split in train, valid, test")
    return {**{k: list(v) if k in ("motif_ids", "split") else v for k, v in config.items()},
            "motif_ids": ids, "length": 2 * config["block_length"], "motif_widths": [p.shape[1] for p in pwms],
            "motif_roles": dict(zip("abcd", ids)), "grammar": grammar, "layout": layout}


# --------------------------------------------------------------------------- files


def write_leakage(path: str | Path, data: dict[str, np.ndarray], attrs: dict[str, Any] | None = None) -> None:
    """Write a leakage dataset (one array per key, `attrs` as root attributes) atomically and deterministically.

    Parameters
    ----------
    path : str or Path
        The HDF5 file to write (replaced whole, or not at all).
    data : dict of str to numpy.ndarray
        What generate_leakage returns.
    attrs : dict, optional
        Root attributes, e.g. leakage_attrs(...).

    Returns
    -------
    None
    """
    write_arrays(path, data, attrs)


def read_leakage(path: str | Path, split: str) -> dict[str, np.ndarray]:
    """The arrays of one split from a write_leakage file.

    Parameters
    ----------
    path : str or Path
    split : {"train", "valid", "test"}

    Returns
    -------
    dict of str to numpy.ndarray
        x, y, model, signal, null, motifs, side (see generate_leakage).

    Raises
    ------
    ValueError
        For an unknown split, or a file HDF5 cannot read.
    FileNotFoundError
        When `path` does not exist.
    KeyError
        Naming `path` and the first missing dataset.
    """
    return read_split(path, split, LEAKAGE_KEYS)


# --------------------------------------------------------------------------- leakage


def null_share(scores: np.ndarray, null: np.ndarray) -> np.ndarray:
    """Per sequence, the share of a nonnegative per-position score's mass that lies in the null block.

    0 means no leakage; a map that ignores the blocks scores about 0.5. Reduce (N, 4, L) attribution maps to
    per-position scores first (e.g. the absolute value summed over the letters).

    Parameters
    ----------
    scores : numpy.ndarray, shape (N, L)
        Nonnegative per-position scores.
    null : numpy.ndarray of bool, shape (N, L)
        The null block's positions (``null_{split}``).

    Returns
    -------
    numpy.ndarray of float64, shape (N,)
        sum(scores[null]) / sum(scores) per row; NaN where a row's total is 0.

    Raises
    ------
    ValueError
        When the shapes differ or are not 2-D, or a score is negative.
    """
    scores = np.asarray(scores, dtype=np.float64)
    null = np.asarray(null)
    if scores.ndim != 2 or scores.shape != null.shape:
        raise ValueError(f"scores and null must both have shape (N, L), got {scores.shape} and {null.shape}")
    if null.dtype != np.bool_:
        raise ValueError(f"null must be a bool mask, got dtype {null.dtype}")
    if (scores < 0).any():
        raise ValueError("scores must be nonnegative (e.g. absolute attributions)")
    total = scores.sum(axis=1)
    inside = np.where(null, scores, 0.0).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, inside / np.where(total > 0, total, 1.0), np.nan)
