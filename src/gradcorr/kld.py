"""Consistency of attribution maps without ground truth (Majdandzic, Rajesh & Koo): how far the
attributed sequence features of a model depart from an uninformative prior, as a KL divergence.

- `kmer_kld`: k-mers at the positions a map attributes (per-sequence threshold on the per-position
  L2 norm), against the k-mers of all test sequences.
- `attr_mean_kld`: the angular density of locally summed, gradient-corrected attribution vectors in
  the 3D zero-sum plane, against the same density smoothed by a boxcar.

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
           "zero_sum_basis"]

Basis = Literal["orthonormal", "published"]


def _letters(x: Any) -> np.ndarray:
    """Letter indices (N, L) of one-hot sequences (N, A, L); ValueError unless each position has one letter."""
    x = to_float64(x)
    if x.ndim != 3:
        raise ValueError(f"sequences must have shape (N, A, L); got {x.shape}")
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


def attributed_segments(attr: Any, percentile: float = 90.0, buffer: int = 2) -> np.ndarray:
    """The attributed segments of maps: where `kmer_kld` counts k-mers.

    Per sequence, the positions whose L2 norm over the alphabet (of the gradient-corrected map) is
    strictly above the sequence's `percentile` (linear interpolation, numpy's default), each run of
    them extended by `buffer` positions on the 3' end (clipped at the sequence end); extended runs
    that overlap or touch merge.

    Parameters
    ----------
    attr : array-like, shape (N, A, L)
        Attribution maps, raw or corrected.
    percentile : float, default 90
        Per-sequence threshold on the per-position norm, in [0, 100].
    buffer : int, default 2
        Positions added on the 3' end of each run.

    Returns
    -------
    numpy.ndarray of bool, shape (N, L)
    """
    if not 0 <= percentile <= 100:
        raise ValueError(f"percentile must be in [0, 100]; got {percentile}")
    if buffer < 0:
        raise ValueError(f"buffer must be >= 0; got {buffer}")
    norm = np.linalg.norm(correct(to_float64(attr)), axis=1)
    kept = norm > np.percentile(norm, percentile, axis=1, keepdims=True)
    covered = kept.copy()
    for shift in range(1, buffer + 1):  # position p is covered when p - shift is kept
        covered[:, shift:] |= kept[:, :-shift]
    return covered


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


def kmer_counts(x: Any, k: int = 6, mask: np.ndarray | None = None) -> np.ndarray:
    """Counts of the overlapping k-mers of one-hot sequences, indexed by base-4 code (A, C, G, T).

    Parameters
    ----------
    x : array-like, shape (N, 4, L)
        One-hot sequences.
    k : int, default 6
    mask : numpy.ndarray of bool, shape (N, L), optional
        Only k-mers lying wholly inside one run of True.

    Returns
    -------
    numpy.ndarray of int64, shape (4**k,)
    """
    return _counts(_letters(x), k, mask)


def _counts(letters: np.ndarray, k: int, mask: np.ndarray | None) -> np.ndarray:
    """`kmer_counts` of letter indices (N, L)."""
    if k < 1:
        raise ValueError(f"k must be >= 1; got {k}")
    n, length = letters.shape
    if k > length:
        return np.zeros(4**k, dtype=np.int64)
    codes = kmer_codes(letters, k)
    if mask is None:
        return np.bincount(codes.ravel(), minlength=4**k)
    mask = np.asarray(mask, dtype=bool)
    if mask.shape != letters.shape:
        raise ValueError(f"mask must have shape {letters.shape}; got {mask.shape}")
    # the last position of the run that holds each position (L where the position is not in a run)
    index = np.broadcast_to(np.arange(length), mask.shape)
    last = mask & ~np.concatenate([mask[:, 1:], np.zeros((n, 1), dtype=bool)], axis=1)
    run_end = np.minimum.accumulate(np.where(last, index, length)[:, ::-1], axis=1)[:, ::-1]
    starts = mask & (run_end - index >= k - 1)
    return np.bincount(codes[starts[:, : length - k + 1]], minlength=4**k)


def attributed_kmer_counts(attr: Any, x: Any, k: int = 6, percentile: float = 90.0, buffer: int = 2) -> np.ndarray:
    """Counts of the k-mers lying wholly inside the attributed segments of maps: the distribution `kmer_kld` scores.

    Parameters
    ----------
    attr : array-like, shape (N, 4, L)
        Attribution maps, raw or corrected.
    x : array-like, shape (N, 4, L)
        One-hot sequences.
    k, percentile, buffer
        As in `kmer_kld`.

    Returns
    -------
    numpy.ndarray of int64, shape (4**k,)
    """
    return _attributed_counts(attr, _letters(x), k, percentile, buffer)


def _attributed_counts(attr: Any, letters: np.ndarray, k: int, percentile: float, buffer: int) -> np.ndarray:
    attr = to_float64(attr)
    if attr.ndim != 3 or (attr.shape[0], attr.shape[2]) != letters.shape:
        raise ValueError(f"attr {attr.shape} and x (N, L = {letters.shape}) must have the same shape (N, A, L)")
    return _counts(letters, k, attributed_segments(attr, percentile, buffer))


def kmer_kld(attr: Any, x: Any, k: int = 6, percentile: float = 90.0, buffer: int = 2,
             prior: np.ndarray | None = None) -> float:
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

    Returns
    -------
    float
        The KLD in nats (higher: more consistent); NaN when no segment holds a k-mer.
    """
    letters = _letters(x)
    counts = _attributed_counts(attr, letters, k, percentile, buffer)
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


