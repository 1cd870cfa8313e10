"""Consistency metrics: k-mer KLD and attribution-vector KLD, against slow references and constructed maps."""

from collections import Counter
from itertools import product

import numpy as np
import pytest

from gradcorr.kld import (
    attr_mean_kld,
    attributed_segments,
    boxcar_prior,
    kmer_counts,
    kmer_kld,
    kmer_names,
    local_vectors,
    zero_sum_basis,
)

LETTERS = "ACGT"


def one_hot(letters: np.ndarray) -> np.ndarray:
    return np.eye(4)[letters].transpose(0, 2, 1).copy()


def random_letters(n: int, length: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 4, (n, length))


# --- slow, straightforward references ----------------------------------------------------------------

def slow_segments(attr: np.ndarray, percentile: float, buffer: int) -> list[list[tuple[int, int]]]:
    """Per sequence, the merged inclusive intervals: runs of positions above the percentile, each extended
    by `buffer` on the right (clipped), merged when they overlap or touch."""
    out = []
    for a in attr - attr.mean(axis=1, keepdims=True):
        norm = np.sqrt((a**2).sum(axis=0))
        cut = np.percentile(norm, percentile)
        kept = [i for i in range(len(norm)) if norm[i] > cut]
        runs = []
        for i in kept:
            if runs and runs[-1][1] == i - 1:
                runs[-1][1] = i
            else:
                runs.append([i, i])
        merged: list[tuple[int, int]] = []
        for start, end in runs:
            end = min(end + buffer, len(norm) - 1)
            if merged and start <= merged[-1][1] + 1:
                merged[-1] = (merged[-1][0], max(merged[-1][1], end))
            else:
                merged.append((start, end))
        out.append(merged)
    return out


def slow_kmer_kld(attr: np.ndarray, letters: np.ndarray, k: int, percentile: float, buffer: int) -> float:
    seqs = ["".join(LETTERS[i] for i in row) for row in letters]
    found, prior = Counter(), Counter()
    for seq, intervals in zip(seqs, slow_segments(attr, percentile, buffer)):
        for start, end in intervals:
            segment = seq[start:end + 1]
            found.update(segment[i:i + k] for i in range(len(segment) - k + 1))
        prior.update(seq[i:i + k] for i in range(len(seq) - k + 1))
    n_found, n_prior = sum(found.values()), sum(prior.values())
    return sum(c / n_found * np.log((c / n_found) / (prior[m] / n_prior)) for m, c in found.items())


# --- k-mer method ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("k,percentile,buffer", [(6, 90, 2), (3, 80, 0), (4, 95, 5)])
def test_kmer_kld_matches_slow_reference(k, percentile, buffer):
    letters = random_letters(40, 80, seed=k)
    attr = np.random.default_rng(buffer).normal(size=(40, 4, 80))
    attr[:, :, 30:38] *= 4  # some longer runs
    assert kmer_kld(attr, one_hot(letters), k, percentile, buffer) == pytest.approx(
        slow_kmer_kld(attr, letters, k, percentile, buffer), rel=1e-12)
    mask = attributed_segments(attr, percentile, buffer)
    for row, intervals in zip(mask, slow_segments(attr, percentile, buffer)):
        expected = np.zeros(80, dtype=bool)
        for start, end in intervals:
            expected[start:end + 1] = True
        np.testing.assert_array_equal(row, expected)


def test_kmer_counts_index_in_acgt_order():
    seq = one_hot(np.array([[0, 1, 2, 3, 0]]))  # ACGTA
    counts = kmer_counts(seq, 2)
    names = ["".join(p) for p in product(LETTERS, repeat=2)]
    assert {names[i]: c for i, c in enumerate(counts) if c} == {"AC": 1, "CG": 1, "GT": 1, "TA": 1}


def test_kmer_kld_of_a_planted_kmer_is_large_and_exact():
    """Maps that attribute only the six positions of one planted 6-mer (buffer 0): the attributed
    k-mer distribution is that one k-mer, so the KLD is -log of its frequency in the test set."""
    rng = np.random.default_rng(1)
    letters = random_letters(500, 200, seed=2)
    starts = rng.integers(0, 194, 500)
    planted = np.array([2, 0, 3, 3, 0, 1])  # GATTAC
    attr = np.zeros((500, 4, 200))
    for i, s in enumerate(starts):
        letters[i, s:s + 6] = planted
        attr[i, :, s:s + 6] = rng.normal(size=(4, 6)) + 3 * np.eye(4)[:, planted]
    x = one_hot(letters)
    prior = kmer_counts(x, 6)
    code = int(planted @ 4 ** np.arange(5, -1, -1))
    assert kmer_kld(attr, x, buffer=0) == pytest.approx(-np.log(prior[code] / prior.sum()), rel=1e-12)
    assert kmer_kld(attr, x) > 2.0  # buffer 2 adds two random 6-mers per copy


