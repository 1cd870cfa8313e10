"""Tests for gradcorr.data.multitask: the multi-task billboard with a ground truth per task."""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
import pytest

from gradcorr import metrics
from gradcorr.data import multitask as mt
from gradcorr.data import synthetic as syn
from gradcorr.data.io import write_arrays

N, SEED, LENGTH = 600, 3, 200
CORE_IDS, TASK_MOTIFS = mt.core_pool(mt.DEFAULT_TASKS)
RELEASE = "JASPAR2016"


def _joined(data: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The splits of each key joined, in order (the order of drawing)."""
    return {k: np.concatenate([data[f"{k}_{s}"] for s in syn.SPLITS]) for k in mt.MULTITASK_KEYS}


@pytest.fixture(scope="module")
def data() -> dict[str, np.ndarray]:
    return mt.generate_multitask(n=N, seed=SEED)


@pytest.fixture(scope="module")
def joined(data) -> dict[str, np.ndarray]:
    return _joined(data)


@pytest.fixture(scope="module")
def large() -> dict[str, np.ndarray]:
    """Enough sequences for frequency checks."""
    return _joined(mt.generate_multitask(n=4000, seed=11))


def _pwms(motif_id: str) -> list[np.ndarray]:
    """Forward and reverse-complement PWM of a motif, float32 as the model stores them."""
    pwm = np.asarray(syn._motif_pwm(RELEASE, motif_id))
    return [pwm.astype(np.float32), syn.reverse_complement(pwm).astype(np.float32)]


# --------------------------------------------------------------------------- layout


def test_core_pool_is_the_union_in_order_of_first_appearance():
    ids, idx = mt.core_pool([("B", "A"), ("C",), ("A", "C")])
    assert ids == ("B", "A", "C")
    assert idx == ((0, 1), (2,), (1, 2))
    assert CORE_IDS == syn.CORE_MOTIF_IDS  # the default: the billboard's core motifs, one task each first
    assert len(TASK_MOTIFS) == 7


def test_keys_shapes_and_dtypes(data):
    sizes = syn.split_sizes(N, (0.7, 0.1, 0.2))
    for split, size in zip(syn.SPLITS, sizes):
        assert data[f"x_{split}"].shape == (size, 4, LENGTH) and data[f"x_{split}"].dtype == np.float32
        assert data[f"y_{split}"].shape == (size, len(mt.DEFAULT_TASKS)) and data[f"y_{split}"].dtype == np.float32
        assert data[f"model_{split}"].shape == (size, 4, LENGTH) and data[f"model_{split}"].dtype == np.float32
        assert data[f"motif_{split}"].shape == (size, LENGTH) and data[f"motif_{split}"].dtype == np.int8
    assert sorted(data) == sorted(f"{k}_{s}" for k in mt.MULTITASK_KEYS for s in syn.SPLITS)


def test_one_hot_and_model_are_distributions(joined):
    x, model = joined["x"], joined["model"]
    assert set(np.unique(x)) == {0.0, 1.0} and np.all(x.sum(axis=1) == 1)
    np.testing.assert_allclose(model.sum(axis=1), 1.0, atol=1e-5)
    assert np.all(model[np.broadcast_to(x == 1, model.shape)] > 0)  # no letter drawn where M gives it 0


def test_labels_are_the_presence_of_each_tasks_motifs(joined):
    for t, idx in enumerate(TASK_MOTIFS):
        present = np.isin(joined["motif"], idx).any(axis=1)
        np.testing.assert_array_equal(joined["y"][:, t], present.astype(np.float32), err_msg=f"task {t}")


def test_motif_array_is_tiled_by_the_core_motifs_pwms(joined):
    """Each run of one core index in ``motif`` is exactly a sequence of that motif's PWM (either strand)."""
    pwms = [_pwms(m) for m in CORE_IDS]
    seen = 0
    for model, motif in zip(joined["model"], joined["motif"]):
        pos = 0
        while pos < LENGTH:
            k = int(motif[pos])
            if k < 0:
                pos += 1
                continue
            w = pwms[k][0].shape[1]
            assert np.all(motif[pos:pos + w] == k), "a core motif cut short"
            assert any(np.array_equal(model[:, pos:pos + w], p) for p in pwms[k]), f"motif {k} at {pos}"
            pos += w
            seen += 1
    assert seen > N  # about 1.35 core motifs per sequence


def test_background_columns_come_from_the_background_motifs(joined):
    """Off the core motifs, M is uniform or a column of one of the attrs' background motifs."""
    attrs = mt.multitask_attrs(n=N, seed=SEED)
    assert len(attrs["background_ids"]) == 50 and not set(attrs["background_ids"]) & set(CORE_IDS)
    columns = {tuple(c) for m in attrs["background_ids"] for p in _pwms(m) for c in p.T}
    off = np.moveaxis(joined["model"], 1, 2)[joined["motif"] < 0]  # (positions, 4)
    motif_columns = off[np.any(off != 0.25, axis=1)]
    assert len(motif_columns) > N * 20
    assert {tuple(c) for c in motif_columns} <= columns


def test_task_model_keeps_only_the_tasks_motifs(joined):
    model, motif = joined["model"], joined["motif"]
    for t, idx in enumerate(TASK_MOTIFS):
        truth = mt.task_model(model, motif, idx)
        assert truth.dtype == np.float32 and truth.shape == model.shape
        inside = np.broadcast_to(np.isin(motif, idx)[:, None, :], model.shape)
        np.testing.assert_array_equal(truth[inside], model[inside])
        assert np.all(truth[~inside] == 0.25)
        negatives = joined["y"][:, t] == 0
        assert np.all(truth[negatives] == 0.25)  # a sequence without the task's motifs has no ground truth
    np.testing.assert_array_equal(mt.task_model(model[0], motif[0], TASK_MOTIFS[0]),
                                  mt.task_model(model, motif, TASK_MOTIFS[0])[0])


def test_interpretability_scores_a_map_against_the_tasks_motifs_only(joined):
    """A map marking task 0's motifs exactly is perfect against task 0's ground truth, not against the full
    model where other motifs sit too: the per-task truth is what makes a per-task score meaningful."""
    x, model, motif = joined["x"], joined["model"], joined["motif"]
    rows = np.flatnonzero((joined["y"][:, 0] == 1) & (joined["y"][:, 1] == 1))
    assert len(rows) > 5
    attr = x[rows] * np.isin(motif[rows], TASK_MOTIFS[0])[:, None, :]
    auroc, _ = metrics.interpretability_auc(attr, x[rows], mt.task_model(model[rows], motif[rows], TASK_MOTIFS[0]))
    np.testing.assert_array_equal(auroc, 1.0)
    full, _ = metrics.interpretability_auc(attr, x[rows], model[rows])
    assert np.all(full < 1.0)


# --------------------------------------------------------------------------- label statistics


def test_sequences_are_positive_for_several_tasks(joined):
    y = joined["y"]
    assert np.any(y.sum(axis=1) >= 2)
    assert np.any((y[:, 0] == 1) & (y[:, 1] == 1))  # two tasks with disjoint motif sets, together
    assert np.any(y.sum(axis=1) == 0)
    np.testing.assert_array_equal(y[:, 5], np.maximum(y[:, 0], y[:, 2]))  # MA0079.3+MA0466.2: either motif


def test_positive_rates_match_the_slot_probabilities(large):
    """P(task positive) = 1 - E[(1 - p * |S| / K) ** count] (a slot holds one of the task's |S| of K core
    motifs with chance p |S| / K): about 24% for single motifs, 43% for pairs, at the default p = 0.35."""
    counts, probs = np.array(syn.MOTIF_COUNTS), np.array(syn.MOTIF_COUNT_PROBS)
    rates = large["y"].mean(axis=0)
    for t, idx in enumerate(TASK_MOTIFS):
        expected = 1 - np.sum(probs * (1 - 0.35 * len(idx) / len(CORE_IDS)) ** counts)
        se = np.sqrt(expected * (1 - expected) / len(large["y"]))
        assert abs(rates[t] - expected) < 4 * se, (t, rates[t], expected)
        assert 0.2 < rates[t] < 0.5


def test_core_probability_one_puts_only_core_motifs():
    tasks = tuple((m,) for m in syn.CORE_MOTIF_IDS)
    data = _joined(mt.generate_multitask(n=200, tasks=tasks, core_probability=1.0, n_background=0, seed=0))
    covered = data["motif"] >= 0
    assert np.all(np.any(np.moveaxis(data["model"], 1, 2) != 0.25, axis=2) <= covered)
    assert np.all(data["y"].sum(axis=1) >= 1)  # every slot holds a core motif, so every sequence is positive


# --------------------------------------------------------------------------- reproducibility and files


def test_one_seed_same_arrays_and_bytes(data, tmp_path: Path):
    again = mt.generate_multitask(n=N, seed=SEED)
    assert data.keys() == again.keys()
    for k in data:
        np.testing.assert_array_equal(data[k], again[k], err_msg=k)
    other = mt.generate_multitask(n=N, seed=SEED + 1)
    assert not np.array_equal(data["x_train"], other["x_train"])
    attrs = mt.multitask_attrs(n=N, seed=SEED)
    paths = [tmp_path / "a.h5", tmp_path / "b.h5"]
    write_arrays(paths[0], data, attrs)
    write_arrays(paths[1], again, mt.multitask_attrs(n=N, seed=SEED))
    assert paths[0].read_bytes() == paths[1].read_bytes()

    back = mt.read_multitask(paths[0], "valid")
    for k in mt.MULTITASK_KEYS:
        np.testing.assert_array_equal(back[k], data[f"{k}_valid"])
    with h5py.File(paths[0], "r") as f:
        assert json.loads(f.attrs["tasks"])[5] == "MA0079.3+MA0466.2"
        assert json.loads(f.attrs["task_motifs"]) == [list(i) for i in TASK_MOTIFS]
        assert json.loads(f.attrs["core_ids"]) == list(CORE_IDS)
        assert f.attrs["seed"] == SEED and f.attrs["length"] == LENGTH and f.attrs["core_probability"] == 0.35
        assert json.loads(f.attrs["counts"]) == list(syn.MOTIF_COUNTS)
    names, task_motifs = mt.read_tasks(paths[0])
    assert names == ["+".join(t) for t in mt.DEFAULT_TASKS] and task_motifs == list(TASK_MOTIFS)
    write_arrays(paths[1], data)
    with pytest.raises(ValueError, match="no attribute 'tasks'"):
        mt.read_tasks(paths[1])


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize("kwargs, message", [
    ({"tasks": (("MA0079.3",), ("MA9999.9",))}, r"task 1 \(MA9999.9\): motif ID 'MA9999.9' not found"),
    ({"tasks": (("MA0079.3",), ())}, "task 1 is empty"),
    ({"tasks": ()}, "non-empty sequence of tasks"),
    ({"tasks": ("MA0079.3",)}, "task 0 must be a tuple of JASPAR IDs"),
    ({"tasks": (("MA0079.3", "MA0079.3"),)}, "names a motif twice"),
    ({"tasks": (("MA0079.3", "MA0062.2"), ("MA0062.2", "MA0079.3"))}, "tasks 0 and 1 have the same motif set"),
    ({"length": 18}, "length 18 is too short"),
    ({"length": 25, "core_probability": 1.0}, "length 25 is too short"),
    ({"split": (0.5, 0.5, 0.5)}, "split must be 3 non-negative fractions"),
    ({"core_probability": 0.0}, "core_probability must be in"),
    ({"core_probability": 1.5}, "core_probability must be in"),
    ({"n_background": 0}, "set n_background > 0 or core_probability = 1"),
    ({"probs": (0.5, 0.25, 0.17, 0.05, 0.02)}, "probs must sum to 1"),
    ({"n": 0}, "n must be an integer >= 1"),
    ({"n": 40, "core_probability": 0.001}, r"task 0 \(MA0079.3\) has no positives in the train split .*raise n, "
                                           r"raise core_probability"),
    ({"n": 40, "tasks": (syn.CORE_MOTIF_IDS,), "core_probability": 1.0},
     r"has no negatives in the train split .*lower core_probability"),
])
def test_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        mt.generate_multitask(**{"n": 100, **kwargs})


def test_attrs_and_task_model_errors(joined):
    with pytest.raises(ValueError, match="unknown setting.*'n_positive'"):
        mt.multitask_attrs(n_positive=5)
    with pytest.raises(ValueError, match="task 0 is empty"):
        mt.multitask_attrs(tasks=((),))
    with pytest.raises(ValueError, match="must match"):
        mt.task_model(joined["model"], joined["motif"][:, :10], TASK_MOTIFS[0])
    with pytest.raises(ValueError, match="core-pool indices"):
        mt.task_model(joined["model"], joined["motif"], [])
