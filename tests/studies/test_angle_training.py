"""The angle-training study's tables: arms, model ids, per-model rows, arm means, the sweeps, the best penalty
weight, the comparison and the pooled angle distributions."""

import logging

import numpy as np
import pandas as pd
import pytest
from random_maps import BACKGROUND, random_maps

from gradcorr import angles
from gradcorr.correction import simplex_angle
from gradcorr.data.io import read_tsv, write_arrays, write_tsv
from gradcorr.metrics import information_content
from gradcorr.studies.angle_training import (
    COMPARISON,
    SCORES,
    _write_failed,
    angle_histograms,
    arm_settings,
    arm_table,
    best_lambda,
    comparison_table,
    model_table,
    parse_model,
    study_tables,
    sweep_table,
)

TYPES = ("cnn_deep_relu", "cnn_shallow_exp")
# lambdas listed so that their string order (the table's sort) is not their numeric order
ARMS = ("he_normal", "sigma0.5", "sigma0.05", "lambda0.01", "lambda1e-05", "lambda0.001", "projected",
        "projected_init")
TRIALS = (0, 1, 2)
METRICS = ("test_auroc", "cosine_raw", "auroc_raw", "aupr_raw", "cosine_corrected", "auroc_corrected",
           "aupr_corrected")
FAILED = "cnn_deep_relu_lambda0.01_2"
FAILED_WHY = "non-finite loss (nan) before the first epoch completed"


# --------------------------------------------------------------------------- arms and model ids
def test_arm_settings_read_what_each_arm_changes():
    assert arm_settings("he_normal") == {}
    assert arm_settings("projected") == {"first_layer": "projected"}
    assert arm_settings("projected_init") == {"first_layer": "projected_init"}
    assert arm_settings("sigma0.05") == {"init_sigma": 0.05}
    assert arm_settings("lambda1e-05") == {"angle_lambda": 1e-5}
    assert arm_settings(f"sigma{1e39:g}") == {"init_sigma": 1e39}  # as the workflow names its arms


@pytest.mark.parametrize("arm", ["sigmax", "foo", "sigma", "lambda", "he-normal", "projected_trained"])
def test_arm_settings_refuse_an_unknown_arm_by_name(arm):
    with pytest.raises(ValueError, match=f"unknown arm '{arm}'"):
        arm_settings(arm)


def test_parse_model_splits_type_arm_and_trial():
    assert parse_model("cnn_deep_relu_sigma0.05_3") == ("cnn_deep", "relu", "sigma0.05", 3)
    assert parse_model("cnn_shallow_exp_projected_init_12") == ("cnn_shallow", "exp", "projected_init", 12)
    assert parse_model("cnn_deep_exp_lambda1e-05_0") == ("cnn_deep", "exp", "lambda1e-05", 0)


@pytest.mark.parametrize("model_id", ["cnn_deep_relu_3", "model_1", "cnn_deep_relu_he_normal_x"])
def test_parse_model_refuses_an_id_of_another_study(model_id):
    with pytest.raises(ValueError):
        parse_model(model_id)


# --------------------------------------------------------------------------- the stage's files
def write_models(folder, types=TYPES, arms=ARMS, trials=TRIALS, failed=(FAILED,)):
    """Each model's metrics row and angle summary, written as the evaluation stage writes them (random saliency
    maps of 5 sequences of 40 positions, scores rounded so that they survive the TSV), and failed models as
    `_write_failed` writes them. Returns the metrics and summary paths and, per model, what was written."""
    metrics, summaries, written = [], [], {}
    rng = np.random.default_rng(11)
    for k, (model_type, arm, trial) in enumerate((t, a, i) for t in types for a in arms for i in trials):
        model = f"{model_type}_{arm}_{trial}"
        out = {name: folder / f"{model}.{name}" for name in ("attributions", "angles", "metrics")}
        if model in failed:
            _write_failed(out, {"model_id": model, "trial": trial, "failed": FAILED_WHY})
            written[model] = None
        else:
            raw, x, gt = random_maps(5, 40, seed=100 + k)
            row = {"model": model, "trial": trial, "method": "saliency",
                   **{m: round(float(rng.uniform(0.3, 1.0)), 4) for m in METRICS}}
            write_tsv(pd.DataFrame([row]), out["metrics"])
            write_arrays(out["angles"], angles.model_angle_summary(raw, x, gt), {"model": model, "method": "saliency"})
            written[model] = {"raw": raw, "gt": gt, "row": row}
        metrics.append(out["metrics"])
        summaries.append(out["angles"])
    return metrics, summaries, written


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    folder = tmp_path_factory.mktemp("angle_training")
    metrics, summaries, written = write_models(folder)
    return {"folder": folder, "metrics": metrics, "summaries": summaries, "written": written,
            "models": model_table(metrics, summaries)}


