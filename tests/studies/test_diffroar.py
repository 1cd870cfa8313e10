"""The DiffROAR study's stages on tiny inputs: regimes, rankings, scoring, retraining on a planted signal whose
answer is known, feature leakage and the tables."""

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.metrics import roc_auc_score

from gradcorr.attribution import attribute
from gradcorr.data.io import read_arrays, read_attrs, read_tsv, read_xy, write_arrays, write_tsv
from gradcorr.data.leakage import read_leakage
from gradcorr.models.architectures import build_model
from gradcorr.models.checkpoint import save_model
from gradcorr.models.training import predict
from gradcorr.studies import diffroar as study
from gradcorr.studies import model_runs
from gradcorr.workflow.runtime import derive_seed

L = 100
SPLIT_SIZES = {"train": 400, "valid": 100, "test": 200}
MOTIF = np.array([0, 1, 2, 3, 3, 2, 1, 0])  # ACGTTGCA, planted at positions 40..47 of the positives
SIGNAL = slice(40, 48)
MODELS = {"n_filters": 24, "kernel_size": 19}
SHAPE = {"activation": "relu", "input_length": L, "alphabet": 4}
TRAINING = {"max_epochs": 3, "batch_size": 32, "learning_rate": 0.01, "lr_schedule": "constant",
            "early_stopping_patience": None, "l2": 0, "log_every": 0}
MODEL_TYPE = "cnn_shallow_relu"


def _one_hot(letters):
    return np.eye(4, dtype=np.float32)[letters].transpose(0, 2, 1).copy()


def _planted_split(n, rng):
    """n sequences, half labelled 1; a positive holds MOTIF at SIGNAL, a negative random letters there."""
    letters = rng.integers(0, 4, (n, L))
    y = rng.permutation(np.arange(n) % 2).astype(np.float32)
    letters[y == 1, SIGNAL] = MOTIF
    return _one_hot(letters), y[:, None]


def _signal_scores(n):
    """A ranking that puts the planted positions first and ties everything else low."""
    scores = np.zeros((n, L), np.float32)
    scores[:, SIGNAL] = 1
    return scores


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    """The planted-signal dataset and a scores file: raw ranks the signal highest, corrected ranks it lowest."""
    tmp = tmp_path_factory.mktemp("diffroar")
    rng = np.random.default_rng(0)
    arrays, scores = {}, {}
    for split, n in SPLIT_SIZES.items():
        arrays[f"x_{split}"], arrays[f"y_{split}"] = _planted_split(n, rng)
        scores[f"raw_{split}"] = _signal_scores(n) + rng.random((n, L), dtype=np.float32) * 0.01
        scores[f"corrected_{split}"] = 1 - scores[f"raw_{split}"]
    data, scored = tmp / "planted.h5", tmp / "scores.h5"
    write_arrays(data, arrays)
    write_arrays(scored, scores, {"model_type": MODEL_TYPE, "method": "saliency"})
    return data, scored, arrays, scores


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    """An untrained CNN-shallow-relu for sequences of length 100 (inference mode), saved as trial 3."""
    torch.manual_seed(0)
    model = build_model("cnn_shallow", **SHAPE).eval()
    path = tmp_path_factory.mktemp("model") / "standard_3.pt"
    save_model(path, model, "cnn_shallow", SHAPE, [], {}, trial=3, regime="standard")
    return model, path


def _observed(maps, x):
    """|sum_a maps * x|, by hand."""
    return np.abs(np.einsum("nal,nal->nl", maps.astype(np.float64), x.astype(np.float64)))


# ---------------------------------------------------------------------------------------------------
# Regimes


