"""Angle analyses: hand-made cases, the 1 - cos(angle) bound on real maps, exact combination."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from random_maps import BACKGROUND as BG
from random_maps import random_maps

from gradcorr import angles, attribute
from gradcorr.correction import correct, simplex_angle
from gradcorr.data.synthetic import generate_billboard
from gradcorr.metrics import grad_times_input, information_content, position_labels
from gradcorr.models.architectures import build_model
from gradcorr.models.training import TrainConfig, train


# --------------------------------------------------------------------------- hand-made cases
def test_per_position_cosine_hand_cases():
    a = np.array([[1.0, 0, 0, 0], [1, 0, 0, 0], [1, 2, 0, 0], [0, 0, 0, 0], [3, 0, 0, 0]]).T[None]
    b = np.array([[1.0, 1, 0, 0], [0, 1, 0, 0], [-2, -4, 0, 0], [1, 1, 1, 1], [0, 0, 0, 0]]).T[None]
    cos = angles.per_position_cosine(a, b)
    assert cos.shape == (1, 5)
    np.testing.assert_allclose(cos[0, :3], [1 / np.sqrt(2), 0.0, -1.0], atol=1e-15)
    assert np.isnan(cos[0, 3]) and np.isnan(cos[0, 4])  # either vector zero


def test_large_angle_percent_leaves_out_nan():
    ang = np.array([[10.0, 30.0, 31.0, -50.0, 61.0, np.nan],   # 5 valid: >30: 3, >45: 2, >60: 1
                    [-70.0, 0.0, np.nan, np.nan, np.nan, np.nan],  # 2 valid: one above every threshold
                    [np.nan] * 6])
    pct = angles.large_angle_percent(ang)
    assert pct.shape == (3, 3)
    np.testing.assert_allclose(pct[0], [60.0, 40.0, 20.0])
    np.testing.assert_allclose(pct[1], [50.0, 50.0, 50.0])
    assert np.isnan(pct[2]).all()
    np.testing.assert_allclose(angles.large_angle_percent(ang[:2], (5.0,))[:, 0], [100.0, 50.0])


# --------------------------------------------------------------------------- the 1 - cos(angle) bound
@pytest.fixture(scope="module")
def trained_maps():
    """Raw saliency maps of a CNN-shallow-exp trained for 3 epochs on 300 + 300 sequences (its ~60 positive test
    sequences hold some 2,700 motif positions, well over the 1,000 the test asks for)."""
    data = generate_billboard(n_positive=300, n_negative=300, seed=5)
    t = {k: torch.as_tensor(v) for k, v in data.items()}
    model = build_model("cnn_shallow", activation="exp")
    model, _ = train(model, t["x_train"], t["y_train"], t["x_valid"], t["y_valid"],
                     TrainConfig(max_epochs=3, seed=0, log_every=0))
    keep = data["y_test"][:, 0] == 1
    x, gt = data["x_test"][keep], data["model_test"][keep]
    return attribute(model, x, "saliency"), x, gt


def test_improvement_bound_on_trained_model_maps(trained_maps):
    raw, x, gt = trained_maps
    raw64, gt64 = raw.astype(np.float64), gt.astype(np.float64)
    angle = simplex_angle(raw64)
    target = gt64 - 0.25
    cos_corr = angles.per_position_cosine(correct(raw64), target)
    improvement = cos_corr - angles.per_position_cosine(raw64, target)
    pos, _ = position_labels(information_content(gt64), 0.1, "background")
    sel = pos & ~np.isnan(improvement)
    assert sel.sum() > 1000
    bound = 1.0 - np.cos(np.radians(angle[sel]))
    assert np.all(improvement[sel] <= bound + 1e-6)
    # the geometry behind it: improvement = cos(corrected, t) * (1 - cos(angle)), up to float32
    # columns of M summing to 1 only within ~1e-7 (t is then not exactly in the plane)
    np.testing.assert_allclose(improvement[sel], cos_corr[sel] * bound, atol=1e-6)
    assert np.abs(angle[sel]).max() > 20  # real maps leave the simplex, so the bound is exercised
    summary = angles.model_angle_summary(raw, x, gt)
    excess = summary["improvement_bound_excess"]
    assert excess <= 1e-6
    assert excess == pytest.approx(np.max(improvement[sel] - bound), abs=1e-12)
    assert summary["improvement_hist"].sum() == sel.sum()


def test_improvement_zero_where_angle_zero():
    raw, x, gt = random_maps(4, 40, seed=1)
    raw = np.round(3 * correct(raw))  # integer columns ...
    raw[:, 3] = -raw[:, :3].sum(axis=1)  # ... summing exactly to zero: angle exactly 0
    angle = simplex_angle(raw)
    assert np.all((angle == 0) | np.isnan(angle))
    target = gt - 0.25
    imp = angles.per_position_cosine(correct(raw), target) - angles.per_position_cosine(raw, target)
    pos, _ = position_labels(information_content(gt), 0.1, "background")
    sel = pos & ~np.isnan(imp)
    assert sel.sum() > 0 and np.all(imp[sel] == 0.0)
    s = angles.model_angle_summary(raw, x, gt)
    # all mass in angle bin [0, 1) and improvement bin [0, 0.01)
    a_bin, i_bin = 90, 100
    assert s["improvement_hist"][a_bin, i_bin] == s["improvement_hist"].sum() == sel.sum()
    assert s["improvement_bound_excess"] == 0.0


# --------------------------------------------------------------------------- combination
@pytest.fixture(scope="module")
def two_models():
    a = random_maps(7, 60, seed=2)
    b = random_maps(5, 60, seed=3)
    b = (b[0] * 2.0, b[1], b[2])  # a second "model" on another scale
    scale = np.percentile(np.abs(grad_times_input(a[0], a[1])), 90) * 1.5
    edges = np.linspace(-scale, scale, 201)  # absolute bins, shared; some points fall outside
    return a, b, edges


def test_combine_equals_summary_of_concatenated_data(two_models):
    a, b, edges = two_models
    sa = angles.model_angle_summary(*a, gti_edges=edges)
    sb = angles.model_angle_summary(*b, gti_edges=edges)
    combined = angles.combine_summaries(iter([sa, sb]))
    whole = angles.model_angle_summary(*(np.concatenate(p) for p in zip(a, b)), gti_edges=edges)
    assert set(combined) == set(whole)
    for key in whole:
        if key in ("n_models", "representative"):
            continue
        if "sum" in key or key == "improvement_bound_excess":
            np.testing.assert_allclose(combined[key], whole[key], rtol=1e-12, err_msg=key)
        else:
            np.testing.assert_array_equal(combined[key], whole[key], err_msg=key)
    assert int(combined["n_models"]) == 2
    np.testing.assert_array_equal(combined["representative"], [sa["representative"], sb["representative"]])
    assert combined["gti_outside"].sum() > 0 and combined["angle_n_all"] == 12 * 57  # 3 NaN columns each
    assert angles.summary_table_row(combined) == pytest.approx(
        {**angles.summary_table_row(whole), "n_models": 2}, rel=1e-12, nan_ok=True)
    again = angles.combine_summaries([combined, sa])  # combined summaries combine again
    assert int(again["n_models"]) == 3 and again["large_angle_percent"].shape == (19, 3)
    with pytest.raises(ValueError, match="gti_edges"):
        angles.combine_summaries([sa, angles.model_angle_summary(*b)])


def test_pooled_sd_equals_nanstd_of_concatenated_angles(two_models):
    a, b, edges = two_models
    combined = angles.combine_summaries(angles.model_angle_summary(*m, gti_edges=edges) for m in (a, b))
    row = angles.summary_table_row(combined)
    raw, gt = np.concatenate([a[0], b[0]]), np.concatenate([a[2], b[2]])
    angle = simplex_angle(raw)
    pos, bg = position_labels(information_content(gt), 0.1, "background")
    for region, mask in (("all", np.ones_like(pos)), ("ground_truth", pos), ("background", bg)):
        vals = angle[mask]
        assert row[f"angle_sd_{region}"] == pytest.approx(np.nanstd(vals), rel=1e-10)
        assert row[f"angle_mean_{region}"] == pytest.approx(np.nanmean(vals), rel=1e-10, abs=1e-12)
    pct = angles.large_angle_percent(angle)
    for j, t in enumerate((30, 45, 60)):
        assert row[f"percent_above_{t}"] == pytest.approx(np.nanmean(pct[:, j]), rel=1e-12)


def test_representative_is_median_improvement_sequence():
    """Raw = in-plane target + k * ones: corrected map = target (cosine 1), raw cosine falls with k,
    so the improvement grows with k. Row 5 has no ground truth and is not eligible."""
    length = 20
    ks = [3.0, 0.0, 5.0, 1.0, 2.0, 4.0]
    gt = np.full((6, 4, length), BG)
    gt[:5, :, 8:12] = np.eye(4)
    raw = np.stack([gt[i] - BG + k for i, k in enumerate(ks)])
    raw[5] = np.random.default_rng(0).normal(size=(4, length))
    row, imp = angles.representative_sequence(raw, gt)
    assert np.all(np.diff(imp[np.argsort(ks[:5])]) > 0)
    assert row == 4  # improvements ranked by k = 0, 1, 2, 3, 5: the median is k = 2
    even = np.delete(np.arange(6), 2)  # eligible k = 3, 0, 1, 2: lower median k = 1, row 2 of the subset
    assert angles.representative_sequence(raw[even], gt[even])[0] == 2
    x = np.zeros_like(gt)
    x[:, 0] = 1.0
    assert angles.model_angle_summary(raw, x, gt)["representative"] == 4


def test_histogram_sd_is_the_sd_of_the_bin_centres():
    edges = angles.ANGLE_EDGES
    hist = np.random.default_rng(4).integers(0, 50, size=len(edges) - 1)
    centres = np.repeat((edges[:-1] + edges[1:]) / 2, hist)
    assert angles.histogram_sd(hist) == pytest.approx(centres.std(), rel=1e-12)
    assert np.isnan(angles.histogram_sd(np.zeros_like(hist)))


def test_default_summary_is_scale_free_and_adds_across_models(two_models):
    """Relative grad-times-input: a map and the same map times 7.3 summarise identically but for the
    stored scale, so models of any scale combine without shared absolute bins."""
    a, _, _ = two_models
    s1 = angles.model_angle_summary(*a)
    s2 = angles.model_angle_summary(a[0] * 7.3, a[1], a[2])
    for key in s1:
        if key == "gti_scale":
            assert float(s2[key]) == pytest.approx(7.3 * float(s1[key]))
        else:
            np.testing.assert_allclose(s2[key], s1[key], rtol=1e-9, err_msg=key)
    combined = angles.combine_summaries([s1, s2])
    assert combined["gti_hist_raw"].sum() == 2 * s1["gti_hist_raw"].sum()
