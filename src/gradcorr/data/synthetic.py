"""Synthetic "billboard" dataset (Koo & Ploenzke 2021), as used by the gradient-correction paper.

Positive sequences embed motifs drawn from 5 core JASPAR motifs (and their reverse complements);
negative sequences embed motifs drawn from those 10 PWMs plus 50 random background JASPAR motifs
(and their reverse complements). Every sequence has its own ground-truth sequence model M
(4, L): motif columns hold the motif PWM, all other columns are uniform (0.25). Each nucleotide
is sampled from its column of M, so M is the exact generative distribution that attribution
maps are later compared against.

All randomness comes from a single ``numpy.random.Generator`` seeded once, so one seed always
gives the same arrays (and, through :func:`write_dataset`, the same file bytes).
"""

from __future__ import annotations

import warnings
from functools import lru_cache
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from gradcorr.data.io import SPLITS, read_split, write_arrays

CORE_MOTIF_IDS: tuple[str, ...] = ("MA0079.3", "MA0062.2", "MA0466.2", "MA0058.3", "MA0095.2")
MOTIF_COUNTS: tuple[int, ...] = (3, 4, 5, 6, 7)
MOTIF_COUNT_PROBS: tuple[float, ...] = (0.50, 0.25, 0.17, 0.05, 0.03)
_ALPHABET = "ACGT"


# --------------------------------------------------------------------------- motifs


def reverse_complement(pwm: np.ndarray) -> np.ndarray:
    """Reverse complement of a (4, w) ACGT matrix: reverse the columns and swap A<->T, C<->G.

    With rows in A, C, G, T order the complement is a row reversal, so both axes are flipped.
    """
    pwm = np.asarray(pwm)
    if pwm.ndim != 2 or pwm.shape[0] != 4:
        raise ValueError(f"expected a (4, w) ACGT matrix, got shape {pwm.shape}")
    return pwm[::-1, ::-1].copy()


def jaspar_pwm(motif: Any) -> np.ndarray:
    """(4, w) float64 probabilities from a Bio.motifs.jaspar.Motif: counts / column sum (rows ACGT)."""
    counts = np.array([motif.counts[b] for b in _ALPHABET], dtype=np.float64)
    sums = counts.sum(axis=0)
    if np.any(sums <= 0):
        raise ValueError(f"motif {getattr(motif, 'matrix_id', motif)} has an empty column")
    return counts / sums


def _open_jaspar(release: str):
    """Offline pyjaspar handle for ``release``; ValueError if pyjaspar does not ship it."""
    from pyjaspar import jaspar_releases, jaspardb

    if release not in jaspar_releases:
        raise ValueError(f"unknown JASPAR release {release!r}; available: {sorted(jaspar_releases)}")
    return jaspardb(release=release)


@lru_cache(maxsize=None)
def _motif_pwm(release: str, motif_id: str) -> np.ndarray:
    """PWM of one JASPAR motif ID (cached; read-only array)."""
    db = _open_jaspar(release)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pyjaspar warns and returns None for unknown IDs
        motif = db.fetch_motif_by_id(motif_id)
    if motif is None:
        raise ValueError(f"motif ID {motif_id!r} not found in {release}")
    pwm = jaspar_pwm(motif)
    pwm.flags.writeable = False
    return pwm


@lru_cache(maxsize=None)
def _core_vertebrate_pwms(release: str) -> tuple[tuple[str, np.ndarray], ...]:
    """(ID, PWM) of every latest-version CORE vertebrate motif of ``release``, sorted by ID.

    Sorting makes the seeded background draw independent of database row order.
    """
    db = _open_jaspar(release)
    motifs = db.fetch_motifs(collection="CORE", tax_group=["vertebrates"])
    out = []
    for m in sorted(motifs, key=lambda m: m.matrix_id):
        pwm = jaspar_pwm(m)
        pwm.flags.writeable = False
        out.append((m.matrix_id, pwm))
    return tuple(out)


