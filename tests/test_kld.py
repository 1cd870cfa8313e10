"""Consistency metrics: k-mer KLD and attribution-vector KLD, against slow references, hand-checked inputs
and constructed maps."""

import math
from collections import Counter
from itertools import product

import numpy as np
import pytest

from gradcorr.kld import (
    angular_density,
    attr_mean_kld,
    attributed_segments,
    boxcar_prior,
    kmer_counts,
    kmer_kld,
    kmer_names,
    local_vectors,
    published_angles,
    published_angular_density,
    published_attr_mean_kld,
    published_kl,
    zero_sum_basis,
)

LETTERS = "ACGT"


def one_hot(letters: np.ndarray) -> np.ndarray:
    return np.eye(4)[letters].transpose(0, 2, 1).copy()


def random_letters(n: int, length: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 4, (n, length))


# --- slow, straightforward references ----------------------------------------------------------------

def slow_segments(attr: np.ndarray, percentile: float, buffer: int, touch: bool = False
                  ) -> list[list[tuple[int, int]]]:
    """Per sequence, the merged inclusive intervals: runs of positions above the percentile, each extended
    by `buffer` on the right (clipped), merged when they share a position (and when they only touch, with
    `touch`)."""
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
            if merged and start <= merged[-1][1] + touch:
                merged[-1] = (merged[-1][0], max(merged[-1][1], end))
            else:
                merged.append((start, end))
        out.append(merged)
    return out


def slow_kmer_kld(attr: np.ndarray, letters: np.ndarray, k: int, percentile: float, buffer: int,
                  touch: bool = False) -> float:
    seqs = ["".join(LETTERS[i] for i in row) for row in letters]
    found, prior = Counter(), Counter()
    for seq, intervals in zip(seqs, slow_segments(attr, percentile, buffer, touch)):
        for start, end in intervals:
            segment = seq[start:end + 1]
            found.update(segment[i:i + k] for i in range(len(segment) - k + 1))
        prior.update(seq[i:i + k] for i in range(len(seq) - k + 1))
    n_found, n_prior = sum(found.values()), sum(prior.values())
    return sum(c / n_found * np.log((c / n_found) / (prior[m] / n_prior)) for m, c in found.items())


# --- k-mer method ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("merge", ["published", "union"])
@pytest.mark.parametrize("k,percentile,buffer", [(6, 90, 2), (3, 80, 0), (4, 95, 5)])
def test_kmer_kld_matches_slow_reference(k, percentile, buffer, merge):
    letters = random_letters(40, 80, seed=k)
    attr = np.random.default_rng(buffer).normal(size=(40, 4, 80))
    attr[:, :, 30:38] *= 4  # some longer runs
    touch = merge == "union"
    assert kmer_kld(attr, one_hot(letters), k, percentile, buffer, merge=merge) == pytest.approx(
        slow_kmer_kld(attr, letters, k, percentile, buffer, touch), rel=1e-12)
    segments = attributed_segments(attr, percentile, buffer, merge)
    for row, intervals in zip(segments, slow_segments(attr, percentile, buffer, touch)):
        expected = np.zeros(80, dtype=int)
        for number, (start, end) in enumerate(intervals, start=1):
            expected[start:end + 1] = number
        np.testing.assert_array_equal(row, expected)


def planted_norms(kept: list[int], length: int = 20) -> np.ndarray:
    """One map whose per-position norm is large at `kept` and zero elsewhere: at percentile 50 (more than
    half the positions zero) exactly `kept` is above the threshold."""
    attr = np.zeros((1, 4, length))
    attr[0, 0, kept] = 1.0
    return attr


