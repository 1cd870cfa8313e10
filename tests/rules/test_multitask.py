"""The multi-task study through the Snakemake command line, on config/test.yaml's small section (the multi-task
billboard, saliency); and the full scale's and the demo's jobs (dry runs)."""

import numpy as np
import pandas as pd
import pytest
from workflow_cli import planned_jobs, study_run

from gradcorr.angles import ANGLE_EDGES
from gradcorr.data.io import read_arrays, read_attrs, read_split
from gradcorr.models.checkpoint import load_model
from gradcorr.studies.multitask import task_names


@pytest.fixture(scope="module")
def multitask_run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("multitask")
    study_run(workdir, "multitask")
    return workdir


@pytest.mark.workflow
def test_models_are_basset_with_each_activation_and_one_output_per_task(multitask_run):
    results = multitask_run / "results" / "multitask"
    names = task_names(results / "data" / "billboard.h5")
    for activation in ("exp", "relu"):
        model, saved = load_model(results / "models" / f"{activation}_0.pt")
        assert saved["arch"] == "basset" and saved["model_kwargs"]["activation"] == activation
        assert saved["model_kwargs"]["n_tasks"] == len(names) == 7
    models = pd.read_csv(results / "tables" / "models.tsv", sep="\t")
    assert sorted(models["activation"]) == ["exp", "relu"] and models["val_auroc"].between(0, 1).all()


@pytest.mark.workflow
def test_angle_histograms_count_every_position_of_the_maps_they_summarise(multitask_run):
    results = multitask_run / "results" / "multitask"
    test = read_split(results / "data" / "billboard.h5", "test", ("y",))["y"]
    arrays = read_arrays(results / "angles" / "exp_0.saliency.h5")
    length = read_attrs(results / "data" / "billboard.h5")["length"]
    np.testing.assert_array_equal(arrays["edges"], ANGLE_EDGES)
    assert arrays["hist_top_class"].sum() <= 60 * length  # n_test sequences; a zero gradient has no angle
    assert arrays["hist_top_class"].sum() > 0.9 * 60 * length
    for t in range(7):  # shown tasks: all 7; each over its first 20 positives
        n = min(20, int(test[:, t].sum()))
        assert len(arrays[f"abs_angle_task{t}"]) == n
        assert 0.9 * n * length < arrays["hist_task"][t].sum() <= n * length
    angles = pd.read_csv(results / "tables" / "angles.tsv", sep="\t")
    assert len(angles) == 2 * (1 + 7)  # models x (top class + tasks)
    assert angles["pct_30"].ge(angles["pct_45"]).all() and angles["pct_45"].ge(angles["pct_60"]).all()


@pytest.mark.workflow
def test_interpretability_and_task_angle_tables_and_figures(multitask_run):
    results = multitask_run / "results" / "multitask"
    quality = pd.read_csv(results / "tables" / "interpretability.tsv", sep="\t")
    assert len(quality) == 2 * 7
    np.testing.assert_allclose(quality["auroc_gain"], quality["auroc_corrected"] - quality["auroc_raw"], atol=2e-6)
    tasks = pd.read_csv(results / "tables" / "task_angles.tsv", sep="\t")
    assert len(tasks) == 2 * 7 and tasks["kruskal_p"].between(0, 1).all()
    for fig in ("fig11_saliency", "task_angles", "interpretability"):
        assert (results / "figures" / f"{fig}.png").stat().st_size > 10_000


@pytest.mark.parametrize("configs, expected", [
    # 14 ENCODE cell types: their metadata first (a checkpoint: the dataset's jobs follow once they are read);
    # 2 activations x 4 methods
    (["config/paper.yaml"], {"multitask_train": 2, "multitask_angles": 8}),
    (["config/multitask.yaml"], {"multitask_billboard": 1, "multitask_train": 2, "multitask_angles": 4}),
])
def test_the_full_scale_and_the_demo_plan_their_jobs(configs, expected):
    jobs = planned_jobs(*configs)
    assert {rule: jobs.get(rule, 0) for rule in expected} == expected
    if configs == ["config/paper.yaml"]:
        assert "multitask_billboard" not in jobs and jobs["multitask_encode"] == 1
