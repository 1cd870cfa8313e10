"""Everything that takes (N, A, L) works for any alphabet size: DNA (A = 4), protein (A = 20) and aligned
protein with the gap (A = 21).

Maps are checked against closed forms or against torch.autograd run here, on a tiny CNN built inline.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

import gradcorr
from gradcorr.angles import angle_histogram, large_angle_percent, per_position_cosine
from gradcorr.attribution import random_draws
from gradcorr.baselines import dinuc_shuffle, permute_positions
from gradcorr.correction import simplex_angle

ALPHABET_SIZES = [4, 20, 21]
N, L = 5, 12


def one_hot(a: int, n: int = N, length: int = L, seed: int = 0, dtype=np.float64) -> np.ndarray:
    """(n, a, length) random one-hot sequences."""
    letters = np.random.default_rng(seed).integers(0, a, (n, length))
    return np.eye(a, dtype=dtype)[letters].transpose(0, 2, 1).copy()


def tiny_cnn(a: int, length: int = L, seed: int = 0) -> nn.Sequential:
    """Conv1d(A, 8, 5) - ReLU - MaxPool1d(2) - Linear, in float64 for tight comparisons."""
    torch.manual_seed(seed)
    return nn.Sequential(nn.Conv1d(a, 8, 5, padding=2), nn.ReLU(), nn.MaxPool1d(2), nn.Flatten(),
                         nn.Linear(8 * length // 2, 1)).double().eval()


def autograd_saliency(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """d sigmoid(model(x)) / d x, straight from torch.autograd."""
    x = x.detach().clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(torch.sigmoid(model(x))[:, 0].sum(), x)
    return grad


def autograd_integrated_gradients(model: nn.Module, x: torch.Tensor, reference: torch.Tensor,
                                  steps: int) -> torch.Tensor:
    """Trapezoid-weighted mean gradient on the straight path reference -> x (weights summing to 1)."""
    alphas = torch.arange(steps, dtype=torch.float64) / (steps - 1)
    weights = torch.full((steps,), 1 / (steps - 1), dtype=torch.float64)
    weights[[0, -1]] /= 2
    return sum(w * autograd_saliency(model, reference + a * (x - reference)) for a, w in zip(alphas, weights))


def letter_counts(x: np.ndarray) -> np.ndarray:
    """Per sequence (and reference), how often each letter occurs: x summed over positions."""
    return np.asarray(x).sum(axis=-1)


def pair_counts(x: np.ndarray) -> np.ndarray:
    """Per sequence, counts of adjacent letter pairs (a, b): (..., A, A)."""
    x = np.asarray(x)
    return np.einsum("...al,...bl->...ab", x[..., :-1], x[..., 1:])


def maps_at_angles(a: int, angles_deg: np.ndarray, seed: int = 0) -> np.ndarray:
    """(1, A, len(angles)) map whose position j makes the angle angles_deg[j] with the simplex: a random unit
    in-plane vector times cos, plus the unit normal (1, ..., 1) / sqrt(A) times sin, scaled randomly."""
    rng = np.random.default_rng(seed)
    u = rng.normal(size=(a, len(angles_deg)))
    u -= u.mean(axis=0)
    u /= np.linalg.norm(u, axis=0)
    theta = np.radians(angles_deg)
    scale = rng.uniform(0.5, 3.0, size=len(angles_deg))
    return (scale * (np.cos(theta) * u + np.sin(theta) / np.sqrt(a)))[None]


# --------------------------------------------------------------------------- correction


@pytest.mark.parametrize("a", ALPHABET_SIZES)
def test_correct_removes_the_mean_over_the_alphabet(a):
    raw = np.random.default_rng(a).normal(size=(N, a, L))
    corrected = gradcorr.correct(raw)
    assert corrected.shape == (N, a, L)
    np.testing.assert_allclose(corrected.sum(axis=1), 0.0, atol=1e-12)
    np.testing.assert_allclose(corrected, raw - raw.mean(axis=1, keepdims=True), atol=1e-15)
    np.testing.assert_allclose(gradcorr.correct(corrected), corrected, atol=1e-15)
    t = gradcorr.correct(torch.from_numpy(raw))
    assert isinstance(t, torch.Tensor)
    np.testing.assert_allclose(t.numpy(), corrected, atol=1e-15)


@pytest.mark.parametrize("a", ALPHABET_SIZES)
def test_simplex_angle_in_plane_and_along_the_normal(a):
    raw = np.random.default_rng(a).normal(size=(N, a, L))
    in_plane = gradcorr.correct(raw)
    np.testing.assert_allclose(simplex_angle(in_plane), 0.0, atol=1e-6)
    constant = np.broadcast_to(np.random.default_rng(1).uniform(0.1, 2.0, size=(N, 1, L)), (N, a, L))
    # sign convention: arcsin(sum_a g_a / (sqrt(A) |g|)), so a positive constant is +90 and a negative one -90
    np.testing.assert_allclose(simplex_angle(constant), 90.0, atol=1e-5)
    np.testing.assert_allclose(simplex_angle(-constant), -90.0, atol=1e-5)
    assert np.isnan(simplex_angle(np.zeros((1, a, 3)))).all()
    np.testing.assert_allclose(gradcorr.simplex_angle(torch.from_numpy(np.ascontiguousarray(constant))).numpy(),
                               90.0, atol=1e-5)


@pytest.mark.parametrize("a", ALPHABET_SIZES)
def test_simplex_angle_of_known_angles(a):
    angles = np.array([-80.0, -45.0, -10.0, 0.0, 5.0, 30.0, 60.0, 89.0])
    np.testing.assert_allclose(simplex_angle(maps_at_angles(a, angles))[0], angles, atol=1e-6)


# --------------------------------------------------------------------------- attribution

METHOD_CASES = [
    ("saliency", {}),
    ("smoothgrad", {"n_samples": 4, "noise_sd": 0.1}),
    ("integrated_gradients", {"steps": 5, "reference": "zeros"}),
    ("integrated_gradients", {"steps": 5, "reference": "uniform"}),
    ("integrated_gradients", {"steps": 5, "reference": "permute"}),
    ("expected_gradients", {"n_references": 3, "steps": 5, "reference": "permute"}),
    ("expected_gradients", {"n_references": 3, "steps": 5, "reference": "dinuc"}),
]


@pytest.mark.parametrize("a", ALPHABET_SIZES)
@pytest.mark.parametrize("method,options", METHOD_CASES, ids=lambda v: v if isinstance(v, str) else
                         "-".join(str(o) for o in v.values()) or "defaults")
def test_attribute_shapes_and_kinds(a, method, options):
    """(N, A, L) maps of x's kind; float32 in, float32 out; finite and not all zero; seeded."""
    model = tiny_cnn(a).float()
    x = one_hot(a, seed=1, dtype=np.float32)
    maps = gradcorr.attribute(model, x, method, **options)
    assert isinstance(maps, np.ndarray) and maps.shape == (N, a, L) and maps.dtype == np.float32
    assert np.isfinite(maps).all() and np.abs(maps).max() > 0
    np.testing.assert_array_equal(maps, gradcorr.attribute(model, x, method, **options))
    maps_t = gradcorr.attribute(model, torch.from_numpy(x), method, **options)
    assert isinstance(maps_t, torch.Tensor) and tuple(maps_t.shape) == (N, a, L)
    np.testing.assert_allclose(maps_t.numpy(), maps, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("a", ALPHABET_SIZES)
def test_saliency_is_the_autograd_gradient(a):
    model = tiny_cnn(a)
    x = torch.from_numpy(one_hot(a, seed=2))
    torch.testing.assert_close(gradcorr.attribute(model, x, "saliency"), autograd_saliency(model, x),
                               rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("a", ALPHABET_SIZES)
def test_smoothgrad_without_noise_is_the_autograd_gradient(a):
    """SmoothGrad runs the first-layer shortcut (many inputs per sequence); with no noise it is saliency."""
    model = tiny_cnn(a)
    x = torch.from_numpy(one_hot(a, seed=3))
    torch.testing.assert_close(gradcorr.attribute(model, x, "smoothgrad", n_samples=3, noise_sd=0.0),
                               autograd_saliency(model, x), rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("a", ALPHABET_SIZES)
@pytest.mark.parametrize("reference", ["zeros", "uniform"])
def test_integrated_gradients_with_fixed_references(a, reference):
    """"uniform" is 1/A for every letter, "zeros" is 0: both equal the path integral done with autograd here."""
    model = tiny_cnn(a)
    x = torch.from_numpy(one_hot(a, seed=4))
    ref = torch.full_like(x, 0.0 if reference == "zeros" else 1 / a)
    expected = autograd_integrated_gradients(model, x, ref, steps=6)
    torch.testing.assert_close(gradcorr.attribute(model, x, "integrated_gradients", steps=6, reference=reference),
                               expected, rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("a", ALPHABET_SIZES)
@pytest.mark.parametrize("method,reference", [("integrated_gradients", "permute"),
                                              ("expected_gradients", "permute"),
                                              ("expected_gradients", "dinuc")])
def test_random_reference_paths_are_the_mean_over_their_references(a, method, reference):
    """The references drawn keep each sequence's letters, and the map is the mean over them of the path
    integral done with autograd here."""
    model = tiny_cnn(a)
    x = torch.from_numpy(one_hot(a, seed=5))
    options = {"steps": 4, "reference": reference, "seed": 3}
    if method == "expected_gradients":
        options["n_references"] = 3
    refs = random_draws(x, method, **options)
    n_refs = options.get("n_references", 1)
    assert tuple(refs.shape) == (N, n_refs, a, L)
    np.testing.assert_array_equal(letter_counts(refs.numpy()),
                                  np.repeat(letter_counts(x.numpy())[:, None], n_refs, axis=1))
    expected = sum(autograd_integrated_gradients(model, x, refs[:, r], steps=4) for r in range(n_refs)) / n_refs
    torch.testing.assert_close(gradcorr.attribute(model, x, method, **options), expected, rtol=1e-10, atol=1e-14)


# --------------------------------------------------------------------------- baselines


@pytest.mark.parametrize("a", ALPHABET_SIZES)
@pytest.mark.parametrize("as_tensor", [False, True])
def test_permute_positions_keeps_letter_counts(a, as_tensor):
    x = one_hot(a, n=6, length=30, seed=6, dtype=np.float32)
    out = permute_positions(torch.from_numpy(x) if as_tensor else x, 4, torch.Generator().manual_seed(0))
    out = out.numpy() if as_tensor else out
    assert out.shape == (6, 4, a, 30) and out.dtype == np.float32
    np.testing.assert_array_equal(out.sum(axis=2), 1.0)  # still one-hot
    np.testing.assert_array_equal(letter_counts(out), np.repeat(letter_counts(x)[:, None], 4, axis=1))
    assert not all(np.array_equal(out[:, k], x) for k in range(4))


@pytest.mark.parametrize("a", ALPHABET_SIZES)
@pytest.mark.parametrize("as_tensor", [False, True])
def test_dinuc_shuffle_keeps_letter_and_pair_counts(a, as_tensor):
    x = one_hot(a, n=6, length=60, seed=7, dtype=np.float32)
    x[:, :, 5:9] = x[:, :, 20:24]  # repeated pairs, so that the shuffle has some freedom for large A
    out = dinuc_shuffle(torch.from_numpy(x) if as_tensor else x, 4, torch.Generator().manual_seed(0))
    out = out.numpy() if as_tensor else out
    assert out.shape == (6, 4, a, 60) and out.dtype == np.float32
    np.testing.assert_array_equal(out.sum(axis=2), 1.0)
    np.testing.assert_array_equal(letter_counts(out), np.repeat(letter_counts(x)[:, None], 4, axis=1))
    np.testing.assert_array_equal(pair_counts(out), np.repeat(pair_counts(x)[:, None], 4, axis=1))
    np.testing.assert_array_equal(out[..., 0], np.repeat(x[:, None, :, 0], 4, axis=1))  # first letter kept
    np.testing.assert_array_equal(out[..., -1], np.repeat(x[:, None, :, -1], 4, axis=1))  # last letter kept


def test_dinuc_shuffle_of_the_gap_alphabet_moves_the_gap_as_a_letter():
    """A = 21 with gap runs (the last row), as in aligned protein sequences."""
    x = one_hot(21, n=4, length=40, seed=8, dtype=np.float32)
    x[:, :, 10:15] = 0
    x[:, 20, 10:15] = 1
    out = dinuc_shuffle(x, 3, torch.Generator().manual_seed(1))
    np.testing.assert_array_equal(letter_counts(out), np.repeat(letter_counts(x)[:, None], 3, axis=1))
    np.testing.assert_array_equal(pair_counts(out), np.repeat(pair_counts(x)[:, None], 3, axis=1))


# --------------------------------------------------------------------------- angle statistics


@pytest.mark.parametrize("a", ALPHABET_SIZES)
def test_per_position_cosine_to_the_corrected_map_is_the_cosine_of_the_angle(a):
    """The corrected map is the projection onto the simplex plane, so cos(raw, corrected) = cos(angle)."""
    raw = np.random.default_rng(a).normal(loc=0.3, size=(N, a, L))
    cosine = per_position_cosine(raw, gradcorr.correct(raw))
    assert cosine.shape == (N, L)
    np.testing.assert_allclose(cosine, np.cos(np.radians(simplex_angle(raw))), atol=1e-9)
    np.testing.assert_allclose(per_position_cosine(raw, raw), 1.0, atol=1e-12)


@pytest.mark.parametrize("a", ALPHABET_SIZES)
def test_large_angle_percent_and_histogram_of_known_angles(a):
    angles = np.array([-80.5, -50.5, -40.5, -20.5, 0.5, 25.5, 35.5, 50.5, 70.5, 89.5])  # mid-bin
    raw = maps_at_angles(a, angles, seed=a)
    raw = np.concatenate([raw, np.zeros((1, a, 2))], axis=2)  # two zero positions: NaN angles, left out
    measured = simplex_angle(raw)
    np.testing.assert_allclose(measured[0, :-2], angles, atol=1e-6)
    percent = large_angle_percent(measured, (30.0, 45.0, 60.0))
    np.testing.assert_allclose(percent, [[70.0, 50.0, 30.0]])
    hist = angle_histogram(raw)
    assert hist.shape == (180,) and hist.sum() == len(angles)
    np.testing.assert_array_equal(np.flatnonzero(hist), np.floor(angles).astype(int) + 90)
    mask = np.zeros((1, len(angles) + 2), dtype=bool)
    mask[0, :4] = True
    assert angle_histogram(raw, mask=mask).sum() == 4
    np.testing.assert_array_equal(angle_histogram(torch.from_numpy(raw)), hist)


# --------------------------------------------------------------------------- DNA-only metrics


@pytest.mark.parametrize("a", [20, 21])
def test_kmer_counts_refuse_other_alphabets(a):
    """The k-mer consistency metric is DNA-only (k-mers coded in base 4): A != 4 is refused, never counted as
    mixed-up k-mers."""
    from gradcorr import kld

    x = one_hot(a, n=3, length=30, seed=9)
    with pytest.raises(ValueError, match="4 letters"):
        kld.kmer_counts(x, k=2)
