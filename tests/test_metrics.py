"""Tests for gradcorr.metrics: hand-computed cases and per-sequence agreement with scikit-learn."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import (
    auc,
    average_precision_score,
    precision_recall_curve,
    roc_auc_score,
)

from gradcorr import metrics

BG = [0.25, 0.25, 0.25, 0.25]


# --------------------------------------------------------------------------- hand-computed example
# One sequence, L = 6, observed letters A C G T A C.
#   position            0        1     2     3                      4                   5
#   model column        one-hot  bg    bg    [.3,.25,.25,.2]        [.7,.1,.1,.1]       bg
#   information I       2        0     0     0.014525 (ambiguous)   0.643221            0
#   label (I > 0.1)     pos      neg   neg   left out               pos                 neg
#   grad x input        3        1     2     0.5                    0.5                 0.1
# AUROC: pairs (pos, neg) = 2 x 3 = 6; score 3 beats all 3 negatives, score 0.5 beats only 0.1 -> 4/6.
# AUPR (trapezoid, published): included scores descending 3P 2N 1N 0.5P 0.1N give (recall, precision)
#   (0,1) start, (.5,1), (.5,.5), (.5,1/3), (1,.5), (1,.4) -> area .5*1 + .5*(1/3+1/2)/2 = 17/24.
#   (average_precision_score would give .5*1 + .5*.5 = 0.75: a different number.)
# With negatives="rest" position 3 becomes a negative tied with the positive at 0.5:
#   AUROC = (4 + 1 + 0.5) / 8 = 0.6875; PR points (.5,1) (.5,.5) (.5,1/3) (1,.4) (1,1/3)
#   -> AUPR = .5 + .5*(1/3 + .4)/2 = 41/60.
# Cosine with attr = score at the observed letter, 0 elsewhere: M - .25 is non-zero at 0, 3, 4 only:
#   dot = 3*.75 + .5*(-.05) + .5*.45 = 2.45; |attr|^2 = 9+1+4+.25+.25+.01 = 14.51;
#   |M-.25|^2 = (.5625+.1875) + (.0025+.0025) + (.2025+.0675) = 1.025.
HAND_SCORES = np.array([3.0, 1.0, 2.0, 0.5, 0.5, 0.1])
HAND_LETTERS = [0, 1, 2, 3, 0, 1]


def _hand_example(off_letter_noise: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    cols = [[1.0, 0, 0, 0], BG, BG, [0.3, 0.25, 0.25, 0.2], [0.7, 0.1, 0.1, 0.1], BG]
    model = np.array(cols).T[None]  # (1, 4, 6)
    x = np.zeros((1, 4, 6))
    x[0, HAND_LETTERS, np.arange(6)] = 1.0
    attr = np.zeros((1, 4, 6))
    if off_letter_noise:
        attr = np.random.default_rng(0).normal(size=(1, 4, 6))
    attr[0, HAND_LETTERS, np.arange(6)] = HAND_SCORES
    return attr, x, model


def test_hand_example_information_and_grad_times_input():
    attr, x, model = _hand_example(off_letter_noise=True)
    info = metrics.information_content(model)
    assert info.shape == (1, 6)
    np.testing.assert_allclose(info[0], [2, 0, 0, 0.014525, 0.643221, 0], atol=2e-6)
    np.testing.assert_allclose(metrics.grad_times_input(attr, x)[0], HAND_SCORES, rtol=0, atol=1e-15)


def test_hand_example_auroc_aupr_background_negatives():
    attr, x, model = _hand_example(off_letter_noise=True)
    auroc, aupr = metrics.interpretability_auc(attr, x, model)
    assert auroc.shape == aupr.shape == (1,)
    assert auroc[0] == pytest.approx(4 / 6, abs=1e-12)
    assert aupr[0] == pytest.approx(17 / 24, abs=1e-12)


def test_hand_example_rest_negatives_option():
    attr, x, model = _hand_example()
    auroc, aupr = metrics.interpretability_auc(attr, x, model, negatives="rest")
    assert auroc[0] == pytest.approx(0.6875, abs=1e-12)
    assert aupr[0] == pytest.approx(41 / 60, abs=1e-12)
    with pytest.raises(ValueError):
        metrics.interpretability_auc(attr, x, model, negatives="bogus")


def test_hand_example_cosine_and_scores():
    attr, x, model = _hand_example()
    expected = 2.45 / (np.sqrt(14.51) * np.sqrt(1.025))
    np.testing.assert_allclose(metrics.cosine_similarity(attr, model), [expected], rtol=1e-12)
    s = metrics.interpretability_scores(attr, x, model)
    assert set(s) == {"cosine", "auroc", "aupr"}
    assert s["cosine"] == pytest.approx(expected, rel=1e-12)
    assert s["auroc"] == pytest.approx(4 / 6, abs=1e-12)
    assert s["aupr"] == pytest.approx(17 / 24, abs=1e-12)


# --------------------------------------------------------------------------- information content
def test_information_content_extremes_and_reference():
    rng = np.random.default_rng(1)
    # one-hot columns give 2 bits, uniform columns 0 bits (up to the 1e-10 eps)
    onehot = np.eye(4)[:, rng.integers(0, 4, size=7)][None]
    np.testing.assert_allclose(metrics.information_content(onehot), 2.0, atol=1e-9)
    np.testing.assert_allclose(metrics.information_content(np.full((2, 4, 5), 0.25)), 0.0, atol=1e-8)
    # random Dirichlet columns vs an explicit float64 double loop
    m = rng.dirichlet(np.ones(4) * 0.7, size=(3, 9)).transpose(0, 2, 1)  # (3, 4, 9)
    ref = np.zeros((3, 9))
    for n in range(3):
        for pos in range(9):
            ref[n, pos] = 2.0 + sum(p * np.log2(p + 1e-10) for p in m[n, :, pos])
    np.testing.assert_allclose(metrics.information_content(m.astype(np.float32).astype(np.float64)), ref,
                               rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(metrics.information_content(m), ref, rtol=1e-12, atol=1e-12)
    # the alphabet size is read from the array: 20 letters, one-hot -> log2(20)
    np.testing.assert_allclose(metrics.information_content(np.eye(20)[None]), np.log2(20), atol=1e-9)


# --------------------------------------------------------------------------- cosine
def test_cosine_parallel_antiparallel_orthogonal_and_zero():
    rng = np.random.default_rng(2)
    model = _random_models(rng, 5, 60)
    target = model - 0.25
    np.testing.assert_allclose(metrics.cosine_similarity(3 * target, model), 1.0, rtol=1e-12)
    np.testing.assert_allclose(metrics.cosine_similarity(-3 * target, model), -1.0, rtol=1e-12)
    # orthogonal: remove the projection on the target from a random map, per sequence
    r = rng.normal(size=model.shape)
    coef = (r * target).sum(axis=(1, 2), keepdims=True) / (target * target).sum(axis=(1, 2), keepdims=True)
    np.testing.assert_allclose(metrics.cosine_similarity(r - coef * target, model), 0.0, atol=1e-12)
    # the correction direction (1,1,1,1) is orthogonal to M - 0.25 at every position
    np.testing.assert_allclose(metrics.cosine_similarity(np.ones_like(model), model), 0.0, atol=1e-12)
    # zero map, or all-background model: defined as 0
    out = metrics.cosine_similarity(np.zeros_like(model), model)
    assert np.array_equal(out, np.zeros(5))
    assert metrics.cosine_similarity(r, np.full_like(model, 0.25)).tolist() == [0.0] * 5


# --------------------------------------------------------------------------- agreement with sklearn
def _random_models(rng: np.random.Generator, n: int, length: int, max_motifs: int = 3) -> np.ndarray:
    """Background 0.25 with 0..max_motifs motifs of Dirichlet columns (some low-information ones)."""
    model = np.full((n, 4, length), 0.25)
    for i in range(n):
        for _ in range(rng.integers(0, max_motifs + 1)):
            w = int(rng.integers(4, 13))
            start = int(rng.integers(0, length - w))
            alpha = rng.choice([0.3, 1.0, 20.0])  # 20 gives many near-uniform, ambiguous columns
            model[i, :, start:start + w] = rng.dirichlet(np.ones(4) * alpha, size=w).T
    return model


def _random_batch(rng: np.random.Generator, n: int, length: int, decimals: int | None = 1):
    model = _random_models(rng, n, length)
    letters = (rng.random((n, 1, length)) > np.cumsum(model, axis=1)).sum(axis=1)
    x = np.zeros_like(model)
    np.put_along_axis(x, np.minimum(letters, 3)[:, None], 1.0, axis=1)
    attr = rng.normal(size=model.shape) + 1.5 * (model - 0.25)
    if decimals is not None:
        attr = np.round(attr, decimals)  # many tied grad-times-input scores
    return attr, x, model


def _sklearn_reference(attr, x, model, threshold, negatives):
    scores = (attr * x).sum(axis=1)
    info = 2.0 + (model * np.log2(model + 1e-10)).sum(axis=1)
    roc, pr = [], []
    for s, i in zip(scores, info):
        label = (i > threshold).astype(int)
        keep = (i > threshold) | (i == i.min()) if negatives == "background" else np.ones_like(label, bool)
        y, sc = label[keep], s[keep]
        if y.min() == y.max():
            roc.append(np.nan)
            pr.append(np.nan)
            continue
        roc.append(roc_auc_score(y, sc))
        precision, recall, _ = precision_recall_curve(y, sc)
        pr.append(auc(recall, precision))
    return np.array(roc), np.array(pr)


@pytest.mark.parametrize("negatives", ["background", "rest"])
@pytest.mark.parametrize("decimals", [1, None])
def test_auc_matches_sklearn_per_sequence(negatives, decimals):
    rng = np.random.default_rng(3)
    attr, x, model = _random_batch(rng, 200, 120, decimals)
    auroc, aupr = metrics.interpretability_auc(attr, x, model, negatives=negatives)
    ref_roc, ref_pr = _sklearn_reference(attr, x, model, 0.1, negatives)
    assert np.isnan(ref_roc).sum() > 0 and np.isfinite(ref_roc).sum() > 100  # both kinds present
    np.testing.assert_array_equal(np.isnan(auroc), np.isnan(ref_roc))
    np.testing.assert_allclose(auroc, ref_roc, rtol=1e-12, atol=1e-12, equal_nan=True)
    np.testing.assert_allclose(aupr, ref_pr, rtol=1e-12, atol=1e-12, equal_nan=True)
    # the published trapezoidal AUPR is not average precision: they differ on tied scores
    if decimals == 1:
        ok = np.flatnonzero(np.isfinite(ref_pr))
        scores = (attr * x).sum(axis=1)
        info = metrics.information_content(model)
        ap = []
        for j in ok:
            keep = (info[j] > 0.1) | (info[j] == info[j].min()) if negatives == "background" else slice(None)
            ap.append(average_precision_score(info[j][keep] > 0.1, scores[j][keep]))
        assert np.max(np.abs(np.array(ap) - aupr[ok])) > 1e-3


def test_auc_threshold_changes_labels():
    rng = np.random.default_rng(4)
    attr, x, model = _random_batch(rng, 60, 80)
    for thr in (0.01, 0.5):
        got = metrics.interpretability_auc(attr, x, model, threshold=thr)
        ref = _sklearn_reference(attr, x, model, thr, "background")
        np.testing.assert_allclose(got[0], ref[0], rtol=1e-12, atol=1e-12, equal_nan=True)
        np.testing.assert_allclose(got[1], ref[1], rtol=1e-12, atol=1e-12, equal_nan=True)


def test_nan_for_missing_class_and_ignored_by_means():
    rng = np.random.default_rng(5)
    attr, x, model = _random_batch(rng, 4, 50, decimals=None)
    model[0] = 0.25  # no positives
    model[1] = np.eye(4)[:, rng.integers(0, 4, 50)]  # every position I = 2: no negatives
    model[2:, :, 10:20] = np.eye(4)[:, [0, 1, 2, 3, 0, 1, 2, 3, 0, 1]]  # valid sequences
    auroc, aupr = metrics.interpretability_auc(attr, x, model)
    assert np.isnan(auroc[:2]).all() and np.isnan(aupr[:2]).all()
    assert np.isfinite(auroc[2:]).all() and np.isfinite(aupr[2:]).all()
    s = metrics.interpretability_scores(attr, x, model)
    assert s["auroc"] == pytest.approx(auroc[2:].mean(), abs=1e-12)
    assert s["aupr"] == pytest.approx(aupr[2:].mean(), abs=1e-12)
    assert s["cosine"] == pytest.approx(metrics.cosine_similarity(attr, model).mean(), abs=1e-12)
    # all sequences undefined: NaN means, no warning raised as error
    empty = metrics.interpretability_scores(attr[:1], x[:1], model[:1])
    assert np.isnan(empty["auroc"]) and np.isnan(empty["aupr"])


def test_perfect_attribution_gives_one():
    rng = np.random.default_rng(6)
    attr, x, model = _random_batch(rng, 100, 100, decimals=None)
    info = metrics.information_content(model)
    perfect = x * info[:, None, :]  # grad-times-input = I
    np.testing.assert_allclose(metrics.grad_times_input(perfect, x), info, rtol=1e-15)
    auroc, aupr = metrics.interpretability_auc(perfect, x, model)
    ok = np.isfinite(auroc)
    assert ok.sum() > 50
    np.testing.assert_allclose(auroc[ok], 1.0, rtol=0, atol=1e-12)
    np.testing.assert_allclose(aupr[ok], 1.0, rtol=0, atol=1e-12)
    # and the reversed ranking gives AUROC 0
    np.testing.assert_allclose(metrics.interpretability_auc(-perfect, x, model)[0][ok], 0.0, atol=1e-12)


def test_torch_input_matches_numpy():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(7)
    attr, x, model = _random_batch(rng, 500, 200, decimals=None)
    auroc, aupr = metrics.interpretability_auc(attr, x, model)
    t_auroc, t_aupr = metrics.interpretability_auc(
        torch.tensor(attr, dtype=torch.float64, requires_grad=True), torch.tensor(x), torch.tensor(model))
    np.testing.assert_array_equal(t_auroc, auroc)
    np.testing.assert_array_equal(t_aupr, aupr)


# --------------------------------------------------------------------------- SNR
def _snr_case():
    # L = 8: positions 0, 1 motif (one-hot, I = 2); position 2 ambiguous (I = 0.0145, never noise);
    # positions 3..7 background.
    cols = [[1.0, 0, 0, 0], [0, 1.0, 0, 0], [0.3, 0.25, 0.25, 0.2]] + [BG] * 5
    m = np.array(cols).T
    model = np.stack([m, m, np.full((4, 8), 0.25)])
    gti = np.array([
        [4, 2, 100, 1.0, 0.5, 0.2, -3, 0.6],   # signal 3; positive background 1, .5, .2, .6
        [4, 2, 100, 1.0, -0.5, -0.2, -3, 0.6],  # signal 3; only two positive background scores
        [4, 2, 100, 1.0, 0.5, 0.2, -3, 0.6],   # no motif: signal NaN
    ])
    x = np.zeros((3, 4, 8))
    x[:, 0, :] = 1.0
    attr = np.zeros((3, 4, 8))
    attr[:, 0, :] = gti
    attr[:, 1:, :] = 7.0  # off-letter scores must not matter
    return attr, x, model


def test_attribution_snr_hand_case():
    attr, x, model = _snr_case()
    # top_k = 3: seq 0 noise (1 + .6 + .5)/3 = .7 -> 3/.7; seq 1 has 2 < 3 positives -> noise 0 -> inf -> 0;
    # seq 2 signal NaN -> 0.
    np.testing.assert_allclose(metrics.attribution_snr(attr, x, model, top_k=3), [3 / 0.7, 0.0, 0.0],
                               rtol=1e-12)
    # top_k = 2: seq 0 noise (1 + .6)/2 = .8 -> 3.75; seq 1 noise (1 + .6)/2 -> 3.75
    np.testing.assert_allclose(metrics.attribution_snr(attr, x, model, top_k=2), [3.75, 3.75, 0.0],
                               rtol=1e-12)
    # top_k larger than L: never enough noise positions -> 0
    np.testing.assert_array_equal(metrics.attribution_snr(attr, x, model, top_k=50), [0.0, 0.0, 0.0])
    # default top_k = 10 with only 5 background positions -> 0
    np.testing.assert_array_equal(metrics.attribution_snr(attr, x, model), [0.0, 0.0, 0.0])
    with pytest.raises(ValueError):
        metrics.attribution_snr(attr, x, model, top_k=0)


def test_attribution_snr_matches_loop_reference():
    rng = np.random.default_rng(8)
    attr, x, model = _random_batch(rng, 80, 150, decimals=1)
    scores = (attr * x).sum(axis=1)
    info = metrics.information_content(model)
    ref = []
    for s, i in zip(scores, info):
        pos = i > 0.1
        signal = s[pos].mean() if pos.any() else np.nan
        bg = s[(i == i.min()) & ~pos & (s > 0)]
        noise = np.sort(bg)[::-1][:10].mean() if bg.size >= 10 else 0.0
        with np.errstate(divide="ignore", invalid="ignore"):
            r = np.float64(signal) / noise
        ref.append(r if np.isfinite(r) else 0.0)
    got = metrics.attribution_snr(attr, x, model)
    np.testing.assert_allclose(got, ref, rtol=1e-12, atol=1e-12)
    assert (got != 0).sum() > 20


# --------------------------------------------------------------------------- classification
@pytest.mark.parametrize("shape", [(300,), (300, 1)])
def test_classification_scores_match_sklearn(shape):
    rng = np.random.default_rng(9)
    y = rng.integers(0, 2, size=300)
    p = np.clip(0.3 * y + rng.random(300) * 0.7, 0, 1).round(2)
    out = metrics.classification_scores(y.reshape(shape), p.reshape(shape))
    assert out == {"auroc": pytest.approx(roc_auc_score(y, p), abs=1e-15),
                   "aupr": pytest.approx(average_precision_score(y, p), abs=1e-15)}
    assert isinstance(out["auroc"], float) and isinstance(out["aupr"], float)
    assert 0.5 < out["auroc"] < 1.0


def test_pearson_ignores_non_finite_rows_and_needs_three():
    frame = pd.DataFrame({"a": [1.0, 2.0, 3.0, np.nan, 5.0], "b": [2.0, 4.1, 6.0, 1.0, np.inf]})
    assert metrics.pearson(frame, "a", "b") == pytest.approx(np.corrcoef([1, 2, 3], [2, 4.1, 6])[0, 1])
    assert np.isnan(metrics.pearson(frame.iloc[:2], "a", "b"))


def test_spearman_is_pearson_of_average_ranks_as_scipy():
    x = [1.0, 2.0, 2.0, 4.0, 7.0, np.nan, 3.0]
    y = [10.0, 30.0, 20.0, 40.0, 50.0, 1.0, np.inf]
    # finite pairs (1, 10), (2, 30), (2, 20), (4, 40), (7, 50): ranks x 1, 2.5, 2.5, 4, 5 and y 1, 3, 2, 4, 5
    rx, ry = [1, 2.5, 2.5, 4, 5], [1, 3, 2, 4, 5]
    assert metrics.spearman(x, y) == pytest.approx(np.corrcoef(rx, ry)[0, 1])
    stats = pytest.importorskip("scipy.stats")
    ok = np.isfinite(x) & np.isfinite(y)
    assert metrics.spearman(x, y) == pytest.approx(stats.spearmanr(np.asarray(x)[ok], np.asarray(y)[ok])[0])
    assert metrics.spearman([1, 2, 3], [3, 9, 27]) == pytest.approx(1.0)  # any monotone function
    assert np.isnan(metrics.spearman([1, 2], [2, 1]))  # fewer than three pairs
    assert np.isnan(metrics.spearman([1, 1, 1], [1, 2, 3]))  # constant
    with pytest.raises(ValueError, match="differ in length"):
        metrics.spearman([1, 2, 3], [1, 2])