def direct_angle_sds(raw, gt):
    """SD (ddof 0) of the raw map's angles over all, ground-truth (information > 0.1 bit) and background
    (uniform ground-truth column) positions, zero vectors left out, from the angles themselves."""
    angle = simplex_angle(raw)
    regions = {"all": np.ones(angle.shape, bool), "ground_truth": information_content(gt) > 0.1,
               "background": (gt == BACKGROUND).all(axis=1)}
    return {f"angle_sd_{r}": float(np.nanstd(angle[mask])) for r, mask in regions.items()}


def expected_scores(written, model):
    """A non-failed model's scores as written (metrics) and computed from its maps (angle SDs)."""
    w = written[model]
    return {**{m: w["row"][m] for m in METRICS}, **direct_angle_sds(w["raw"], w["gt"])}


# --------------------------------------------------------------------------- per model
def test_model_rows_hold_the_written_scores_and_the_angle_sds_of_the_maps(study):
    models, written = study["models"], study["written"]
    assert len(models) == len(TYPES) * len(ARMS) * len(TRIALS)
    assert set(models["model"]) == set(written)
    by_model = models.set_index("model")
    checked_regions = 0
    for model, w in written.items():
        if w is None:
            continue
        row = by_model.loc[model]
        assert row["failed"] == ""
        for score, value in expected_scores(written, model).items():
            assert row[score] == pytest.approx(value, rel=1e-9), (model, score)
        # the regions are not empty, so the SDs are numbers that can disagree
        checked_regions += np.isfinite([row["angle_sd_ground_truth"], row["angle_sd_background"]]).sum()
    assert checked_regions == 2 * sum(w is not None for w in written.values())


def test_model_rows_name_type_arm_trial_and_what_the_arm_sets(study):
    models = study["models"].set_index("model")
    for model in study["written"]:
        model_type = "_".join(model.split("_")[:3])
        arm, trial = model[len(model_type) + 1:].rsplit("_", 1)
        row = models.loc[model]
        assert (row["model_type"], row["arm"], row["trial"]) == (model_type, arm, int(trial))
        sigma = float(arm[5:]) if arm.startswith("sigma") else np.nan
        weight = float(arm[6:]) if arm.startswith("lambda") else np.nan
        assert row["init_sigma"] == pytest.approx(sigma, nan_ok=True)
        assert row["angle_lambda"] == pytest.approx(weight, nan_ok=True)
        assert (row["first_layer"] == arm) if arm.startswith("projected") else pd.isna(row["first_layer"])
    keys = list(zip(study["models"]["model_type"], study["models"]["arm"], study["models"]["trial"]))
    assert keys == sorted(keys)


def test_a_failed_model_is_a_row_that_says_why_without_scores(study):
    models = study["models"].set_index("model")
    row = models.loc[FAILED]
    assert row["failed"] == FAILED_WHY
    assert row[list(SCORES)].isna().all()
    assert row["angle_lambda"] == 0.01 and row["arm"] == "lambda0.01" and row["trial"] == 2
    assert (models["failed"] != "").sum() == 1


