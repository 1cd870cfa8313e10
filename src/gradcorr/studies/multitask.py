"""Multi-task models: the gradient-correction paper's Fig. 11 (gradient angles of a Basset model) and beyond.

Basset-style models (`models.architectures.basset`, Task 4 of Koo & Ploenzke's exponential-activation paper) with an
exponential or ReLU first layer are trained on a multi-task dataset: the multi-task billboard (`data.multitask`,
offline, each task a set of core motifs, so every task has its ground truth) or ENCODE peaks, one file per cell type
(`data.accessibility`). Per model and method:

- the angles between the simplex and the maps of the class with the highest mean prediction over the test set, for
  every test sequence (Fig. 11a, c), and of each of the first `shown_tasks` tasks for its positive test sequences
  (Fig. 11b, d);
- whether angles differ between the tasks of one model (per-sequence mean |angle| per task; Kruskal-Wallis);
- on the billboard, each task's interpretability (AUROC, AUPR, cosine of the maps of its positives against the
  task's own motifs, `data.multitask.task_model`), raw and corrected.

One function per workflow stage; the figures are in `multitask_plots`.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gradcorr.data.io import open_hdf5, read_arrays, read_attrs, read_split, read_tsvs, write_arrays, write_tsv
from gradcorr.studies.faithfulness import KINDS
from gradcorr.workflow.runtime import derive_seed

log = logging.getLogger(__name__)

TOP_CLASS, TASK = "top_class", "task"  # the two groups of maps: Fig. 11a, c and Fig. 11b, d
ANGLE_COLUMNS = ["activation", "trial", "method", "group", "task", "task_name", "n", "test_auroc", "positive_rate",
                 "mean_angle", "sd_angle", "mean_abs_angle", "pct_30", "pct_45", "pct_60"]
INTERPRETABILITY_COLUMNS = ["activation", "trial", "method", "task", "task_name", "kind", "n", "auroc", "aupr",
                            "cosine"]


def task_names(path: str | Path) -> list[str]:
    """The dataset's task names in output order: the billboard's motif sets, or ENCODE's cell types."""
    attrs = read_attrs(path)
    for key in ("tasks", "cell_types"):
        if key in attrs:
            return [str(t) for t in json.loads(attrs[key])]
    raise ValueError(f"{path}: no task names (attribute 'tasks' or 'cell_types'); not a multi-task dataset")


def has_ground_truth(path: str | Path) -> bool:
    """Whether the dataset holds per-position ground truth (the billboard's sequence models and motif indices)."""
    with open_hdf5(path) as f:
        return "model_test" in f and "motif_test" in f


# ---------------------------------------------------------------------------------------------------
# Datasets


def make_billboard(out: str | Path, settings: dict[str, Any], seed: int) -> None:
    """The multi-task billboard of `settings` (the config's multitask.billboard) under the run's seed."""
    from gradcorr.data.multitask import generate_multitask, multitask_attrs

    settings = {**settings, "seed": derive_seed(seed, "multitask-billboard")}
    data = generate_multitask(**settings)
    write_arrays(out, data, multitask_attrs(**settings))
    counts = {name: int(data[f"y_{name}"].shape[0]) for name in ("train", "valid", "test")}
    log.info("multi-task billboard: %s sequences, %d tasks, %s", counts, data["y_train"].shape[1], out)


def make_encode(out: str | Path, peaks: list[str], metadata: list[str], genome: str | Path,
                sources: dict[str, dict[str, str]], settings: dict[str, Any], seed: int) -> None:
    """The ENCODE multi-task dataset: one peak file per cell type of `sources` (the table's rows, in order);
    `settings` is the config's multitask.encode (its `table` is what `sources` were read from)."""
    from gradcorr.data.accessibility import build_multitask_dataset, peak_assembly

    assembly = peak_assembly(metadata)  # peak files (bed), all on one assembly
    accessions = [row["accession"] for row in sources.values()]
    options = {k: v for k, v in settings.items() if k != "table"}
    stats = build_multitask_dataset(peaks, list(sources), genome, out, accessions=accessions,
                                    seed=derive_seed(seed, "multitask-encode"), **options)
    log.info("ENCODE multi-task dataset (%d cell types on %s): %s", len(sources), assembly, stats)


# ---------------------------------------------------------------------------------------------------
# Models


