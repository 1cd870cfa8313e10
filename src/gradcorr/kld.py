"""Consistency of attribution maps without ground truth (Majdandzic, Rajesh & Koo): how far the
attributed sequence features of a model depart from an uninformative prior, as a KL divergence.

- `kmer_kld`: k-mers in the segments a map attributes (per-sequence threshold on the per-position
  L2 norm, runs extended on the 3' end and merged as the authors' code merges them), against the
  k-mers of all test sequences.
- `attr_mean_kld`: the angular density of locally summed, gradient-corrected attribution vectors in
  the 3D zero-sum plane, against the same density smoothed by a boxcar. Per-sequence threshold and an
  orthonormal basis (the default here).
- `published_attr_mean_kld`: the same quantity computed step by step as the authors' code computes
  it (their basis, a global radius cutoff, their angles, bins, prior and sum), to reproduce their
  numbers.

The ground-truth score these metrics stand in for is `metrics.attribution_snr`.

Maps and one-hot sequences are (N, A, L) with A = 4, as everywhere in gradcorr; maps may be raw (they
are corrected here, as in the published code). Defaults are the paper's: k = 6, 90th percentile,
3' buffer 2, window 3, 0.1 rad bins, 0.5 rad prior. Higher KLD means more consistent attributions.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np

from gradcorr._arrays import to_float64
from gradcorr.correction import correct

__all__ = ["angular_density", "attr_mean_kld", "attributed_kmer_counts", "attributed_segments", "boxcar_prior",
           "consistency_klds", "kmer_codes", "kmer_counts", "kmer_kld", "kmer_names", "local_vectors",
           "published_angles", "published_angular_density", "published_attr_mean_kld", "published_kl",
           "zero_sum_basis"]

Basis = Literal["orthonormal", "published"]
Merge = Literal["published", "union"]


def _letters(x: Any) -> np.ndarray:
    """Letter indices (N, L) of one-hot DNA (N, 4, L); ValueError unless each position has one letter of four
    (the k-mers are coded in base 4)."""
    x = to_float64(x)
    if x.ndim != 3:
        raise ValueError(f"sequences must have shape (N, A, L); got {x.shape}")
    if x.shape[1] != 4:
        raise ValueError(f"k-mer counts are defined for DNA, 4 letters; got sequences of {x.shape[1]} letters")
    if not np.all((x == 0) | (x == 1)) or not np.all(x.sum(axis=1) == 1):
        raise ValueError("sequences must be one-hot: exactly one 1 per position, 0 elsewhere")
    return x.argmax(axis=1)


def _kl(p: np.ndarray, q: np.ndarray) -> float:
    """KL(p || q) in nats over entries with p > 0; ValueError where q = 0 there."""
    used = p > 0
    if np.any(q[used] <= 0):
        raise ValueError("the prior is zero where the attributed distribution is not")
    return float(np.sum(p[used] * np.log(p[used] / q[used])))


# ---------------------------------------------------------------------------------------------------
# k-mer method


def attributed_segments(attr: Any, percentile: float = 90.0, buffer: int = 2, merge: Merge = "published"
                        ) -> np.ndarray:
    """The attributed segments of maps, numbered: where `kmer_kld` counts k-mers.

    Per sequence, the positions whose L2 norm over the alphabet (of the gradient-corrected map) is
    strictly above the sequence's `percentile` (linear interpolation, numpy's default) form runs of
    consecutive positions; each run, as a closed interval, is extended by `buffer` positions on the
    3' end (clipped at the sequence end), and extended runs that share a position merge. Runs that
    only touch (one ends at p, the next starts at p + 1) stay apart, as in the authors' code
    (crajesh6/acme, `interval.mergeIntervals`), so a k-mer across the junction is not counted.
    `merge="union"` joins touching runs too (every stretch of covered positions is one segment).

    Parameters
    ----------
    attr : array-like, shape (N, A, L)
        Attribution maps, raw or corrected.
    percentile : float, default 90
        Per-sequence threshold on the per-position norm, in [0, 100].
    buffer : int, default 2
        Positions added on the 3' end of each run.
    merge : {"published", "union"}, default "published"
        Whether extended runs that only touch stay apart (the authors' code) or join.

    Returns
    -------
    numpy.ndarray of int64, shape (N, L)
        0 outside the segments; inside, the segment's number in its sequence (1, 2, ... from 5' to 3').
    """
    if not 0 <= percentile <= 100:
        raise ValueError(f"percentile must be in [0, 100]; got {percentile}")
    if buffer < 0:
        raise ValueError(f"buffer must be >= 0; got {buffer}")
    norm = np.linalg.norm(correct(to_float64(attr)), axis=1)
    kept = norm > np.percentile(norm, percentile, axis=1, keepdims=True)
    covered, before = kept.copy(), np.zeros_like(kept)
    for shift in range(1, max(buffer, 1) + 1):  # before[p]: a kept position among the max(buffer, 1) preceding p
        before[:, shift:] |= kept[:, :-shift]
        if shift <= buffer:
            covered[:, shift:] |= kept[:, :-shift]
    if merge == "union":  # every stretch of covered positions is one segment
        return _number_runs(covered)
    if merge != "published":
        raise ValueError(f"unknown merge {merge!r}; choose 'published' or 'union'")
    # a run starts a new segment unless an earlier run's extension reaches it
    return np.cumsum(kept & ~before, axis=1) * covered


def _number_runs(mask: np.ndarray) -> np.ndarray:
    """Runs of True in each row of a bool (N, L) array numbered 1, 2, ... from the left; 0 elsewhere."""
    first = mask & ~np.pad(mask, ((0, 0), (1, 0)))[:, :-1]
    return np.cumsum(first, axis=1) * mask


def kmer_codes(letters: np.ndarray, k: int) -> np.ndarray:
    """Base-4 code of the k-mer starting at each position (first letter most significant).

    Parameters
    ----------
    letters : numpy.ndarray of int, shape (N, L)
        Letter indices 0-3 (A, C, G, T).
    k : int

    Returns
    -------
    numpy.ndarray of int, shape (N, L - k + 1)
    """
    windows = np.lib.stride_tricks.sliding_window_view(letters, k, axis=1)
    return windows @ (4 ** np.arange(k - 1, -1, -1))


def kmer_names(k: int) -> np.ndarray:
    """The 4**k k-mers as strings, in the order of their base-4 codes (`kmer_codes`, `kmer_counts`).

    Parameters
    ----------
    k : int

    Returns
    -------
    numpy.ndarray of str, shape (4**k,)
    """
    codes = np.arange(4**k)
    digits = (codes[:, None] // 4 ** np.arange(k - 1, -1, -1)) % 4
    return np.array(["".join("ACGT"[d] for d in row) for row in digits])


def kmer_counts(x: Any, k: int = 6, segments: np.ndarray | None = None) -> np.ndarray:
    """Counts of the overlapping k-mers of one-hot sequences, indexed by base-4 code (A, C, G, T).

    Parameters
    ----------
    x : array-like, shape (N, 4, L)
        One-hot sequences.
    k : int, default 6
    segments : numpy.ndarray, shape (N, L), optional
        Only k-mers lying wholly inside one segment: int labels as `attributed_segments` gives (0
        outside; each segment one label), or a bool mask whose runs of True are the segments.

    Returns
    -------
    numpy.ndarray of int64, shape (4**k,)
    """
    return _counts(_letters(x), k, segments)


def _counts(letters: np.ndarray, k: int, segments: np.ndarray | None) -> np.ndarray:
    """`kmer_counts` of letter indices (N, L)."""
    if k < 1:
        raise ValueError(f"k must be >= 1; got {k}")
    length = letters.shape[1]
    if k > length:
        return np.zeros(4**k, dtype=np.int64)
    codes = kmer_codes(letters, k)
    if segments is None:
        return np.bincount(codes.ravel(), minlength=4**k)
    segments = np.asarray(segments)
    if segments.shape != letters.shape:
        raise ValueError(f"segments must have shape {letters.shape}; got {segments.shape}")
    if segments.dtype == bool:
        segments = _number_runs(segments)
    # every segment is one contiguous block, so a k-mer lies inside one when its two ends do
    head, tail = segments[:, : length - k + 1], segments[:, k - 1:]
    return np.bincount(codes[(head > 0) & (head == tail)], minlength=4**k)


def attributed_kmer_counts(attr: Any, x: Any, k: int = 6, percentile: float = 90.0, buffer: int = 2,
                           merge: Merge = "published") -> np.ndarray:
    """Counts of the k-mers lying wholly inside the attributed segments of maps: the distribution `kmer_kld` scores.

    Parameters
    ----------
    attr : array-like, shape (N, 4, L)
        Attribution maps, raw or corrected.
    x : array-like, shape (N, 4, L)
        One-hot sequences.
    k, percentile, buffer, merge
        As in `kmer_kld`.

    Returns
    -------
    numpy.ndarray of int64, shape (4**k,)
    """
    return _attributed_counts(attr, _letters(x), k, percentile, buffer, merge)


def _attributed_counts(attr: Any, letters: np.ndarray, k: int, percentile: float, buffer: int, merge: Merge
                       ) -> np.ndarray:
    attr = to_float64(attr)
    if attr.ndim != 3 or (attr.shape[0], attr.shape[2]) != letters.shape:
        raise ValueError(f"attr {attr.shape} and x (N, L = {letters.shape}) must have the same shape (N, A, L)")
    return _counts(letters, k, attributed_segments(attr, percentile, buffer, merge))


def kmer_kld(attr: Any, x: Any, k: int = 6, percentile: float = 90.0, buffer: int = 2,
             prior: np.ndarray | None = None, merge: Merge = "published") -> float:
    """k-mer KLD: how far the k-mers a model attributes depart from the k-mers of the sequences.

    KL divergence (nats) of the k-mer frequencies in the attributed segments of the maps
    (`attributed_segments`; a segment shorter than k holds no k-mer) from `prior`.

    Parameters
    ----------
    attr : array-like, shape (N, 4, L)
        Attribution maps, raw or corrected (they are corrected here).
    x : array-like, shape (N, 4, L)
        One-hot sequences.
    k : int, default 6
    percentile : float, default 90
        Per-sequence threshold on the per-position norm.
    buffer : int, default 2
        Positions added on the 3' end of each attributed run.
    prior : numpy.ndarray, shape (4**k,), optional
        k-mer counts of the prior; by default those of all of x. Pass the counts of the whole test
        set when x is a subset of it.
    merge : {"published", "union"}, default "published"
        How extended runs merge (`attributed_segments`).

    Returns
    -------
    float
        The KLD in nats (higher: more consistent); NaN when no segment holds a k-mer.
    """
    letters = _letters(x)
    counts = _attributed_counts(attr, letters, k, percentile, buffer, merge)
    if counts.sum() == 0:
        return float("nan")
    q = _counts(letters, k, None) if prior is None else np.asarray(prior, dtype=np.float64)
    if q.shape != (4**k,):
        raise ValueError(f"prior must have 4**k = {4**k} entries; got {q.shape}")
    return _kl(counts / counts.sum(), q / q.sum())


# ---------------------------------------------------------------------------------------------------
# attribution-vector method


def zero_sum_basis(kind: Basis = "orthonormal") -> np.ndarray:
    """Rows e1, e2, e3 taking a 4-vector (x, y, z, w) to 3 coordinates of the zero-sum plane.

    Parameters
    ----------
    kind : {"orthonormal", "published"}, default "orthonormal"
        "orthonormal": an orthonormal basis of the plane x + y + z + w = 0 (Gram-Schmidt from e1 =
        (-1, 1, 0, 0)/sqrt 2). "published": the consistency paper's code, whose e2 = sqrt(2/3)
        (-x/2 - y/2) omits the + z term, so e2 has norm 1/sqrt 3 and is not orthogonal to e3 (kept
        to compare numbers with the paper).

    Returns
    -------
    numpy.ndarray, shape (3, 4)
    """
    e1 = np.array([-1.0, 1.0, 0.0, 0.0]) / np.sqrt(2)
    e3 = np.sqrt(3 / 4) * np.array([-1 / 3, -1 / 3, -1 / 3, 1.0])
    if kind == "orthonormal":
        e2 = np.sqrt(2 / 3) * np.array([-0.5, -0.5, 1.0, 0.0])
    elif kind == "published":
        e2 = np.sqrt(2 / 3) * np.array([-0.5, -0.5, 0.0, 0.0])
    else:
        raise ValueError(f"unknown basis {kind!r}; choose 'orthonormal' or 'published'")
    return np.stack([e1, e2, e3])


def local_vectors(attr: Any, window: int = 3, basis: Basis = "orthonormal", wrap: bool = False) -> np.ndarray:
    """3D coordinates of the locally summed attribution vectors.

    The map is gradient-corrected, divided per sequence by the sum over positions of its
    per-position L2 norms, summed over `window` consecutive positions, and taken to the zero-sum
    plane's coordinates (`zero_sum_basis`).

    Parameters
    ----------
    attr : array-like, shape (N, 4, L)
        Attribution maps, raw or corrected.
    window : int, default 3
        Positions summed, 1 to L.
    basis : {"orthonormal", "published"}, default "orthonormal"
    wrap : bool, default False
        False: only windows inside the sequence. True: one window per position, those at the 3' end
        wrapping around to the 5' end (the published code's np.roll).

    Returns
    -------
    numpy.ndarray, shape (N, P, 3)
        P = L - window + 1, or L with `wrap`.
    """
    attr = correct(to_float64(attr))
    if attr.ndim != 3 or attr.shape[1] != 4:
        raise ValueError(f"maps must have shape (N, 4, L); got {attr.shape}")
    if not 1 <= window <= attr.shape[2]:
        raise ValueError(f"window must be between 1 and L = {attr.shape[2]}; got {window}")
    total = np.linalg.norm(attr, axis=1).sum(axis=1)
    attr = attr / np.where(total > 0, total, 1.0)[:, None, None]
    if wrap:
        attr = np.concatenate([attr, attr[:, :, : window - 1]], axis=2)
    cumulative = np.concatenate([np.zeros((*attr.shape[:2], 1)), np.cumsum(attr, axis=2)], axis=2)
    local = cumulative[:, :, window:] - cumulative[:, :, :-window]  # (N, 4, P)
    return np.einsum("nal,ba->nlb", local, zero_sum_basis(basis))


def angular_density(vectors: np.ndarray, percentile: float = 90.0, bin_width: float = 0.1) -> tuple[
        np.ndarray, np.ndarray, np.ndarray]:
    """Angular density of 3D vectors: polar angle theta in [0, pi] against azimuth phi in [-pi, pi].

    Only vectors whose radius is strictly above their sequence's `percentile` count, each weighted
    by its squared radius; the density sums to 1.

    Parameters
    ----------
    vectors : numpy.ndarray, shape (N, P, 3)
        Per sequence, P vectors (`local_vectors`).
    percentile : float, default 90
        Per-sequence threshold on the radius.
    bin_width : float, default 0.1
        Bin width in radians; the last bin of each axis is shorter when pi is not a multiple.

    Returns
    -------
    density : numpy.ndarray, shape (n_theta, n_phi)
        Zero everywhere when no vector passes.
    theta_edges : numpy.ndarray, shape (n_theta + 1,)
    phi_edges : numpy.ndarray, shape (n_phi + 1,)
    """
    radius = np.linalg.norm(vectors, axis=2)
    kept = radius > np.percentile(radius, percentile, axis=1, keepdims=True)
    v, r = vectors[kept], radius[kept]
    theta = np.arccos(np.clip(v[:, 2] / r, -1.0, 1.0))
    phi = np.arctan2(v[:, 1], v[:, 0])
    theta_edges = np.append(np.arange(0.0, np.pi, bin_width), np.pi)
    phi_edges = np.append(np.arange(-np.pi, np.pi, bin_width), np.pi)
    hist, _, _ = np.histogram2d(theta, phi, bins=(theta_edges, phi_edges), weights=r**2)
    return hist / hist.sum() if hist.sum() > 0 else hist, theta_edges, phi_edges


def boxcar_prior(density: np.ndarray, width: int) -> np.ndarray:
    """The prior of `attr_mean_kld`: a density smoothed by a boxcar, normalised to sum 1.

    Parameters
    ----------
    density : numpy.ndarray, shape (n_theta, n_phi)
        An angular density (`angular_density`).
    width : int
        Boxcar width in bins (azimuth periodic, polar angle clipped at the poles).

    Returns
    -------
    numpy.ndarray, shape (n_theta, n_phi)
    """
    half = width // 2
    padded = np.pad(density, ((0, 0), (half, width - 1 - half)), mode="wrap")
    padded = np.pad(padded, ((half, width - 1 - half), (0, 0)), mode="edge")
    windows = np.lib.stride_tricks.sliding_window_view(padded, (width, width))
    smooth = windows.sum(axis=(2, 3))
    return smooth / smooth.sum()


def attr_mean_kld(attr: Any, window: int = 3, percentile: float = 90.0, bin_width: float = 0.1,
                  prior_width: float = 0.5) -> float:
    """k-attr-mean KLD: how concentrated the directions of locally summed attribution vectors are.

    KL divergence (nats) of the angular density of the locally summed attribution vectors
    (`local_vectors` in an orthonormal basis, `angular_density` above a per-sequence percentile) from
    its boxcar-smoothed self (`boxcar_prior`). `published_attr_mean_kld` computes it as the authors'
    code does.

    Parameters
    ----------
    attr : array-like, shape (N, A, L)
        Attribution maps, raw or corrected (they are corrected here).
    window : int, default 3
        Positions summed per vector.
    percentile : float, default 90
        Per-sequence threshold on the vectors' radius.
    bin_width : float, default 0.1
        Angular bin width in radians.
    prior_width : float, default 0.5
        Width of the prior's boxcar in radians, rounded to whole bins (at least one).

    Returns
    -------
    float
        The KLD in nats (higher: more consistent); NaN when no vector passes the threshold.
    """
    density, _, _ = angular_density(local_vectors(attr, window), percentile, bin_width)
    if density.sum() == 0:
        return float("nan")
    return _kl(density, boxcar_prior(density, max(1, round(prior_width / bin_width))))


# The published code's constant for pi, in its angles and its number of bins
PUBLISHED_PI = 3.1416


def published_angles(vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Angles of 3D vectors (e1, e2, e3) as the authors' code takes them (acme, method 2).

    The axes are relabelled (x, y, z) = (e2, e3, e1). The azimuth is atan(y / x) put in its quadrant
    with pi = 3.1416 (pi / 2 wherever x = 0), then halved and shifted into [0, pi]: phi / 2 + pi / 2.
    The polar angle is arccos(z / r), about the first basis vector.

    Parameters
    ----------
    vectors : numpy.ndarray, shape (M, 3)
        Nonzero vectors.

    Returns
    -------
    azimuth : numpy.ndarray, shape (M,)
        In [0, 3.1416].
    polar : numpy.ndarray, shape (M,)
        In [0, pi].
    """
    x, y, z = vectors[:, 1], vectors[:, 2], vectors[:, 0]
    with np.errstate(divide="ignore", invalid="ignore"):
        phi = np.arctan(y / x)
    phi = np.where((x < 0) & (y >= 0), phi + PUBLISHED_PI, phi)
    phi = np.where((x < 0) & (y < 0), phi - PUBLISHED_PI, phi)
    phi = np.where(x == 0, PUBLISHED_PI / 2, phi)
    radius = np.linalg.norm(vectors, axis=1)
    return phi / 2 + PUBLISHED_PI / 2, np.arccos(np.clip(z / radius, -1.0, 1.0))