def local_vectors(attr: Any, window: int = 3, basis: Basis = "orthonormal") -> np.ndarray:
    """3D coordinates of the locally summed attribution vectors.

    The map is gradient-corrected, divided per sequence by the sum over positions of its
    per-position L2 norms, summed over `window` consecutive positions (windows inside the sequence;
    the published code wraps around the end with np.roll), and taken to the zero-sum plane's
    coordinates (`zero_sum_basis`).

    Parameters
    ----------
    attr : array-like, shape (N, 4, L)
        Attribution maps, raw or corrected.
    window : int, default 3
        Positions summed, 1 to L.
    basis : {"orthonormal", "published"}, default "orthonormal"

    Returns
    -------
    numpy.ndarray, shape (N, L - window + 1, 3)
    """
    attr = correct(to_float64(attr))
    if attr.ndim != 3 or attr.shape[1] != 4:
        raise ValueError(f"maps must have shape (N, 4, L); got {attr.shape}")
    if not 1 <= window <= attr.shape[2]:
        raise ValueError(f"window must be between 1 and L = {attr.shape[2]}; got {window}")
    total = np.linalg.norm(attr, axis=1).sum(axis=1)
    attr = attr / np.where(total > 0, total, 1.0)[:, None, None]
    cumulative = np.concatenate([np.zeros((*attr.shape[:2], 1)), np.cumsum(attr, axis=2)], axis=2)
    local = cumulative[:, :, window:] - cumulative[:, :, :-window]  # (N, 4, L - window + 1)
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
                  prior_width: float = 0.5, basis: Basis = "orthonormal") -> float:
    """k-attr-mean KLD: how concentrated the directions of locally summed attribution vectors are.

    KL divergence (nats) of the angular density of the locally summed attribution vectors
    (`local_vectors`, `angular_density`) from its boxcar-smoothed self (`boxcar_prior`).

    Parameters
    ----------
    attr : array-like, shape (N, 4, L)
        Attribution maps, raw or corrected (they are corrected here).
    window : int, default 3
        Positions summed per vector.
    percentile : float, default 90
        Per-sequence threshold on the vectors' radius.
    bin_width : float, default 0.1
        Angular bin width in radians.
    prior_width : float, default 0.5
        Width of the prior's boxcar in radians, rounded to whole bins (at least one).
    basis : {"orthonormal", "published"}, default "orthonormal"
        The zero-sum plane's basis (`zero_sum_basis`); "published" reproduces the paper code's.

    Returns
    -------
    float
        The KLD in nats (higher: more consistent); NaN when no vector passes the threshold.
    """
    density, _, _ = angular_density(local_vectors(attr, window, basis), percentile, bin_width)
    if density.sum() == 0:
        return float("nan")
    return _kl(density, boxcar_prior(density, max(1, round(prior_width / bin_width))))


def consistency_klds(attr: Any, x: Any, prior: np.ndarray | None = None) -> dict[str, float]:
    """Both consistency KLDs at the paper's settings.

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
        {"kld_kmer": float, "kld_attr_mean": float}.
    """
    return {"kld_kmer": kmer_kld(attr, x, prior=prior), "kld_attr_mean": attr_mean_kld(attr)}
