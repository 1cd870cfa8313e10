"""Where off-simplex gradients come from, and what training can do about them (gradient-correction paper,
sections 5.6-5.7, Figs. 4c-d, 14, 15; and a simplex-projected first layer beyond the paper).

The study trains the synthetic study's models in "arms", each with all its trials:

- `sigma<s>`: every hidden kernel initialised N(0, s^2) (the initialisation sweep, Fig. 4c / 14);
- `lambda<l>`: the angle penalty of weight l (Fig. 4d / 15), trained by double backpropagation;
- `he_normal`: the published model (He-normal, no penalty), the reference of both sweeps and, with post
  hoc correction, the first column of the comparison;
- `projected`: the first kernel kept zero-mean over the alphabet throughout training (a reparameterisation,
  `models.architectures.constrain_first_layer`): every input gradient has angle 0 by construction;
- `projected_init`: the first kernel only initialised zero-mean (does a simplex-aligned start stay aligned?).

Each arm's models are scored with saliency maps as the synthetic study scores them (test AUROC,
interpretability before and after correction, angle summaries); a model whose loss was non-finite
before its first epoch completed is kept as a row marked failed. One function per workflow stage; the
figures are drawn in `angle_training_plots`.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gradcorr import angles
from gradcorr.data.io import read_arrays, read_attrs, read_tsv, write_arrays, write_tsv
from gradcorr.workflow.runtime import derive_seed

log = logging.getLogger(__name__)

METHOD = "saliency"  # the paper's Figs. 4c-d, 14, 15 use saliency maps
REFERENCE = "he_normal"
FIRST_LAYER_ARMS = ("projected", "projected_init")
ARM_COLUMNS = ("init_sigma", "angle_lambda", "first_layer")  # what the arms set (arm_settings)
SCORES = ("test_auroc", "angle_sd_all", "angle_sd_ground_truth", "angle_sd_background",
          "cosine_raw", "auroc_raw", "aupr_raw", "cosine_corrected", "auroc_corrected", "aupr_corrected")
# The comparison's columns: the arm, and how its maps are read
COMPARISON = {"unconstrained + post hoc correction": REFERENCE, "angle penalty (best lambda)": "best_lambda",
              "projected first layer (trained)": "projected", "projected initialisation only": "projected_init"}


def arm_settings(arm: str) -> dict[str, Any]:
    """What an arm changes: {"init_sigma": s}, {"angle_lambda": l}, {"first_layer": ...} or {} (he_normal)."""
    if arm == REFERENCE:
        return {}
    if arm in FIRST_LAYER_ARMS:
        return {"first_layer": arm}
    for prefix, key in (("sigma", "init_sigma"), ("lambda", "angle_lambda")):
        if arm.startswith(prefix):
            try:
                return {key: float(arm[len(prefix):])}
            except ValueError:
                break
    raise ValueError(f"unknown arm {arm!r}: expected he_normal, projected, projected_init, sigma<s> or lambda<l>")


def train_arm_models(data: str | Path, outputs: list[tuple[str | Path, str | Path]], *, arch: str, activation: str,
                     arm: str, trials: list[int], models: dict[str, Any], training: dict[str, Any], seed: int,
                     engine: str = "vectorized", group: int = 50, device: str = "auto", threads: int = 1) -> None:
    """Train trials of one arm of one model type on the synthetic dataset; `outputs[i]` receives trial
    `trials[i]`. A trial whose loss is non-finite before its first epoch completes is saved untrained and
    marked failed (`meta["failed"]`); the others train on.

    The penalty arms train with the angle regularizer at their weight; all arms of a trial share its
    seed, so arms differ by what they change and not by the draw of their initialisation."""
    from gradcorr.studies.model_runs import train_members

    settings = arm_settings(arm)
    kwargs = {"activation": activation, "n_filters": models["n_filters"], "kernel_size": models["kernel_size"],
              **{k: v for k, v in settings.items() if k != "angle_lambda"}}
    if "angle_lambda" in settings:
        training = {**training, "regularizer": {**training.get("regularizer", {}), "name": "angle",
                                                "angle_lambda": settings["angle_lambda"]}}
    name = f"{arch}_{activation}_{arm}"
    train_members(data, outputs, arch=arch, model_kwargs=[kwargs] * len(trials),
                  model_ids=[f"{name}_{t}" for t in trials],
                  seeds=[derive_seed(seed, "angle-training-model", arch, activation, t) for t in trials],
                  metas=[{"trial": t, "arm": arm} for t in trials], training=training, engine=engine,
                  group=group, device=device, threads=threads, keep_going=True)


def evaluate_arm_models(data: str | Path, model_paths: list[str | Path], outs: list[dict[str, str | Path]], *,
                        evaluation: dict[str, Any], thresholds: list[float], seed: int, engine: str = "vectorized",
                        device: str = "auto", threads: int = 1) -> None:
    """Saliency maps of the first positive test sequences of each model of one arm, scored and summarised as
    `synthetic.evaluate_synthetic_models` does; a failed model gets a row that says why and empty arrays."""
    import torch

    from gradcorr.studies.synthetic import evaluate_synthetic_models

    metas = [torch.load(p, map_location="cpu", weights_only=True)["meta"] for p in model_paths]
    for out, meta in zip(outs, metas):
        if "failed" in meta:
            _write_failed(out, meta)
    good = [i for i, meta in enumerate(metas) if "failed" not in meta]
    if good:
        evaluate_synthetic_models(data, [model_paths[i] for i in good], [outs[i] for i in good], method=METHOD,
                                  evaluation=evaluation, options={}, thresholds=thresholds, seed=seed,
                                  engine=engine, device=device, threads=threads)


def _write_failed(out: dict[str, str | Path], meta: dict[str, Any]) -> None:
    model = meta["model_id"]
    log.error("%s failed in training (%s): a row marked failed, no maps", model, meta["failed"])
    attrs = {"model": model, "method": METHOD, "failed": meta["failed"]}
    write_arrays(out["attributions"], {}, attrs)
    write_arrays(out["angles"], {}, attrs)
    write_tsv(pd.DataFrame([{"model": model, "trial": meta["trial"], "method": METHOD, "failed": meta["failed"]}]),
              out["metrics"])


def parse_model(model_id: str) -> tuple[str, str, str, int]:
    """'cnn_deep_relu_sigma0.05_3' -> ('cnn_deep', 'relu', 'sigma0.05', 3)."""
    parts = model_id.split("_")
    if len(parts) < 5:
        raise ValueError(f"{model_id!r} is not a model of this study (<arch>_<activation>_<arm>_<trial>)")
    return "_".join(parts[:2]), parts[2], "_".join(parts[3:-1]), int(parts[-1])


def model_table(metrics: list[str | Path], summaries: list[str | Path]) -> pd.DataFrame:
    """One row per model: its model type, arm, what the arm sets, whether it failed (and why), test AUROC,
    the SD of its saliency angles (all, ground-truth and background positions) and its interpretability
    raw and corrected. `metrics[i]` and `summaries[i]` are model i's row and angle summary."""
    rows = []
    for table, summary in zip(metrics, summaries):
        row = read_tsv(table).iloc[0].to_dict()
        arch, activation, arm, trial = parse_model(str(row["model"]))
        out = {"model": row["model"], "model_type": f"{arch}_{activation}", "arm": arm, "trial": trial,
               **arm_settings(arm), "failed": row.get("failed", "")}
        if "failed" not in read_attrs(summary):
            s = read_arrays(summary)
            out.update({f"angle_sd_{region}": angles.pooled_mean_sd(s, region)[1] for region in angles.REGIONS})
            out.update({k: row[k] for k in SCORES if k in row})
        rows.append(out)
    frame = pd.DataFrame(rows)
    for column in (*ARM_COLUMNS, *SCORES):
        if column not in frame:
            frame[column] = np.nan
    frame["failed"] = frame["failed"].fillna("").astype(str)
    return frame.sort_values(["model_type", "arm", "trial"], kind="stable").reset_index(drop=True)