def train_model(data: str | Path, model_out: str | Path, history_out: str | Path, *, activation: str, trial: int,
                model: dict[str, Any], training: dict[str, Any], seed: int, device: str = "auto",
                threads: int = 1) -> None:
    """Train one Basset-style model (`model`: its sizes) on the dataset's train split, validated on its valid
    split (mean AUROC over tasks), under a seed derived from the run's, the activation and the trial."""
    from gradcorr.studies.model_runs import train_members

    n_tasks = len(task_names(data))
    model_seed = derive_seed(seed, "multitask-model", activation, trial)
    options = {"activation": activation, "n_tasks": n_tasks, **model}
    train_members(data, [(model_out, history_out)], arch="basset", model_kwargs=[options],
                  model_ids=[f"basset_{activation}_{trial}"], seeds=[model_seed],
                  metas=[{"trial": trial, "activation": activation}], training=training, engine="sequential",
                  device=device, threads=threads)


def _predictions(model: Any, x: np.ndarray, y: np.ndarray, batch_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Sigmoid outputs (N, T) of a multi-task model and each task's AUROC (NaN for a task of one class)."""
    import torch

    from gradcorr.models.training import predict, task_aurocs

    p = predict(model, torch.as_tensor(x), batch_size=batch_size).reshape(len(x), -1)
    return p.numpy(), task_aurocs(torch.as_tensor(y), p)


# ---------------------------------------------------------------------------------------------------
# Angles and interpretability of one model


def angle_row(angle: np.ndarray, thresholds: tuple[float, ...] = (30.0, 45.0, 60.0)) -> dict[str, float]:
    """Summary of the angles (N, L) of a set of maps (NaN angles, zero gradients, left out): mean, SD and mean |angle|
    over every position, and the percentage of positions with |angle| above each threshold."""
    values = angle[~np.isnan(angle)]
    row = {"mean_angle": float(values.mean()) if values.size else float("nan"),
           "sd_angle": float(values.std()) if values.size else float("nan"),
           "mean_abs_angle": float(np.abs(values).mean()) if values.size else float("nan")}
    for t in thresholds:
        row[f"pct_{int(t)}"] = float(100 * (np.abs(values) > t).mean()) if values.size else float("nan")
    return row


def sequence_abs_angle(angle: np.ndarray) -> np.ndarray:
    """Each sequence's mean |angle| over its positions (N,), the unit of the comparison between tasks."""
    with np.errstate(invalid="ignore"):
        return np.nanmean(np.abs(angle), axis=1) if angle.size else np.zeros(len(angle))


def angle_analysis(model: Any, test: dict[str, np.ndarray], names: list[str], task_motifs: list[tuple[int, ...]], *,
                   method: str, options: dict[str, Any], settings: dict[str, Any], thresholds: list[float],
                   seed: int, key: dict[str, Any]) -> tuple[dict[str, np.ndarray], pd.DataFrame, pd.DataFrame]:
    """A multi-task model's maps of a test split with `method`, and what they say.

    Maps of the top class (the highest mean prediction over the split) for the first `settings["n_test"]`
    sequences, and of each of the first `settings["shown_tasks"]` tasks for its first `settings["n_positive"]`
    positives. Returns the arrays (angle `edges`, `top_class`, `hist_top_class`, `hist_task` (tasks, bins),
    `abs_angle_task{t}` each positive's mean |angle|), a row per group and task (`ANGLE_COLUMNS`; `key` fills
    activation, trial and method) and, when `task_motifs` are given (the billboard's ground truth: `test` then
    holds "model" and "motif"), each task's interpretability raw and corrected (`INTERPRETABILITY_COLUMNS`).
    A random method's draws are seeded from `seed`, the model's key and the target.
    """
    from gradcorr.angles import ANGLE_EDGES, angle_histogram
    from gradcorr.attribution import OPTIONS, attribute
    from gradcorr.correction import correct, simplex_angle
    from gradcorr.data.multitask import task_model
    from gradcorr.metrics import interpretability_scores

    x, y = test["x"], np.asarray(test["y"], dtype=np.float64).reshape(len(test["x"]), -1)
    batch = settings["batch_size"]
    p, aurocs = _predictions(model, x, y, batch)
    top = int(np.argmax(p.mean(axis=0)))
    log.info("%d test sequences, %d tasks, mean test AUROC %.3f; top class %d (%s), mean prediction %.3f",
             len(x), len(names), np.nanmean(aurocs), top, names[top], p[:, top].mean())

    def maps(idx: np.ndarray, target: int) -> np.ndarray:
        opts = dict(options)
        if "seed" in OPTIONS[method]:
            opts["seed"] = derive_seed(seed, "multitask-attribution", *key.values(), target)
        return attribute(model, x[idx], method, output=settings["output"], target=target, batch_size=batch, **opts)

    def summary(group: str, t: int, raw: np.ndarray) -> dict[str, Any]:
        return {**key, "group": group, "task": t, "task_name": names[t], "n": len(raw), "test_auroc": aurocs[t],
                "positive_rate": y[:, t].mean(), **angle_row(simplex_angle(raw), thresholds)}

    n_test = len(x) if settings["n_test"] is None else min(settings["n_test"], len(x))
    raw = maps(np.arange(n_test), top)
    arrays = {"edges": ANGLE_EDGES, "top_class": np.array(top), "hist_top_class": angle_histogram(raw)}
    rows, quality = [summary(TOP_CLASS, top, raw)], []
    shown = min(settings["shown_tasks"], len(names))
    arrays["hist_task"] = np.zeros((shown, len(ANGLE_EDGES) - 1), dtype=np.int64)
    for t in range(shown):
        idx = np.flatnonzero(y[:, t] == 1)[:settings["n_positive"]]
        log.info("task %d (%s): %d positive test sequences", t, names[t], len(idx))
        raw = maps(idx, t) if len(idx) else np.zeros((0, *x.shape[1:]), dtype=np.float32)
        arrays["hist_task"][t] = angle_histogram(raw)
        arrays[f"abs_angle_task{t}"] = sequence_abs_angle(simplex_angle(raw))
        rows.append(summary(TASK, t, raw))
        if task_motifs and len(idx):
            ground = task_model(test["model"][idx], test["motif"][idx], task_motifs[t])
            for kind, values in (("raw", raw), ("corrected", correct(raw))):
                scores = interpretability_scores(values, x[idx], ground)
                quality.append({**key, "task": t, "task_name": names[t], "kind": kind, "n": len(idx), **scores})
    return arrays, pd.DataFrame(rows, columns=ANGLE_COLUMNS), pd.DataFrame(quality, columns=INTERPRETABILITY_COLUMNS)


def model_angles(data: str | Path, model_path: str | Path, histograms_out: str | Path, rows_out: str | Path, *,
                 method: str, options: dict[str, Any], settings: dict[str, Any], thresholds: list[float], seed: int,
                 device: str = "auto", threads: int = 1) -> None:
    """`angle_analysis` of one saved model on the dataset's test split: the arrays to `histograms_out` (attributes:
    the model's activation, trial, the method and the task names), the angle rows and the interpretability rows to
    `rows_out` (one TSV, told apart by the column `table`)."""
    from gradcorr.data.multitask import read_multitask, read_tasks
    from gradcorr.studies.model_runs import job_device, load_models

    dev = job_device(device, threads)
    (model, saved), = load_models([model_path], device=str(dev), threads=threads)
    meta = saved.get("meta", {})
    key = {"activation": meta.get("activation"), "trial": meta.get("trial"), "method": method}
    names, truth = task_names(data), has_ground_truth(data)
    test = read_multitask(data, "test") if truth else read_split(data, "test", ("x", "y"))
    log.info("%s on %s, %s", model_path, data, method)
    arrays, rows, quality = angle_analysis(model, test, names, read_tasks(data)[1] if truth else [], method=method,
                                           options=options, settings=settings, thresholds=thresholds, seed=seed,
                                           key=key)
    write_arrays(histograms_out, arrays, {"task_names": names, **key})
    write_tsv(pd.concat([rows.assign(table="angles"), quality.assign(table="interpretability")]), rows_out)


def read_histograms(path: str | Path) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """A `model_angles` histogram file: its attributes (task names decoded) and arrays."""
    attrs = read_attrs(path)
    return {**attrs, "task_names": json.loads(attrs["task_names"])}, read_arrays(path)


# ---------------------------------------------------------------------------------------------------
# Tables and figures


def task_angle_table(histogram_files: list[str | Path]) -> pd.DataFrame:
    """Per model and method, whether the shown tasks' angles differ: each task's per-sequence mean |angle| (mean,
    SD, n) and the Kruskal-Wallis H and p over the tasks (NaN with fewer than two tasks holding sequences)."""
    from scipy.stats import kruskal

    rows = []
    for path in histogram_files:
        attrs, arrays = read_histograms(path)
        samples = [arrays[f"abs_angle_task{t}"] for t in range(len(arrays["hist_task"]))]
        valid = [s[~np.isnan(s)] for s in samples]
        usable = [s for s in valid if len(s)]
        h, p = kruskal(*usable) if len(usable) >= 2 else (np.nan, np.nan)
        for t, s in enumerate(valid):
            rows.append({"activation": attrs["activation"], "trial": int(attrs["trial"]), "method": attrs["method"],
                         "task": t, "task_name": str(attrs["task_names"][t]), "n": len(s),
                         "mean_abs_angle": float(s.mean()) if len(s) else np.nan,
                         "sd_abs_angle": float(s.std()) if len(s) else np.nan,
                         "kruskal_h": float(h), "kruskal_p": float(p)})
    return pd.DataFrame(rows, columns=["activation", "trial", "method", "task", "task_name", "n", "mean_abs_angle",
                                       "sd_abs_angle", "kruskal_h", "kruskal_p"])


def multitask_model_table(model_files: list[str | Path], angle_rows: pd.DataFrame) -> pd.DataFrame:
    """One row per model: its activation, trial, epochs trained, best validation AUROC (mean over tasks), mean test
    AUROC over tasks and its top class."""
    from gradcorr.models.checkpoint import load_model

    rows = []
    for path in model_files:
        _, saved = load_model(path)
        meta, history = saved.get("meta", {}), saved.get("history", [])
        aurocs = [h["val_auroc"] for h in history if "val_auroc" in h]
        part = angle_rows[(angle_rows["activation"] == meta["activation"]) & (angle_rows["trial"] == meta["trial"])]
        top = part[part["group"] == TOP_CLASS]
        rows.append({"activation": meta["activation"], "trial": meta["trial"], "epochs": len(aurocs),
                     "val_auroc": max(aurocs) if aurocs else np.nan,
                     "test_auroc_shown_tasks": float(part[part["group"] == TASK]["test_auroc"].mean()),
                     "top_class": int(top["task"].iloc[0]) if len(top) else -1,
                     "top_class_name": str(top["task_name"].iloc[0]) if len(top) else ""})
    return pd.DataFrame(rows)


def multitask_tables(inputs: dict[str, list[str]], out: dict[str, str | Path]) -> None:
    """The study's tables: models, angles (a row per model, method, group and task), the comparison of tasks'
    angles, and per-task interpretability raw and corrected with the correction's gain (billboard only)."""
    rows = read_tsvs(inputs["rows"])
    angles = rows[rows["table"] == "angles"][ANGLE_COLUMNS]
    quality = rows[rows["table"] == "interpretability"][INTERPRETABILITY_COLUMNS]
    write_tsv(multitask_model_table(inputs["models"], angles), out["models"])
    write_tsv(angles.reset_index(drop=True), out["angles"])
    write_tsv(task_angle_table(inputs["histograms"]), out["task_angles"])
    write_tsv(interpretability_gain(quality), out["interpretability"])


def interpretability_gain(quality: pd.DataFrame) -> pd.DataFrame:
    """Per model, method and task: AUROC, AUPR and cosine raw and corrected side by side, and corrected - raw."""
    keys = ["activation", "trial", "method", "task", "task_name", "n"]
    metrics = ["auroc", "aupr", "cosine"]
    columns = keys + [f"{m}_{k}" for m in metrics for k in KINDS] + [f"{m}_gain" for m in metrics]
    if quality.empty:
        return pd.DataFrame(columns=columns)
    wide = quality.pivot_table(index=keys, columns="kind", values=metrics, aggfunc="first")
    wide.columns = [f"{m}_{k}" for m, k in wide.columns]
    wide = wide.reset_index()
    for m in metrics:
        wide[f"{m}_gain"] = wide[f"{m}_corrected"] - wide[f"{m}_raw"]
    return wide[columns]


def multitask_figures(inputs: dict[str, Any], out: dict[str, str | Path]) -> None:
    """Fig. 11 per method, the angles per task and the interpretability per task, each as PNG, PDF and a TSV of the
    numbers drawn."""
    from gradcorr.studies import multitask_plots, plotting  # matplotlib only in the jobs that draw

    histograms = [read_histograms(p) for p in inputs["histograms"]]
    for method in dict.fromkeys(str(a["method"]) for a, _ in histograms):
        fig, numbers = multitask_plots.fig11([h for h in histograms if str(h[0]["method"]) == method], method)
        plotting.save_figure(fig, out[f"fig11_{method}_pdf"], out[f"fig11_{method}"])
        write_tsv(numbers, out[f"fig11_{method}_tsv"])
    for name, draw in (("task_angles", multitask_plots.fig_task_angles),
                       ("interpretability", multitask_plots.fig_task_interpretability)):
        fig, numbers = draw(pd.read_csv(inputs[name], sep="\t"))
        plotting.save_figure(fig, out[f"{name}_pdf"], out[name])
        write_tsv(numbers, out[f"{name}_tsv"])
