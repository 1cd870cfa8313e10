"""The training monitor: the angle spread, the map scores against the metrics they stand for, and the epoch hook
against direct computations, for one model and for the members of an ensemble."""

import copy

import numpy as np
import pytest
import torch
from random_maps import random_maps
from sklearn.metrics import average_precision_score, roc_auc_score

from gradcorr.attribution import attribute
from gradcorr.correction import correct, simplex_angle
from gradcorr.data.synthetic import generate_billboard
from gradcorr.kld import attr_mean_kld, kmer_counts, kmer_kld
from gradcorr.metrics import attribution_snr, interpretability_scores
from gradcorr.models.architectures import build_model
from gradcorr.models.ensemble import EnsembleCNN, inference_ensemble
from gradcorr.models.training import TrainConfig, predict, train
from gradcorr.monitor import GROUND_TRUTH_FREE, MONITOR_SCORES, angle_spread, epoch_hook, map_scores

MAP_SCORES = [s for s in MONITOR_SCORES if s not in ("auroc", "aupr")]


# --- angle_spread ----------------------------------------------------------------------------------------------

def test_angle_spread_by_hand():
    """Columns (1,1,1,1): 90 degrees; (1,-1,0,0): 0; (2,0,0,0): asin(2 / (2 * 2)) = 30; a zero column: left out."""
    raw = np.array([[1.0, 1.0, 1.0, 1.0], [1.0, -1.0, 0.0, 0.0], [2.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0]]).T[None]
    assert angle_spread(raw) == pytest.approx(np.std([90.0, 0.0, 30.0]), rel=1e-9)
    assert np.isnan(angle_spread(np.zeros((2, 4, 5))))
    assert angle_spread(correct(np.random.default_rng(0).normal(size=(3, 4, 20)))) == pytest.approx(0.0, abs=1e-6)


def test_angle_spread_is_the_sd_of_the_simplex_angles_of_every_nonzero_position():
    raw, _, _ = random_maps(12, 60, seed=1)  # the first 3 positions of each map are zero vectors
    angles = simplex_angle(raw)
    assert np.isnan(angles[:, :3]).all() and np.isfinite(angles[:, 3:]).all()
    assert angle_spread(raw) == pytest.approx(float(np.std(angles[:, 3:])), rel=1e-12)
    # directly: asin(sum / (sqrt(4) |g|)) in degrees
    g = raw[:, :, 3:]
    direct = np.degrees(np.arcsin(g.sum(axis=1) / (2 * np.linalg.norm(g, axis=1))))
    assert angle_spread(raw) == pytest.approx(float(direct.std()), rel=1e-9)
    assert angle_spread(raw.astype(np.float32)) == pytest.approx(float(direct.std()), rel=1e-5)


# --- map_scores ------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def maps():
    return random_maps(16, 80, seed=2)


def test_map_scores_are_the_metrics_of_the_raw_and_the_corrected_maps(maps):
    raw, x, gt = maps
    # the k-mer prior of a larger set holding x (as epoch_hook passes the whole evaluation set's)
    other = np.concatenate([x, random_maps(30, 80, seed=3)[1]])
    kmer = {"k": 4, "percentile": 80.0, "buffer": 1}
    attr_mean = {"window": 5, "percentile": 85.0}
    found = map_scores(raw, x, gt, prior={4: kmer_counts(other, 4)}, kmer=kmer, attr_mean=attr_mean, threshold=0.2,
                       snr_top_k=5)
    assert set(found) == set(MAP_SCORES)
    corrected = correct(raw)
    for kind, m in (("raw", raw), ("corrected", corrected)):
        interp = interpretability_scores(m, x, gt, threshold=0.2)
        assert found[f"cosine_{kind}"] == pytest.approx(interp["cosine"], rel=1e-12)
        assert found[f"interp_auroc_{kind}"] == pytest.approx(interp["auroc"], rel=1e-12)
        assert found[f"interp_aupr_{kind}"] == pytest.approx(interp["aupr"], rel=1e-12)
        snr = attribution_snr(m, x, gt, threshold=0.2, top_k=5).mean()
        assert found[f"snr_{kind}"] == pytest.approx(float(snr), rel=1e-12)
    assert found["snr_raw"] != pytest.approx(found["snr_corrected"])  # two different maps were scored
    assert found["kld_kmer"] == pytest.approx(kmer_kld(corrected, x, k=4, percentile=80.0, buffer=1,
                                                       prior=kmer_counts(other, 4)), rel=1e-12)
    assert found["kld_attr_mean"] == pytest.approx(attr_mean_kld(corrected, window=5, percentile=85.0), rel=1e-12)
    assert found["angle_sd"] == pytest.approx(angle_spread(raw), rel=1e-12)
    # without a prior, the k-mers of x themselves; the prior given above made a difference
    default = map_scores(raw, x, scores=["kld_kmer"], kmer=kmer)["kld_kmer"]
    assert default == pytest.approx(kmer_kld(corrected, x, k=4, percentile=80.0, buffer=1, prior=kmer_counts(x, 4)))
    assert default != pytest.approx(found["kld_kmer"])