def arm_table(models: pd.DataFrame) -> pd.DataFrame:
    """Per model type and arm: the trials, how many failed, and the mean and SD over the other trials of
    every score (columns <score>_mean, <score>_sd; SD with ddof 1, NaN for one trial)."""
    rows = []
    for (model_type, arm), group in models.groupby(["model_type", "arm"], sort=False):
        ok = group[group["failed"] == ""]
        row = {"model_type": model_type, "arm": arm, **arm_settings(arm), "n_trials": len(group),
               "n_failed": len(group) - len(ok)}
        for score in SCORES:
            values = ok[score].astype(float)
            row[f"{score}_mean"] = values.mean()
            row[f"{score}_sd"] = values.std(ddof=1) if len(values) > 1 else np.nan
        rows.append(row)
    return pd.DataFrame(rows).reindex(columns=["model_type", "arm", *ARM_COLUMNS, "n_trials", "n_failed",
                                               *[f"{s}_{stat}" for s in SCORES for stat in ("mean", "sd")]])


def sweep_table(arms: pd.DataFrame, key: str) -> pd.DataFrame:
    """The arms of one sweep (`key` "init_sigma" or "angle_lambda"), by model type and value, with the
    he_normal reference (lambda 0 for the penalty sweep; no sigma, as He-normal scales with fan-in)."""
    sweep = arms[arms[key].notna()]
    reference = arms[arms["arm"] == REFERENCE].copy()
    if key == "angle_lambda":
        reference[key] = 0.0
    frame = pd.concat([reference, sweep], ignore_index=True)
    return frame.sort_values(["model_type", key], kind="stable", na_position="first").reset_index(drop=True)


