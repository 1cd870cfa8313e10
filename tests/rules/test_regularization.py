"""The regularization study through the Snakemake command line, on config/test.yaml's small blocks; and the
published grid's jobs (dry runs)."""

import numpy as np
import pandas as pd
import pytest
import torch
from workflow_cli import planned_jobs, study_run

from gradcorr.data.synthetic import read_dataset
from gradcorr.models.checkpoint import load_model
from gradcorr.monitor import GROUND_TRUTH_FREE, MONITOR_SCORES, epoch_hook

TWO_PHASE = "std_f1_bs64_do0.4_lr0.01_bn_2ph"
BASELINE = "std_f1_bs128_do0.1_lr0.001_nobn_const"
MIXUP = "mix_f1_bs128_do0.1_lr0.001_nobn_const"


@pytest.fixture(scope="module")
def regularization_run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("regularization")
    study_run(workdir, "regularization")
    return workdir


@pytest.mark.workflow
def test_each_combination_trains_with_its_schedule_and_regularizer(regularization_run):
    models = regularization_run / "results" / "regularization" / "models"
    two_phase = torch.load(models / f"{TWO_PHASE}_0.pt", weights_only=True)
    assert [p["learning_rate"] for p in two_phase["train_config"]["phases"]] == [0.001, 0.01]
    assert [p["dropout"] for p in two_phase["train_config"]["phases"]] == [0.0, 0.4]
    assert two_phase["train_config"]["batch_size"] == 64 and two_phase["model_kwargs"]["batchnorm"] is True
    history = pd.read_csv(models / f"{TWO_PHASE}_0.history.tsv", sep="\t")
    assert history["epoch"].tolist() == [0, 1, 2, 3]
    assert history["lr"].tolist()[1:] == [0.001, 0.01, 0.01]
    mixup = torch.load(models / f"{MIXUP}_1.pt", weights_only=True)
    assert mixup["train_config"]["regularizer"]["name"] == "manifold_mixup" and mixup["meta"]["engine"] == "sequential"
    # every trial t starts from one seed in every combination: equal shapes, equal draws
    baseline = torch.load(models / f"{BASELINE}_1.pt", weights_only=True)
    assert baseline["meta"]["trial"] == 1 and baseline["train_config"]["seed"] == mixup["train_config"]["seed"]


@pytest.mark.workflow
def test_the_history_holds_every_score_of_every_epoch_and_matches_the_saved_checkpoints(regularization_run):
    """The early-stopping and last checkpoints, scored again, give the history's rows at their epochs."""
    models = regularization_run / "results" / "regularization" / "models"
    data = regularization_run / "results" / "synthetic" / "data" / "billboard.h5"
    x, y, truth = read_dataset(data, "test")
    hook = epoch_hook(x, y, truth, n_positive=40, prefix="test_")
    for trial in (0, 1):
        history = pd.read_csv(models / f"{TWO_PHASE}_{trial}.history.tsv", sep="\t")
        assert {f"test_{s}" for s in MONITOR_SCORES} | {f"valid_{s}" for s in GROUND_TRUTH_FREE} <= set(history)
        trained = history[history["epoch"] >= 1]
        best_epoch = int(trained.loc[trained["val_auroc"].idxmax(), "epoch"])
        for name, epoch in ((f"{TWO_PHASE}_{trial}.pt", best_epoch), (f"{TWO_PHASE}_{trial}.last.pt", 3)):
            model, saved = load_model(models / name)
            assert saved["meta"]["checkpoint"] == ("last" if "last" in name else "best")
            row = history.set_index("epoch").loc[epoch]
            scores = hook(model, 1)[0]
            assert scores["test_auroc"] == pytest.approx(row["test_auroc"], rel=1e-4, abs=1e-5), name
            # The maps come from two paths (the engine's grouped members during training, the loaded model's folded
            # channels-last pass here) that agree to float32 rounding, except where a max-pool's two largest inputs
            # lie within that rounding (a near-tie: its gradient goes to the other position). In one run here 1 of
            # the 40 maps had one (a relative gap of 4e-7), which moved the interpretability AUROC by 4e-4 and
            # the angles' SD by 0.005 degrees.
            for key in ("test_interp_auroc_raw", "test_interp_auroc_corrected", "test_kld_kmer", "test_angle_sd"):
                assert scores[key] == pytest.approx(row[key], rel=1e-3, abs=2e-3), (name, key)


@pytest.mark.workflow
def test_tables_put_the_papers_numbers_beside_ours(regularization_run):
    tables = regularization_run / "results" / "regularization" / "tables"
    table1 = pd.read_csv(tables / "table1.tsv", sep="\t").set_index("regularizer")
    assert set(table1.index) == {"none", "manifold_mixup"} and (table1["trials"] == 2).all()
    assert table1.loc["none", "paper_es_interp"] == 0.712 and table1.loc["manifold_mixup", "paper_last_auroc"] == 0.942
    table2 = pd.read_csv(tables / "table2.tsv", sep="\t")
    assert len(table2) == 1 and table2["paper_es_interp"].iloc[0] == 0.821
    grid = pd.read_csv(tables / "grid.tsv", sep="\t")
    assert sorted(grid["dropout"]) == [0.1, 0.4] and not any(c.startswith("paper_") for c in grid)
    # the table's means are those of the models at their early-stopping epochs
    models = pd.read_csv(tables / "models.tsv", sep="\t").set_index("model")
    epochs = pd.read_csv(tables / "epochs.tsv", sep="\t")
    for model in (f"{BASELINE}_0", f"{TWO_PHASE}_1"):
        mine = epochs[(epochs["model"] == model) & (epochs["epoch"] >= 1)]
        best = mine.loc[mine["val_auroc"].idxmax()]
        assert models.loc[model, "es_epoch"] == best["epoch"]
        assert models.loc[model, "es_test_interp_auroc_raw"] == pytest.approx(best["test_interp_auroc_raw"])
    baseline = models.loc[[f"{BASELINE}_0", f"{BASELINE}_1"], "es_test_interp_auroc_raw"]
    row = pd.read_csv(tables / "table1.tsv", sep="\t").set_index("regularizer").loc["none"]
    assert row["es_test_interp_auroc_raw_mean"] == pytest.approx(baseline.mean())
    assert row["es_test_interp_auroc_raw_sd"] == pytest.approx(np.std(baseline, ddof=1))
    for name in ("tracking", "tracking_summary", "stopping", "correction"):
        assert len(pd.read_csv(tables / f"{name}.tsv", sep="\t")) > 0, name
    for fig in ("fig1", "tracking"):
        assert (regularization_run / "results" / "regularization" / "figures" / f"{fig}.png").stat().st_size > 10_000


@pytest.mark.parametrize("configs, trained", [
    (["config/paper.yaml"], 302),  # Tables 1 and 2 and the Appendix B grid, f = 1, 4, 8
    (["config/regularization.yaml"], None),
])
def test_the_published_grid_and_the_demo_plan_their_jobs(configs, trained):
    counts = planned_jobs(*configs)
    if trained is not None:
        assert counts["regularization_train"] == trained
    assert counts["regularization_tables"] == counts["regularization_figures"] == 1
