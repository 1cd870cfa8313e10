"""The in vivo (ChIP-seq) study of the gradient-correction paper, one function per workflow stage.

Per TF: a balanced dataset (built from ENCODE peaks or imported from a processed file), an ensemble
of models per architecture whose members differ in first-layer width and seed, saliency of every
member on all positive test sequences, and the ensemble-difference analysis of Fig. 3e / 9; then
Figs. 3b, 3e, 4b (drawn in `invivo_plots`) and the classification table. The stages that train or run
models import torch inside, so the dataset, table and figure jobs start without it.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gradcorr import angles
from gradcorr import ensemble_difference as ensemble
from gradcorr.correction import simplex_angle
from gradcorr.data.chipseq import build_dataset, dataset_summary, read_processed
from gradcorr.data.encode import paired_assembly, read_encode_metadata
from gradcorr.data.io import (
    atomic_path,
    attribution_arrays,
    iter_attributions,
    read_arrays,
    read_attrs,
    read_tsv,
    read_xy,
    write_arrays,
    write_tsv,
)
from gradcorr.kld import consistency_klds, kmer_counts
from gradcorr.metrics import classification_scores
from gradcorr.workflow.config_checks import check_input_length
from gradcorr.workflow.runtime import derive_seed

log = logging.getLogger(__name__)


def member_width(member: int, filters: list[int], seeds: int) -> int:
    """First-layer filters of ensemble member `member`: members run through `filters`, `seeds` each."""
    if not 0 <= member < len(filters) * seeds:
        raise ValueError(f"ensemble member {member} out of range: {len(filters)} widths x {seeds} seeds")
    return filters[member // seeds]


def build_chipseq_dataset(chip: str | Path, dnase: str | Path, chip_meta: str | Path, dnase_meta: str | Path,
                          genome: str | Path, out: str | Path, *, tf: str, assembly: str,
                          invivo: dict[str, Any], seed: int) -> None:
    """Balanced dataset of one TF from its ENCODE peak files, after checking every file's assembly."""
    found = paired_assembly(tf, chip_meta, dnase_meta)
    if found != assembly:
        raise ValueError(f"{tf}: the peaks are on {found} but the genome given is {assembly} ({genome})")
    records = {path: read_encode_metadata(path) for path in (chip_meta, dnase_meta)}
    for path, record in records.items():
        if record["file_format"] != "bed":
            raise ValueError(f"{path}: {record['accession']} is a {record['file_format']} file, not bed peaks")
    stats = build_dataset(
        chip, dnase, genome, out, width=invivo["width"], center=invivo["center"],
        chromosomes=invivo["chromosomes"], split=tuple(invivo["split"]), holdout=invivo["holdout"],
        seed=derive_seed(seed, "invivo-dataset", tf),
        attrs={"tf": tf, "assembly": assembly, "chip": str(records[chip_meta]["accession"]),
               "dnase": str(records[dnase_meta]["accession"])})
    log.info("%s: %s", tf, stats)


def import_processed_dataset(source: str | Path, out: str | Path, *, tf: str, architectures: list[str]) -> None:
    """Check an already processed dataset (published layout, sequences long enough for `architectures`) and
    copy it into the run, atomically."""
    data = read_processed(source)  # raises, naming the file and key, on anything but the published layout
    check_input_length(source, data["x_train"].shape[2], architectures)
    with atomic_path(out) as tmp:
        shutil.copyfile(source, tmp)
    log.info("%s: imported %s: %s", tf, source, dataset_summary(out))


