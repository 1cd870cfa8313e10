"""One function per workflow stage: read the stage's inputs, call the package, write its outputs.

The Snakemake scripts only map the `snakemake` object onto these calls, so each stage also runs (and
is tested) without Snakemake.
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
from gradcorr.correction import correct, simplex_angle
from gradcorr.ensemble_engine import inference_ensemble, predict_members, train_ensemble
from gradcorr.evaluate import positive_indices, score_maps
from gradcorr.download import md5sum
from gradcorr.io import read_tsv, read_xy, write_arrays, write_tsv
from gradcorr.keras_weights import load_keras_model, published_model_id
from gradcorr.metrics import classification_scores
from gradcorr.models import build_model
from gradcorr.runtime import derive_seed, pick_device
from gradcorr.synthetic import (
    dataset_attrs,
    generate_billboard,
    read_dataset,
    write_dataset,
)
from gradcorr.training import TrainConfig, predict, train

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
    """x and y of one split of a dataset in the published layout (synthetic or ChIP-seq), as float32 tensors."""
    x, y = read_xy(path, split)
    return torch.as_tensor(x, dtype=torch.float32), torch.as_tensor(y, dtype=torch.float32)


ENGINES = ("vectorized", "sequential")
# sequences per block of a multi-model attribution: a log line per block (50 CNN-deep models take about
# 3 minutes per block of expected gradients on one CPU core)
PROGRESS_BLOCK = 64


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
    torch.set_num_threads(threads)
    dev = pick_device(device)
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
    torch.set_num_threads(threads)
    dev = pick_device(device)
    loaded = [load_model(p, dev) for p in model_paths]
    model_type = _model_type(loaded[0][1]["meta"]["model_id"])
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


def collect_tables(tables: list[str | Path], out: str | Path) -> None:
    """Stack per-model one-row tables into one table, ordered by architecture, activation and trial."""
    frame = pd.concat([read_tsv(t) for t in tables], ignore_index=True)
    frame = frame.sort_values(["arch", "activation", "trial"], kind="stable")
    write_tsv(frame, out)
    log.info("%d models -> %s", len(frame), out)


def plot_fig2(table: str | Path, pdf: str | Path, png: str | Path, method: str) -> None:
    """Draw Fig. 2 (Fig. 5 for other methods) from the interpretability table."""
    from gradcorr import plots  # matplotlib only in the jobs that draw: it adds seconds to every job start

    plots.save_figure(plots.fig2(read_tsv(table), method), pdf, png)


def h5_attr(path: str | Path, key: str) -> str:
    """A root attribute of an HDF5 file written by the workflow ('model', 'method')."""
    with h5py.File(path, "r") as f:
        return str(f.attrs[key])


def _model_type(model_id: str) -> str:
    """'cnn_deep_exp_3' -> 'cnn_deep_exp'; 'cnn_deep_exp_ensemble' -> 'cnn_deep_exp'."""
    return model_id.rsplit("_", 1)[0]


def _group_by(paths: list[str | Path], key) -> dict[str, list[str | Path]]:
    """Files grouped by `key(path)`, in input order."""
    groups: dict[str, list[str | Path]] = {}
    for path in paths:
        groups.setdefault(key(path), []).append(path)
    return groups


def _by_model_type(paths: list[str | Path]) -> dict[str, list[str | Path]]:
    return _group_by(paths, lambda p: _model_type(h5_attr(p, "model")))


def ensemble_angles(attributions: list[str | Path], out: str | Path, *, method: str) -> None:
    """Angle histogram of the ensemble-averaged raw map of all trials of one model type (Fig. 10)."""
    first = angles.read_attributions(attributions[0], method)

    def maps():
        yield first["raw"]
        for path in attributions[1:]:
            d = angles.read_attributions(path, method)
            if not np.array_equal(d["index"], first["index"]):
                raise ValueError(f"{path}: attributed on other sequences than {attributions[0]}")
            yield d["raw"]

    mean = angles.ensemble_average(maps())
    angle = simplex_angle(mean)
    model_type = _model_type(str(first["attrs"]["model"]))
    write_arrays(out, {"angle_edges": angles.ANGLE_EDGES, "angle_hist_all": angles.angle_histogram(mean),
                       "angle_sd": np.nanstd(angle), "n_models": len(attributions)},
                 {"model": f"{model_type}_ensemble", "method": method})
    log.info("%s %s: ensemble of %d models, angle sd %.1f deg", model_type, method, len(attributions),
             np.nanstd(angle))


def angle_figures(summaries: list[str | Path], ensembles: list[str | Path], out: dict[str, str | Path],
                  *, method: str) -> None:
    """Figs. 3c-d / 8, 4a / 12 and 10 for one method, each with the table of its numbers."""
    from gradcorr import angle_plots, plots

    combined: dict[str, dict] = {}
    per_sequence = []
    for path in summaries:  # one read of each summary: combine by model type, keep its per-sequence rows
        summary, model = angles.read_summary(path), h5_attr(path, "model")
        per_sequence.append(angles.large_angle_table(summary).assign(model=model))
        kind = _model_type(model)
        combined[kind] = angles.combine_summaries([combined[kind], summary] if kind in combined else [summary])

    plots.save_figure(angle_plots.fig_angle_analysis(combined, method), out["fig3_pdf"], out["fig3"])
    write_tsv(pd.concat([angles.angle_bin_table(c).assign(model_type=t) for t, c in combined.items()]),
              out["fig3_tsv"])

    plots.save_figure(angle_plots.fig_large_angles(combined, method), out["fig4_pdf"], out["fig4"])
    write_tsv(pd.concat(per_sequence), out["fig4_tsv"])

    ensemble = {_model_type(h5_attr(p, "model")): angles.read_summary(p)["angle_hist_all"] for p in ensembles}
    single = {t: c["angle_hist_all"] for t, c in combined.items()}
    plots.save_figure(angle_plots.fig_ensemble_angles(single, ensemble, method=method), out["fig10_pdf"], out["fig10"])
    edges = angles.ANGLE_EDGES
    write_tsv(pd.concat([pd.DataFrame({"model_type": t, "angle_lo": edges[:-1], "angle_hi": edges[1:],
                                       "density_single": single[t] / max(single[t].sum(), 1),
                                       "density_ensemble": ensemble[t] / max(ensemble[t].sum(), 1)})
                         for t in single]), out["fig10_tsv"])


def angle_summary_table(summaries: list[str | Path], interpretability: list[str | Path], out: str | Path) -> None:
    """Per model type and method: angle SDs, mean % of large angles, the mean test AUROC and interpretability
    (cosine, AUROC, AUPR) before and after correction, and the fraction of models improved."""
    scores = pd.concat([read_tsv(t) for t in interpretability], ignore_index=True)
    scores["model_type"] = scores["arch"] + "_" + scores["activation"]
    rows = []
    for method, paths in _group_by(summaries, lambda p: h5_attr(p, "method")).items():
        for model_type, group in _by_model_type(paths).items():
            row = {"method": method, "model_type": model_type,
                   **angles.summary_table_row(angles.combine_summaries(angles.read_summary(p) for p in group))}
            mine = scores[(scores["method"] == method) & (scores["model_type"] == model_type)]
            row["test_auroc"] = float(mine["test_auroc"].mean())
            for metric in ("cosine", "auroc", "aupr"):
                row[f"{metric}_raw"] = float(mine[f"{metric}_raw"].mean())
                row[f"{metric}_corrected"] = float(mine[f"{metric}_corrected"].mean())
                row[f"fraction_improved_{metric}"] = float((mine[f"{metric}_improvement"] > 0).mean())
            rows.append(row)
    write_tsv(pd.DataFrame(rows), out)


def plot_logos(attributions: str | Path, summary: str | Path, out: dict[str, str | Path], *, method: str,
               window: int) -> None:
    """Fig. 3a / 6 for one model: its representative sequence, raw, angle, corrected and ground truth."""
    from gradcorr import angle_plots, plots

    d = angles.read_attributions(attributions, method)
    row = int(angles.read_summary(summary)["representative"])
    raw, x, gt = d["raw"][row], d["x"][row], d["ground_truth"][row]
    fig = angle_plots.fig_logos(d["raw"], d["x"], d["ground_truth"], row, window, model=str(d["attrs"]["model"]),
                                sequence_label=int(d["index"][row]), method=method)
    plots.save_figure(fig, out["pdf"], out["png"])
    start, stop = angle_plots.logo_window(gt, window)
    table = {"position": np.arange(start, stop), "base": np.array(list("ACGT"))[x.argmax(axis=0)[start:stop]],
             "angle": simplex_angle(raw, axis=0)[start:stop]}
    for name, values in (("raw", raw), ("corrected", correct(raw, axis=0)), ("ground_truth", gt - 1 / gt.shape[0])):
        for a, letter in enumerate("ACGT"):
            table[f"{name}_{letter}"] = values[a, start:stop]
    write_tsv(pd.DataFrame(table), out["tsv"])
