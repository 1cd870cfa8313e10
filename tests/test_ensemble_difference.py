"""Ensemble-difference reduction on constructed maps whose answer is known in closed form."""

import numpy as np
import pytest

from gradcorr import angles
from gradcorr.correction import simplex_angle
from gradcorr.ensemble_difference import (
    DIFF_EDGES,
    angle_bins,
    combine_differences,
    ensemble_agreement,
    ensemble_average,
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
    combined = combine_differences([ensemble_difference(a, ensemble), ensemble_difference(b, ensemble)])
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
        combine_differences([ensemble_difference(raw, ensemble), coarse])


def test_ensemble_angles_are_those_of_the_average_of_raw_maps():
    """Two maps whose off-simplex parts cancel: each has a large angle (+62 and -43.5 deg, mean of
    the angles 9.36 deg), the angle of their average is exactly 0."""
    c = np.array([1.0, -1.0, 2.0, -2.0])[None, :, None] * np.ones((2, 1, 5))  # in the plane
    ones = np.ones((2, 4, 5))
    maps = [c + 3 * ones, 2 * c - 3 * ones]
    single = [simplex_angle(m) for m in maps]
    assert all(np.abs(a).min() > 40 for a in single)
    mean_of_angles = np.mean(single, axis=0)
    avg = ensemble_average(m for m in maps)  # a generator: read one map at a time
    np.testing.assert_array_equal(avg, 1.5 * c)
    assert np.all(simplex_angle(avg) == 0.0)
    hist = angles.angle_histogram(ensemble_average(iter(maps)))
    assert hist[90] == hist.sum() == 10  # everything in [0, 1)
    # averaging the angles instead would give 9.36 deg, and single-model angles are nowhere near 0
    np.testing.assert_allclose(mean_of_angles, 9.36, atol=0.01)
    assert sum(angles.angle_histogram(m) for m in maps)[80:100].sum() == 0
    rng = np.random.default_rng(0)
    three = [rng.normal(size=(3, 4, 7)) for _ in range(3)]
    np.testing.assert_allclose(ensemble_average(three), np.mean(three, axis=0), atol=1e-15)
    with pytest.raises(ValueError):
        ensemble_average([])


def test_agreement_of_the_average_with_itself_is_one_and_ignores_the_off_simplex_part():
    rng = np.random.default_rng(3)
    e = rng.normal(size=(4, 4, 30))
    cosine, distance = ensemble_agreement(e, e)
    np.testing.assert_allclose(cosine, 1.0)
    np.testing.assert_allclose(distance, 0.0, atol=1e-12)
    # a map that differs only along the simplex normal agrees perfectly: correction removes the difference
    shifted = e + rng.normal(size=(4, 1, 30)) * ONES[None, :, None]
    np.testing.assert_allclose(ensemble_agreement(shifted, e)[0], 1.0)
    # the opposite corrected map: cosine -1; distance per position is 2 ||correct(e)||, averaged
    cosine, distance = ensemble_agreement(-e, e)
    np.testing.assert_allclose(cosine, -1.0)
    corrected = e - e.mean(axis=1, keepdims=True)
    np.testing.assert_allclose(distance, 2 * np.linalg.norm(corrected, axis=1).mean(axis=1))
    zero = np.zeros_like(e)
    np.testing.assert_array_equal(ensemble_agreement(zero, e)[0], 0.0)  # no direction, no agreement
    with pytest.raises(ValueError, match="differ in shape"):
        ensemble_agreement(e[:2], e)