def train_invivo_models(data: str | Path, outputs: list[tuple[str | Path, str | Path]], *, tf: str, arch: str,
                        activation: str, members: list[int], invivo: dict[str, Any], kernel_size: int,
                        training: dict[str, Any], seed: int, engine: str = "vectorized", group: int = 50,
                        device: str = "auto", threads: int = 1) -> None:
    """Train ensemble members of one TF and architecture (widths from `invivo.filters`); `outputs[i]` receives
    member `members[i]`."""
    from gradcorr.studies.model_runs import train_members

    train_members(data, outputs, arch=arch,
                  model_kwargs=[{"activation": activation, "kernel_size": kernel_size,
                                 "n_filters": member_width(m, invivo["filters"], invivo["seeds"])} for m in members],
                  model_ids=[f"{arch}_{activation}_{m}" for m in members],
                  seeds=[derive_seed(seed, "invivo-model", tf, arch, activation, m) for m in members],
                  metas=[{"tf": tf, "member": m} for m in members], training=training, engine=engine,
                  group=group, device=device, threads=threads)


def evaluate_invivo_models(data: str | Path, model_paths: list[str | Path], outs: list[dict[str, str | Path]], *,
                           tf: str, output: str, batch_size: int, engine: str = "vectorized", device: str = "auto",
                           threads: int = 1) -> None:
    """Test AUROC/AUPR of each member, its raw saliency on every positive test sequence, and the consistency
    of those maps (k-mer KLD against the k-mers of the whole test set, and attribution-vector KLD; higher
    is more interpretable): `outs[i]` gets member i's "saliency" (HDF5) and "metrics" (TSV). The
    "vectorized" engine runs all members in one batched pass; "sequential" one at a time; the numbers
    are the same."""
    from gradcorr.studies.model_runs import load_models, model_maps

    loaded = load_models(model_paths, device, threads)
    x, y = read_xy(data, "test")
    index = np.flatnonzero(np.asarray(y).reshape(-1) == 1)
    if index.size == 0:
        raise ValueError(f"{data}: the test split holds no positive sequence to attribute")
    scratch = Path(outs[0]["saliency"]).with_suffix(".members.tmp.h5")
    per_model = model_maps([m for m, _ in loaded], x, index, "saliency", engine, scratch, output=output,
                           batch_size=batch_size)
    prior = kmer_counts(x)
    for (p, raw), (_, saved), out in zip(per_model, loaded, outs):
        scores = classification_scores(y, p)
        meta = saved["meta"]
        row = {"tf": tf, "model": meta["model_id"], "arch": saved["arch"],
               "activation": saved["model_kwargs"]["activation"], "member": meta["member"],
               "n_filters": saved["model_kwargs"]["n_filters"], "epochs": len(saved["history"]),
               "test_auroc": scores["auroc"], "test_aupr": scores["aupr"], "n_test": len(y),
               "n_positive": len(index), **consistency_klds(raw, x[index], prior)}
        write_arrays(out["saliency"], attribution_arrays(index, x[index], "saliency", raw),
                     {"tf": tf, "model": meta["model_id"], "method": "saliency", "output": output})
        write_tsv(pd.DataFrame([row]), out["metrics"])
        log.info("%s %s: test AUROC %.4f AUPR %.4f; saliency of %d positive sequences; KLD k-mer %.3f, "
                 "attr-mean %.3f", tf, meta["model_id"], scores["auroc"], scores["aupr"], len(index),
                 row["kld_kmer"], row["kld_attr_mean"])


