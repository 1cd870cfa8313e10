"""The angle-training study through the Snakemake command line, on config/test.yaml's small arms."""

import pandas as pd
import pytest
import torch
from workflow_cli import study_run

from gradcorr.angles import pooled_mean_sd
from gradcorr.data.io import read_arrays


@pytest.fixture(scope="module")
def angle_run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("angle_training")
    study_run(workdir, "angle_training")
    return workdir / "results" / "angle_training"


@pytest.mark.workflow
def test_every_arm_is_trained_with_what_it_changes(angle_run):
    models = angle_run / "models"
    penalty = torch.load(models / "cnn_deep_relu_lambda0.01_1.pt", weights_only=True)
    assert penalty["train_config"]["regularizer"] == {**penalty["train_config"]["regularizer"], "name": "angle",
                                                      "angle_lambda": 0.01}
    assert penalty["history"][0]["loss"] > 0
    small = torch.load(models / "cnn_deep_relu_sigma0.01_0.pt", weights_only=True)
    assert small["meta"]["init_sigma"] == 0.01 and small["meta"]["arm"] == "sigma0.01"
    # a model trained projected is saved plain, its first kernel zero-mean over the alphabet
    projected = torch.load(models / "cnn_deep_relu_projected_0.pt", weights_only=True)
    assert projected["meta"]["first_layer"] == "projected" and "first_layer" not in projected["model_kwargs"]
    assert projected["state_dict"]["0.weight"].mean(dim=1).abs().max() < 1e-6
    started = torch.load(models / "cnn_deep_relu_projected_init_0.pt", weights_only=True)
    reference = torch.load(models / "cnn_deep_relu_he_normal_0.pt", weights_only=True)
    assert started["state_dict"]["0.weight"].mean(dim=1).abs().max() > 0  # free to leave the plane
    # all arms of a trial start from one draw: the reference and the penalty arm train differently from it
    assert not torch.equal(reference["state_dict"]["0.weight"], penalty["state_dict"]["0.weight"])


@pytest.mark.workflow
def test_a_diverged_initialisation_is_a_failed_row_not_a_failed_run(angle_run):
    models = pd.read_csv(angle_run / "tables" / "models.tsv", sep="\t", keep_default_na=False)
    failed = models[models["failed"] != ""]
    assert set(failed["arm"]) == {"sigma1e+39"} and len(failed) == 2
    assert failed["failed"].str.contains("non-finite loss").all()
    arms = pd.read_csv(angle_run / "tables" / "arms.tsv", sep="\t")
    assert arms.set_index("arm").loc["sigma1e+39", "n_failed"] == 2
    assert (arms.set_index("arm").drop(index="sigma1e+39")["n_failed"] == 0).all()


@pytest.mark.workflow
def test_angle_sds_come_from_the_maps_and_projection_zeroes_them(angle_run):
    models = pd.read_csv(angle_run / "tables" / "models.tsv", sep="\t", keep_default_na=False)
    for model in ("cnn_deep_relu_he_normal_0", "cnn_deep_relu_projected_1"):
        row = models.set_index("model").loc[model]
        summary = read_arrays(angle_run / "angles" / f"{model}.saliency.h5")
        assert float(row["angle_sd_all"]) == pytest.approx(pooled_mean_sd(summary, "all")[1], rel=1e-5)
    projected = models[models["arm"] == "projected"]["angle_sd_all"].astype(float)
    reference = models[models["arm"] == "he_normal"]["angle_sd_all"].astype(float)
    assert (projected < 0.01).all() and (reference > 5).all()
    # the arm means are those of the models
    arms = pd.read_csv(angle_run / "tables" / "arms.tsv", sep="\t").set_index("arm")
    assert arms.loc["he_normal", "angle_sd_all_mean"] == pytest.approx(reference.mean(), rel=1e-5)


@pytest.mark.workflow
def test_sweeps_comparison_and_figures(angle_run):
    penalty = pd.read_csv(angle_run / "tables" / "angle_penalty.tsv", sep="\t")
    assert penalty["arm"].tolist() == ["he_normal", "lambda0.01"] and penalty["angle_lambda"].tolist() == [0, 0.01]
    init = pd.read_csv(angle_run / "tables" / "init_sweep.tsv", sep="\t")
    assert init["arm"].tolist() == ["he_normal", "sigma0.01", "sigma1e+39"]
    comparison = pd.read_csv(angle_run / "tables" / "comparison.tsv", sep="\t")
    assert comparison["arm"].iloc[0] == "he_normal" and "projected" in set(comparison["arm"])
    histograms = pd.read_csv(angle_run / "tables" / "histograms.tsv", sep="\t")
    assert set(histograms["arm"]) == {"he_normal", "lambda0.01"}
    for arm, group in histograms.groupby("arm"):
        assert group["density"].sum() == pytest.approx(1.0, abs=1e-4), arm
    for fig in ("init", "penalty", "comparison"):
        assert (angle_run / "figures" / f"{fig}.png").stat().st_size > 10_000
        assert (angle_run / "figures" / f"{fig}.pdf").exists()
    assert not list((angle_run / "attributions").glob("*.h5")), "the maps are temporary"