def load_motif_pools(
    core_ids: Sequence[str] = CORE_MOTIF_IDS,
    n_background: int = 50,
    release: str = "JASPAR2016",
    rng: np.random.Generator | None = None,
) -> tuple[list[np.ndarray], list[np.ndarray], list[str]]:
    """Build the positive and negative motif pools.

    Returns (positive_pool, negative_pool, names): the positive pool is each core PWM followed by
    its reverse complement; the negative pool is the positive pool plus ``n_background`` other
    CORE vertebrate motifs (drawn without replacement with ``rng``; never a core motif, in any
    version) each followed by its reverse complement. ``names`` labels the negative pool
    ('MA0079.3', 'MA0079.3_rc', ...). ``rng=None`` uses ``default_rng(0)`` so the default is
    reproducible.
    """
    if rng is None:
        rng = np.random.default_rng(0)
    core_ids = list(core_ids)
    if not core_ids:
        raise ValueError("core_ids must name at least one motif")
    if n_background < 0:
        raise ValueError(f"n_background must be >= 0, got {n_background}")

    positive: list[np.ndarray] = []
    names: list[str] = []
    for mid in core_ids:
        pwm = np.array(_motif_pwm(release, mid))
        positive += [pwm, reverse_complement(pwm)]
        names += [mid, f"{mid}_rc"]

    core_bases = {mid.split(".")[0] for mid in core_ids}
    candidates = [(mid, pwm) for mid, pwm in _core_vertebrate_pwms(release)
                  if mid.split(".")[0] not in core_bases]
    if n_background > len(candidates):
        raise ValueError(f"n_background={n_background} exceeds the {len(candidates)} non-core "
                         f"CORE vertebrate motifs in {release}")
    chosen = rng.choice(len(candidates), size=n_background, replace=False)

    negative = [p.copy() for p in positive]
    for i in chosen:
        mid, pwm = candidates[int(i)]
        pwm = np.array(pwm)
        negative += [pwm, reverse_complement(pwm)]
        names += [mid, f"{mid}_rc"]
    return positive, negative, names


def background_ids(names: Sequence[str], n_core: int) -> list[str]:
    """Background motif IDs (forward strands) from the ``names`` returned by load_motif_pools."""
    return [n for n in names[2 * n_core:] if not n.endswith("_rc")]


# --------------------------------------------------------------------------- sequence models


