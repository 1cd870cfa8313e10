"""The multi-task study's stages on tiny inputs: the angle analysis against the gradients of a linear model (known in
closed form), the correction's invariance on the per-task interpretability, the task comparison, the tables; and
the dataset and training stages end to end on a few hundred sequences."""

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from gradcorr.angles import angle_histogram
from gradcorr.correction import simplex_angle
from gradcorr.data.io import read_split, write_arrays
from gradcorr.data.multitask import DEFAULT_TASKS, core_pool, generate_multitask, read_tasks
from gradcorr.models.checkpoint import load_model
from gradcorr.studies.multitask import (
    angle_analysis,
    angle_row,
    interpretability_gain,
    make_billboard,
    make_encode,
    model_angles,
    multitask_tables,
    read_histograms,
    task_angle_table,
    task_names,
    train_model,
)

SETTINGS = {"output": "logit", "shown_tasks": 10, "n_test": None, "n_positive": 15, "batch_size": 64}
KEY = {"activation": "exp", "trial": 0, "method": "saliency"}
LENGTH = 120


@pytest.fixture(scope="module")
def billboard():
    data = generate_multitask(n=400, length=LENGTH, seed=3)
    return {k.rsplit("_", 1)[0]: v for k, v in data.items() if k.endswith("_test")}


def linear_model(weights: torch.Tensor) -> nn.Sequential:
    """Logit t = <W_t, x> + b_t: its input gradient for task t is W_t at every sequence."""
    tasks = len(weights)
    model = nn.Sequential(nn.Flatten(), nn.Linear(4 * LENGTH, tasks))
    with torch.no_grad():
        model[1].weight.copy_(weights.reshape(tasks, -1))
        model[1].bias.copy_(torch.linspace(-1, 1, tasks))
    return model


def test_angles_are_those_of_each_tasks_own_gradient(billboard):
    torch.manual_seed(0)
    weights = torch.randn(7, 4, LENGTH)
    model = linear_model(weights)
    arrays, rows, _ = angle_analysis(model, billboard, [f"t{i}" for i in range(7)], [], method="saliency",
                                     options={}, settings=SETTINGS, thresholds=[30, 45, 60], seed=0, key=KEY)
    x, y = billboard["x"], billboard["y"]
    with torch.no_grad():
        mean_prediction = torch.sigmoid(model(torch.as_tensor(x))).mean(0)
    top = int(mean_prediction.argmax())
    assert int(arrays["top_class"]) == top  # the bias makes the last task the most predicted
    w = weights.numpy()
    np.testing.assert_array_equal(arrays["hist_top_class"], angle_histogram(np.repeat(w[top:top + 1], len(x), 0)))
    for t in range(7):
        n = min(15, int(y[:, t].sum()))
        np.testing.assert_array_equal(arrays["hist_task"][t], angle_histogram(np.repeat(w[t:t + 1], n, 0)))
        expected = np.abs(simplex_angle(w[t:t + 1].astype(np.float64))).mean()
        np.testing.assert_allclose(arrays[f"abs_angle_task{t}"], expected, rtol=1e-4)
    task_rows = rows[rows["group"] == "task"]
    assert list(task_rows["task"]) == list(range(7)) and list(rows["group"])[0] == "top_class"
    np.testing.assert_allclose(task_rows["positive_rate"], y.mean(0, dtype=np.float64))


def test_correction_leaves_on_simplex_gradients_alone_and_removes_the_off_simplex_part(billboard):
    """Per-task interpretability: a gradient with zero mean over the letters scores the same raw and corrected; adding
    a per-position constant (no data constrains it) changes the raw score only."""
    torch.manual_seed(1)
    on = torch.randn(7, 4, LENGTH)
    on -= on.mean(1, keepdim=True)
    off = on + 3 * torch.randn(7, 1, LENGTH)
    tasks = list(core_pool(DEFAULT_TASKS)[1])  # generate_multitask's default tasks, as the dataset file holds them
    results = {}
    for name, weights in (("on", on), ("off", off)):
        _, _, quality = angle_analysis(linear_model(weights), billboard, [f"t{i}" for i in range(7)], tasks,
                                       method="saliency", options={}, settings=SETTINGS, thresholds=[30, 45, 60],
                                       seed=0, key=KEY)
        results[name] = quality.set_index(["task", "kind"])[["auroc", "aupr", "cosine"]]
    on_q, off_q = results["on"], results["off"]
    pd.testing.assert_frame_equal(on_q.xs("raw", level="kind"), on_q.xs("corrected", level="kind"), atol=1e-6)
    pd.testing.assert_frame_equal(off_q.xs("corrected", level="kind"), on_q.xs("corrected", level="kind"), atol=1e-5)
    assert not np.allclose(off_q.xs("raw", level="kind")["cosine"], on_q.xs("raw", level="kind")["cosine"])


