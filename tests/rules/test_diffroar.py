"""The DiffROAR study through the Snakemake command line, on config/test.yaml's small section; and the full scale's
and the demo's jobs (dry runs)."""

import numpy as np
import pandas as pd
import pytest
import torch
from workflow_cli import ONE_MODEL_TYPE, planned_jobs, study_run

from gradcorr.data.io import read_arrays, read_attrs
from gradcorr.data.leakage import read_leakage


@pytest.fixture(scope="module")
def diffroar_run(tmp_path_factory):
    """The test config's diffroar section end to end, on one synthetic model type."""
    workdir = tmp_path_factory.mktemp("diffroar")
    study_run(workdir, "diffroar", ONE_MODEL_TYPE)
    return workdir


@pytest.mark.workflow
def test_standard_models_are_the_synthetic_studys_and_robust_ones_start_from_their_seeds(diffroar_run):
    results = diffroar_run / "results"
    scores = results / "diffroar" / "scores" / "cnn_shallow_relu"
    standard_path = "results/synthetic/models/cnn_shallow_relu_0.pt"
    assert read_attrs(scores / "standard_0" / "saliency.h5")["model"] == standard_path
    adversarial = torch.load(results / "diffroar" / "models" / "cnn_shallow_relu" / "adversarial_0.pt",
                             weights_only=True)
    standard = torch.load(results / "synthetic" / "models" / "cnn_shallow_relu_0.pt", weights_only=True)
    pgd = adversarial["train_config"]["regularizer"]
    assert (pgd["name"], pgd["adv_steps"], pgd["adv_step"]) == ("adversarial", 2, 0.02)
    assert adversarial["train_config"]["seed"] == standard["train_config"]["seed"]  # paired with the standard model
    arrays = read_arrays(scores / "adversarial_0" / "saliency.h5")
    assert {f"{k}_{s}" for k in ("raw", "corrected") for s in ("train", "valid", "test")} == set(arrays)
    assert arrays["raw_train"].shape[1] == 200 and (arrays["raw_train"] >= 0).all()


@pytest.mark.workflow
def test_power_rows_cover_every_ranking_fraction_and_keep(diffroar_run):
    tables = diffroar_run / "results" / "diffroar" / "tables"
    power = pd.read_csv(tables / "power.tsv", sep="\t")
    # 2 regimes x (saliency raw, corrected, input-agnostic) + random; 2 fractions x top/bottom x 2 retrainings
    assert len(power) == (2 * 3 + 1) * 2 * 2 * 2
    assert set(power["method"]) == {"saliency", "input_agnostic", "random"}
    assert power.loc[power["method"] == "random", "regime"].eq("any").all()
    diffroar = pd.read_csv(tables / "diffroar.tsv", sep="\t")
    top = power[power["keep"] == "top"].set_index(["regime", "method", "kind", "fraction", "retraining"])["auroc"]
    bottom = power[power["keep"] == "bottom"].set_index(["regime", "method", "kind", "fraction", "retraining"])["auroc"]
    want = (top - bottom).groupby(level=[0, 1, 2, 3]).mean()
    got = diffroar.set_index(["regime", "method", "kind", "fraction"])["diffroar_auroc"]
    np.testing.assert_allclose(got.sort_index(), want.sort_index(), atol=2e-6)  # TSVs hold 6 digits
    correction = pd.read_csv(tables / "correction.tsv", sep="\t")
    assert len(correction) == 2 * 2 and set(correction["method"]) == {"saliency"}


@pytest.mark.workflow
def test_leakage_datasets_models_and_figures(diffroar_run):
    results = diffroar_run / "results" / "diffroar"
    shuffled = read_leakage(results / "leakage" / "data" / "random.h5", "test")
    assert set(np.unique(shuffled["side"])) == {0, 1}
    np.testing.assert_array_equal(shuffled["signal"], ~shuffled["null"])
    leakage = pd.read_csv(results / "tables" / "leakage.tsv", sep="\t")
    assert len(leakage) == 2 * 2  # regimes x kinds
    assert leakage["null_share"].between(0, 1).all() and (leakage["null_motif_share"] <= leakage["null_share"]).all()
    models = pd.read_csv(results / "tables" / "models.tsv", sep="\t")
    assert sorted(models["regime"]) == ["adversarial", "standard"]
    for fig in ("zeros", "leakage"):
        assert (results / "figures" / f"{fig}.png").stat().st_size > 10_000


@pytest.mark.parametrize("configs, power, random, leakage_train", [
    # 4 model types x 3 regimes x (4 methods x 2 kinds + input-agnostic) x 2 fills; random per type and fill;
    # 2 placements x 2 model types x 3 regimes
    (["config/paper.yaml"], 4 * 3 * 9 * 2, 4 * 2, 2 * 2 * 3),
    (["config/diffroar.yaml"], 3 * 3 * 2, 2, 2 * 1 * 3),  # 1 model type x 3 regimes x 3 rankings x 2 fills
    # the authors' models: 2 model types x the standard regime x 3 rankings x 2 fills, nothing of theirs trained
    (["config/published.yaml", "config/diffroar_published.yaml"], 2 * 3 * 2, 2 * 2, 0),
])
def test_the_full_scale_and_the_demo_plan_their_jobs(configs, power, random, leakage_train):
    counts = planned_jobs(*configs)
    assert counts["diffroar_power"] == power and counts["diffroar_random"] == random
    assert counts.get("diffroar_leakage_train", 0) == counts.get("diffroar_leakage", 0) == leakage_train
    assert "diffroar_train" not in counts or "config/diffroar_published.yaml" not in configs