def analyse_ensemble(saliency: list[str | Path], out: str | Path, *, tf: str, model_type: str,
                     correct_ensemble: bool, thresholds: list[float]) -> None:
    """Ensemble average of a TF's members, and each member's angle statistics and distance to it.

    Two passes over the members' maps (one in memory at a time): the running mean, then per member
    the ensemble difference per 5-degree angle bin, the angle histogram, the per-sequence
    percentage of large angles and the member's agreement with the ensemble (`agreement_cosine`,
    `agreement_distance`, each (K, N): `ensemble_difference.ensemble_agreement` of its corrected map
    with the corrected average of the other K - 1 members, so that no member agrees with itself; the
    stand-in for ground truth of the model-selection stage).
    """
    mean = ensemble.ensemble_average(d["raw"] for d in iter_attributions(saliency))
    per_model = {"distance_n": [], "distance_raw": [], "distance_corrected": [], "angle_hist": [],
                 "large_angle_percent": [], "sequence_reduction": [], "agreement_cosine": [],
                 "agreement_distance": []}
    names, first = [], None
    for d in iter_attributions(saliency):
        first = d if first is None else first
        diff = ensemble.ensemble_difference(d["raw"], mean, correct_ensemble=correct_ensemble)
        per_model["distance_n"].append(diff["n"])
        per_model["distance_raw"].append(diff["distance_raw"])
        per_model["distance_corrected"].append(diff["distance_corrected"])
        per_model["angle_hist"].append(angles.angle_histogram(d["raw"]))
        per_model["large_angle_percent"].append(angles.large_angle_percent(simplex_angle(d["raw"]), thresholds))
        per_model["sequence_reduction"].append(ensemble.sequence_reduction(d["raw"], mean, correct_ensemble))
        k = len(saliency)  # agreement with the average of the other members, not counting its own map
        others = (k * mean - d["raw"]) / (k - 1) if k > 1 else mean
        cosine, distance = ensemble.ensemble_agreement(d["raw"], others)
        per_model["agreement_cosine"].append(cosine)
        per_model["agreement_distance"].append(distance)
        names.append(str(d["attrs"]["model"]))
        log.info("%s %s: ensemble difference reduced by %.1f%%", tf, names[-1], ensemble.overall_reduction(diff))
    arrays = {k: np.stack(v) for k, v in per_model.items()}
    arrays.update({"distance_edges": ensemble.DIFF_EDGES, "angle_edges": angles.ANGLE_EDGES,
                   "thresholds": np.asarray(thresholds, dtype=np.float64), "index": first["index"],
                   "x": first["x"], "ensemble": mean.astype(np.float32), "member0": first["raw"],
                   "ensemble_angle_hist": angles.angle_histogram(mean)})
    write_arrays(out, arrays, {"tf": tf, "model_type": model_type, "models": names,
                               "correct_ensemble": correct_ensemble})
    log.info("%s %s: ensemble of %d models; angle SD single %.1f, ensemble %.1f deg", tf, model_type, len(names),
             np.nanstd(simplex_angle(first["raw"])), np.nanstd(simplex_angle(mean)))


def _difference(e: dict[str, Any]) -> dict[str, np.ndarray]:
    """An ensemble file's member differences, pooled over members."""
    return {"edges": e["distance_edges"], "n": e["distance_n"].sum(axis=0),
            "distance_raw": e["distance_raw"].sum(axis=0), "distance_corrected": e["distance_corrected"].sum(axis=0)}


def invivo_figures(ensembles: list[str | Path], out: dict[str, str | Path], *, model_type: str,
                   synthetic_summary: str | Path | None = None) -> None:
    """Fig. 3e / 9 and Fig. 4b / 13 for one model type, across TFs, each with the table of its numbers."""
    from gradcorr.studies import invivo_plots, plotting  # matplotlib only in the jobs that draw

    needed = ("distance_edges", "distance_n", "distance_raw", "distance_corrected", "angle_hist",
              "ensemble_angle_hist", "large_angle_percent", "thresholds")  # not the maps themselves
    data = {str(read_attrs(p)["tf"]): read_arrays(p, needed) for p in ensembles}
    reductions = pd.concat([ensemble.reduction_table(_difference(e)).assign(tf=tf) for tf, e in data.items()])
    edges = angles.ANGLE_EDGES
    densities = pd.concat([pd.DataFrame({"tf": tf, "angle_lo": edges[:-1], "angle_hi": edges[1:],
                                         "count_single": e["angle_hist"].sum(axis=0),
                                         "count_ensemble": e["ensemble_angle_hist"]}) for tf, e in data.items()])
    fig = invivo_plots.fig_angle_reduction(densities, reductions, model_type)
    plotting.save_figure(fig, out["fig3e_pdf"], out["fig3e"])
    write_tsv(reductions.merge(_angle_sd(data), on="tf"), out["fig3e_tsv"])

    large = pd.concat([_large_angle_row(tf, e) for tf, e in data.items()], ignore_index=True)
    synthetic = _synthetic_means(synthetic_summary, model_type, large.columns)
    fig = invivo_plots.fig_invivo_large_angles(large, synthetic, model_type)
    plotting.save_figure(fig, out["fig4b_pdf"], out["fig4b"])
    write_tsv(large if synthetic is None else pd.concat([large, synthetic], ignore_index=True), out["fig4b_tsv"])