def test_angle_row_counts_positions_not_sequences():
    angle = np.array([[10.0, -50.0, np.nan], [70.0, 0.0, -20.0]])
    row = angle_row(angle, (30.0, 45.0, 60.0))
    assert row["pct_30"] == pytest.approx(40.0) and row["pct_60"] == pytest.approx(20.0)
    assert row["mean_abs_angle"] == pytest.approx(30.0) and row["mean_angle"] == pytest.approx(2.0)


def test_task_angle_table_tells_different_tasks_from_alike_ones(tmp_path):
    rng = np.random.default_rng(0)
    files = []
    for name, shift in (("alike", 0.0), ("shifted", 20.0)):
        arrays = {"hist_task": np.zeros((3, 180), dtype=np.int64), "abs_angle_task0": rng.normal(30, 5, 200),
                  "abs_angle_task1": rng.normal(30, 5, 200), "abs_angle_task2": rng.normal(30 + shift, 5, 200)}
        arrays["abs_angle_task1"][:3] = np.nan  # a zero gradient: no angle, left out
        write_arrays(tmp_path / f"{name}.h5", arrays, {"task_names": ["a", "b", "c"], "activation": name, "trial": 0,
                                                       "method": "saliency"})
        files.append(tmp_path / f"{name}.h5")
    table = task_angle_table(files)
    p = table.groupby("activation")["kruskal_p"].first()
    assert p["alike"] > 0.01 and p["shifted"] < 1e-10
    assert list(table[table["activation"] == "alike"]["n"]) == [200, 197, 200]
    assert read_histograms(files[0])[0]["task_names"] == ["a", "b", "c"]


def test_interpretability_gain_is_corrected_minus_raw_per_task():
    quality = pd.DataFrame([{"activation": "exp", "trial": 0, "method": "saliency", "task": t, "task_name": str(t),
                             "kind": kind, "n": 5, "auroc": 0.6 + 0.1 * t + (0.05 if kind == "corrected" else 0),
                             "aupr": 0.5, "cosine": 0.1 * t} for t in range(3) for kind in ("raw", "corrected")])
    wide = interpretability_gain(quality)
    np.testing.assert_allclose(wide["auroc_gain"], 0.05)
    np.testing.assert_allclose(wide["auroc_raw"], [0.6, 0.7, 0.8])
    assert interpretability_gain(quality.iloc[:0]).empty


