"""The stages every study shares that train or run models (torch): a job's device and threads, its
models loaded, members trained with the published protocol, and every model's predictions and maps.

The study modules (`synthetic`, `invivo`, `consistency`) import this module inside their stages that
train or run models, so that their dataset, table and figure stages start without torch.
"""

from __future__ import annotations

import copy
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

from gradcorr.attribution import attribute, iter_attribute_members
from gradcorr.data.io import atomic_path, read_xy, write_tsv
from gradcorr.models.architectures import INIT_OPTIONS, build_model, release_first_layer
from gradcorr.models.checkpoint import load_model, save_model
from gradcorr.models.ensemble import ENGINE_REGULARIZERS, inference_ensemble, predict_members, train_ensemble
from gradcorr.models.training import EpochHook, NonFiniteLossError, TrainConfig, predict, train
from gradcorr.workflow.runtime import pick_device, resolve_compile

log = logging.getLogger(__name__)


def split_tensors(path: str | Path, split: str) -> tuple[torch.Tensor, torch.Tensor]:
    """x and y of one split of a dataset in the published layout (synthetic or ChIP-seq), as float32 tensors."""
    x, y = read_xy(path, split)
    return torch.as_tensor(x, dtype=torch.float32), torch.as_tensor(y, dtype=torch.float32)


