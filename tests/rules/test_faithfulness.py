"""The faithfulness study through the Snakemake command line, on config/test.yaml's small section; and the
published scale's jobs (dry runs)."""

import numpy as np
import pandas as pd
import pytest
import torch
from workflow_cli import ONE_MODEL_TYPE, planned_jobs, study_run

from gradcorr.data.protein import PROTEIN_TASKS, longest_set_run, read_protein_task
from gradcorr.faithfulness import feature_ablation
from gradcorr.models.checkpoint import load_model


@pytest.fixture(scope="module")
def faithfulness_run(tmp_path_factory):
    """The test config's faithfulness section end to end; its DNA part on one synthetic model type (CNN-shallow-relu:
    the other studies' runs train all four)."""
    workdir = tmp_path_factory.mktemp("faithfulness")
    study_run(workdir, "faithfulness", ONE_MODEL_TYPE)
    return workdir


@pytest.mark.workflow
def test_datasets_and_models_follow_the_settings(faithfulness_run):
    results = faithfulness_run / "results" / "faithfulness"
    test = read_protein_task(results / "data" / "helix.h5", "test")
    assert set(PROTEIN_TASKS) >= {"helix"} and test["x"].shape[1:] == (20, 40)
    np.testing.assert_array_equal(longest_set_run(test["x"], "helix") >= 6, test["y"][:, 0] == 1)
    models = results / "models" / "helix"
    adversarial = torch.load(models / "seq_cnn" / "adversarial_low_0.pt", weights_only=True)
    fgsm = adversarial["train_config"]["regularizer"]
    assert (fgsm["name"], fgsm["adv_steps"], fgsm["adv_step"], fgsm["adv_eps"]) == ("adversarial", 1, 0.01, 0.01)
    noise = torch.load(models / "mlp" / "noise_low_0.pt", weights_only=True)
    assert noise["arch"] == "mlp" and noise["train_config"]["regularizer"]["noise_sd"] == 0.1
    assert adversarial["meta"]["checkpoint"] == "last"
    best = torch.load(models / "seq_cnn" / "adversarial_low_0.best.pt", weights_only=True)
    assert best["meta"]["checkpoint"] == "best"


@pytest.mark.workflow
def test_scores_are_the_models_own_ablation(faithfulness_run):
    """The ablation rows of a model, computed again from the saved model and dataset, rank the signal the same."""
    results = faithfulness_run / "results" / "faithfulness"
    scores = pd.read_csv(results / "scores" / "helix" / "seq_cnn" / "noise_low.tsv", sep="\t")
    test = read_protein_task(results / "data" / "helix.h5", "test")
    positives = np.flatnonzero(test["y"][:, 0] == 1)[:8]
    model, _ = load_model(results / "models" / "helix" / "seq_cnn" / "noise_low_0.pt")
    ablation = feature_ablation(model, test["x"][positives], output="logit")
    from gradcorr.faithfulness import precision_at_k

    want = precision_at_k(ablation, test["signal"][positives]).mean()
    row = scores[(scores["method"] == "ablation_zeros") & (scores["reference"] == "signal")]
    assert row["precision"].iloc[0] == pytest.approx(want, rel=1e-5)  # TSVs hold 6 digits
    assert set(scores["output"]) == {"logit", "sigmoid"} and set(scores["kind"]) == {"raw", "corrected", "model"}


@pytest.mark.workflow
def test_tables_and_figures(faithfulness_run):
    results = faithfulness_run / "results" / "faithfulness"
    tables = results / "tables"
    verification = pd.read_csv(tables / "verification.tsv", sep="\t")
    assert len(verification) == 2 * 2 and (verification["passed"] == 1).all()  # architectures x settings
    table1 = pd.read_csv(tables / "table1.tsv", sep="\t")
    seq_cnn = table1[(table1["net"] == "seq_cnn") & (table1["method"] == "saliency")].set_index(["setting", "output"])
    assert seq_cnn.loc[("noise_low", "logit"), "paper"] == 0.81
    assert seq_cnn.loc[("adversarial_low", "sigmoid"), "paper"] == 0.99
    assert table1[table1["net"] == "mlp"]["paper"].isna().all()  # the paper prints no MLP rows
    dna = pd.read_csv(tables / "dna.tsv", sep="\t")
    assert set(dna["net"]) == {"cnn_shallow_relu"} and set(dna["setting"]) == {"trained"}
    assert len(pd.read_csv(tables / "correction.tsv", sep="\t")) > 0
    for fig in ("table1", "dna"):
        assert (results / "figures" / f"{fig}.png").stat().st_size > 10_000


@pytest.mark.parametrize("configs, trained", [
    (["config/paper.yaml"], 42),  # 3 tasks x 2 architectures x 7 settings
    (["config/published.yaml", "config/faithfulness_published.yaml"], 0),  # the DNA part on the 200 published
])
def test_the_published_scale_and_the_demo_plan_their_jobs(configs, trained):
    counts = planned_jobs(*configs)
    assert counts.get("faithfulness_train", 0) == counts.get("faithfulness_evaluate", 0) == trained
    assert counts["faithfulness_dna"] == 4 and counts["faithfulness_tables"] == 1