@pytest.mark.parametrize("kept,buffer,segments,kmers", [
    # runs {2,3} and {6,7}, buffer 2: [2,5] and [6,9] touch and stay apart; each holds one 4-mer
    # (the union of the two would be [2,9], five 4-mers)
    ([2, 3, 6, 7], 2, [(2, 5), (6, 9)], 2),
    # runs {2,3} and {5,6}: [2,5] and [5,8] share position 5 and merge into [2,8], four 4-mers
    ([2, 3, 5, 6], 2, [(2, 8)], 4),
    # runs {2} and {6}: [2,4] and [6,8], a gap between; both shorter than 4, so no 4-mer at all
    ([2, 6], 2, [(2, 4), (6, 8)], 0),
    # buffer 0: runs {2,3,4} and {6,7,8,9} stay as they are; only the second holds a 4-mer
    ([2, 3, 4, 6, 7, 8, 9], 0, [(2, 4), (6, 9)], 1),
    # the extension is clipped at the sequence end: {17,18} -> [17,19], none past it
    ([17, 18], 2, [(17, 19)], 0),
])
def test_attributed_segments_merge_as_the_published_code_by_hand(kept, buffer, segments, kmers):
    attr = planted_norms(kept)
    expected = np.zeros(20, dtype=int)
    for number, (start, end) in enumerate(segments, start=1):
        expected[start:end + 1] = number
    np.testing.assert_array_equal(attributed_segments(attr, 50, buffer)[0], expected)
    x = one_hot(random_letters(1, 20, seed=0))
    assert kmer_counts(x, 4, attributed_segments(attr, 50, buffer)).sum() == kmers


def test_union_merge_joins_touching_runs_by_hand():
    """The union rule (a named option): runs {2,3} and {6,7} extend to [2,5] and [6,9], which touch and
    join into [2,9], five 4-mers instead of the published rule's two; a gap still separates."""
    x = one_hot(random_letters(1, 20, seed=0))
    joined = attributed_segments(planted_norms([2, 3, 6, 7]), 50, 2, merge="union")[0]
    np.testing.assert_array_equal(joined, np.r_[np.zeros(2), np.ones(8), np.zeros(10)])
    assert kmer_counts(x, 4, joined[None]).sum() == 5
    apart = attributed_segments(planted_norms([2, 7]), 50, 2, merge="union")[0]  # [2,4] and [7,9]
    np.testing.assert_array_equal(apart, np.r_[np.zeros(2), np.ones(3), np.zeros(2), 2 * np.ones(3), np.zeros(10)])
    with pytest.raises(ValueError, match="merge"):
        attributed_segments(planted_norms([2]), 50, 2, merge="touching")


def test_kmer_counts_of_a_bool_mask_count_inside_its_runs():
    x = one_hot(random_letters(2, 12, seed=1))
    mask = np.zeros((2, 12), dtype=bool)
    mask[0, 1:5] = mask[0, 6:9] = True  # runs of 4 and 3: two 3-mers, then one
    mask[1, :] = True  # one run of 12: ten 3-mers
    assert kmer_counts(x, 3, mask).sum() == 2 + 1 + 10


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


def test_wrapped_local_vectors_are_the_rolled_window_sums():
    """wrap=True sums each position with the next window - 1, around the end (np.roll as published); the
    windows inside the sequence are those of wrap=False."""
    attr = np.random.default_rng(3).normal(size=(4, 4, 25))
    corrected = attr - attr.mean(axis=1, keepdims=True)
    corrected /= np.linalg.norm(corrected, axis=1).sum(axis=1)[:, None, None]
    rolled = sum(np.roll(corrected, -j, axis=2) for j in range(3))
    basis = zero_sum_basis("published")
    np.testing.assert_allclose(local_vectors(attr, 3, "published", wrap=True),
                               np.einsum("nal,ba->nlb", rolled, basis), atol=1e-14)
    np.testing.assert_allclose(local_vectors(attr, 3, wrap=True)[:, :23], local_vectors(attr, 3), atol=1e-14)


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


def rotation(axis: int, angle: float) -> np.ndarray:
    """3 x 3 rotation by `angle` about coordinate axis `axis`."""
    i, j = [a for a in range(3) if a != axis]
    r = np.eye(3)
    r[i, i] = r[j, j] = np.cos(angle)
    r[i, j], r[j, i] = -np.sin(angle), np.sin(angle)
    return r