def test_kmer_kld_of_random_positions_is_near_zero():
    """Maps with no structure attribute random positions: the attributed k-mers are a sample of the
    test set's, so the KLD is only the sampling bias, about (4**k - 1) / (2 n) for n k-mers."""
    letters = random_letters(3000, 200, seed=3)
    attr = np.random.default_rng(4).normal(size=(3000, 4, 200))
    x = one_hot(letters)
    for k in (3, 6):
        n = kmer_counts(x, k, attributed_segments(attr)).sum()
        bias = (4**k - 1) / (2 * n)
        assert 0 < kmer_kld(attr, x, k=k) < 1.5 * bias, k
    assert kmer_kld(attr, x, k=3) < 0.01


def test_kmer_kld_errors():
    x = one_hot(random_letters(3, 20, seed=5))
    with pytest.raises(ValueError, match="same shape"):
        kmer_kld(np.zeros((3, 4, 19)), x)
    with pytest.raises(ValueError, match="one-hot"):
        kmer_kld(np.zeros((3, 4, 20)), x * 0.5)
    with pytest.raises(ValueError, match="4\\*\\*k"):
        kmer_kld(np.random.default_rng(0).normal(size=(3, 4, 20)), x, k=2, prior=np.ones(10))
    assert np.isnan(kmer_kld(np.zeros((3, 4, 20)), x))  # nothing attributed


# --- attribution-vector method -----------------------------------------------------------------------

def test_orthonormal_basis_spans_the_zero_sum_plane():
    basis = zero_sum_basis()
    np.testing.assert_allclose(basis @ basis.T, np.eye(3), atol=1e-15)
    np.testing.assert_allclose(basis @ np.ones(4), 0, atol=1e-15)
    v = np.random.default_rng(0).normal(size=(100, 4))
    v -= v.mean(axis=1, keepdims=True)
    np.testing.assert_allclose(v @ basis.T @ basis, v, atol=1e-12)  # projection keeps zero-sum vectors


def test_published_basis_is_not_orthonormal():
    e1, e2, e3 = zero_sum_basis("published")
    assert e1 @ e1 == pytest.approx(1) and e3 @ e3 == pytest.approx(1)
    assert e2 @ e2 == pytest.approx(1 / 3)
    assert e2 @ e3 == pytest.approx(np.sqrt(0.5) / 3)
    assert e1 @ e2 == pytest.approx(0)
    with pytest.raises(ValueError, match="basis"):
        zero_sum_basis("gram")


def test_local_vectors_are_window_sums_of_the_normalised_corrected_map():
    attr = np.random.default_rng(1).normal(size=(5, 4, 30))
    corrected = attr - attr.mean(axis=1, keepdims=True)
    corrected /= np.linalg.norm(corrected, axis=1).sum(axis=1)[:, None, None]
    expected = np.stack([corrected[:, :, i:i + 3].sum(axis=2) for i in range(28)], axis=1) @ zero_sum_basis().T
    np.testing.assert_allclose(local_vectors(attr), expected, atol=1e-14)
    radius = np.linalg.norm(local_vectors(attr, window=1), axis=2)  # orthonormal basis keeps lengths
    np.testing.assert_allclose(radius, np.linalg.norm(corrected, axis=1), atol=1e-14)


def test_attr_mean_kld_separates_clustered_from_isotropic_maps():
    rng = np.random.default_rng(2)
    isotropic = rng.normal(size=(400, 4, 200))
    clustered = isotropic.copy()
    clustered[:, :, 90:110] += 6 * np.array([1.0, -1.0, 0.0, 0.0])[:, None]  # one direction, strongly
    low, high = attr_mean_kld(isotropic), attr_mean_kld(clustered)
    assert low < 0.3 and high > 3 * low
    scale = rng.uniform(0.1, 10, size=(400, 1, 1))  # per-sequence normalisation: scale-free
    assert attr_mean_kld(clustered * scale) == pytest.approx(high, rel=1e-10)
    assert attr_mean_kld(clustered, basis="published") != pytest.approx(high)


def test_boxcar_prior_of_a_uniform_density_is_uniform():
    density = np.full((32, 63), 1 / (32 * 63))
    np.testing.assert_allclose(boxcar_prior(density, 5), density, rtol=1e-12)
    spike = np.zeros((32, 63))
    spike[10, 0] = 1
    smooth = boxcar_prior(spike, 5)
    assert smooth.sum() == pytest.approx(1) and np.count_nonzero(smooth) == 25
    assert smooth[10, 62] > 0 and smooth[10, 2] > 0  # the azimuth wraps around


def test_kmer_names_follow_the_codes_of_kmer_counts():
    names = kmer_names(3)
    assert len(names) == 64 and names[0] == "AAA" and names[1] == "AAC" and names[-1] == "TTT"
    counts = kmer_counts(one_hot(np.array([[0, 1, 2, 3, 3]])), 3)  # ACGTT
    assert sorted(names[counts > 0]) == ["ACG", "CGT", "GTT"]