ENGINES = ("vectorized", "sequential")
# sequences per block of a multi-model attribution: a log line per block (50 CNN-deep models take about
# 3 minutes per block of expected gradients on one CPU core). Fixed, split or not: a part of a job is whole
# blocks, so its maps are the bytes the whole job makes (rules/resources.smk restates it).
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
                  group: int = 50, device: str = "auto", threads: int = 1, keep_going: bool = False,
                  hooks: list[EpochHook] | None = None, last_outputs: list[str | Path] | None = None) -> None:
    """Train models of one architecture on the train/valid splits of `data` with the published protocol and
    save each with its history: `outputs[i]` = (model file, history TSV) of member i.

    Member i is built from `model_kwargs[i]` (input length and alphabet are read from the data) under
    seed `seeds[i]`, which also seeds its data order and dropout; `metas[i]` is stored with it. The
    "vectorized" engine trains up to `group` members at once (`models.ensemble.train_ensemble`; memory
    grows with the group, not with the number of members), "sequential" one after another
    (`models.training.train`); each member comes out the same up to float rounding. `model_kwargs` may
    hold the options that only shape a new model (`architectures.INIT_OPTIONS`: its initialisation and
    first layer); they are saved in the model's meta, and every model is saved as a plain one.

    With `keep_going`, a member whose loss is non-finite before its first epoch completes is saved
    untrained with `meta["failed"]` saying why, and the others are trained and saved as usual.

    `hooks` score every member after each epoch into its history (`training.train`); with `last_outputs`,
    member i's last epoch is saved there too (the best epoch goes to `outputs[i]`), meta `checkpoint`
    saying which is which.

    `training["compile"]` (the workflow's `compile`: auto, on or off; absent: off) decides whether the training
    steps run compiled (`workflow.runtime.resolve_compile`, given the full batches each compiled model trains).
    """
    dev = job_device(device, threads)
    x_train, y_train = split_tensors(data, "train")
    x_valid, y_valid = split_tensors(data, "valid")
    kwargs = [{**k, "input_length": x_train.shape[2], "alphabet": x_train.shape[1]} for k in model_kwargs]
    members = []
    for k, seed in zip(kwargs, seeds):
        torch.manual_seed(seed)
        members.append(build_model(arch, **k))
    initial = [release_first_layer(copy.deepcopy(m)) for m in members] if keep_going else []
    configs = [TrainConfig.from_dict({**training, "seed": seed}) for seed in seeds]
    log.info("training %d model(s) (%s) on %d sequences of %s, %s engine: %s", len(members), arch, len(x_train),
             data, engine, ", ".join(f"{m} (seed {s})" for m, s in zip(model_ids, seeds)))
    keep_last, engine = last_outputs is not None, training_engine(engine, configs)
    steps = (len(x_train) // configs[0].batch_size) * configs[0].max_epochs
    together = engine == "vectorized" and len(members) > 1  # as fit_members decides
    compile = resolve_compile(training.get("compile", "off"), dev.type, steps, together)
    result = fit_members(members, (x_train, y_train, x_valid, y_valid), configs, dev, model_ids, engine=engine,
                         group=group, keep_going=keep_going, hooks=hooks, keep_last=keep_last, compile=compile)
    trained, histories = result[:2]
    lasts = result[2] if keep_last else [None] * len(members)
    for i, (model, last, history, k, config, model_id, meta, (model_out, history_out)) in enumerate(zip(
            trained, lasts, histories, kwargs, configs, model_ids, metas, outputs)):
        if model is None:
            model, meta = initial[i], {**meta, "failed": history[-1]["stopped"]}
        shape = {key: v for key, v in k.items() if key not in INIT_OPTIONS}
        init = {key: v for key, v in k.items() if key in INIT_OPTIONS}
        saved = {"model_id": model_id, "device": str(dev), "engine": engine, **init, **meta}
        if keep_last:
            saved["checkpoint"] = "best"
            last_meta = {**saved, "checkpoint": "last", "epoch": _last_epoch(history)}
            save_model(last_outputs[i], release_first_layer(last if last is not None else model), arch, shape,
                       history, dataclasses.asdict(config), **last_meta)
        save_model(model_out, release_first_layer(model), arch, shape, history, dataclasses.asdict(config), **saved)
        write_tsv(pd.DataFrame(history), history_out)


def training_engine(engine: str, configs: list[TrainConfig]) -> str:
    """The engine that trains members of `configs`: `engine`, or "sequential" when their regularizer is not one the
    ensemble engine has (it has the published loss and the angle penalty); ValueError for an unknown engine."""
    if engine not in ENGINES:
        raise ValueError(f"unknown ensemble engine {engine!r}; choose one of {ENGINES}")
    if engine == "vectorized" and configs[0].regularizer.name not in ENGINE_REGULARIZERS:
        log.info("regularizer %s: training one model at a time (the engine has the published loss and the "
                 "angle penalty only)", configs[0].regularizer.name)
        return "sequential"
    return engine


def fit_members(members: list[nn.Sequential], splits: tuple[torch.Tensor, ...], configs: list[TrainConfig],
                device: torch.device, model_ids: list[str], *, engine: str = "vectorized", group: int = 50,
                keep_going: bool = False, hooks: list[EpochHook] | None = None, keep_last: bool = False,
                compile: bool = False) -> tuple:
    """Train `members` on `splits` = (x_train, y_train, x_valid, y_valid) tensors, member i with `configs[i]`:
    together in the ensemble engine ("vectorized", groups of up to `group`) when the regularizer allows, else one
    after another; `compile`: training steps through torch.compile. Returns (models, histories) and, with
    `keep_last`, the last epochs' models (`train_members`)."""
    hooks = hooks or []
    if training_engine(engine, configs) == "vectorized" and len(members) > 1:
        return train_ensemble(members, *splits, configs, device, model_ids, group, keep_going, hooks, keep_last,
                              compile)
    return tuple(zip(*(_train_one(m, *splits, c, device, keep_going, hooks, keep_last, compile)
                       for m, c in zip(members, configs))))


def _last_epoch(history: list[dict]) -> int:
    """The last epoch that completed (0 when none did)."""
    return max((int(h["epoch"]) for h in history if "val_auroc" in h), default=0)


def _train_one(model: nn.Sequential, x_train: torch.Tensor, y_train: torch.Tensor, x_valid: torch.Tensor,
               y_valid: torch.Tensor, config: TrainConfig, device: torch.device, keep_going: bool,
               hooks: list[EpochHook], keep_last: bool, compile: bool = False) -> tuple:
    """`training.train`; with `keep_going`, (None, [the reason]) for a model that failed before any epoch
    (and None for its last epoch)."""
    try:
        return train(model, x_train, y_train, x_valid, y_valid, config, device, hooks, keep_last, compile)
    except NonFiniteLossError as err:
        if not keep_going:
            raise
        log.error("%s; this model failed, the others go on", err)
        failed = [{"epoch": 0, "stopped": str(err)}]
        return (None, failed, None) if keep_last else (None, failed)


def model_predictions(models: list[nn.Sequential], x: np.ndarray, engine: str) -> np.ndarray:
    """Sigmoid outputs (N, K) of each of `models` (single-output) on all of x, column k model k's: in one batched
    pass of the "vectorized" engine (more than one model), else model by model."""
    x_all = torch.as_tensor(x, dtype=torch.float32)
    if engine != "vectorized" or len(models) == 1:
        return np.stack([predict(model, x_all).numpy() for model in models], axis=1)
    return predict_members(inference_ensemble(models), x_all).numpy()


def model_maps(models: list[nn.Sequential], x: np.ndarray, idx: np.ndarray, method: str, engine: str,
               scratch: str | Path, parts: list[str | Path] | None = None, probs: np.ndarray | None = None,
               **kwargs: Any) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(sigmoid outputs on all of x, raw maps of the rows `idx`) of each model in turn.

    "sequential" runs `attribute` model by model. "vectorized" (more than one model) attributes all
    models in one batched pass (`write_member_maps`) and streams the maps, block by block, to the
    HDF5 file `scratch` (removed afterwards), so that memory holds one block of all models or one
    model's maps, never all maps; or, given `parts` (`write_member_maps` files of consecutive ranges of
    the rows, together all of them), reads the maps from those, which hold the same bytes. `probs` are the
    outputs when made beforehand (`model_predictions`, (N, K)); else they are made here. `kwargs` go to
    the attribution method."""
    if probs is None:
        probs = model_predictions(models, x, engine)
    elif probs.shape != (len(x), len(models)):
        raise ValueError(f"predictions of shape {probs.shape} for {len(x)} sequences and {len(models)} models")
    if (engine != "vectorized" or len(models) == 1) and not parts:
        for k, model in enumerate(models):
            yield probs[:, k], attribute(model, x[idx], method, **kwargs)
        return
    if parts:
        check_member_parts(parts, len(idx), len(models), method)
        for k in range(len(models)):
            yield probs[:, k], read_member_maps(parts, k)
        return
    try:
        write_member_maps(models, x[idx], method, scratch, **kwargs)
        for k in range(len(models)):
            yield probs[:, k], read_member_maps([scratch], k)
    finally:
        Path(scratch).unlink(missing_ok=True)


def sequence_part(n: int, part: int, parts: int, block: int | None = None) -> tuple[int, int]:
    """Sequences (s0, s1) of part `part` (from 0) of `parts` of n sequences: whole blocks of `block` (default
    PROGRESS_BLOCK), spread as evenly as they go (a part is empty when there are more parts than blocks)."""
    if not 0 <= part < parts:
        raise ValueError(f"part {part} of {parts}: parts are numbered 0 to {parts - 1}")
    block = block or PROGRESS_BLOCK
    blocks = -(-n // block)
    return min(part * blocks // parts * block, n), min((part + 1) * blocks // parts * block, n)


def write_member_maps(models: list[nn.Sequential], x: np.ndarray, method: str, out: str | Path,
                      sequences: tuple[int, int] | None = None, **kwargs: Any) -> None:
    """The raw maps of the rows s0..s1-1 of x (`sequences`, all by default) by all `models` in one batched pass
    (`iter_attribute_members`, blocks of PROGRESS_BLOCK: the same bytes whatever the range), streamed block by
    block to the HDF5 file `out` (written under a temporary name, then renamed): dataset "maps" (s1 - s0, models,
    A, L), attrs start, stop, n (= len(x)), method. `kwargs` go to the attribution method."""
    s0, s1 = (0, len(x)) if sequences is None else sequences
    n, shape = s1 - s0, x.shape[1:]
    with atomic_path(out) as tmp, h5py.File(tmp, "w") as f:
        f.attrs.update({"start": s0, "stop": s1, "n": len(x), "method": method})
        maps = f.create_dataset("maps", (n, len(models), *shape), dtype="float32",
                                chunks=(min(n, PROGRESS_BLOCK), 1, *shape) if n else None)
        for i0, i1, block in iter_attribute_members(inference_ensemble(models), x, method, members=len(models),
                                                    block=PROGRESS_BLOCK, sequences=(s0, s1), **kwargs):
            maps[i0 - s0:i1 - s0] = block
            log.info("attributed %d of %d sequences with %d models (%s; sequences %d-%d of %d)", i1 - s0, n,
                     len(models), method, s0, s1 - 1, len(x))


def check_member_parts(parts: list[str | Path], n: int, n_models: int, method: str) -> None:
    """ValueError, naming the file, unless `parts` (`write_member_maps` files) hold `method`'s maps of n rows by
    n_models models, in consecutive ranges from the first row to the last."""
    expected = 0
    for path in parts:
        with h5py.File(path, "r") as f:
            attrs, shape = dict(f.attrs), f["maps"].shape if "maps" in f else None
        found = (attrs.get("start"), attrs.get("stop"), attrs.get("n"), attrs.get("method"), shape and shape[:2])
        wanted = (expected, found[1], n, method, (found[1] - expected if found[1] is not None else None, n_models))
        if shape is None or found != wanted:
            raise ValueError(f"{path}: expected {method} maps of {n_models} models for rows from {expected} of {n} "
                             f"(start, stop, n, method, maps' first dimensions); got {found}")
        expected = int(attrs["stop"])
    if expected != n:
        raise ValueError(f"{parts[-1]}: the parts end at row {expected}, not at the last of {n} rows")


def read_member_maps(parts: list[str | Path], k: int) -> np.ndarray:
    """Model k's maps from `write_member_maps` files of consecutive ranges, joined in order."""
    maps = []
    for path in parts:
        with h5py.File(path, "r") as f:
            maps.append(f["maps"][:, k])
    return np.concatenate(maps) if len(maps) > 1 else maps[0]