def test_model_table_of_failed_models_only_has_every_score_column(tmp_path):
    metrics, summaries, _ = write_models(tmp_path, types=("cnn_deep_relu",), arms=("he_normal",), trials=(0,),
                                         failed=("cnn_deep_relu_he_normal_0",))
    models = model_table(metrics, summaries)
    assert len(models) == 1 and models["failed"].iloc[0] == FAILED_WHY
    assert set(SCORES) <= set(models.columns) and models[list(SCORES)].isna().all(axis=None)


# --------------------------------------------------------------------------- per arm
def test_arm_means_and_sds_are_over_the_trials_that_did_not_fail(study):
    written = study["written"]
    arms = arm_table(study["models"])
    assert len(arms) == len(TYPES) * len(ARMS)
    for _, row in arms.iterrows():
        names = [f"{row['model_type']}_{row['arm']}_{t}" for t in TRIALS]
        ok = [m for m in names if written[m] is not None]
        assert row["n_trials"] == len(TRIALS) and row["n_failed"] == len(names) - len(ok)
        values = pd.DataFrame([expected_scores(written, m) for m in ok])
        for score in SCORES:
            assert row[f"{score}_mean"] == pytest.approx(values[score].mean(), rel=1e-9)
            assert row[f"{score}_sd"] == pytest.approx(values[score].std(ddof=1), rel=1e-9)
    failed = arms[(arms["model_type"] == "cnn_deep_relu") & (arms["arm"] == "lambda0.01")]
    assert failed["n_failed"].item() == 1 and (arms["n_failed"].sum() == 1)


def test_arm_sd_is_nan_for_a_single_trial(study):
    models = study["models"]
    arms = arm_table(models[models["trial"] == 0])
    assert (arms["n_trials"] == 1).all()
    assert arms[[f"{s}_sd" for s in SCORES]].isna().all(axis=None)
    assert arms[[f"{s}_mean" for s in SCORES]].notna().all(axis=None)


def test_arm_settings_columns_follow_the_arm(study):
    arms = arm_table(study["models"])
    for _, row in arms.iterrows():
        settings = arm_settings(row["arm"])
        for key in ("init_sigma", "angle_lambda"):
            assert row[key] == pytest.approx(settings.get(key, np.nan), nan_ok=True)


# --------------------------------------------------------------------------- the sweeps
def test_penalty_sweep_starts_at_the_reference_as_lambda_0_and_sorts_by_lambda(study):
    arms = arm_table(study["models"])
    penalty = sweep_table(arms, "angle_lambda")
    assert penalty["model_type"].tolist() == [t for t in sorted(TYPES) for _ in range(4)]
    for model_type in TYPES:
        mine = penalty[penalty["model_type"] == model_type]
        assert mine["arm"].tolist() == ["he_normal", "lambda1e-05", "lambda0.001", "lambda0.01"]
        assert mine["angle_lambda"].tolist() == [0.0, 1e-5, 1e-3, 1e-2]
        reference = arms[(arms["model_type"] == model_type) & (arms["arm"] == "he_normal")]
        assert mine["test_auroc_mean"].iloc[0] == reference["test_auroc_mean"].item()
    assert arms.loc[arms["arm"] == "he_normal", "angle_lambda"].isna().all()  # the arm table is left as it was


def test_init_sweep_starts_at_the_reference_without_sigma(study):
    arms = arm_table(study["models"])
    init = sweep_table(arms, "init_sigma")
    for model_type in TYPES:
        mine = init[init["model_type"] == model_type]
        assert mine["arm"].tolist() == ["he_normal", "sigma0.05", "sigma0.5"]
        assert np.isnan(mine["init_sigma"].iloc[0]) and mine["init_sigma"].iloc[1:].tolist() == [0.05, 0.5]
    assert len(init) == 3 * len(TYPES)


def test_init_sweep_of_a_run_without_sigma_arms_is_the_reference_alone(study):
    models = study["models"]
    arms = arm_table(models[~models["arm"].str.startswith("sigma")])
    init = sweep_table(arms, "init_sigma")  # config: sigmas: [] skips the sweep
    assert init["arm"].tolist() == ["he_normal"] * len(TYPES)


