"""One function per workflow stage that trains or runs models (torch): training, importing the published
models, attribution and its scores.

As in `gradcorr.stages` (the stages that need no model), the Snakemake scripts only map the `snakemake`
object onto these calls. `train_members` and `model_maps` also serve the in vivo and consistency studies.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pandas as pd
import torch
from torch import nn

from gradcorr import angles
from gradcorr.attribution import OPTIONS, attribute, iter_attribute_members
from gradcorr.checkpoint import load_model, save_model
from gradcorr.consistency import kmer_counts
from gradcorr.download import md5sum
from gradcorr.ensemble_engine import inference_ensemble, predict_members, train_ensemble
from gradcorr.evaluate import positive_indices, score_maps
from gradcorr.io import read_xy, write_arrays, write_tsv
from gradcorr.keras_weights import load_keras_model, published_model_id
from gradcorr.metrics import classification_scores
from gradcorr.models import build_model
from gradcorr.runtime import derive_seed, pick_device
from gradcorr.stages import model_type_of
from gradcorr.synthetic import read_dataset
from gradcorr.training import TrainConfig, predict, train

log = logging.getLogger(__name__)


def _tensors(path: str | Path, split: str) -> tuple[torch.Tensor, torch.Tensor]:
    """x and y of one split of a dataset in the published layout (synthetic or ChIP-seq), as float32 tensors."""
    x, y = read_xy(path, split)
    return torch.as_tensor(x, dtype=torch.float32), torch.as_tensor(y, dtype=torch.float32)


ENGINES = ("vectorized", "sequential")
# sequences per block of a multi-model attribution: a log line per block (50 CNN-deep models take about
# 3 minutes per block of expected gradients on one CPU core)
PROGRESS_BLOCK = 64


def job_device(device: str, threads: int) -> torch.device:
    """Set torch's threads for this job and pick its device (said in the log)."""
    torch.set_num_threads(threads)
    return pick_device(device)


def load_models(paths: list[str | Path], device: str = "auto", threads: int = 1) -> list[tuple[nn.Sequential, dict]]:
    """The models of one job, each with what was saved with it, on the job's device."""
    dev = job_device(device, threads)
    return [load_model(p, dev) for p in paths]


def train_members(data: str | Path, outputs: list[tuple[str | Path, str | Path]], *, arch: str,
                  model_kwargs: list[dict[str, Any]], model_ids: list[str], seeds: list[int],
                  metas: list[dict[str, Any]], training: dict[str, Any], engine: str = "vectorized",
                  group: int = 50, device: str = "auto", threads: int = 1) -> None:
    """Train models of one architecture on the train/valid splits of `data` with the published protocol and
    save each with its history: `outputs[i]` = (model file, history TSV) of member i.

    Member i is built from `model_kwargs[i]` (input length and alphabet are read from the data) under
    seed `seeds[i]`, which also seeds its data order and dropout; `metas[i]` is stored with it. The
    "vectorized" engine trains up to `group` members at once (`ensemble_engine.train_ensemble`; memory
    grows with the group, not with the number of members), "sequential" one after another
    (`training.train`); each member comes out the same up to float rounding.
    """
    if engine not in ENGINES:
        raise ValueError(f"unknown ensemble engine {engine!r}; choose one of {ENGINES}")
    dev = job_device(device, threads)
    x_train, y_train = _tensors(data, "train")
    x_valid, y_valid = _tensors(data, "valid")
    kwargs = [{**k, "input_length": x_train.shape[2], "alphabet": x_train.shape[1]} for k in model_kwargs]
    members = []
    for k, seed in zip(kwargs, seeds):
        torch.manual_seed(seed)
        members.append(build_model(arch, **k))
    configs = [TrainConfig.from_dict({**training, "seed": seed}) for seed in seeds]
    log.info("training %d model(s) (%s) on %d sequences of %s, %s engine: %s", len(members), arch, len(x_train),
             data, engine, ", ".join(f"{m} (seed {s})" for m, s in zip(model_ids, seeds)))
    if engine == "vectorized" and configs[0].regularizer.name != "none":
        log.info("regularizer %s: training one model at a time (the engine has the published loss only)",
                 configs[0].regularizer.name)
        engine = "sequential"
    if engine == "vectorized" and len(members) > 1:
        trained, histories = train_ensemble(members, x_train, y_train, x_valid, y_valid, configs, dev, model_ids,
                                            group)
    else:
        trained, histories = zip(*(train(m, x_train, y_train, x_valid, y_valid, c, dev)
                                   for m, c in zip(members, configs)))
    for model, history, k, config, model_id, meta, (model_out, history_out) in zip(
            trained, histories, kwargs, configs, model_ids, metas, outputs):
        save_model(model_out, model, arch, k, history, dataclasses.asdict(config), model_id=model_id,
                   device=str(dev), engine=engine, **meta)
        write_tsv(pd.DataFrame(history), history_out)