def test_map_scores_gives_only_what_is_asked_and_needs_the_truth_for_the_truth_scores(maps):
    raw, x, gt = maps
    assert set(map_scores(raw, x, gt, scores=["snr_corrected", "angle_sd"])) == {"snr_corrected", "angle_sd"}
    free = map_scores(raw, x, scores=GROUND_TRUTH_FREE)  # no ground truth needed
    assert set(free) == set(GROUND_TRUTH_FREE) and all(np.isfinite(v) for v in free.values())
    for needs_truth in ("cosine_raw", "interp_auroc_corrected", "interp_aupr_raw", "snr_raw", "snr_corrected"):
        with pytest.raises(ValueError, match="ground truth"):
            map_scores(raw, x, scores=["angle_sd", needs_truth])
    assert map_scores(raw, x, gt, scores=[]) == {}


# --- epoch_hook ------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def setting():
    """A small billboard dataset, its test split as the evaluation set, and two cnn_consistency models (with
    BatchNorm): one trained for an epoch, one as built."""
    d = generate_billboard(n_positive=150, n_negative=150, seed=3)
    torch.manual_seed(0)
    trained = build_model("cnn_consistency", activation="exp", n_filters=8, kernel_size=9)
    tensors = {k: torch.as_tensor(v) for k, v in d.items()}
    trained, _ = train(trained, tensors["x_train"], tensors["y_train"], tensors["x_valid"], tensors["y_valid"],
                       TrainConfig(max_epochs=1, batch_size=50, log_every=0))
    torch.manual_seed(1)
    fresh = build_model("cnn_consistency", activation="exp", n_filters=8, kernel_size=9)
    return d, [trained.train(), fresh.train()]


def test_epoch_hook_scores_are_the_direct_scores_of_the_model(setting):
    d, models = setting
    x, y, gt = d["x_test"], d["y_test"], d["model_test"]
    hook = epoch_hook(x, y, gt, n_positive=12, prefix="test_", kmer={"k": 4}, snr_top_k=5)
    positives = [i for i, label in enumerate(y.ravel()) if label == 1][:12]
    assert len(positives) == 12 and len(x) > 12
    for model in models:
        (row,) = hook(model, 1)
        assert set(row) == {f"test_{s}" for s in MONITOR_SCORES}
        p = predict(model, torch.as_tensor(x)).numpy()
        assert row["test_auroc"] == pytest.approx(roc_auc_score(y.ravel(), p), rel=1e-9)
        assert row["test_aupr"] == pytest.approx(average_precision_score(y.ravel(), p), rel=1e-9)
        raw = attribute(model, x[positives], "saliency")
        expected = map_scores(raw, x[positives], gt[positives], scores=MAP_SCORES, prior={4: kmer_counts(x, 4)},
                              kmer={"k": 4}, snr_top_k=5)
        for name, value in expected.items():
            assert row[f"test_{name}"] == pytest.approx(value, rel=1e-6, abs=1e-9), name
    assert hook(models[0], 1)[0]["test_angle_sd"] != pytest.approx(hook(models[1], 1)[0]["test_angle_sd"])