def _angle_sd(data: dict[str, dict[str, Any]]) -> pd.DataFrame:
    """Per TF, the SD of the single models' and of the ensemble map's angles, from the histograms."""
    return pd.DataFrame([{"tf": tf, "angle_sd_single": angles.histogram_sd(e["angle_hist"].sum(axis=0)),
                          "angle_sd_ensemble": angles.histogram_sd(e["ensemble_angle_hist"])}
                         for tf, e in data.items()])


def _large_angle_row(tf: str, e: dict[str, Any]) -> pd.DataFrame:
    """Mean over members and positive test sequences of the percentage of positions above each threshold."""
    pct = e["large_angle_percent"]  # (K, N, T)
    return pd.DataFrame([{"source": tf, **{f"percent_above_{t:g}": float(np.nanmean(pct[:, :, j]))
                                           for j, t in enumerate(e["thresholds"])}}])


def _synthetic_means(summary: str | Path | None, model_type: str, columns: pd.Index) -> pd.DataFrame | None:
    """The synthetic study's mean percentages for `model_type` (saliency) as one row, if that study ran."""
    if summary is None:
        return None
    table = read_tsv(summary)
    row = table[(table["model_type"] == model_type) & (table["method"] == "saliency")]
    wanted = [c for c in columns if c.startswith("percent_above_")]
    if row.empty or not set(wanted) <= set(row.columns):
        return None
    return pd.DataFrame([{"source": "synthetic", **{c: float(row.iloc[0][c]) for c in wanted}}])


def classification_table(metrics: list[str | Path], out: str | Path) -> None:
    """Test AUROC/AUPR and consistency KLDs of every member of every TF's ensembles, in one table."""
    frame = pd.concat([read_tsv(t) for t in metrics], ignore_index=True)
    write_tsv(frame.sort_values(["tf", "arch", "activation", "member"], kind="stable"), out)
    summary = frame.groupby(["tf", "arch", "activation"])["test_auroc"].agg(["mean", "min", "max"])
    log.info("test AUROC per TF and model type:\n%s", summary.to_string())


def plot_invivo_logos(ensemble_file: str | Path, out: dict[str, str | Path], *, tf: str, jaspar_id: str | None,
                      jaspar_release: str, window: int) -> None:
    """Fig. 3b / 7 for one TF and model type: member 0's raw and corrected saliency, its angle, the ensemble map."""
    from gradcorr.studies import invivo_plots, plotting

    e = read_arrays(ensemble_file, ("sequence_reduction", "member0", "x", "ensemble", "index"))
    row = invivo_plots.representative_row(e["sequence_reduction"][0])
    motif = invivo_plots.jaspar_motif(jaspar_id, jaspar_release) if jaspar_id else None
    title = f"{tf}, {read_attrs(ensemble_file)['model_type']} member 0, test positive {int(e['index'][row])}"
    fig, table = invivo_plots.fig_invivo_logos(e["member0"][row], e["x"][row], e["ensemble"][row], window,
                                               motif=motif, title=title)
    plotting.save_figure(fig, out["pdf"], out["png"])
    write_tsv(table, out["tsv"])