def test_regime_training_sets_the_regularizer_and_keeps_the_training():
    regularizers = {"noise": {"noise_sd": 0.3}, "adversarial": {"adv_eps": 0.1, "adv_steps": 5}}
    training = {"max_epochs": 7, "batch_size": 50, "learning_rate": 0.002, "regularizer": {"name": "mixup"}}
    standard = study.regime_training("standard", regularizers, training)
    assert standard == {"max_epochs": 7, "batch_size": 50, "learning_rate": 0.002, "regularizer": {"name": "none"}}
    noise = study.regime_training("noise", regularizers, training)
    assert noise["regularizer"] == {"name": "noise", "noise_sd": 0.3}
    adversarial = study.regime_training("adversarial", regularizers, training)
    assert adversarial["regularizer"] == {"name": "adversarial", "adv_eps": 0.1, "adv_steps": 5}
    for protocol in (noise, adversarial):
        assert {k: protocol[k] for k in ("max_epochs", "batch_size", "learning_rate")} == \
            {"max_epochs": 7, "batch_size": 50, "learning_rate": 0.002}
    # without settings, the regularizer's own defaults
    assert study.regime_training("noise", {}, {})["regularizer"] == {"name": "noise"}
    assert training["regularizer"] == {"name": "mixup"} and "noise_sd" not in regularizers["adversarial"]
    with pytest.raises(ValueError, match="'mixup'"):
        study.regime_training("mixup", regularizers, training)


def test_split_model_type():
    assert study.split_model_type("cnn_deep_exp") == ("cnn_deep", "exp")
    assert study.split_model_type("cnn_shallow_relu") == ("cnn_shallow", "relu")


# ---------------------------------------------------------------------------------------------------
# Rankings


def test_method_rankings_are_the_files_scores(planted):
    data, scored, _, scores = planted
    for kind in ("raw", "corrected"):
        ranked = study.ranking_scores(data, "saliency", kind, scored)
        assert set(ranked) == set(SPLIT_SIZES)
        for split in SPLIT_SIZES:
            np.testing.assert_array_equal(ranked[split], scores[f"{kind}_{split}"])


def test_input_agnostic_ranking_is_the_mean_raw_training_score(planted):
    data, scored, _, scores = planted
    mean = scores["raw_train"].astype(np.float64).mean(axis=0)
    ranked = study.ranking_scores(data, study.INPUT_AGNOSTIC, "baseline", scored)
    for split, n in SPLIT_SIZES.items():
        assert ranked[split].shape == (n, L)
        np.testing.assert_allclose(ranked[split], np.tile(mean, (n, 1)), rtol=1e-6)
    # the corrected scores (or the split's own) play no part
    assert not np.allclose(ranked["test"][0], scores["raw_test"].mean(axis=0), rtol=1e-6, atol=0)


def test_random_ranking_is_seeded_by_split_and_seed(planted):
    data, _, _, _ = planted
    first = study.ranking_scores(data, study.RANDOM, "baseline", None, seed=4)
    again = study.ranking_scores(data, study.RANDOM, "baseline", None, seed=4)
    other = study.ranking_scores(data, study.RANDOM, "baseline", None, seed=5)
    for split, n in SPLIT_SIZES.items():
        assert first[split].shape == (n, L)
        assert ((first[split] >= 0) & (first[split] < 1)).all()
        np.testing.assert_array_equal(first[split], again[split])
        assert not np.allclose(first[split], other[split])
    assert not np.allclose(first["train"][:100], first["valid"])
    assert not np.allclose(first["valid"], first["test"][:100])


def test_a_method_ranking_needs_a_scores_file(planted):
    data, _, _, _ = planted
    for method in ("saliency", study.INPUT_AGNOSTIC):
        with pytest.raises(ValueError, match=repr(method)):
            study.ranking_scores(data, method, "raw", None)


# ---------------------------------------------------------------------------------------------------
# Scores of a model


