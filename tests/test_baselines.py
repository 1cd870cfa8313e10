"""Reference sequences of the path methods: dinucleotide shuffles and positional permutations."""

from collections import Counter

import numpy as np
import torch

from gradcorr.baselines import dinuc_shuffle, permute_positions


def one_hot(n: int, length: int = 200, seed: int = 0, dtype=np.float64) -> np.ndarray:
    letters = np.random.default_rng(seed).integers(0, 4, (n, length))
    return np.eye(4, dtype=dtype)[letters].transpose(0, 2, 1).copy()


def pair_counts(s: np.ndarray) -> np.ndarray:
    """The A x A counts of adjacent letter pairs of one-hot sequences (..., A, L)."""
    return np.einsum("...al,...bl->...ab", s[..., :-1], s[..., 1:])


def test_dinuc_shuffle_keeps_dinucleotide_counts():
    x = one_hot(40, seed=10, dtype=np.float32)
    x[0, :, 50:120] = np.eye(4, dtype=np.float32)[:, [0] * 70]  # a long run of A
    out = dinuc_shuffle(x, 6, torch.Generator().manual_seed(0))
    assert out.shape == (40, 6, 4, 200) and out.dtype == np.float32
    assert set(np.unique(out)) == {0.0, 1.0} and np.all(out.sum(axis=2) == 1), "one-hot"
    np.testing.assert_array_equal(pair_counts(out), np.broadcast_to(pair_counts(x)[:, None], (40, 6, 4, 4)))
    np.testing.assert_array_equal(out.sum(axis=3), np.broadcast_to(x.sum(axis=2)[:, None], (40, 6, 4)))
    np.testing.assert_array_equal(out[..., 0], np.broadcast_to(x[:, None, :, 0], (40, 6, 4)))
    np.testing.assert_array_equal(out[..., -1], np.broadcast_to(x[:, None, :, -1], (40, 6, 4)))
    assert not np.any(np.all(out == x[:, None], axis=(2, 3))), "shuffles differ from the input"
    assert not np.any(np.all(out[:, 0] == out[:, 1], axis=(1, 2))), "draws differ from each other"
    again = dinuc_shuffle(torch.from_numpy(x), 6, torch.Generator().manual_seed(0))
    assert isinstance(again, torch.Tensor)
    np.testing.assert_array_equal(again.numpy(), out)
    assert not np.array_equal(dinuc_shuffle(x, 6, torch.Generator().manual_seed(1)), out)


def test_dinuc_shuffle_is_uniform_over_sequences_with_the_same_counts():
    """ACADCACDA (over A, C, D) has exactly 15 rearrangements with its pair counts, first and last letter."""
    x = np.eye(3)[[0, 1, 0, 2, 1, 0, 1, 2, 0]].T[None]
    out = dinuc_shuffle(x, 3000, torch.Generator().manual_seed(2))[0].argmax(axis=1)
    counts = Counter(map(tuple, out))
    assert len(counts) == 15
    assert min(counts.values()) > 140 and max(counts.values()) < 260  # expected 200 each, sd ~14


def test_dinuc_shuffle_treats_other_columns_as_letters():
    x = one_hot(3, length=50, seed=11)
    x[:, :, 10:13] = 0.0  # N's
    out = dinuc_shuffle(x, 4, torch.Generator().manual_seed(3))
    assert np.all((out.sum(axis=2) == 0).sum(axis=2) == 3)
    np.testing.assert_array_equal(out.sum(axis=3), np.broadcast_to(x.sum(axis=2)[:, None], (3, 4, 4)))


def test_permute_positions_is_a_permutation_of_columns():
    x = one_hot(4, length=30, seed=12)
    x[:, 0] = np.arange(30)  # tag each column with its position
    out = permute_positions(torch.from_numpy(x), 5, torch.Generator().manual_seed(0))
    assert out.shape == (4, 5, 4, 30)
    order = out[:, :, 0].long()
    assert torch.equal(order.sort(dim=-1).values, torch.arange(30).expand(4, 5, 30))
    torch.testing.assert_close(out, torch.from_numpy(x)[:, None].expand(4, 5, 4, 30).gather(
        3, order[:, :, None].expand(4, 5, 4, 30)), rtol=0, atol=0)
    assert not torch.equal(order[:, 0], order[:, 1]), "draws differ"
    counts = one_hot(4, length=30, seed=12)
    perm = permute_positions(counts, 3, torch.Generator().manual_seed(0))
    assert isinstance(perm, np.ndarray)
    np.testing.assert_array_equal(perm.sum(axis=3), np.broadcast_to(counts.sum(axis=2)[:, None], (4, 3, 4)))
    np.testing.assert_array_equal(perm, permute_positions(counts, 3, torch.Generator().manual_seed(0)))
