"""Ensemble-difference reduction on constructed maps whose answer is known in closed form."""

import numpy as np
import pytest

from gradcorr.correction import simplex_angle
from gradcorr.ensemble import (
    DIFF_EDGES,
    angle_bins,
    combine,
    ensemble_difference,
    overall_reduction,
    reduction_table,
    sequence_reduction,
)

ONES = np.ones(4) / 2.0  # unit normal of the simplex plane (A = 4)


def _in_plane(rng, n, length):
    """Random vectors of the zero-sum plane, (n, 4, length)."""
    v = rng.normal(size=(n, 4, length))
    return v - v.mean(axis=1, keepdims=True)


def _constructed(rng, angles_deg, n=6, ensemble_offset=0.0):
    """S = v + c 1 with angle theta to the simplex and E = v / 2 + e 1 (e = ensemble_offset).

    With w = S - E = v / 2 + (c - e) 1: D = ||S - E|| and, as correct(S) = v, D_corr = ||v - E||.
    For e = 0 the reduction at angle theta is 100 (1 - 1 / sqrt(1 + 4 tan^2 theta)): |v| = r,
    c = r tan(theta) / 2, D = sqrt(r^2/4 + r^2 tan^2 theta), D_corr = r / 2.
    """
    theta = np.deg2rad(np.asarray(angles_deg, dtype=float))
    v = _in_plane(rng, n, len(theta))
    r = np.linalg.norm(v, axis=1)                          # (n, L)
    c = r * np.tan(theta) / 2.0
    raw = v + c[:, None, :] * np.ones((1, 4, 1))
    ensemble = v / 2.0 + ensemble_offset
    return raw, ensemble


def test_angle_bins_cover_both_ends_and_skip_nan():
    angle = np.array([-90.0, -87.5, -85.0, 0.0, 4.999, 89.0, 90.0, np.nan])
    idx = angle_bins(angle)
    assert idx.tolist() == [0, 0, 1, 18, 18, 35, 35, -1]


def test_reduction_per_bin_equals_closed_form():
    rng = np.random.default_rng(0)
    centres = (DIFF_EDGES[:-1] + DIFF_EDGES[1:]) / 2
    raw, ensemble = _constructed(rng, centres)
    assert np.allclose(simplex_angle(raw, axis=1), centres[None, :])  # the construction gives the angles asked
    table = reduction_table(ensemble_difference(raw, ensemble))
    expected = 100 * (1 - 1 / np.sqrt(1 + 4 * np.tan(np.deg2rad(centres)) ** 2))
    assert (table["n_positions"] == 6).all()
    np.testing.assert_allclose(table["reduction_percent"], expected, rtol=1e-10)
    assert table["reduction_percent"].iloc[18] < 1.0 < table["reduction_percent"].iloc[0]  # small angle, small gain


def test_on_simplex_ensemble_and_pure_normal_noise_gives_full_reduction():
    rng = np.random.default_rng(1)
    ensemble = _in_plane(rng, 5, 30)
    noise = rng.normal(size=(5, 1, 30)) * np.ones((1, 4, 1))  # only off-simplex noise
    diff = ensemble_difference(ensemble + noise, ensemble)
    table = reduction_table(diff)
    filled = table[table["n_positions"] > 0]
    np.testing.assert_allclose(filled["reduction_percent"], 100.0, atol=1e-9)
    np.testing.assert_allclose(filled["distance_corrected"], 0.0, atol=1e-12)
    assert overall_reduction(diff) == pytest.approx(100.0)


def test_in_plane_noise_gives_no_reduction():
    rng = np.random.default_rng(2)
    ensemble = _in_plane(rng, 5, 30)
    raw = ensemble + _in_plane(rng, 5, 30)
    assert overall_reduction(ensemble_difference(raw, ensemble)) == pytest.approx(0.0, abs=1e-9)


def test_correct_ensemble_option_removes_the_ensembles_offset():
    rng = np.random.default_rng(3)
    raw, ensemble = _constructed(rng, np.full(20, 40.0), ensemble_offset=0.3)
    plain = ensemble_difference(raw, ensemble)
    corrected = ensemble_difference(raw, ensemble, correct_ensemble=True)
    r = np.linalg.norm(raw - raw.mean(axis=1, keepdims=True), axis=1)
    # correct(S) = v and correct(E) = v / 2: D_corr = r / 2; against the raw E it is ||v/2 - 0.3 * 1||
    np.testing.assert_allclose(corrected["distance_corrected"].sum(), (r / 2).sum(), rtol=1e-10)
    np.testing.assert_allclose(plain["distance_corrected"].sum(), np.sqrt(r**2 / 4 + 4 * 0.3**2).sum(), rtol=1e-10)


def test_combining_models_equals_pooling_their_positions():
    rng = np.random.default_rng(4)
    ensemble = rng.normal(size=(8, 4, 25))
    a, b = rng.normal(size=(2, 8, 4, 25))
    pooled = ensemble_difference(np.concatenate([a, b]), np.concatenate([ensemble, ensemble]))
    combined = combine([ensemble_difference(a, ensemble), ensemble_difference(b, ensemble)])
    for key in ("n", "distance_raw", "distance_corrected"):
        np.testing.assert_allclose(combined[key], pooled[key])
    assert combined["n"].sum() == 2 * 8 * 25


def test_sequence_reduction_and_errors():
    rng = np.random.default_rng(5)
    ensemble = _in_plane(rng, 3, 10)
    noise = rng.normal(size=(3, 1, 10)) * np.ones((1, 4, 1))
    raw = ensemble + noise
    raw[1] = ensemble[1]  # identical to the ensemble: zero distance, no reduction defined
    out = sequence_reduction(raw, ensemble)
    assert out[0] == pytest.approx(100.0) and np.isnan(out[1])
    with pytest.raises(ValueError, match="shape"):
        ensemble_difference(raw, ensemble[:, :, :5])
    with pytest.raises(ValueError, match="different angle bins"):
        coarse = ensemble_difference(raw, ensemble, edges=np.arange(-90, 91, 10.0))
        combine([ensemble_difference(raw, ensemble), coarse])