# --------------------------------------------------------------------------- the best penalty weight
def penalty_frame():
    """Penalty sweep rows (arm means) of three model types with known answers."""
    rows = [("a", "he_normal", 0.0, 0.950, 0.99),       # the reference is never a candidate
            ("a", "lambda1e-05", 1e-5, 0.945, 0.50),    # within 0.01: the answer
            ("a", "lambda0.001", 1e-3, 0.930, 0.90),    # better cosine, AUROC down 0.02: skipped
            ("a", "lambda0.01", 1e-2, 0.990, 0.40),
            ("a", "lambda0.1", 1e-1, np.nan, np.nan),   # every trial failed
            ("b", "he_normal", 0.0, 0.900, 0.20),
            ("b", "lambda1e-05", 1e-5, 0.880, 0.60),
            ("b", "lambda0.001", 1e-3, 0.700, 0.90),
            ("c", "he_normal", 0.0, 0.900, 0.20),
            ("c", "lambda1e-05", 1e-5, 0.899, 0.70),    # two arms tie on cosine: the smaller weight
            ("c", "lambda0.001", 1e-3, 0.905, 0.70)]
    return pd.DataFrame(rows, columns=["model_type", "arm", "angle_lambda", "test_auroc_mean", "cosine_raw_mean"])


def test_best_lambda_is_the_best_cosine_within_0_01_auroc_of_the_reference():
    penalty = penalty_frame()
    assert best_lambda(penalty, "a") == "lambda1e-05"
    assert best_lambda(penalty, "b") is None  # every arm lost more than 0.01 AUROC
    assert best_lambda(penalty, "c") == "lambda1e-05"
    assert best_lambda(penalty, "absent") is None
    reference_only = penalty[penalty["arm"] == "he_normal"]
    assert best_lambda(reference_only, "a") is None


def test_best_lambda_against_every_arm_checked_by_hand():
    """For random sweeps, the answer is the candidate with the highest cosine, found by a loop."""
    rng = np.random.default_rng(4)
    for _ in range(50):
        n = 6
        penalty = pd.DataFrame({"model_type": "t", "arm": ["he_normal", *[f"lambda{v:g}" for v in range(1, n)]],
                                "angle_lambda": np.arange(n, dtype=float),
                                "test_auroc_mean": rng.uniform(0.9, 0.95, n),
                                "cosine_raw_mean": rng.uniform(0, 1, n)})
        floor = penalty["test_auroc_mean"].iloc[0] - 0.01
        best, best_cosine = None, -np.inf
        for arm, auroc, cosine in penalty[["arm", "test_auroc_mean", "cosine_raw_mean"]].to_numpy()[1:]:
            if auroc >= floor and cosine > best_cosine:
                best, best_cosine = arm, cosine
        assert best_lambda(penalty, "t") == best


# --------------------------------------------------------------------------- the comparison
def test_comparison_names_the_four_approaches_in_order(study):
    arms = arm_table(study["models"])
    comparison = comparison_table(arms)
    penalty = sweep_table(arms, "angle_lambda")
    assert comparison["model_type"].tolist() == [t for t in sorted(TYPES) for _ in COMPARISON]
    for model_type in TYPES:
        mine = comparison[comparison["model_type"] == model_type]
        assert mine["approach"].tolist() == list(COMPARISON)
        best = best_lambda(penalty, model_type)
        assert best is not None
        assert mine["arm"].tolist() == ["he_normal", best, "projected", "projected_init"]
        for _, row in mine.iterrows():
            source = arms[(arms["model_type"] == model_type) & (arms["arm"] == row["arm"])].iloc[0]
            for column in ("n_trials", "n_failed", *[f"{s}_{stat}" for s in SCORES for stat in ("mean", "sd")]):
                assert row[column] == pytest.approx(source[column], nan_ok=True)