def published_angular_density(vectors: np.ndarray, top_fraction: float = 0.1, bin_width: float = 0.1) -> np.ndarray:
    """The angular density of the authors' code (acme, method 2), normalised to sum 1.

    Over all sequences together, m = int(top_fraction * N * P) and the vectors whose radius is strictly
    above the m-th largest radius are kept (a global cutoff, not a per-sequence one); their
    `published_angles` are binned in int(3.1416 / bin_width) bins per axis from 0 (the last bin
    open-ended), each vector weighted by its squared radius.

    Parameters
    ----------
    vectors : numpy.ndarray, shape (N, P, 3)
        `local_vectors(attr, window, "published", wrap=True)` for the published computation.
    top_fraction : float, default 0.1
        Fraction of all vectors above the cutoff (the authors' `radius_count_cutoff`).
    bin_width : float, default 0.1
        Bin width in radians.

    Returns
    -------
    numpy.ndarray, shape (n_bins, n_bins)
        Indexed [azimuth bin, polar bin]; zero everywhere when no vector passes.
    """
    if not 0 <= top_fraction <= 1:
        raise ValueError(f"top_fraction must be in [0, 1]; got {top_fraction}")
    radius = np.linalg.norm(vectors, axis=-1).ravel()
    n_bins = int(PUBLISHED_PI / bin_width)
    if n_bins < 3:
        raise ValueError(f"bin_width {bin_width} gives {n_bins} bins per angle; the published sum needs at least 3")
    count = int(top_fraction * radius.size)
    cutoff = np.sort(radius)[-count]  # as published: count 0 takes the smallest radius
    kept = radius > cutoff
    azimuth, polar = published_angles(vectors.reshape(-1, 3)[kept])
    rows = np.minimum((azimuth / bin_width).astype(np.int64), n_bins - 1)
    cols = np.minimum((polar / bin_width).astype(np.int64), n_bins - 1)
    hist = np.zeros((n_bins, n_bins))
    np.add.at(hist, (rows, cols), radius[kept] ** 2)
    return hist / hist.sum() if hist.sum() > 0 else hist


