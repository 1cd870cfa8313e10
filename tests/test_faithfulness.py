"""Faithfulness scores: feature ablation, occlusion, position scores and Precision@k."""

import itertools

import numpy as np
import pytest
import torch
from torch import nn

from gradcorr import attribute, correct
from gradcorr.faithfulness import (
    ablation_values,
    feature_ablation,
    occlusion,
    position_scores,
    precision_at_k,
    top_k_membership,
)


def one_hot(n: int, alphabet: int, length: int, seed: int = 0) -> np.ndarray:
    letters = np.random.default_rng(seed).integers(0, alphabet, (n, length))
    return np.eye(alphabet)[letters].transpose(0, 2, 1).copy()


def small_cnn(alphabet: int, length: int, seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Conv1d(alphabet, 6, 5, padding=2), nn.ReLU(), nn.MaxPool1d(2), nn.Flatten(),
                         nn.Dropout(0.5), nn.Linear(6 * (length // 2), 1)).double()


def linear_model(alphabet: int, length: int) -> nn.Module:
    torch.manual_seed(1)
    return nn.Sequential(nn.Flatten(), nn.Linear(alphabet * length, 1)).double()


@pytest.mark.parametrize("alphabet", [4, 20])
@pytest.mark.parametrize("ablation", ["zeros", "uniform", "background"])
@pytest.mark.parametrize("change", ["abs", "drop", "kl"])
def test_feature_ablation_is_one_forward_pass_per_ablated_position(alphabet, ablation, change):
    """Against a plain loop: ablate position j, run the model, measure the change."""
    model = small_cnn(alphabet, 12).train()
    x = one_hot(3, alphabet, 12, seed=alphabet)
    got = feature_ablation(model, x, ablation=ablation, background=1, change=change, batch_size=5)
    assert model.training, "the model's mode is restored"
    model.eval()
    value = ablation_values(alphabet, ablation, 1).numpy()
    with torch.no_grad():
        for i in range(3):
            p = torch.sigmoid(model(torch.from_numpy(x[i:i + 1])))[0, 0].item()
            for j in range(12):
                u = x[i:i + 1].copy()
                u[0, :, j] = value
                q = torch.sigmoid(model(torch.from_numpy(u)))[0, 0].item()
                want = {"abs": abs(p - q), "drop": p - q,
                        "kl": p * np.log(p / q) + (1 - p) * np.log((1 - p) / (1 - q))}[change]
                assert got[i, j] == pytest.approx(want, rel=1e-9, abs=1e-12)
    assert np.abs(got).max() > 0


def test_occlusion_averages_the_windows_that_cover_a_position():
    model = small_cnn(4, 10).eval()
    x = one_hot(2, 4, 10, seed=3)
    np.testing.assert_allclose(occlusion(model, x, window=1, output="logit"),
                               feature_ablation(model, x, output="logit"), rtol=1e-12)
    got = occlusion(model, x, window=3, output="logit")
    with torch.no_grad():
        base = model(torch.from_numpy(x))[:, 0].numpy()
        windows = []
        for s in range(8):
            u = x.copy()
            u[:, :, s:s + 3] = 0
            windows.append(np.abs(base - model(torch.from_numpy(u))[:, 0].numpy()))
    windows = np.stack(windows, 1)  # (N, 8)
    for j in range(10):
        covering = [s for s in range(8) if s <= j < s + 3]
        np.testing.assert_allclose(got[:, j], windows[:, covering].mean(1), rtol=1e-12)


@pytest.mark.parametrize("alphabet", [4, 20, 21])
def test_linear_model_zeros_ablation_is_the_raw_map_and_uniform_the_corrected(alphabet):
    """logit = sum W x + b: ablating position j to zeros changes the logit by W[x_j, j], the raw saliency at
    the observed letter; to uniform by W[x_j, j] - mean_a W[a, j], the corrected saliency there."""
    length = 15
    model = linear_model(alphabet, length)
    x = one_hot(4, alphabet, length, seed=2)
    raw = attribute(model, torch.from_numpy(x), output="logit").numpy()
    zeros = feature_ablation(model, x, output="logit")
    uniform = feature_ablation(model, x, ablation="uniform", output="logit")
    np.testing.assert_allclose(zeros, position_scores(raw, x), rtol=1e-10)
    np.testing.assert_allclose(uniform, position_scores(correct(raw), x), rtol=1e-10)
    assert not np.allclose(zeros, uniform)
    np.testing.assert_array_equal(precision_at_k(position_scores(correct(raw), x), uniform, k=5), 1.0)


def test_position_scores():
    maps = np.random.default_rng(0).normal(size=(3, 20, 7))
    x = one_hot(3, 20, 7, seed=1)
    observed = position_scores(maps, x)
    letters = x.argmax(1)
    np.testing.assert_allclose(observed, np.abs(np.take_along_axis(maps, letters[:, None], 1)[:, 0]))
    np.testing.assert_allclose(position_scores(maps, x, "l2"), np.linalg.norm(maps, axis=1))
    with pytest.raises(ValueError, match="position score"):
        position_scores(maps, x, "max")
    with pytest.raises(ValueError, match="differ in shape"):
        position_scores(maps, x[:, :4])


def brute_force_precision(scores, reference_set, k):
    """Mean over every order of the tied scores: the share of the first k positions in the set."""
    values = sorted(set(scores), reverse=True)
    groups = [[j for j in range(len(scores)) if scores[j] == v] for v in values]
    total, count = 0.0, 0
    for orders in itertools.product(*(itertools.permutations(g) for g in groups)):
        ranked = [j for g in orders for j in g]
        total += len(set(ranked[:k]) & reference_set) / k
        count += 1
    return total / count


def test_precision_at_k_counts_ties_by_their_expectation():
    rng = np.random.default_rng(4)
    for _ in range(30):
        scores = rng.integers(0, 3, 6).astype(float)
        mask = rng.random(6) < 0.5
        k = int(rng.integers(1, 6))
        got = precision_at_k(scores[None], mask[None], k=k)[0]
        assert got == pytest.approx(brute_force_precision(list(scores), set(np.flatnonzero(mask)), k))


def test_precision_at_k_against_scores_and_masks():
    scores = np.array([[5.0, 4, 3, 2, 1, 0], [0, 1, 2, 3, 4, 5]])
    reference = np.array([[9.0, 8, 0, 0, 7, 0], [1, 1, 1, 1, 1, 1]])
    np.testing.assert_allclose(precision_at_k(scores, reference, k=3), [2 / 3, 0.5])  # a flat reference: chance
    mask = reference > 1
    np.testing.assert_allclose(precision_at_k(scores, mask), [2 / 3, np.nan])  # k = 0: undefined
    np.testing.assert_allclose(precision_at_k(scores, mask, k=[1, 2]), [1.0, 0.0])
    flat = np.zeros((1, 10))
    assert precision_at_k(flat, np.arange(10)[None] < 2)[0] == pytest.approx(0.2)  # chance, not luck
    np.testing.assert_allclose(top_k_membership(np.array([[3.0, 1, 1, 1, 0]]), 2), [[1, 1 / 3, 1 / 3, 1 / 3, 0]])
    with pytest.raises(ValueError, match="k is required"):
        precision_at_k(scores, reference)
    with pytest.raises(ValueError, match="k must be"):
        precision_at_k(scores, reference, k=7)


def test_bad_inputs_are_named():
    model = small_cnn(4, 10)
    x = one_hot(2, 4, 10)
    with pytest.raises(ValueError, match="unknown ablation"):
        feature_ablation(model, x, ablation="mean")
    with pytest.raises(ValueError, match="background"):
        feature_ablation(model, x, ablation="background")
    with pytest.raises(ValueError, match="window"):
        occlusion(model, x, window=11)
    with pytest.raises(ValueError, match="unknown change"):
        feature_ablation(model, x, change="ratio")
    with pytest.raises(ValueError, match=r"\(N, A, L\)"):
        feature_ablation(model, x[0])
