"""One function per workflow stage: read the stage's inputs, call the package, write its outputs.

The Snakemake scripts only map the `snakemake` object onto these calls, so each stage also runs (and
is tested) without Snakemake.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from gradcorr import plots
from gradcorr.checkpoint import load_model, save_model
from gradcorr.evaluate import evaluate_model
from gradcorr.io import read_tsv, write_arrays, write_tsv
from gradcorr.models import build_model
from gradcorr.runtime import derive_seed, pick_device
from gradcorr.synthetic import (
    dataset_attrs,
    generate_billboard,
    read_dataset,
    write_dataset,
)
from gradcorr.training import TrainConfig, train

log = logging.getLogger(__name__)


def make_synthetic_dataset(out: str | Path, synthetic: dict[str, Any], seed: int) -> None:
    """Generate the billboard dataset of the config's `synthetic` section and write it as HDF5."""
    data_seed = derive_seed(seed, "synthetic-dataset")
    log.info("generating %d positive and %d negative sequences of length %d (seed %d)",
             synthetic["n_positive"], synthetic["n_negative"], synthetic["length"], data_seed)
    data = generate_billboard(
        n_positive=synthetic["n_positive"], n_negative=synthetic["n_negative"],
        length=synthetic["length"], core_ids=tuple(synthetic["core_motifs"]),
        n_background=synthetic["n_background"], release=synthetic["jaspar_release"],
        counts=tuple(synthetic["motif_counts"]), probs=tuple(synthetic["motif_count_probs"]),
        split=tuple(synthetic["split"]), seed=data_seed)
    attrs = dataset_attrs(tuple(synthetic["core_motifs"]), synthetic["n_background"],
                          synthetic["jaspar_release"], seed=data_seed, config=synthetic)
    write_dataset(out, data, attrs)
    log.info("wrote %s: %s", out, {k: v.shape for k, v in data.items() if k.startswith("x_")})


def _tensors(path: str | Path, split: str) -> tuple[torch.Tensor, torch.Tensor]:
    x, y, _ = read_dataset(path, split)
    return torch.as_tensor(x, dtype=torch.float32), torch.as_tensor(y, dtype=torch.float32)


def train_synthetic_model(data: str | Path, model_out: str | Path, history_out: str | Path, *,
                          arch: str, activation: str, trial: int, models: dict[str, Any],
                          training: dict[str, Any], seed: int, device: str = "auto",
                          threads: int = 1) -> None:
    """Train one trial of one architecture on the synthetic dataset and save it with its history."""
    torch.set_num_threads(threads)
    dev = pick_device(device)
    model_seed = derive_seed(seed, "synthetic-model", arch, activation, trial)
    x_train, y_train = _tensors(data, "train")
    x_valid, y_valid = _tensors(data, "valid")
    kwargs = {"activation": activation, "n_filters": models["n_filters"], "kernel_size": models["kernel_size"],
              "input_length": x_train.shape[2], "alphabet": x_train.shape[1]}
    torch.manual_seed(model_seed)
    model = build_model(arch, **kwargs)
    config = TrainConfig.from_dict({**training, "seed": model_seed})
    log.info("training %s %s trial %d on %d sequences (seed %d)", arch, activation, trial, len(x_train), model_seed)
    model, history = train(model, x_train, y_train, x_valid, y_valid, config, dev)
    save_model(model_out, model, arch, kwargs, history, dataclasses.asdict(config),
               trial=trial, model_id=f"{arch}_{activation}_{trial}", device=str(dev))
    write_tsv(pd.DataFrame(history), history_out)


def evaluate_synthetic_model(data: str | Path, model_path: str | Path, attributions_out: str | Path,
                             metrics_out: str | Path, *, method: str, evaluation: dict[str, Any],
                             device: str = "auto", threads: int = 1) -> None:
    """Attribute the first positive test sequences with one model and score the maps, raw and corrected."""
    torch.set_num_threads(threads)
    model, saved = load_model(model_path, pick_device(device))
    x, y, ground_truth = read_dataset(data, "test")
    row, arrays = evaluate_model(
        model, x, y, ground_truth, method=method, n_positive=evaluation["n_positive"],
        threshold=evaluation["info_threshold"], negatives=evaluation["negatives"], output=evaluation["output"],
        batch_size=evaluation["batch_size"])
    history = [h for h in saved["history"] if "val_auroc" in h]
    best = max(history, key=lambda h: h["val_auroc"])
    meta = saved["meta"]
    row = {"model": meta["model_id"], "arch": saved["arch"], "activation": saved["model_kwargs"]["activation"],
           "trial": meta["trial"], "method": method, "epochs": len(history), "best_epoch": best["epoch"],
           "val_auroc": best["val_auroc"], **row}
    write_arrays(attributions_out, arrays, attrs={"model": meta["model_id"], "method": method,
                                                  "output": evaluation["output"]})
    write_tsv(pd.DataFrame([row]), metrics_out)


def collect_tables(tables: list[str | Path], out: str | Path) -> None:
    """Stack per-model one-row tables into one table, ordered by architecture, activation and trial."""
    frame = pd.concat([read_tsv(t) for t in tables], ignore_index=True)
    frame = frame.sort_values(["arch", "activation", "trial"], kind="stable")
    write_tsv(frame, out)
    log.info("%d models -> %s", len(frame), out)


def plot_fig2(table: str | Path, pdf: str | Path, png: str | Path, method: str) -> None:
    """Draw Fig. 2 (Fig. 5 for other methods) from the interpretability table."""
    plots.save_figure(plots.fig2(read_tsv(table), method), pdf, png)