def published_kl(density: np.ndarray, prior_range: int = 3) -> float:
    """The KL sum of the authors' code (acme, method 2) for a density from `published_angular_density`.

    Only interior bins (1 to n - 2 on both axes) are summed. The prior of bin (i, j) is the plain mean
    of the density over the bins i - prior_range to i + prior_range - 1 and j - prior_range to
    j + prior_range - 1 (an asymmetric window) that lie in 1 to n - 1 (bin 0 of either axis never
    counts); it is not normalised over bins.

    Parameters
    ----------
    density : numpy.ndarray, shape (n, n)
        Sums to 1.
    prior_range : int, default 3
        Half-width of the prior's window in bins.

    Returns
    -------
    float
        The KLD in nats; NaN when the density is zero everywhere.
    """
    if prior_range < 1:
        raise ValueError(f"prior_range must be >= 1; got {prior_range}")
    if density.sum() == 0:
        return float("nan")
    n = density.shape[0]
    valid = density.copy()
    valid[0, :] = valid[:, 0] = 0.0
    cumulative = np.zeros((n + 1, n + 1))
    cumulative[1:, 1:] = valid.cumsum(axis=0).cumsum(axis=1)
    inner = np.arange(1, n - 1)
    lo, hi = np.maximum(inner - prior_range, 1), np.minimum(inner + prior_range - 1, n - 1) + 1  # [lo, hi)
    sums = (cumulative[hi[:, None], hi[None, :]] - cumulative[lo[:, None], hi[None, :]]
            - cumulative[hi[:, None], lo[None, :]] + cumulative[lo[:, None], lo[None, :]])
    prior = sums / ((hi - lo)[:, None] * (hi - lo)[None, :])
    p = density[1:-1, 1:-1]
    used = p > 0
    return float(np.sum(p[used] * np.log(p[used] / prior[used])))