def train_synthetic_models(data: str | Path, outputs: list[tuple[str | Path, str | Path]], *, arch: str,
                           activation: str, trials: list[int], models: dict[str, Any], training: dict[str, Any],
                           seed: int, engine: str = "vectorized", group: int = 50, device: str = "auto",
                           threads: int = 1) -> None:
    """Train trials of one architecture on the synthetic dataset; `outputs[i]` receives trial `trials[i]`."""
    kwargs = {"activation": activation, "n_filters": models["n_filters"], "kernel_size": models["kernel_size"]}
    train_members(data, outputs, arch=arch, model_kwargs=[kwargs] * len(trials),
                  model_ids=[f"{arch}_{activation}_{t}" for t in trials],
                  seeds=[derive_seed(seed, "synthetic-model", arch, activation, t) for t in trials],
                  metas=[{"trial": t} for t in trials], training=training, engine=engine, group=group,
                  device=device, threads=threads)


def import_published_models(data: str | Path, sources: list[str | Path], outputs: list[str | Path], *, arch: str,
                            activation: str, trials: list[int]) -> None:
    """Turn the authors' published Keras weight files of one model type into gradcorr model files.

    `sources[i]` (a published file, checked to be of `arch`, `activation` and trial `trials[i]`) becomes
    `outputs[i]`, with its origin and md5 stored, and an empty training history. Each model's AUROC on
    the validation split of `data` is logged and stored (`meta["val_auroc"]`), as a check that the
    weights were read the right way round: a mangled model classifies at chance."""
    x_valid, y_valid = _tensors(data, "valid")
    for source, out, trial in zip(sources, outputs, trials):
        if published_model_id(source) != (arch, activation, trial):
            raise ValueError(f"{source}: expected the published file of {arch}_{activation}_{trial}")
        model = load_keras_model(source, arch, activation, input_length=x_valid.shape[2])
        conv = model[0]
        kwargs = {"activation": activation, "n_filters": conv.out_channels, "kernel_size": conv.kernel_size[0],
                  "input_length": x_valid.shape[2], "alphabet": conv.in_channels}
        val_auroc = classification_scores(y_valid.numpy(), predict(model, x_valid).numpy())["auroc"]
        model_id = f"{arch}_{activation}_{trial}"
        save_model(out, model, arch, kwargs, [], {}, model_id=model_id, trial=trial, source="published",
                   origin=Path(source).name, md5=md5sum(source), val_auroc=val_auroc)
        log.info("%s: published weights %s (first kernel %d wide, %d filters), validation AUROC %.3f on %s",
                 model_id, source, kwargs["kernel_size"], kwargs["n_filters"], val_auroc, data)


def evaluate_synthetic_models(data: str | Path, model_paths: list[str | Path], outs: list[dict[str, str | Path]],
                              *, method: str, evaluation: dict[str, Any], options: dict[str, Any],
                              thresholds: list[float], seed: int, engine: str = "vectorized", device: str = "auto",
                              threads: int = 1) -> None:
    """Attribute the first positive test sequences with each model of one model type; score the maps
    (against the ground truth, and by the consistency KLDs) and summarise their angles.

    Writes, for model i, `outs[i]["attributions"]` (raw maps, inputs, ground truth), `outs[i]["metrics"]`
    (one row: classification, interpretability before and after correction, attribution SNR and the
    consistency KLDs) and `outs[i]["angles"]` (its angle summary). `options` are the method's settings
    (config `attribution.<method>`); its random draws (references, noise) are seeded from `seed`, the
    model type and the method, so every model of a type sees the same draws. The "vectorized" engine
    attributes all models in one batched pass (`attribution.attribute_members`); "sequential" one
    model at a time; the maps are the same.
    """
    loaded = load_models(model_paths, device, threads)
    model_type = model_type_of(loaded[0][1]["meta"]["model_id"])
    if "seed" in OPTIONS[method]:  # methods with random draws (references, noise)
        options = {**options, "seed": derive_seed(seed, "attribution", model_type, method)}
    x, y, ground_truth = read_dataset(data, "test")
    idx = positive_indices(y, evaluation["n_positive"])
    kwargs = {"output": evaluation["output"], "batch_size": evaluation["batch_size"], **options}
    models = [m for m, _ in loaded]
    scratch = Path(outs[0]["attributions"]).with_suffix(".members.tmp.h5")
    prior = kmer_counts(x)
    for (p, raw), (_, saved), out in zip(model_maps(models, x, idx, method, engine, scratch, **kwargs), loaded, outs):
        row, arrays = score_maps(p, y, idx, raw, x[idx], ground_truth[idx], method=method,
                                 threshold=evaluation["info_threshold"], negatives=evaluation["negatives"],
                                 prior=prior)
        _write_evaluation(out, saved, row, arrays, method=method, evaluation=evaluation, thresholds=thresholds)