def test_a_rotation_of_the_basis_shifts_both_densities_by_whole_bins():
    """Where the two modes should agree: changing the basis by a rotation about the polar axis only
    moves the angular density along the azimuth. Ours (polar axis e3, azimuth in [-pi, pi]) moves by
    3 bins for 0.3 rad; the published (polar axis e1, azimuth halved into [0, pi]) needs 0.6 rad for the
    same 3 bins. Points stay away from the azimuth seam and the last, shorter bins."""
    rng = np.random.default_rng(5)
    polar = rng.uniform(0.3, 2.8, 300)
    azimuth = rng.uniform(-2.5, 2.0, 300)  # ours: away from -pi and pi
    ours = np.stack([np.sin(polar) * np.cos(azimuth), np.sin(polar) * np.sin(azimuth), np.cos(polar)], axis=1)
    ours *= rng.uniform(0.5, 2.0, (300, 1))
    before, _, _ = angular_density(ours[None], percentile=0)
    after, _, _ = angular_density((ours @ rotation(2, 0.3).T)[None], percentile=0)
    np.testing.assert_allclose(after[:, 3:], before[:, :-3], atol=1e-12)
    # published: the (e2, e3) plane holds the azimuth; keep it in (-2.5, 2.0) rad, i.e. away from the seam
    theirs = ours[:, [2, 0, 1]]  # e1 = polar axis, (e2, e3) = (x, y) of the azimuth
    shifted = theirs @ rotation(0, 0.6).T
    base = published_angular_density(theirs[None], top_fraction=1.0)
    moved = published_angular_density(shifted[None], top_fraction=1.0)
    # top_fraction 1 keeps all but the smallest vector, the same one in both (rotation keeps radii)
    np.testing.assert_allclose(moved[3:], base[:-3], atol=1e-12)


def test_published_angles_by_hand():
    """Vectors (e1, e2, e3); the published code takes (x, y, z) = (e2, e3, e1)."""
    vectors = np.array([[0.0, 1, 0], [0, 0, 1], [0, -1, 0], [0, 0, -1], [1, 0, 0], [0, -1, -1]])
    azimuth, polar = published_angles(vectors)
    pi = 3.1416
    np.testing.assert_allclose(azimuth, [pi / 2,             # atan(0) = 0 -> 0 / 2 + pi / 2
                                         3 * pi / 4,         # x = 0 -> pi / 2 -> pi / 4 + pi / 2
                                         pi,                 # x < 0, y = 0 -> 0 + pi -> pi
                                         3 * pi / 4,         # x = 0 again: pi / 2 whatever the sign of y
                                         3 * pi / 4,         # on the polar axis, x = 0
                                         (math.atan(1) - pi) / 2 + pi / 2], atol=1e-12)  # x, y < 0
    np.testing.assert_allclose(polar, [np.pi / 2] * 4 + [0, np.pi / 2], atol=1e-12)


def test_published_kl_by_hand():
    """5 x 5 bins, interior bins 1-3 summed; the prior is the plain mean of the window [i - r, i + r - 1]
    x [j - r, j + r - 1] restricted to bins 1-4."""
    density = np.zeros((5, 5))
    density[2, 2] = density[3, 3] = 0.5
    # r = 1: (2,2): mean of rows {1,2} x cols {1,2} = 0.5 / 4; (3,3): rows {2,3} x cols {2,3} = 1 / 4
    assert published_kl(density, 1) == pytest.approx(0.5 * np.log(4) + 0.5 * np.log(2), rel=1e-12)
    density = np.zeros((5, 5))
    density[1, 1] = density[0, 1] = 0.5
    # (1,1): rows {0,1} and cols {0,1} lose bin 0, so the prior is density[1,1] itself; (0,1) is a border bin
    assert published_kl(density, 1) == pytest.approx(0.0, abs=1e-15)
    density = np.zeros((5, 5))
    density[3, 3] = density[4, 4] = 0.5
    # r = 2: (3,3): rows and cols {1,2,3,4}, 16 bins holding 1 in all; the border bin (4,4) is not summed
    assert published_kl(density, 2) == pytest.approx(0.5 * np.log(0.5 / (1 / 16)), rel=1e-12)
    assert np.isnan(published_kl(np.zeros((5, 5))))


