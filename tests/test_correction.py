"""Gradient correction and the gradient-simplex angle."""

import numpy as np
import pytest
import torch

from gradcorr import correct, simplex_angle


@pytest.fixture(params=[4, 20], ids=["dna", "protein"])
def grads(request):
    rng = np.random.default_rng(request.param)
    return rng.normal(size=(7, request.param, 30))


def test_correction_sums_to_zero_per_position(grads):
    assert np.abs(correct(grads).sum(axis=1)).max() < 1e-12


def test_correction_is_idempotent(grads):
    once = correct(grads)
    np.testing.assert_allclose(correct(once), once, atol=1e-14)


def test_correction_leaves_on_plane_vectors_unchanged(grads):
    on_plane = grads - grads.mean(axis=1, keepdims=True)
    np.testing.assert_allclose(correct(on_plane), on_plane, atol=1e-14)


def test_correction_removes_exactly_the_normal_component(grads):
    """Reference computed another way: G - (G . n) n with n = (1, ..., 1) / sqrt(A)."""
    a = grads.shape[1]
    n = np.ones(a) / np.sqrt(a)
    reference = grads - np.einsum("nal,a->nl", grads, n)[:, None, :] * n[None, :, None]
    np.testing.assert_allclose(correct(grads), reference, atol=1e-12)


def test_correction_other_axis_and_torch_agree(grads):
    channels_last = np.swapaxes(grads, 1, 2)
    np.testing.assert_allclose(np.swapaxes(correct(channels_last, axis=2), 1, 2), correct(grads))
    out = correct(torch.from_numpy(grads))
    assert isinstance(out, torch.Tensor)
    np.testing.assert_allclose(out.numpy(), correct(grads), atol=1e-12)


def test_angle_is_zero_on_the_plane(grads):
    on_plane = correct(grads)
    np.testing.assert_allclose(simplex_angle(on_plane), 0.0, atol=1e-6)


@pytest.mark.parametrize("alphabet", [4, 20])
def test_angle_is_plus_minus_90_along_the_normal(alphabet):
    ones = np.ones((1, alphabet, 3)) * np.array([2.5, -0.1, 7.0])
    np.testing.assert_allclose(simplex_angle(ones)[0], [90.0, -90.0, 90.0], atol=1e-5)


def test_angle_matches_float64_reference(grads):
    """Reference: the angle between g and its projection onto the plane, signed by g . n."""
    a = grads.shape[1]
    n = np.ones(a) / np.sqrt(a)
    normal = np.einsum("nal,a->nl", grads, n)
    in_plane = np.linalg.norm(grads - normal[:, None, :] * n[None, :, None], axis=1)
    reference = np.degrees(np.arctan2(normal, in_plane))
    np.testing.assert_allclose(simplex_angle(grads), reference, atol=1e-9)
    np.testing.assert_allclose(simplex_angle(torch.from_numpy(grads)).numpy(), reference, atol=1e-9)


def test_angle_known_value():
    """(1, 0, 0, 0): sum 1, norm 1, arcsin(1/2) = 30 degrees."""
    g = np.zeros((1, 4, 1))
    g[0, 0, 0] = 1.0
    assert simplex_angle(g)[0, 0] == pytest.approx(30.0)


def test_angle_of_zero_vector_is_nan():
    g = np.zeros((2, 4, 5))
    g[0, :, 0] = [1, 2, 3, 4]
    angle = simplex_angle(g)
    assert np.isfinite(angle[0, 0]) and np.isnan(angle[0, 1:]).all() and np.isnan(angle[1]).all()
    assert torch.isnan(simplex_angle(torch.from_numpy(g))[1]).all()