def published_attr_mean_kld(attr: Any, window: int = 3, top_fraction: float = 0.1, bin_width: float = 0.1,
                            prior_range: int = 3) -> float:
    """k-attr-mean KLD computed as the authors' code computes it (crajesh6/acme, method 2).

    Steps: gradient correction and per-sequence normalisation (as `attr_mean_kld`); window sums that
    wrap around the sequence end; their non-orthonormal basis (`zero_sum_basis("published")`); a
    global radius cutoff keeping the top `top_fraction` of all vectors; their angles, bins and
    squared-radius weights (`published_angular_density`); their prior and interior-bin sum
    (`published_kl`). The only departures: the value is not rounded to 3 decimals, and a cosine a
    rounding error puts outside [-1, 1] is clipped (theirs gives NaN).

    Parameters
    ----------
    attr : array-like, shape (N, A, L)
        Attribution maps, raw or corrected (they are corrected here).
    window : int, default 3
        Positions summed per vector.
    top_fraction : float, default 0.1
        Fraction of all vectors kept (their `radius_count_cutoff`; 0.1 in their analysis notebooks).
    bin_width : float, default 0.1
        Angular bin width in radians.
    prior_range : int, default 3
        Half-width of the prior window in bins.

    Returns
    -------
    float
        The KLD in nats; NaN when no vector passes the cutoff.
    """
    vectors = local_vectors(attr, window, "published", wrap=True)
    return published_kl(published_angular_density(vectors, top_fraction, bin_width), prior_range)


def consistency_klds(attr: Any, x: Any, prior: np.ndarray | None = None) -> dict[str, float]:
    """The consistency KLDs at the paper's settings: k-mer, k-attr-mean, and k-attr-mean as published.

    Parameters
    ----------
    attr : array-like, shape (N, 4, L)
        Attribution maps, raw or corrected.
    x : array-like, shape (N, 4, L)
        One-hot sequences.
    prior : numpy.ndarray, shape (4**6,), optional
        As in `kmer_kld`: pass the 6-mer counts of the whole test set when x is a subset.

    Returns
    -------
    dict
        {"kld_kmer": float, "kld_attr_mean": float, "kld_attr_mean_published": float}.
    """
    return {"kld_kmer": kmer_kld(attr, x, prior=prior), "kld_attr_mean": attr_mean_kld(attr),
            "kld_attr_mean_published": published_attr_mean_kld(attr)}