def model_maps(models: list[nn.Sequential], x: np.ndarray, idx: np.ndarray, method: str, engine: str,
               scratch: str | Path, **kwargs: Any) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(sigmoid outputs on all of x, raw maps of the rows `idx`) of each model in turn.

    "sequential" runs `attribute` model by model. "vectorized" (more than one model) attributes all
    models in one batched pass (`iter_attribute_members`) and streams the maps, block by block, to the
    HDF5 file `scratch` (removed afterwards), so that memory holds one block of all models or one
    model's maps, never all maps. `kwargs` go to the attribution method."""
    x_all = torch.as_tensor(x, dtype=torch.float32)
    if engine != "vectorized" or len(models) == 1:
        for model in models:
            yield predict(model, x_all).numpy(), attribute(model, x[idx], method, **kwargs)
        return
    ensemble = inference_ensemble(models)
    probs = predict_members(ensemble, x_all).numpy()
    n, shape = len(idx), x.shape[1:]
    try:
        with h5py.File(scratch, "w") as f:
            maps = f.create_dataset("maps", (n, len(models), *shape), dtype="float32",
                                    chunks=(max(1, min(n, PROGRESS_BLOCK)), 1, *shape))
            for i0, i1, block in iter_attribute_members(ensemble, x[idx], method, members=len(models),
                                                        block=PROGRESS_BLOCK, **kwargs):
                maps[i0:i1] = block
                log.info("attributed %d of %d sequences with %d models (%s)", i1, n, len(models), method)
        with h5py.File(scratch, "r") as f:
            for k in range(len(models)):
                yield probs[:, k], f["maps"][:, k]
    finally:
        Path(scratch).unlink(missing_ok=True)


def _write_evaluation(out: dict[str, str | Path], saved: dict[str, Any], row: dict, arrays: dict[str, np.ndarray],
                      *, method: str, evaluation: dict[str, Any], thresholds: list[float]) -> None:
    """Write one model's maps, its row of numbers (with training facts) and its angle summary."""
    meta = saved["meta"]
    history = [h for h in saved["history"] if "val_auroc" in h]
    # a published model has no history here: its validation AUROC was measured when it was imported
    best = max(history, key=lambda h: h["val_auroc"]) if history else {"epoch": np.nan, "val_auroc": meta["val_auroc"]}
    row = {"model": meta["model_id"], "arch": saved["arch"], "activation": saved["model_kwargs"]["activation"],
           "trial": meta["trial"], "source": meta.get("source", "trained"), "method": method,
           "epochs": len(history) or np.nan, "best_epoch": best["epoch"], "val_auroc": best["val_auroc"], **row}
    attrs = {"model": meta["model_id"], "method": method, "output": evaluation["output"]}
    write_arrays(out["attributions"], arrays, attrs)
    write_tsv(pd.DataFrame([row]), out["metrics"])
    summary = angles.model_angle_summary(arrays[method], arrays["x"], arrays["ground_truth"],
                                         evaluation["info_threshold"], thresholds=thresholds)
    angles.write_summary(out["angles"], summary, attrs)
    mean, sd = angles.pooled_mean_sd(summary, "all")
    log.info("%s: angle mean %.1f sd %.1f deg; improvement - (1 - cos angle) at most %.2g",
             meta["model_id"], mean, sd, float(summary["improvement_bound_excess"]))