def test_stages_from_dataset_to_tables(tmp_path):
    """The billboard, one tiny Basset-style model per activation, its angles and the tables, as the workflow runs
    them; the same seed gives the same dataset file."""
    settings = {"n": 300, "length": 150, "split": [0.6, 0.2, 0.2]}
    make_billboard(tmp_path / "data.h5", settings, seed=5)
    make_billboard(tmp_path / "again.h5", settings, seed=5)
    assert (tmp_path / "data.h5").read_bytes() == (tmp_path / "again.h5").read_bytes()
    names = task_names(tmp_path / "data.h5")
    assert names == read_tasks(tmp_path / "data.h5")[0] and len(names) == 7
    small = {"filters": [4, 4, 4], "widths": [19, 11, 7], "pools": [3, 4, 4], "dense": [8]}
    training = {"max_epochs": 1, "batch_size": 50, "learning_rate": 0.001, "log_every": 0}
    inputs = {"models": [], "rows": [], "histograms": []}
    for activation in ("exp", "relu"):
        model = tmp_path / f"{activation}.pt"
        train_model(tmp_path / "data.h5", model, tmp_path / f"{activation}.tsv", activation=activation, trial=0,
                    model=small, training=training, seed=1, device="cpu")
        _, saved = load_model(model)
        assert saved["arch"] == "basset" and saved["model_kwargs"]["n_tasks"] == 7
        model_angles(tmp_path / "data.h5", model, tmp_path / f"{activation}.h5", tmp_path / f"{activation}.rows.tsv",
                     method="smoothgrad", options={"n_samples": 3}, settings={**SETTINGS, "n_test": 20},
                     thresholds=[30, 45, 60], seed=1, device="cpu")
        inputs["models"].append(model)
        inputs["rows"].append(tmp_path / f"{activation}.rows.tsv")
        inputs["histograms"].append(tmp_path / f"{activation}.h5")
    out = {name: tmp_path / f"{name}.tsv" for name in ("models", "angles", "task_angles", "interpretability")}
    multitask_tables(inputs, out)
    test_y = read_split(tmp_path / "data.h5", "test", ("y",))["y"]
    angles = pd.read_csv(out["angles"], sep="\t")
    assert len(angles) == 2 * 8 and (angles.loc[angles["group"] == "top_class", "n"] == 20).all()
    assert list(angles.loc[angles["group"] == "task", "n"][:7]) == [min(15, int(c)) for c in test_y.sum(0)]
    assert len(pd.read_csv(out["interpretability"], sep="\t")) == 2 * 7
    assert sorted(pd.read_csv(out["models"], sep="\t")["activation"]) == ["exp", "relu"]


def test_encode_stage_builds_tasks_from_cell_types_and_the_angles_run_without_ground_truth(tmp_path):
    """The ENCODE path on a small genome: one peak file per cell type (metadata checked for one assembly), the
    dataset's tasks are the cell types in the table's order, and a model's analysis has angles but no
    interpretability (no ground truth)."""
    import json

    from genome_fixture import write_genome, write_peaks

    fasta, _ = write_genome(tmp_path)
    rng = np.random.default_rng(0)
    sources, peaks, metadata = {}, [], []
    for i, cell_type in enumerate(["K562", "HepG2"]):
        accession = f"ENCFF00{i}AAA"
        rows = [(chrom, int(s), int(s) + 100, 50) for chrom, size in (("chr1", 12_000), ("chr2", 8_000),
                                                                        ("chr3", 6_000))
                for s in rng.integers(200, size - 300, 25) if not (chrom == "chr3" and 700 < s < 1300)]
        peaks.append(write_peaks(tmp_path / f"{accession}.bed.gz", rows, gzip=True))
        record = {"accession": accession, "assembly": "GRCh38", "md5sum": "0" * 32, "file_format": "bed",
                  "href": f"/files/{accession}/@@download/{accession}.bed.gz"}
        metadata.append(tmp_path / f"{accession}.json")
        metadata[-1].write_text(json.dumps(record))
        sources[cell_type] = {"accession": accession}
    settings = {"width": 200, "valid_chroms": ["chr2"], "test_chroms": ["chr3"], "max_windows": None}
    data = tmp_path / "encode.h5"
    make_encode(data, peaks, metadata, fasta, sources, settings, seed=0)
    assert task_names(data) == ["K562", "HepG2"]
    small = {"filters": [4, 4, 4], "widths": [19, 11, 7], "pools": [3, 4, 4], "dense": [8]}
    train_model(data, tmp_path / "m.pt", tmp_path / "m.tsv", activation="relu", trial=0, model=small,
                training={"max_epochs": 1, "batch_size": 32, "log_every": 0}, seed=0, device="cpu")
    model_angles(data, tmp_path / "m.pt", tmp_path / "m.h5", tmp_path / "rows.tsv", method="saliency", options={},
                 settings=SETTINGS, thresholds=[30, 45, 60], seed=0, device="cpu")
    rows = pd.read_csv(tmp_path / "rows.tsv", sep="\t")
    assert set(rows["table"]) == {"angles"} and len(rows) == 1 + 2
    assert read_histograms(tmp_path / "m.h5")[0]["task_names"] == ["K562", "HepG2"]