def test_score_model_writes_the_observed_scores_of_raw_and_corrected_maps(planted, tiny_model, tmp_path):
    data, _, arrays, _ = planted
    model, path = tiny_model
    out = tmp_path / "scores.h5"
    study.score_model(data, path, out, model_type=MODEL_TYPE, regime="standard", trial=3, method="saliency",
                      options={}, output="logit", score="observed", batch_size=128, seed=0, device="cpu")
    found = read_arrays(out)
    assert set(found) == {f"{k}_{s}" for k in ("raw", "corrected") for s in SPLIT_SIZES}
    for split, n in SPLIT_SIZES.items():
        x = arrays[f"x_{split}"]
        maps = attribute(model, x, "saliency", output="logit").astype(np.float64)
        corrected = maps - maps.mean(axis=1, keepdims=True)
        assert found[f"raw_{split}"].shape == (n, L) and found[f"raw_{split}"].dtype == np.float32
        np.testing.assert_allclose(found[f"raw_{split}"], _observed(maps, x), rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(found[f"corrected_{split}"], _observed(corrected, x), rtol=1e-5, atol=1e-7)
        assert not np.allclose(found[f"raw_{split}"], found[f"corrected_{split}"])
    attrs = read_attrs(out)
    p = predict(model, torch.as_tensor(arrays["x_test"])).numpy()
    y = arrays["y_test"][:, 0]
    assert attrs["test_auroc"] == pytest.approx(roc_auc_score(y, p))
    assert attrs["test_accuracy"] == pytest.approx(np.mean((p >= 0.5) == (y == 1)))
    assert (attrs["model_type"], attrs["regime"], attrs["trial"], attrs["method"], attrs["output"],
            attrs["score"]) == (MODEL_TYPE, "standard", 3, "saliency", "logit", "observed")


def test_score_model_of_a_stochastic_method_is_seeded(planted, tiny_model, tmp_path):
    data, _, _, _ = planted
    _, path = tiny_model
    found = {}
    for name, seed in (("a", 0), ("b", 0), ("c", 1)):
        out = tmp_path / f"{name}.h5"
        study.score_model(data, path, out, model_type=MODEL_TYPE, regime="noise", trial=0, method="smoothgrad",
                          options={"n_samples": 2, "noise_sd": 0.2}, output="logit", score="observed",
                          batch_size=128, seed=seed, device="cpu")
        found[name] = read_arrays(out)
    for key in found["a"]:
        np.testing.assert_array_equal(found["a"][key], found["b"][key])
        assert not np.allclose(found["a"][key], found["c"][key])


# ---------------------------------------------------------------------------------------------------
# Predictive power


def test_power_of_the_planted_ranking_top_against_bottom(planted, tmp_path):
    """Keeping the planted positions (top 10%) predicts the label; keeping the bottom 10% cannot. With the
    corrected kind (the signal ranked lowest) it is the other way round. The same seed gives the same file."""
    data, scored, _, _ = planted
    kwargs = dict(scores=scored, model_type=MODEL_TYPE, regime="standard", trial=0, method="saliency",
                  fill="zeros", fractions=[0.1], retrainings=2, models=MODELS, training=TRAINING, seed=7,
                  device="cpu")
    out = {name: tmp_path / f"{name}.tsv" for name in ("raw", "again", "corrected")}
    study.power_job(data, out["raw"], kind="raw", **kwargs)
    study.power_job(data, out["again"], kind="raw", **kwargs)
    study.power_job(data, out["corrected"], kind="corrected", **kwargs)
    assert out["raw"].read_bytes() == out["again"].read_bytes()
    rows = read_tsv(out["raw"])
    assert list(rows.columns) == study.POWER_COLUMNS and len(rows) == 1 * 2 * 2
    assert sorted(zip(rows["keep"], rows["retraining"])) == [("bottom", 0), ("bottom", 1), ("top", 0), ("top", 1)]
    assert (rows[["model_type", "regime", "trial", "method", "kind", "fill", "fraction"]].drop_duplicates()
            .values.tolist() == [[MODEL_TYPE, "standard", 0, "saliency", "raw", "zeros", 0.1]])
    assert (rows["epochs"] == TRAINING["max_epochs"]).all()
    top, bottom = (rows[rows["keep"] == keep].set_index("retraining") for keep in ("top", "bottom"))
    assert (top["auroc"] > 0.9).all() and (bottom["auroc"] < 0.7).all(), rows
    assert (top["accuracy"] > bottom["accuracy"]).all()
    flipped = read_tsv(out["corrected"])
    assert (flipped["kind"] == "corrected").all()
    top, bottom = (flipped[flipped["keep"] == keep] for keep in ("top", "bottom"))
    assert (bottom["auroc"] > 0.9).all() and (top["auroc"] < 0.7).all(), flipped


def test_retraining_r_starts_alike_in_every_ranking_fraction_and_keep(planted, monkeypatch):
    """Each call trains fresh members whose weights and config seed depend only on the retraining (the seed
    `derive_seed(seed, "diffroar-retrain", model_type, r)`), without the regime's regularizer, on the unmasked
    data: the top-k keeps the planted block, the bottom-k masks it."""
    data, scored, arrays, _ = planted
    calls = []

    def recording(members, splits, configs, device, names, **kwargs):  # no training: the inputs are the point
        calls.append({"states": [{k: v.clone() for k, v in m.state_dict().items()} for m in members],
                      "seeds": [c.seed for c in configs], "regularizers": [c.regularizer.name for c in configs],
                      "x": splits[0].numpy().copy(), "y": splits[1].numpy().copy(), "names": names})
        return members, [[{"epoch": 1, "val_auroc": 0.5}] for _ in members]

    monkeypatch.setattr(model_runs, "fit_members", recording)
    rows = {}
    for method in ("saliency", study.RANDOM):
        ranked = study.ranking_scores(data, method, "raw", scored, seed=7)
        rows[method] = study.predictive_power(
            data, ranked, model_type=MODEL_TYPE, fractions=[0.1, 0.3], fill="zeros", retrainings=2, models=MODELS,
            training={**TRAINING, "regularizer": {"name": "noise"}}, seed=7, device="cpu")
    assert len(calls) == 2 * 2 * 2
    seeds = [derive_seed(7, "diffroar-retrain", MODEL_TYPE, r) for r in range(2)]
    expected = []
    for s in seeds:
        torch.manual_seed(s)
        expected.append(build_model("cnn_shallow", **SHAPE, **MODELS).state_dict())
    for call in calls:
        assert call["seeds"] == seeds and call["regularizers"] == ["none", "none"]
        for state, want in zip(call["states"], expected):
            for name, value in want.items():
                torch.testing.assert_close(state[name], value, rtol=0, atol=0)
        np.testing.assert_array_equal(call["y"], arrays["y_train"])
    assert not torch.equal(expected[0]["0.weight"], expected[1]["0.weight"])
    # the saliency calls: top/bottom of 0.1, then of 0.3; the kept positions by hand
    x = arrays["x_train"]
    for call, (fraction, keep) in zip(calls[:4], [(0.1, "top"), (0.1, "bottom"), (0.3, "top"), (0.3, "bottom")]):
        kept = call["x"].sum(axis=1) > 0
        assert (kept.sum(axis=1) == round(fraction * L)).all()
        np.testing.assert_array_equal(call["x"], np.where(kept[:, None, :], x, 0))
        assert kept[:, SIGNAL].all() if keep == "top" else not kept[:, SIGNAL].any()
    for method, found in rows.items():
        assert [(r["fraction"], r["keep"], r["retraining"]) for r in found] == \
            [(f, k, r) for f in (0.1, 0.3) for k in ("top", "bottom") for r in range(2)]
        assert all(r["epochs"] == 1 for r in found)


def test_engines_give_the_same_predictive_power(planted, monkeypatch):
    """The vectorized engine and the sequential loop train the same members: the same losses epoch by epoch
    (to float rounding), the same epochs, and test scores within the rounding that Adam amplifies in the
    first convolution's bias (its gradient is 0 up to rounding, BatchNorm follows it)."""
    data, _, _, _ = planted
    ranked = {split: _signal_scores(n) for split, n in SPLIT_SIZES.items()}
    real, histories = model_runs.fit_members, {}

    def recording(*args, engine, **kwargs):
        result = real(*args, engine=engine, **kwargs)
        histories.setdefault(engine, []).append(result[1])
        return result

    monkeypatch.setattr(model_runs, "fit_members", recording)
    rows = {}
    for engine in ("vectorized", "sequential"):
        rows[engine] = pd.DataFrame(study.predictive_power(
            data, ranked, model_type=MODEL_TYPE, fractions=[0.1], fill="uniform", retrainings=2, models=MODELS,
            training={**TRAINING, "max_epochs": 1, "learning_rate": 0.003}, seed=3, engine=engine, device="cpu"))
    vec, seq = rows["vectorized"], rows["sequential"]
    pd.testing.assert_frame_equal(vec[["fraction", "keep", "retraining", "epochs"]],
                                  seq[["fraction", "keep", "retraining", "epochs"]])
    np.testing.assert_allclose(vec["auroc"], seq["auroc"], atol=0.02)  # seen: up to 5e-3
    np.testing.assert_allclose(vec["accuracy"], seq["accuracy"], atol=0.03)  # seen: up to 0.01
    losses = {e: [h["loss"] for call in calls for member in call for h in member if "loss" in h]
              for e, calls in histories.items()}
    assert len(losses["vectorized"]) == len(losses["sequential"]) == 2 * 2
    np.testing.assert_allclose(losses["vectorized"], losses["sequential"], rtol=1e-5)
    assert vec.loc[vec["keep"] == "top", "auroc"].min() > vec.loc[vec["keep"] == "bottom", "auroc"].max()


# ---------------------------------------------------------------------------------------------------
# Feature leakage


def test_make_leakage_dataset_places_the_same_blocks_apart(tmp_path):
    settings = {"n": 40, "block_length": 50}
    paths = {p: tmp_path / f"{p}.h5" for p in ("random", "fixed")}
    for placement, path in paths.items():
        study.make_leakage_dataset(path, placement=placement, settings=settings, seed=7)
    other = tmp_path / "other.h5"
    study.make_leakage_dataset(other, placement="random", settings=settings, seed=8)
    attrs = {p: read_attrs(path) for p, path in paths.items()}
    assert attrs["random"]["placement"] == "random" and attrs["fixed"]["placement"] == "fixed"
    assert attrs["random"]["seed"] == attrs["fixed"]["seed"] and attrs["random"]["length"] == 100
    sides = []
    for split in ("train", "valid", "test"):
        moved, fixed = read_leakage(paths["random"], split), read_leakage(paths["fixed"], split)
        assert (fixed["side"] == 0).all() and fixed["signal"][:, :50].all() and not fixed["signal"][:, 50:].any()
        np.testing.assert_array_equal(moved["y"], fixed["y"])
        right = moved["side"] == 1
        sides.append(moved["side"])
        for key in ("x", "model", "motifs", "signal"):
            swapped = np.concatenate([fixed[key][..., 50:], fixed[key][..., :50]], axis=-1)
            np.testing.assert_array_equal(moved[key][right], swapped[right])
            np.testing.assert_array_equal(moved[key][~right], fixed[key][~right])
        np.testing.assert_array_equal(moved["null"], ~moved["signal"])
        assert read_xy(paths["random"], split)[0].shape == (len(moved["y"]), 4, 100)
    sides = np.concatenate(sides)
    assert 0 < sides.mean() < 1  # both sides occur
    assert not np.array_equal(read_leakage(other, "train")["x"], read_leakage(paths["random"], "train")["x"])


def _leakage_test_dict():
    """Six sequences: the null block on the right for three, the left for two, and an all-zero sequence (its
    observed scores are 0: no share)."""
    rng = np.random.default_rng(2)
    x = _one_hot(rng.integers(0, 4, (6, L)))
    x[5] = 0
    null = np.zeros((6, L), bool)
    null[:3, 50:] = True
    null[3:, :50] = True
    motifs = rng.random((6, L)) < 0.2
    return {"x": x, "null": null, "motifs": motifs}


def test_leakage_rows_are_the_null_blocks_share(tiny_model):
    model, _ = tiny_model
    test = _leakage_test_dict()
    rows = study.leakage_rows(model, test, methods=["saliency"], options={}, output="logit", score="observed",
                              batch_size=64, seed=0)
    assert [(r["method"], r["kind"]) for r in rows] == [("saliency", "raw"), ("saliency", "corrected")]
    maps = attribute(model, test["x"], "saliency", output="logit").astype(np.float64)
    for row, m in zip(rows, (maps, maps - maps.mean(axis=1, keepdims=True))):
        scores = _observed(m, test["x"])
        shares = [scores[i][test["null"][i]].sum() / scores[i].sum() for i in range(5)]
        on_motifs = [scores[i][test["null"][i] & test["motifs"][i]].sum() / scores[i].sum() for i in range(5)]
        assert row["n"] == 5
        assert row["null_share"] == pytest.approx(np.mean(shares), rel=1e-5)
        assert row["null_share_sequences_sd"] == pytest.approx(np.std(shares), rel=1e-4)
        assert row["null_motif_share"] == pytest.approx(np.mean(on_motifs), rel=1e-5)
        assert 0 < row["null_motif_share"] < row["null_share"] < 1
    assert rows[0]["null_share"] != pytest.approx(rows[1]["null_share"], rel=1e-3)


def test_leakage_job_rows(tiny_model, tmp_path):
    model, path = tiny_model
    data, out = tmp_path / "random.h5", tmp_path / "leakage.tsv"
    study.make_leakage_dataset(data, placement="random", settings={"n": 40, "block_length": 50}, seed=1)
    study.leakage_job(data, [path], out, placement="random", model_type=MODEL_TYPE, regime="standard",
                      methods=["saliency"], options={}, output="logit", score="observed", n_test=5, batch_size=64,
                      seed=0, device="cpu")
    rows = read_tsv(out)
    assert list(rows.columns) == study.LEAKAGE_COLUMNS and len(rows) == 2
    assert (rows["trial"] == 3).all() and (rows["placement"] == "random").all() and (rows["n"] == 5).all()
    test = read_leakage(data, "test")
    p = predict(model, torch.as_tensor(test["x"])).numpy()
    assert rows["accuracy"].iloc[0] == pytest.approx(np.mean((p >= 0.5) == (test["y"][:, 0] == 1)), abs=1e-6)
    want = study.leakage_rows(model, {k: v[:5] for k, v in test.items()}, methods=["saliency"], options={},
                              output="logit", score="observed", batch_size=64, seed=0)
    np.testing.assert_allclose(rows["null_share"], [r["null_share"] for r in want], rtol=1e-5)


def test_leakage_job_takes_the_trial_from_the_saved_meta(tiny_model, tmp_path):
    model, _ = tiny_model
    path = tmp_path / "model.pt"
    save_model(path, model, "cnn_shallow", SHAPE, [], {}, trial=3)
    data, out = tmp_path / "fixed.h5", tmp_path / "leakage.tsv"
    study.make_leakage_dataset(data, placement="fixed", settings={"n": 40, "block_length": 50}, seed=1)
    study.leakage_job(data, [path], out, placement="fixed", model_type=MODEL_TYPE, regime="standard",
                      methods=["saliency"], options={}, output="logit", score="observed", n_test=5, batch_size=64,
                      seed=0, device="cpu")
    assert (read_tsv(out)["trial"] == 3).all()


# ---------------------------------------------------------------------------------------------------
# Tables


def _power_frame():
    """Two trials x three retrainings of raw and corrected saliency at two fractions, and a random baseline;
    the rows shuffled, so pairing must go by retraining, not by order."""
    rng = np.random.default_rng(5)
    rows = []
    units = [("standard", t, "saliency", k) for t in (0, 1) for k in ("raw", "corrected")] + \
        [(study.ANY_REGIME, 0, study.RANDOM, "baseline")]
    for regime, trial, method, kind in units:
        for fraction in (0.1, 0.5):
            for keep in ("top", "bottom"):
                for r in range(3):
                    rows.append({"model_type": MODEL_TYPE, "regime": regime, "trial": trial, "method": method,
                                 "kind": kind, "fill": "zeros", "fraction": fraction, "keep": keep, "retraining": r,
                                 "auroc": rng.random(), "accuracy": rng.random(), "epochs": 3})
    frame = pd.DataFrame(rows, columns=study.POWER_COLUMNS)
    return frame.sample(frac=1, random_state=0).reset_index(drop=True)


def test_diffroar_table_pairs_top_and_bottom_by_retraining():
    power = _power_frame()
    table = study.diffroar_table(power)
    units = ["model_type", "regime", "method", "kind", "fill", "fraction"]
    assert len(table) == len(power[units].drop_duplicates()) == 3 * 2
    assert not table.duplicated(units).any()
    for _, row in table.iterrows():
        part = power[(power[units] == row[units]).all(axis=1)]
        for m in study.POWER_METRICS:
            top = part[part["keep"] == "top"].set_index(["trial", "retraining"])[m]
            bottom = part[part["keep"] == "bottom"].set_index(["trial", "retraining"])[m]
            diff = (top - bottom.loc[top.index]).to_numpy()
            assert row[f"top_{m}"] == pytest.approx(top.mean())
            assert row[f"bottom_{m}"] == pytest.approx(bottom.mean())
            assert row[f"diffroar_{m}"] == pytest.approx(diff.mean())
            assert row[f"diffroar_sd_{m}"] == pytest.approx(np.std(diff, ddof=1))
        assert row["pairs"] == len(part) // 2
    assert set(table.loc[table["method"] == study.RANDOM, "pairs"]) == {3}
    assert set(table.loc[table["method"] == "saliency", "pairs"]) == {6}  # two trials of three retrainings
    empty = study.diffroar_table(power.iloc[:0])
    assert empty.empty and list(empty.columns) == list(table.columns)
    assert list(table.columns[-1:]) == ["pairs"] and "diffroar_sd_accuracy" in table.columns


def test_diffroar_correction_gain_and_flip():
    cases = [(-0.1, 0.2, True), (-0.1, -0.05, False), (0.1, 0.3, False), (0.0, 0.1, False), (-0.1, 0.0, False),
             (0.2, -0.1, False)]
    rows = []
    for i, (raw, corrected, _) in enumerate(cases):
        for kind, value in (("raw", raw), ("corrected", corrected)):
            rows.append({"model_type": MODEL_TYPE, "regime": "standard", "method": "saliency", "kind": kind,
                         "fill": "zeros", "fraction": 0.1 * (i + 1), "diffroar_auroc": value,
                         "diffroar_accuracy": -value})
        rows.append({"model_type": MODEL_TYPE, "regime": study.ANY_REGIME, "method": study.RANDOM,
                     "kind": "baseline", "fill": "zeros", "fraction": 0.1 * (i + 1), "diffroar_auroc": -1.0,
                     "diffroar_accuracy": 1.0})
    diffroar = pd.DataFrame(rows)
    table = study.diffroar_correction(diffroar).sort_values("fraction", ignore_index=True)
    assert list(table.columns) == ["model_type", "regime", "method", "fill", "fraction", "raw", "corrected", "gain",
                                   "flip"]
    assert set(table["method"]) == {"saliency"} and len(table) == len(cases)
    np.testing.assert_allclose(table["raw"], [c[0] for c in cases])
    np.testing.assert_allclose(table["corrected"], [c[1] for c in cases])
    np.testing.assert_allclose(table["gain"], [c[1] - c[0] for c in cases])
    assert table["flip"].tolist() == [c[2] for c in cases]
    by_accuracy = study.diffroar_correction(diffroar, "accuracy").sort_values("fraction", ignore_index=True)
    np.testing.assert_allclose(by_accuracy["raw"], [-c[0] for c in cases])
    assert by_accuracy["flip"].tolist() == [False, False, False, False, False, True]
    empty = study.diffroar_correction(diffroar[diffroar["kind"] == "baseline"])
    assert empty.empty and list(empty.columns) == list(table.columns)


def test_leakage_table_means_over_models():
    rng = np.random.default_rng(1)
    rows = []
    for regime, trials in (("standard", (0, 1, 2)), ("noise", (0, 1))):
        for trial in trials:
            for kind in ("raw", "corrected"):
                rows.append({"placement": "random", "model_type": MODEL_TYPE, "regime": regime, "trial": trial,
                             "accuracy": rng.random(), "auroc": rng.random(), "method": "saliency", "kind": kind,
                             "null_share": rng.random(), "null_share_sequences_sd": 0.1,
                             "null_motif_share": rng.random(), "n": 5})
    rows = pd.DataFrame(rows, columns=study.LEAKAGE_COLUMNS)
    table = study.leakage_table(rows)
    assert len(table) == 4
    for _, row in table.iterrows():
        part = rows[(rows["regime"] == row["regime"]) & (rows["kind"] == row["kind"])]
        assert row["null_share"] == pytest.approx(part["null_share"].mean())
        assert row["null_share_sd"] == pytest.approx(np.std(part["null_share"], ddof=1))
        assert row["null_motif_share"] == pytest.approx(part["null_motif_share"].mean())
        assert row["accuracy"] == pytest.approx(part["accuracy"].mean())
        assert row["models"] == len(part)
    assert sorted(table["models"]) == [2, 2, 3, 3]
    empty = study.leakage_table(rows.iloc[:0])
    assert empty.empty and list(empty.columns) == list(table.columns)


def _score_file(path, model_type, regime, trial, method, auroc):
    write_arrays(path, {"raw_test": np.zeros((2, 3), np.float32)},
                 {"model_type": model_type, "regime": regime, "trial": trial, "method": method, "test_auroc": auroc,
                  "test_accuracy": auroc - 0.1, "model": f"{model_type}/{regime}_{trial}.pt"})


def test_models_table_one_row_per_model(tmp_path):
    paths = []
    for i, (model_type, regime, trial, method, auroc) in enumerate([
            (MODEL_TYPE, "standard", 0, "saliency", 0.9), (MODEL_TYPE, "standard", 0, "smoothgrad", 0.9),
            (MODEL_TYPE, "noise", 0, "saliency", 0.8), (MODEL_TYPE, "standard", 1, "saliency", 0.7)]):
        paths.append(tmp_path / f"{i}.h5")
        _score_file(paths[-1], model_type, regime, trial, method, auroc)
    table = study.models_table(paths)
    assert list(table.columns) == ["model_type", "regime", "trial", "test_auroc", "test_accuracy", "model"]
    assert list(zip(table["regime"], table["trial"])) == [("standard", 0), ("noise", 0), ("standard", 1)]
    np.testing.assert_allclose(table["test_auroc"], [0.9, 0.8, 0.7])
    np.testing.assert_allclose(table["test_accuracy"], [0.8, 0.7, 0.6])
    assert table["model"].tolist()[1] == f"{MODEL_TYPE}/noise_0.pt"
    assert study.models_table([]).empty


def test_diffroar_tables_writes_every_table(tmp_path):
    power = _power_frame()
    files = [tmp_path / "power_a.tsv", tmp_path / "power_b.tsv"]
    write_tsv(power.iloc[:40], files[0])
    write_tsv(power.iloc[40:], files[1])
    leak = pd.DataFrame([{"placement": "fixed", "model_type": MODEL_TYPE, "regime": "standard", "trial": t,
                          "accuracy": 0.9, "auroc": 0.95, "method": "saliency", "kind": "raw", "null_share": 0.2 + t,
                          "null_share_sequences_sd": 0.1, "null_motif_share": 0.1, "n": 5} for t in (0, 1)])
    write_tsv(leak, tmp_path / "leak.tsv")
    _score_file(tmp_path / "s.h5", MODEL_TYPE, "standard", 0, "saliency", 0.9)
    out = {name: tmp_path / "tables" / f"{name}.tsv"
           for name in ("power", "diffroar", "correction", "models", "leakage_models", "leakage")}
    study.diffroar_tables(files, [tmp_path / "leak.tsv"], [tmp_path / "s.h5"], out)
    every = read_tsv(out["power"])
    assert len(every) == len(power)
    table = read_tsv(out["diffroar"])
    want = study.diffroar_table(every)
    pd.testing.assert_frame_equal(table, want, check_dtype=False, rtol=1e-5)
    correction = read_tsv(out["correction"])
    assert len(correction) == 2 and set(correction["method"]) == {"saliency"}
    leakage = read_tsv(out["leakage"])
    assert leakage["null_share"].tolist() == [pytest.approx(0.7)] and leakage["models"].tolist() == [2]
    assert len(read_tsv(out["models"])) == 1
    # no runs at all: empty tables with their columns
    empty = {name: tmp_path / "empty" / f"{name}.tsv" for name in out}
    study.diffroar_tables([], [], [], empty)
    assert read_tsv(empty["diffroar"]).empty and "diffroar_auroc" in read_tsv(empty["diffroar"]).columns
    assert list(read_tsv(empty["power"]).columns) == study.POWER_COLUMNS


def test_blocks_of_a_stochastic_method_draw_apart_and_saliency_is_block_free(tiny_model, monkeypatch):
    """Four copies of one sequence in blocks of two: SmoothGrad's draws differ between blocks (shared draws would give
    the copies at the same place of each block equal scores); saliency is the same whatever the block size."""
    model, _ = tiny_model
    x = np.repeat(np.eye(4, dtype=np.float32)[np.random.default_rng(0).integers(0, 4, 100)].T[None], 4, axis=0)
    common = {"output": "logit", "score": "observed", "batch_size": 64}
    whole = study.position_score_maps(model, x, method="saliency", options={}, **common)
    monkeypatch.setattr(study, "SCORE_BLOCK", 2)
    noisy = study.position_score_maps(model, x, method="smoothgrad", options={"n_samples": 2, "seed": 5}, **common)
    assert not np.allclose(noisy["raw"][0], noisy["raw"][2]) and not np.allclose(noisy["raw"][1], noisy["raw"][3])
    blocked = study.position_score_maps(model, x, method="saliency", options={}, **common)
    for kind in ("raw", "corrected"):
        np.testing.assert_array_equal(blocked[kind], whole[kind])