def _count_cdf(counts: Sequence[int], probs: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    """Validate the motif-count distribution; return (counts, cumulative probs)."""
    c = np.asarray(counts)
    p = np.asarray(probs, dtype=np.float64)
    if c.ndim != 1 or p.ndim != 1 or len(c) == 0 or len(c) != len(p):
        raise ValueError(f"counts and probs must be non-empty 1-D sequences of equal length, "
                         f"got {len(np.atleast_1d(c))} counts and {len(np.atleast_1d(p))} probs")
    if not np.issubdtype(c.dtype, np.integer) or np.any(c < 1):
        raise ValueError(f"counts must be positive integers, got {list(counts)}")
    if np.any(p < 0) or not np.all(np.isfinite(p)):
        raise ValueError(f"probs must be non-negative, got {list(probs)}")
    if abs(p.sum() - 1.0) > 1e-6:
        raise ValueError(f"probs must sum to 1 (within 1e-6), got sum {p.sum()!r}")
    return c.astype(np.int64), np.cumsum(p)


def _place_motifs(
    pool: Sequence[np.ndarray],
    length: int,
    rng: np.random.Generator,
    counts: Sequence[int] = MOTIF_COUNTS,
    probs: Sequence[float] = MOTIF_COUNT_PROBS,
) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """Sample one sequence model and return (M, [(start, pool_index), ...]) in left-to-right order.

    Draw a motif count and that many motifs (uniform, with replacement), redrawing until the total
    width is in (0, length); then draw n+1 gaps from U(0, 2), scale them to the free length and
    round, redrawing until they sum exactly to it. Motifs never overlap but may touch.
    """
    c, cdf = _count_cdf(counts, probs)
    widths = _pool_widths(pool, length, c, probs)
    return _place_motifs_checked(pool, widths, length, rng, c, cdf)


def _pool_widths(pool: Sequence[np.ndarray], length: int, counts: np.ndarray,
                 probs: Sequence[float]) -> np.ndarray:
    """Motif widths of ``pool``; ValueError if no allowed motif count can ever fit ``length``
    (the redraw loop would never end)."""
    if len(pool) == 0:
        raise ValueError("motif pool is empty")
    if length < 1:
        raise ValueError(f"length must be >= 1, got {length}")
    if any(np.ndim(p) != 2 or np.shape(p)[0] != 4 for p in pool):
        raise ValueError("every pool PWM must be a (4, w) ACGT matrix")
    widths = np.array([p.shape[1] for p in pool])
    if widths.min() < 1:
        raise ValueError("every pool PWM must have at least one column")
    min_n = int(counts[np.asarray(probs) > 0].min())
    if min_n * widths.min() >= length:
        raise ValueError(f"{min_n} motifs of this pool never fit in length {length}")
    return widths


def _place_motifs_checked(
    pool: Sequence[np.ndarray],
    widths: np.ndarray,
    length: int,
    rng: np.random.Generator,
    counts: np.ndarray,
    cdf: np.ndarray,
) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """_place_motifs without validation (inputs already checked), for the per-sequence loop."""
    last = len(counts) - 1
    while True:
        n = int(counts[min(int(np.searchsorted(cdf, rng.random(), side="right")), last)])
        idx = rng.integers(0, len(pool), size=n)
        total = int(widths[idx].sum())
        if 0 < total < length:
            break
    free = length - total
    while True:
        g = rng.uniform(0.0, 2.0, size=n + 1)
        gsum = g.sum()
        if gsum <= 0:
            continue
        gaps = np.rint(g * (free / gsum)).astype(np.int64)
        if int(gaps.sum()) == free:
            break

    model = np.full((4, length), 0.25)
    placements: list[tuple[int, int]] = []
    pos = 0
    for k, j in enumerate(idx.tolist()):
        pos += int(gaps[k])
        w = int(widths[j])
        model[:, pos:pos + w] = pool[j]
        placements.append((pos, j))
        pos += w
    return model, placements


def sample_sequence_model(
    pool: Sequence[np.ndarray],
    length: int,
    rng: np.random.Generator,
    counts: Sequence[int] = MOTIF_COUNTS,
    probs: Sequence[float] = MOTIF_COUNT_PROBS,
) -> np.ndarray:
    """One (4, length) sequence model M: PWM columns where motifs sit, 0.25 elsewhere."""
    return _place_motifs(pool, length, rng, counts, probs)[0]


def sample_one_hot(models: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Sample (N, 4, L) float32 one-hot sequences, each position from its column of ``models``.

    Vectorised inverse-CDF sampling with one uniform per position; the index is clipped to 3 so a
    column whose float cumulative sum ends slightly below 1 still yields a valid base.
    """
    models = np.asarray(models)
    if models.ndim != 3 or models.shape[1] != 4:
        raise ValueError(f"models must have shape (N, 4, L), got {models.shape}")
    n, _, length = models.shape
    cdf = np.cumsum(models, axis=1, dtype=np.float64)
    u = rng.random((n, 1, length))
    idx = np.minimum((cdf <= u).sum(axis=1), 3)  # (N, L)
    return (idx[:, None, :] == np.arange(4)[None, :, None]).astype(np.float32)


# --------------------------------------------------------------------------- dataset


def split_sizes(n: int, split: Sequence[float]) -> tuple[int, int, int]:
    """Train/valid/test sizes: floor of cumulative fractions, remainder to test."""
    f = np.asarray(split, dtype=np.float64)
    if f.shape != (3,) or np.any(f < 0) or abs(f.sum() - 1.0) > 1e-6:
        raise ValueError(f"split must be 3 non-negative fractions summing to 1, got {tuple(split)}")
    cum = np.cumsum(f)
    # the small epsilon keeps e.g. (0.7 + 0.1) * 20000 = 15999.999... from flooring to 15999
    n_train = int(np.floor(cum[0] * n + 1e-9))
    n_valid = int(np.floor(cum[1] * n + 1e-9)) - n_train
    n_valid = max(0, min(n_valid, n - n_train))
    return n_train, n_valid, n - n_train - n_valid


def generate_billboard(
    n_positive: int = 10000,
    n_negative: int = 10000,
    length: int = 200,
    core_ids: Sequence[str] = CORE_MOTIF_IDS,
    n_background: int = 50,
    release: str = "JASPAR2016",
    counts: Sequence[int] = MOTIF_COUNTS,
    probs: Sequence[float] = MOTIF_COUNT_PROBS,
    split: Sequence[float] = (0.7, 0.1, 0.2),
    seed: int = 0,
) -> dict[str, np.ndarray]:
    """Generate the billboard dataset, shuffled and split into train/valid/test.

    Keys x_*, y_*, model_* for * in train, valid, test: x (N, 4, L) float32 one-hot, y (N, 1)
    float32 labels (1 positive, 0 negative), model (N, 4, L) float32 sequence models.
    Order of random draws: background motifs, positive models, negative models, one-hot, shuffle.
    ValueError when a split given a share (or any sequences) holds no positives or no negatives.
    """
    if n_positive < 0 or n_negative < 0:
        raise ValueError(f"n_positive and n_negative must be >= 0, got {n_positive}, {n_negative}")
    if length < 1:
        raise ValueError(f"length must be >= 1, got {length}")
    c, cdf = _count_cdf(counts, probs)
    split_sizes(n_positive + n_negative, split)  # a bad split fails before any draw

    rng = np.random.default_rng(seed)
    positive, negative, _ = load_motif_pools(core_ids, n_background, release, rng)
    n = n_positive + n_negative
    models = np.empty((n, 4, length), dtype=np.float32)
    for i in range(n):
        pool = positive if i < n_positive else negative
        if i in (0, n_positive):  # check each pool once, then use the unchecked fast path
            widths = _pool_widths(pool, length, c, probs)
        models[i] = _place_motifs_checked(pool, widths, length, rng, c, cdf)[0]
    x = sample_one_hot(models, rng)
    y = np.concatenate([np.ones(n_positive), np.zeros(n_negative)]).astype(np.float32)[:, None]

    return split_shuffled({"x": x, "y": y, "model": models}, rng.permutation(n), split,
                          f"raise n_positive and n_negative or change split {tuple(split)}")


def split_shuffled(arrays: dict[str, np.ndarray], order: np.ndarray, split: Sequence[float],
                   advice: str) -> dict[str, np.ndarray]:
    """`arrays` (first dimension N; one of them "y", the labels) taken in `order` and cut into train/valid/test
    by `split` (`split_sizes`): keys f"{key}_{split}", in that order. ValueError, ending in `advice`, when a
    split given a share (or any sequences) holds no positives or no negatives: AUROCs need both classes."""
    n = len(order)
    bounds = np.cumsum((0,) + split_sizes(n, split))
    data: dict[str, np.ndarray] = {}
    for name, fraction, lo, hi in zip(SPLITS, split, bounds[:-1], bounds[1:]):
        sel = order[lo:hi]
        positives = int(arrays["y"][sel].sum())
        if (fraction > 0 or len(sel)) and positives in (0, len(sel)):
            raise ValueError(f"the {name} split of {n} sequences holds {len(sel)}, {positives} of them positive: "
                             f"every split needs positives and negatives; {advice}")
        data.update({f"{key}_{name}": values[sel] for key, values in arrays.items()})
    return data


def dataset_attrs(
    core_ids: Sequence[str] = CORE_MOTIF_IDS,
    n_background: int = 50,
    release: str = "JASPAR2016",
    seed: int = 0,
    **config: Any,
) -> dict[str, Any]:
    """Config attributes for write_dataset, including the background motif IDs that
    ``generate_billboard(seed=seed, ...)`` drew (it draws them first from the seeded rng)."""
    _, _, names = load_motif_pools(core_ids, n_background, release, np.random.default_rng(seed))
    return {"seed": seed, "release": release, "core_ids": list(core_ids),
            "n_background": n_background,
            "background_ids": background_ids(names, len(core_ids)), **config}


def write_dataset(path: str | Path, data: dict[str, np.ndarray], attrs: dict | None = None) -> None:
    """Write a dataset (one array per key, `attrs` as root attributes) atomically and deterministically."""
    write_arrays(path, data, attrs)


def read_dataset(path: str | Path, split: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(x, y, model) arrays of one split ('train' | 'valid' | 'test') from a write_dataset file."""
    found = read_split(path, split, ("x", "y", "model"))
    return found["x"], found["y"], found["model"]


def positive_indices(y: np.ndarray, n: int) -> np.ndarray:
    """Indices of the first `n` positive sequences of labels y (N,) or (N, 1): the published evaluation set."""
    idx = np.flatnonzero(np.asarray(y).reshape(-1) == 1)[:n]
    if len(idx) == 0:
        raise ValueError("the test set holds no positive sequence to attribute")
    return idx
