"""Unmasking by attribution rank (DiffROAR): which positions are kept, what the others become, the baselines."""

import numpy as np
import pytest

from gradcorr.faithfulness import position_scores
from gradcorr.unmasking import input_agnostic_scores, keep_mask, random_scores, unmask


def one_hot(n: int, alphabet: int, length: int, seed: int = 0) -> np.ndarray:
    letters = np.random.default_rng(seed).integers(0, alphabet, (n, length))
    return np.eye(alphabet, dtype=np.float32)[letters].transpose(0, 2, 1).copy()


def test_top_and_bottom_keep_the_highest_and_lowest_scores():
    scores = np.random.default_rng(0).normal(size=(5, 12))  # distinct: no ties
    for fraction in (0.0, 0.25, 0.5, 1.0):
        k = round(fraction * 12)
        top, bottom = keep_mask(scores, fraction), keep_mask(scores, fraction, "bottom")
        assert (top.sum(1) == k).all() and (bottom.sum(1) == k).all()
        ranked = np.argsort(-scores, axis=1)
        for i in range(5):
            assert set(np.flatnonzero(top[i])) == set(ranked[i, :k])
            assert set(np.flatnonzero(bottom[i])) == set(ranked[i, 12 - k:])
    np.testing.assert_array_equal(keep_mask(scores, 0.5), ~keep_mask(scores, 0.5, "bottom"))  # L even: a partition


def test_ties_are_broken_at_random_and_reproducibly():
    flat = np.zeros((200, 10))
    first = keep_mask(flat, 0.3, seed=1)
    np.testing.assert_array_equal(first, keep_mask(flat, 0.3, seed=1))
    assert not np.array_equal(first, keep_mask(flat, 0.3, seed=2))
    assert abs(first.mean(0) - 0.3).max() < 0.12  # every position about equally often, not the first three
    scores = np.array([[3.0, 1, 1, 1, 0]])
    kept = np.stack([keep_mask(scores, 0.4, seed=s)[0] for s in range(60)])
    assert kept[:, 0].all() and not kept[:, 4].any() and 0 < kept[:, 1].sum() < 60


@pytest.mark.parametrize("alphabet", [4, 20])
@pytest.mark.parametrize("fill", ["zeros", "uniform"])
def test_unmask_keeps_the_letters_of_kept_positions_and_fills_the_rest(alphabet, fill):
    x = one_hot(4, alphabet, 16, seed=alphabet)
    maps = np.random.default_rng(3).normal(size=x.shape)
    scores = position_scores(maps, x)
    out = unmask(x, scores, 0.25, fill=fill)
    kept = keep_mask(scores, 0.25)
    np.testing.assert_array_equal(out.transpose(0, 2, 1)[kept], x.transpose(0, 2, 1)[kept])
    value = 0.0 if fill == "zeros" else 1 / alphabet
    np.testing.assert_allclose(out.transpose(0, 2, 1)[~kept], value)
    assert out.dtype == np.float32 and out.shape == x.shape


def test_baselines():
    a, b = random_scores(3, 8, seed=4), random_scores(3, 8, seed=4)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a[0], a[1])
    reference = np.array([[0.0, 1, 2], [2.0, 1, 0], [1.0, 4, 1]])
    shared = input_agnostic_scores(reference, 5)
    assert shared.shape == (5, 3) and (shared == [1.0, 2.0, 1.0]).all()
    assert keep_mask(shared, 1 / 3)[:, 1].all()  # every sequence keeps the position that is best on average


def test_bad_inputs_are_named():
    x = one_hot(2, 4, 6)
    with pytest.raises(ValueError, match="fraction"):
        keep_mask(np.zeros((2, 6)), 1.5)
    with pytest.raises(ValueError, match="keep"):
        keep_mask(np.zeros((2, 6)), 0.5, "middle")
    with pytest.raises(ValueError, match="fill"):
        unmask(x, np.zeros((2, 6)), 0.5, fill="noise")
    with pytest.raises(ValueError, match=r"scores must have shape \(N, L\)"):
        unmask(x, np.zeros((2, 5)), 0.5)
    with pytest.raises(ValueError, match="NaN"):
        keep_mask(np.full((1, 3), np.nan), 0.5)