def best_lambda(penalty: pd.DataFrame, model_type: str) -> str | None:
    """The penalty arm of a model type with the highest mean raw cosine similarity (the paper's headline
    interpretability score) among those whose mean test AUROC is within 0.01 of the he_normal reference;
    None when the sweep has no such arm. The choice reads the test set's ground truth: it shows what the
    penalty can reach at its best, which a user without ground truth could not pick."""
    mine = penalty[penalty["model_type"] == model_type]
    reference = mine.loc[mine["arm"] == REFERENCE, "test_auroc_mean"]
    floor = float(reference.iloc[0]) - 0.01 if len(reference) else -np.inf
    candidates = mine[(mine["arm"] != REFERENCE) & (mine["test_auroc_mean"] >= floor)]
    candidates = candidates[candidates["cosine_raw_mean"].notna()]
    if candidates.empty:
        return None
    return str(candidates.sort_values(["cosine_raw_mean", "angle_lambda"], ascending=[False, True])["arm"].iloc[0])


def comparison_table(arms: pd.DataFrame) -> pd.DataFrame:
    """Per model type, the four ways to deal with off-simplex gradients side by side: test AUROC, angle SD
    and interpretability before and after correction (mean and SD over trials). Arms the run lacks are
    left out."""
    penalty = sweep_table(arms, "angle_lambda")
    rows = []
    for model_type in arms["model_type"].unique():
        for label, arm in COMPARISON.items():
            if arm == "best_lambda":
                arm = best_lambda(penalty, model_type)
            found = arms[(arms["model_type"] == model_type) & (arms["arm"] == arm)]
            if arm is None or found.empty:
                continue
            rows.append({"model_type": model_type, "approach": label, **found.iloc[0].to_dict()})
    columns = ["model_type", "approach", "arm", "angle_lambda", "n_trials", "n_failed",
               *[f"{s}_{stat}" for s in SCORES for stat in ("mean", "sd")]]
    frame = pd.DataFrame(rows)
    return frame.reindex(columns=columns) if len(frame) else pd.DataFrame(columns=columns)


def angle_histograms(summaries: list[str | Path]) -> pd.DataFrame:
    """The angle distribution (all positions) of each model type and arm, pooled over its trials, as a
    density over 1-degree bins (Fig. 4d's lower panel); failed models are left out."""
    pooled: dict[tuple[str, str], np.ndarray] = {}
    edges = angles.ANGLE_EDGES
    for path in summaries:
        attrs = read_attrs(path)
        if "failed" in attrs:
            continue
        arch, activation, arm, _ = parse_model(str(attrs["model"]))
        s = read_arrays(path, ["angle_edges", "angle_hist_all"])
        if not np.array_equal(s["angle_edges"], edges):
            raise ValueError(f"{path}: angle bins differ from gradcorr.angles.ANGLE_EDGES")
        key = (f"{arch}_{activation}", arm)
        pooled[key] = pooled.get(key, 0) + s["angle_hist_all"]
    frames = [pd.DataFrame({"model_type": t, "arm": a, "angle_lo": edges[:-1], "angle_hi": edges[1:],
                            "density": h / max(h.sum(), 1)}) for (t, a), h in pooled.items()]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(
        columns=["model_type", "arm", "angle_lo", "angle_hi", "density"])


def study_tables(metrics: list[str | Path], summaries: list[str | Path], out: dict[str, str | Path]) -> None:
    """Every table of the study: per model, per arm, the two sweeps, the comparison and the penalty arms'
    angle distributions."""
    models = model_table(metrics, summaries)
    arms = arm_table(models)
    write_tsv(models, out["models"])
    write_tsv(arms, out["arms"])
    write_tsv(sweep_table(arms, "init_sigma"), out["init_sweep"])
    penalty = sweep_table(arms, "angle_lambda")
    write_tsv(penalty, out["angle_penalty"])
    write_tsv(comparison_table(arms), out["comparison"])
    histograms = angle_histograms(summaries)
    write_tsv(histograms[histograms["arm"].isin(set(penalty["arm"]))], out["histograms"])
    failed = models[models["failed"] != ""]
    for _, row in failed.iterrows():
        log.warning("%s failed: %s", row["model"], row["failed"])
    log.info("%d models (%d failed) in %d arms -> %s", len(models), len(failed), len(arms), out["arms"])


def study_figures(tables: dict[str, str | Path], out: dict[str, str | Path]) -> None:
    """Fig. 4c / 14 (initialisation sweep), Fig. 4d / 15 (angle penalty) and the comparison figure, from
    the study's tables; each figure is drawn only when the run has its arms (an empty panel says so)."""
    from gradcorr.studies import angle_training_plots, plotting

    init = read_tsv(tables["init_sweep"])
    penalty = read_tsv(tables["angle_penalty"])
    plotting.save_figure(angle_training_plots.fig_init_sweep(init), out["init_pdf"], out["init"])
    plotting.save_figure(angle_training_plots.fig_angle_penalty(penalty, read_tsv(tables["histograms"])),
                         out["penalty_pdf"], out["penalty"])
    plotting.save_figure(angle_training_plots.fig_comparison(read_tsv(tables["comparison"])),
                         out["comparison_pdf"], out["comparison"])