def test_comparison_leaves_out_the_arms_a_run_lacks(study):
    arms = arm_table(study["models"])
    lacking = arms[~(((arms["model_type"] == "cnn_deep_relu") & (arms["arm"] == "projected"))
                     | ((arms["model_type"] == "cnn_shallow_exp") & arms["arm"].str.startswith("lambda")))]
    comparison = comparison_table(lacking)
    labels = list(COMPARISON)
    deep = comparison.loc[comparison["model_type"] == "cnn_deep_relu", "approach"].tolist()
    shallow = comparison.loc[comparison["model_type"] == "cnn_shallow_exp", "approach"].tolist()
    assert deep == [labels[0], labels[1], labels[3]]
    assert shallow == [labels[0], labels[2], labels[3]]
    none = comparison_table(arms[arms["arm"].str.startswith("sigma")])
    assert none.empty and list(none.columns) == list(comparison.columns)


# --------------------------------------------------------------------------- angle distributions
def test_histograms_are_the_pooled_angle_densities_of_the_trials(study):
    written = study["written"]
    hist = angle_histograms(study["summaries"])
    groups = hist.groupby(["model_type", "arm"])
    assert set(groups.groups) == {(t, a) for t in TYPES for a in ARMS}
    for (model_type, arm), group in groups:
        np.testing.assert_array_equal(group["angle_lo"], angles.ANGLE_EDGES[:-1])
        np.testing.assert_array_equal(group["angle_hi"], angles.ANGLE_EDGES[1:])
        assert group["density"].sum() == pytest.approx(1.0)
        trials = [written[f"{model_type}_{arm}_{t}"] for t in TRIALS]
        counts = sum(angles.angle_histogram(w["raw"]) for w in trials if w is not None)
        np.testing.assert_allclose(group["density"], counts / counts.sum(), rtol=1e-12)


def test_histograms_refuse_summaries_with_other_bins(tmp_path):
    raw, x, gt = random_maps(3, 30, seed=0)
    path = tmp_path / "m.h5"
    summary = angles.model_angle_summary(raw, x, gt, angle_edges=np.arange(-90.0, 91.0, 2.0))
    write_arrays(path, summary, {"model": "cnn_deep_relu_he_normal_0", "method": "saliency"})
    with pytest.raises(ValueError, match="angle bins differ"):
        angle_histograms([path])
    empty = angle_histograms([])
    assert empty.empty and list(empty.columns) == ["model_type", "arm", "angle_lo", "angle_hi", "density"]


# --------------------------------------------------------------------------- the stage
def test_study_tables_writes_every_table(study, caplog):
    folder = study["folder"] / "tables"
    folder.mkdir()
    keys = ("models", "arms", "init_sweep", "angle_penalty", "comparison", "histograms")
    out = {k: folder / f"{k}.tsv" for k in keys}
    with caplog.at_level(logging.WARNING, logger="gradcorr.studies.angle_training"):
        study_tables(study["metrics"], study["summaries"], out)
    tables = {k: read_tsv(out[k]) for k in keys}
    assert tables["models"]["model"].tolist() == study["models"]["model"].tolist()
    assert tables["models"].loc[tables["models"]["model"] == FAILED, "failed"].item() == FAILED_WHY
    assert len(tables["arms"]) == len(TYPES) * len(ARMS)
    assert tables["init_sweep"]["arm"].tolist() == ["he_normal", "sigma0.05", "sigma0.5"] * len(TYPES)
    assert tables["angle_penalty"]["angle_lambda"].tolist() == [0.0, 1e-5, 1e-3, 1e-2] * len(TYPES)
    assert tables["comparison"]["approach"].tolist() == list(COMPARISON) * len(TYPES)
    hist = tables["histograms"]
    penalty_arms = {"he_normal", "lambda1e-05", "lambda0.001", "lambda0.01"}
    assert set(zip(hist["model_type"], hist["arm"])) == {(t, a) for t in TYPES for a in penalty_arms}
    assert len(hist) == len(TYPES) * len(penalty_arms) * (len(angles.ANGLE_EDGES) - 1)
    np.testing.assert_allclose(hist.groupby(["model_type", "arm"])["density"].sum(), 1.0, atol=1e-4)
    assert f"{FAILED} failed: {FAILED_WHY}" in [r.getMessage() for r in caplog.records]