def test_epoch_hook_leaves_the_model_and_the_random_state_as_it_found_them(setting):
    d, models = setting
    hook = epoch_hook(d["x_test"], d["y_test"], d["model_test"], n_positive=8)
    model = copy.deepcopy(models[0])
    for training in (True, False):
        model.train(training)
        state = copy.deepcopy(model.state_dict())
        flags = [p.requires_grad for p in model.parameters()]
        rng = torch.get_rng_state()
        hook(model, 1)
        assert all(m.training == training for m in model.modules())
        assert [p.requires_grad for p in model.parameters()] == flags
        assert torch.equal(torch.get_rng_state(), rng)
        for key, value in model.state_dict().items():  # BatchNorm statistics too
            assert torch.equal(value, state[key]), key


def test_epoch_hook_scores_each_member_of_an_ensemble_as_it_scores_it_alone(setting):
    d, models = setting
    hook = epoch_hook(d["x_test"], d["y_test"], d["model_test"], n_positive=10, prefix="v_")
    alone = [hook(model, 1)[0] for model in models]
    assert alone[0]["v_auroc"] != pytest.approx(alone[1]["v_auroc"])
    stacked = EnsembleCNN([copy.deepcopy(m) for m in models]).train()  # as the engine holds its members
    for ensemble in (inference_ensemble(models), stacked):
        rows = hook(ensemble, 2)
        assert len(rows) == 2
        for row, own in zip(rows, alone):
            assert set(row) == set(own)
            for name, value in own.items():
                assert row[name] == pytest.approx(value, rel=1e-4, abs=1e-6), name
    assert stacked.training


def test_epoch_hook_without_labels_attributes_the_first_sequences_and_refuses_unknown_scores(setting):
    d, models = setting
    x = d["x_test"]
    hook = epoch_hook(x, scores=["angle_sd", "kld_attr_mean"], n_positive=5)
    (row,) = hook(models[1], 1)
    raw = attribute(models[1], x[:5], "saliency")
    assert row == pytest.approx(map_scores(raw, x[:5], scores=["angle_sd", "kld_attr_mean"]), rel=1e-6)
    with pytest.raises(ValueError, match="unknown monitor score"):
        epoch_hook(x, d["y_test"], scores=["auroc", "saliency_auroc"])
    with pytest.raises(ValueError, match="labels"):
        epoch_hook(x, scores=["aupr"])


def test_training_with_the_monitor_trains_as_without_it(setting):
    d, _ = setting
    t = {k: torch.as_tensor(v) for k, v in d.items()}
    config = TrainConfig(max_epochs=2, batch_size=50, seed=4, log_every=0)
    hook = epoch_hook(d["x_valid"], d["y_valid"], d["model_valid"], n_positive=6, prefix="valid_",
                      scores=["auroc", "interp_auroc_corrected", "angle_sd"])
    runs = []
    for hooks in ([], [hook]):
        torch.manual_seed(2)
        model = build_model("cnn_consistency", activation="relu", n_filters=8, kernel_size=9)
        runs.append(train(model, t["x_train"], t["y_train"], t["x_valid"], t["y_valid"], config, hooks=hooks))
    (bare, _), (monitored, history) = runs
    for key, value in bare.state_dict().items():
        assert torch.equal(monitored.state_dict()[key], value), key
    assert [h["epoch"] for h in history] == [0, 1, 2]
    assert all({"valid_auroc", "valid_interp_auroc_corrected", "valid_angle_sd"} <= set(h) for h in history)
    # the validation AUROC the protocol records is the hook's auroc on the same sequences
    assert [h["valid_auroc"] for h in history[1:]] == pytest.approx([h["val_auroc"] for h in history[1:]], rel=1e-9)
