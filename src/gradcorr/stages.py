"""One function per workflow stage that needs no model: the synthetic dataset, then the tables, angle
statistics and figures made from what the model stages wrote.

The Snakemake scripts only map the `snakemake` object onto these calls, so each stage also runs (and
is tested) without Snakemake. The stages that train or run models are in `gradcorr.model_stages`;
this module imports no torch, which saves every table and figure job about 2 s of start-up.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pandas as pd

from gradcorr import angles
from gradcorr.correction import correct, simplex_angle
from gradcorr.io import read_tsv, write_arrays, write_tsv
from gradcorr.runtime import derive_seed
from gradcorr.synthetic import dataset_attrs, generate_billboard, write_dataset

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
    return _group_by(paths, lambda p: model_type_of(h5_attr(p, "model")))


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
    model_type = model_type_of(str(first["attrs"]["model"]))
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
        kind = model_type_of(model)
        combined[kind] = angles.combine_summaries([combined[kind], summary] if kind in combined else [summary])

    plots.save_figure(angle_plots.fig_angle_analysis(combined, method), out["fig3_pdf"], out["fig3"])
    write_tsv(pd.concat([angles.angle_bin_table(c).assign(model_type=t) for t, c in combined.items()]),
              out["fig3_tsv"])

    plots.save_figure(angle_plots.fig_large_angles(combined, method), out["fig4_pdf"], out["fig4"])
    write_tsv(pd.concat(per_sequence), out["fig4_tsv"])

    ensemble = {model_type_of(h5_attr(p, "model")): angles.read_summary(p)["angle_hist_all"] for p in ensembles}
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