def slow_published_kld(attr: np.ndarray, window: int, top_fraction: float, bin_width: float, prior_range: int) -> float:
    """The published method 2 written out with loops and the math module, one point at a time."""
    pi = 3.1416
    points = []
    for a in attr:
        a = a - a.mean(axis=0)
        a = a / sum(math.sqrt(sum(a[c, p] ** 2 for c in range(4))) for p in range(a.shape[1]))
        length = a.shape[1]
        for p in range(length):
            v = [sum(a[c, (p + j) % length] for j in range(window)) for c in range(4)]
            e1 = (-v[0] + v[1]) / math.sqrt(2)
            e2 = math.sqrt(2 / 3) * (-v[0] / 2 - v[1] / 2)
            e3 = math.sqrt(3 / 4) * (-(v[0] + v[1] + v[2]) / 3 + v[3])
            points.append((e1, e2, e3))
    radii = [math.sqrt(e1 ** 2 + e2 ** 2 + e3 ** 2) for e1, e2, e3 in points]
    cutoff = sorted(radii)[-int(top_fraction * len(radii))]
    n = int(pi / bin_width)
    hist = [[0.0] * n for _ in range(n)]
    for (e1, e2, e3), r in zip(points, radii):
        if r <= cutoff:
            continue
        x, y, z = e2, e3, e1
        if x == 0:
            phi = pi / 2
        elif x > 0:
            phi = math.atan(y / x)
        else:
            phi = math.atan(y / x) + (pi if y >= 0 else -pi)
        phi = phi / 2 + pi / 2
        theta = math.acos(max(-1.0, min(1.0, z / r)))
        hist[min(int(phi / bin_width), n - 1)][min(int(theta / bin_width), n - 1)] += r * r
    total = sum(map(sum, hist))
    kl = 0.0
    for i in range(1, n - 1):
        for j in range(1, n - 1):
            p = hist[i][j] / total
            if p > 0:
                window_bins = [hist[i + di][j + dj] / total for di in range(-prior_range, prior_range)
                               for dj in range(-prior_range, prior_range)
                               if 0 < i + di < n and 0 < j + dj < n]
                kl += p * math.log(p / (sum(window_bins) / len(window_bins)))
    return kl


@pytest.mark.parametrize("window,top_fraction,prior_range", [(3, 0.1, 3), (1, 0.3, 2), (5, 0.05, 4)])
def test_published_attr_mean_kld_matches_the_loop_reference(window, top_fraction, prior_range):
    rng = np.random.default_rng(window)
    attr = rng.normal(size=(12, 4, 60))
    attr[:, :, 20:26] += 3 * np.array([1.0, 0.0, 0.0, -1.0])[:, None]
    assert published_attr_mean_kld(attr, window, top_fraction, 0.1, prior_range) == pytest.approx(
        slow_published_kld(attr, window, top_fraction, 0.1, prior_range), rel=1e-10)


def test_both_attr_mean_klds_rank_a_motif_above_noise():
    """Both modes agree on the ordering that matters: a direction repeated at the same positions (off the
    published polar axis, whose bins the published sum leaves out) is more consistent than noise."""
    rng = np.random.default_rng(6)
    isotropic = rng.normal(size=(300, 4, 200))
    clustered = isotropic.copy()
    clustered[:, :, 90:110] += 6 * np.array([1.0, 0.0, 0.0, -1.0])[:, None]
    assert attr_mean_kld(clustered) > attr_mean_kld(isotropic)
    assert published_attr_mean_kld(clustered) > published_attr_mean_kld(isotropic) + 0.1


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
