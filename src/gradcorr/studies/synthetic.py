"""The synthetic study of the gradient-correction paper (Majdandzic, Rajesh & Koo), one function per
workflow stage: the billboard dataset; models trained with the published protocol, or the authors' own
published models imported; attribution maps scored against the ground truth before and after correction,
with their angle summaries; then the tables and Figs. 2-6, 8, 10 and 12 (drawn in `synthetic_plots`).

The Snakemake scripts only map the `snakemake` object onto these calls, so each stage also runs (and is
tested) without Snakemake. The stages that train or run models import torch inside; the dataset, table
and figure stages start without it, which saves each such job about 2 s.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gradcorr import angles
from gradcorr.correction import correct, simplex_angle
from gradcorr.data.download import md5sum
from gradcorr.data.io import (
    attribution_arrays,
    iter_attributions,
    read_arrays,
    read_attributions,
    read_attrs,
    read_tsv,
    write_arrays,
    write_tsv,
)
from gradcorr.data.synthetic import dataset_attrs, generate_billboard, positive_indices, read_dataset, write_dataset
from gradcorr.ensemble_difference import ensemble_average
from gradcorr.kld import consistency_klds, kmer_counts
from gradcorr.metrics import attribution_snr, classification_scores, interpretability_scores
from gradcorr.workflow.runtime import derive_seed

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


def model_options(activation: str, models: dict[str, Any]) -> dict[str, Any]:
    """A synthetic-study CNN's options (`architectures.build_model`) from the config's models section."""
    return {"activation": activation, "n_filters": models["n_filters"], "kernel_size": models["kernel_size"]}


def model_seed(seed: int, arch: str, activation: str, trial: int) -> int:
    """The seed of trial `trial` of a synthetic-study model type: its initialisation, data order and dropout."""
    return derive_seed(seed, "synthetic-model", arch, activation, trial)


def train_synthetic_models(data: str | Path, outputs: list[tuple[str | Path, str | Path]], *, arch: str,
                           activation: str, trials: list[int], models: dict[str, Any], training: dict[str, Any],
                           seed: int, engine: str = "vectorized", group: int = 50, device: str = "auto",
                           threads: int = 1) -> None:
    """Train trials of one architecture on the synthetic dataset; `outputs[i]` receives trial `trials[i]`."""
    from gradcorr.studies.model_runs import train_members

    train_members(data, outputs, arch=arch, model_kwargs=[model_options(activation, models)] * len(trials),
                  model_ids=[f"{arch}_{activation}_{t}" for t in trials],
                  seeds=[model_seed(seed, arch, activation, t) for t in trials],
                  metas=[{"trial": t} for t in trials], training=training, engine=engine, group=group,
                  device=device, threads=threads)


def import_published_models(data: str | Path, sources: list[str | Path], outputs: list[str | Path], *, arch: str,
                            activation: str, trials: list[int]) -> None:
    """Turn the authors' published Keras weight files of one model type into gradcorr model files.

    `sources[i]` (a published file, checked to be of `arch`, `activation` and trial `trials[i]`) becomes
    `outputs[i]`, with its origin and md5 stored, and an empty training history. Each model's AUROC on
    the validation split of `data` is logged and stored (`meta["val_auroc"]`), as a check that the
    weights were read the right way round: a mangled model classifies at chance."""
    from gradcorr.models.checkpoint import save_model
    from gradcorr.models.keras import load_keras_model, published_model_id
    from gradcorr.models.training import predict
    from gradcorr.studies.model_runs import split_tensors

    x_valid, y_valid = split_tensors(data, "valid")
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
                              threads: int = 1, parts: list[str | Path] | None = None,
                              predictions: str | Path | None = None) -> None:
    """Attribute the first positive test sequences with each model of one model type; score the maps
    (against the ground truth, and by the consistency KLDs) and summarise their angles.

    Writes, for model i, `outs[i]["attributions"]` (raw maps, inputs, ground truth), `outs[i]["metrics"]`
    (one row: classification, interpretability before and after correction, attribution SNR and the
    consistency KLDs) and `outs[i]["angles"]` (its angle summary). `options` are the method's settings
    (config `attribution.<method>`); its random draws (references, noise) are seeded from `seed`, the
    model type and the method, so every model of a type sees the same draws. The "vectorized" engine
    attributes all models in one batched pass (`attribution.attribute_members`); "sequential" one
    model at a time; the maps are the same. With `parts` (the `attribute_synthetic_part` files of all
    parts of the job, in order), the maps are read from those: the same bytes as when made here. With
    `predictions` (the job's `predict_synthetic_models` file), the test outputs are read from it rather than
    made again by every method's job.
    """
    from gradcorr.studies.model_runs import load_models, model_maps

    loaded = load_models(model_paths, device, threads)
    kwargs = _job_attribution_options(loaded[0][1], method, evaluation, options, seed)
    x, y, ground_truth = read_dataset(data, "test")
    idx = positive_indices(y, evaluation["n_positive"])
    models = [m for m, _ in loaded]
    scratch = Path(outs[0]["attributions"]).with_suffix(".members.tmp.h5")
    prior = kmer_counts(x)
    probs = read_predictions(predictions, [saved["meta"]["model_id"] for _, saved in loaded], len(x)) \
        if predictions else None
    maps = model_maps(models, x, idx, method, engine, scratch, parts=parts, probs=probs, **kwargs)
    for (p, raw), (_, saved), out in zip(maps, loaded, outs):
        row, arrays = score_maps(p, y, idx, raw, x[idx], ground_truth[idx], method=method,
                                 threshold=evaluation["info_threshold"], negatives=evaluation["negatives"],
                                 prior=prior)
        _write_evaluation(out, saved, row, arrays, method=method, evaluation=evaluation, thresholds=thresholds)


def predict_synthetic_models(data: str | Path, model_paths: list[str | Path], out: str | Path, *, engine: str,
                             device: str = "auto", threads: int = 1) -> None:
    """The sigmoid outputs of one job's models on the whole test split, to `out` ("probs", (N, K), and the
    models' ids): made once, read by the evaluation job of every method (`evaluate_synthetic_models`)."""
    from gradcorr.studies.model_runs import load_models, model_predictions

    loaded = load_models(model_paths, device, threads)
    x, _, _ = read_dataset(data, "test")
    log.info("test outputs of %d models on %d sequences", len(loaded), len(x))
    probs = model_predictions([m for m, _ in loaded], x, engine)
    write_arrays(out, {"probs": probs}, {"models": [saved["meta"]["model_id"] for _, saved in loaded]})


def read_predictions(path: str | Path, models: list[str], n: int) -> np.ndarray:
    """The (n, K) test outputs of `models` in `path` (`predict_synthetic_models`); ValueError naming the file when it
    holds other models or another number of sequences."""
    probs, held = read_arrays(path, ["probs"])["probs"], json.loads(read_attrs(path).get("models", "null"))
    if held != models or probs.shape != (n, len(models)):
        raise ValueError(f"{path}: predictions of {held} on {probs.shape[0]} sequences, but this job scores "
                         f"{models} on {n}; delete the file to make it again")
    return probs


def attribute_synthetic_part(data: str | Path, model_paths: list[str | Path], out: str | Path, *, method: str,
                             evaluation: dict[str, Any], options: dict[str, Any], seed: int, part: int, parts: int,
                             device: str = "auto", threads: int = 1) -> None:
    """Part `part` (from 0) of `parts` of the attribution `evaluate_synthetic_models` makes of one model type's
    models (all at once, `model_runs.write_member_maps`): the maps of a range of whole blocks of its sequences,
    to `out`. Same draws, blocks and chunks as the whole job, so the parts hold the bytes it would make."""
    from gradcorr.studies.model_runs import load_models, sequence_part, write_member_maps

    loaded = load_models(model_paths, device, threads)
    kwargs = _job_attribution_options(loaded[0][1], method, evaluation, options, seed)
    x, y, _ = read_dataset(data, "test")
    idx = positive_indices(y, evaluation["n_positive"])
    s0, s1 = sequence_part(len(idx), part, parts)
    log.info("part %d of %d: %s maps of sequences %d-%d of %d by %d models", part + 1, parts, method, s0, s1 - 1,
             len(idx), len(loaded))
    write_member_maps([m for m, _ in loaded], x[idx], method, out, (s0, s1), **kwargs)


def _job_attribution_options(saved: dict[str, Any], method: str, evaluation: dict[str, Any],
                             options: dict[str, Any], seed: int) -> dict[str, Any]:
    """The attribution settings of a model type's job: output, batch_size and the method's options, with the
    draws (references, noise) of a method that has them seeded per model type (of the `saved` model) and method."""
    from gradcorr.attribution import OPTIONS

    if "seed" in OPTIONS[method]:
        model_type = model_type_of(saved["meta"]["model_id"])
        options = {**options, "seed": derive_seed(seed, "attribution", model_type, method)}
    return {"output": evaluation["output"], "batch_size": evaluation["batch_size"], **options}


def evaluate_model(model: Any, x: np.ndarray, y: np.ndarray, ground_truth: np.ndarray, *,
                   method: str = "saliency", n_positive: int = 500, threshold: float = 0.1,
                   negatives: str = "background", output: str = "sigmoid",
                   batch_size: int = 512, **options) -> tuple[dict, dict[str, np.ndarray]]:
    """Score one model on a synthetic test set, as the workflow does: test AUROC/AUPR, and cosine/AUROC/AUPR
    of its maps of the first `n_positive` positive sequences against the ground truth, before and after
    correction, with their SNR and consistency KLDs.

    `options` go to the attribution method (steps, n_samples, seed, ...). Returns what `score_maps`
    returns; the k-mer prior of the consistency KLD is all of x.
    """
    import torch

    from gradcorr.attribution import attribute
    from gradcorr.models.training import predict

    p = predict(model, torch.as_tensor(x, dtype=torch.float32)).numpy()
    idx = positive_indices(y, n_positive)
    raw = attribute(model, x[idx], method, output=output, batch_size=batch_size, **options)
    return score_maps(p, y, idx, raw, x[idx], ground_truth[idx], method=method, threshold=threshold,
                      negatives=negatives, prior=kmer_counts(x))


def score_maps(p: np.ndarray, y: np.ndarray, idx: np.ndarray, raw: np.ndarray, x_pos: np.ndarray,
               m_pos: np.ndarray, *, method: str, threshold: float = 0.1, negatives: str = "background",
               prior: np.ndarray | None = None) -> tuple[dict, dict[str, np.ndarray]]:
    """A model's row of numbers from its test predictions `p` and its raw maps of the test rows `idx`.

    Metrics of the corrected map are suffixed `_corrected`, of the raw map `_raw`, and their
    difference `_improvement`; then the attribution SNR and the consistency KLDs (`prior`: the k-mer
    counts of the whole test set, as in `kld.kmer_kld`). Also returns the arrays behind them, as an
    attribution file holds them (`data.io.attribution_arrays`).
    """
    row = {f"test_{k}": v for k, v in classification_scores(y, p).items()}
    scores = {"raw": interpretability_scores(raw, x_pos, m_pos, threshold, negatives),
              "corrected": interpretability_scores(correct(raw), x_pos, m_pos, threshold, negatives)}
    for metric in ("cosine", "auroc", "aupr"):
        row[f"{metric}_raw"] = scores["raw"][metric]
        row[f"{metric}_corrected"] = scores["corrected"][metric]
        row[f"{metric}_improvement"] = scores["corrected"][metric] - scores["raw"][metric]
    row["snr"] = float(attribution_snr(raw, x_pos, m_pos).mean())
    row.update(consistency_klds(raw, x_pos, prior))
    row["n_sequences"] = len(idx)
    log.info("%s: test AUROC %.4f; cosine %.4f -> %.4f, AUROC %.4f -> %.4f, AUPR %.4f -> %.4f",
             method, row["test_auroc"], row["cosine_raw"], row["cosine_corrected"],
             row["auroc_raw"], row["auroc_corrected"], row["aupr_raw"], row["aupr_corrected"])
    return row, attribution_arrays(idx, x_pos, method, raw, ground_truth=m_pos)


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
    write_arrays(out["angles"], summary, attrs)
    mean, sd = angles.pooled_mean_sd(summary, "all")
    log.info("%s: angle mean %.1f sd %.1f deg; improvement - (1 - cos angle) at most %.2g",
             meta["model_id"], mean, sd, float(summary["improvement_bound_excess"]))


def interpretability_table(tables: list[str | Path], out: str | Path) -> None:
    """Stack the per-model rows of one method into one table, ordered by architecture, activation and trial."""
    frame = pd.concat([read_tsv(t) for t in tables], ignore_index=True)
    frame = frame.sort_values(["arch", "activation", "trial"], kind="stable")
    write_tsv(frame, out)
    log.info("%d models -> %s", len(frame), out)


def plot_interpretability(table: str | Path, pdf: str | Path, png: str | Path, method: str) -> None:
    """Draw Fig. 2 (Fig. 5 for other methods) from the interpretability table."""
    from gradcorr.studies import plotting, synthetic_plots  # matplotlib only in the jobs that draw

    plotting.save_figure(synthetic_plots.fig_interpretability(read_tsv(table), method), pdf, png)


def model_type_of(model_id: str) -> str:
    """'cnn_deep_exp_3' -> 'cnn_deep_exp'; 'cnn_deep_exp_ensemble' -> 'cnn_deep_exp'."""
    return model_id.rsplit("_", 1)[0]


def _group_by(paths: list[str | Path], key) -> dict[str, list[str | Path]]:
    """Files grouped by `key(path)`, in input order."""
    groups: dict[str, list[str | Path]] = {}
    for path in paths:
        groups.setdefault(key(path), []).append(path)
    return groups


def _by_model_type(paths: list[str | Path]) -> dict[str, list[str | Path]]:
    return _group_by(paths, lambda p: model_type_of(read_attrs(p)["model"]))


def ensemble_angles(attributions: list[str | Path], out: str | Path, *, method: str) -> None:
    """Angle histogram of the ensemble-averaged raw map of all trials of one model type (Fig. 10)."""
    mean = ensemble_average(d["raw"] for d in iter_attributions(attributions, method))
    angle = simplex_angle(mean)
    model_type = model_type_of(str(read_attrs(attributions[0])["model"]))
    write_arrays(out, {"angle_edges": angles.ANGLE_EDGES, "angle_hist_all": angles.angle_histogram(mean),
                       "angle_sd": np.nanstd(angle), "n_models": len(attributions)},
                 {"model": f"{model_type}_ensemble", "method": method})
    log.info("%s %s: ensemble of %d models, angle sd %.1f deg", model_type, method, len(attributions),
             np.nanstd(angle))


def angle_figures(summaries: list[str | Path], ensembles: list[str | Path], out: dict[str, str | Path],
                  *, method: str) -> None:
    """Figs. 3c-d / 8, 4a / 12 and 10 for one method, each with the table of its numbers."""
    from gradcorr.studies import plotting, synthetic_plots

    combined: dict[str, dict] = {}
    per_sequence = []
    for path in summaries:  # one read of each summary: combine by model type, keep its per-sequence rows
        summary, model = read_arrays(path), read_attrs(path)["model"]
        per_sequence.append(angles.large_angle_table(summary).assign(model=model))
        kind = model_type_of(model)
        combined[kind] = angles.combine_summaries([combined[kind], summary] if kind in combined else [summary])

    plotting.save_figure(synthetic_plots.fig_angle_analysis(combined, method), out["fig3_pdf"], out["fig3"])
    write_tsv(pd.concat([angles.angle_bin_table(c).assign(model_type=t) for t, c in combined.items()]),
              out["fig3_tsv"])

    plotting.save_figure(synthetic_plots.fig_large_angles(combined, method), out["fig4_pdf"], out["fig4"])
    write_tsv(pd.concat(per_sequence), out["fig4_tsv"])

    ensemble = {model_type_of(read_attrs(p)["model"]): read_arrays(p)["angle_hist_all"] for p in ensembles}
    single = {t: c["angle_hist_all"] for t, c in combined.items()}
    fig = synthetic_plots.fig_ensemble_angles(single, ensemble, method=method)
    plotting.save_figure(fig, out["fig10_pdf"], out["fig10"])
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
    for method, paths in _group_by(summaries, lambda p: read_attrs(p)["method"]).items():
        for model_type, group in _by_model_type(paths).items():
            row = {"method": method, "model_type": model_type,
                   **angles.summary_table_row(angles.combine_summaries(read_arrays(p) for p in group))}
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
    from gradcorr.studies import plotting, synthetic_plots

    d = read_attributions(attributions, method)
    row = int(read_arrays(summary)["representative"])
    raw, x, gt = d["raw"][row], d["x"][row], d["ground_truth"][row]
    fig = synthetic_plots.fig_sequence_logos(d["raw"], d["x"], d["ground_truth"], row, window,
                                             model=str(d["attrs"]["model"]), sequence_label=int(d["index"][row]),
                                             method=method)
    plotting.save_figure(fig, out["pdf"], out["png"])
    start, stop = synthetic_plots.logo_window(gt, window)
    table = {"position": np.arange(start, stop), "base": np.array(list("ACGT"))[x.argmax(axis=0)[start:stop]],
             "angle": simplex_angle(raw, axis=0)[start:stop]}
    for name, values in (("raw", raw), ("corrected", correct(raw, axis=0)), ("ground_truth", gt - 1 / gt.shape[0])):
        for a, letter in enumerate("ACGT"):
            table[f"{name}_{letter}"] = values[a, start:stop]
    write_tsv(pd.DataFrame(table), out["tsv"])
