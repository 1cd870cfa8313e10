"""Do input gradients highlight discriminative features? DiffROAR and feature leakage on DNA (Shah, Jain &
Netrapalli), each attribution raw and corrected.

DiffROAR part: per synthetic-study model type (CNN-shallow, CNN-deep; relu or exp first layer) and training regime
(`TRAINING_REGIMES`: "standard" is the synthetic study's model, trained or published; "noise" and "adversarial" are
trained here on the same data from the same seeds), each method's maps of every sequence (train, valid, test), raw and
corrected, give one score per position (`faithfulness.position_scores`). For each fraction k, the top-k and the
bottom-k unmasked copies of the whole dataset (`unmasking.unmask`, fill "zeros" or "uniform") each train
`retrainings` new models of the model's architecture, together in the ensemble engine; their AUROC and accuracy on
the unmasked test set are the predictive power, and DiffROAR = top - bottom, paired by retraining seed (positive:
the largest attributions are the discriminative positions; negative: the assumption is violated). Baselines
(`BASELINES`): a random ranking per sequence (model-agnostic; DiffROAR ~ 0) and the mean raw saliency score over the
training set, one ranking for every sequence (input-agnostic).

Leakage part (the BlockMNIST analogue, `data.leakage`): models of each regime trained on sequences whose signal block
(a motif pair that sets the label) sits left or right at random, or always left ("fixed"); the share of each map's
mass in the null block, raw and corrected. Feature leakage is a larger null share when the signal's side varies.

One function per workflow stage; the figures are in `diffroar_plots`.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gradcorr.data.io import (
    open_hdf5,
    read_arrays,
    read_attrs,
    read_tsv,
    read_tsvs,
    read_xy,
    write_arrays,
    write_tsv,
)
from gradcorr.data.synthetic import SPLITS
from gradcorr.studies.faithfulness import KINDS
from gradcorr.unmasking import KEEPS
from gradcorr.workflow.runtime import derive_seed

log = logging.getLogger(__name__)

TRAINING_REGIMES = ("standard", "noise", "adversarial")
# the baselines' method names; their kind is "baseline"
RANDOM, INPUT_AGNOSTIC = "random", "input_agnostic"
BASELINES = (RANDOM, INPUT_AGNOSTIC)
ANY_REGIME = "any"  # the random baseline's regime: it ranks without a model
POWER_METRICS = ("auroc", "accuracy")
POWER_COLUMNS = ["model_type", "regime", "trial", "method", "kind", "fill", "fraction", "keep", "retraining",
                 "auroc", "accuracy", "epochs"]
LEAKAGE_COLUMNS = ["placement", "model_type", "regime", "trial", "accuracy", "auroc", "method", "kind", "null_share",
                   "null_share_sequences_sd", "null_motif_share", "n"]
# sequences attributed per call while scoring a whole dataset (one log line each)
SCORE_BLOCK = 2048


def split_model_type(model_type: str) -> tuple[str, str]:
    """'cnn_deep_exp' -> ('cnn_deep', 'exp')."""
    arch, activation = model_type.rsplit("_", 1)
    return arch, activation


def regime_training(regime: str, regularizers: dict[str, dict[str, Any]], training: dict[str, Any]
                    ) -> dict[str, Any]:
    """The training protocol of a regime: `training` with no regularizer ("standard"), Gaussian input noise
    ("noise") or projected-gradient adversarial training ("adversarial"), their settings from `regularizers`
    (keys of `models.regularizers.RegularizerConfig`; its defaults, the consistency paper's, otherwise)."""
    if regime not in TRAINING_REGIMES:
        raise ValueError(f"unknown regime {regime!r}; choose one of {TRAINING_REGIMES}")
    regularizer = {"name": "none"} if regime == "standard" else {**regularizers.get(regime, {}), "name": regime}
    return {**training, "regularizer": regularizer}


def train_regime_models(data: str | Path, outputs: list[tuple[str | Path, str | Path]], *, dataset: str,
                        model_type: str, regime: str, trials: list[int], models: dict[str, Any],
                        regularizers: dict[str, dict[str, Any]], training: dict[str, Any], seed: int,
                        engine: str = "vectorized", group: int = 50, device: str = "auto", threads: int = 1) -> None:
    """Train trials of one model type under one regime on `data`; `outputs[i]` = (model, history) of trial
    `trials[i]`. On the synthetic study's data (`dataset` "billboard") trial t takes the synthetic study's seed of
    trial t, so robust and standard models start alike; on a leakage dataset (`dataset` its placement) the seeds
    are the study's own, the same in every regime."""
    from gradcorr.studies.model_runs import train_members
    from gradcorr.studies.synthetic import model_options, model_seed

    arch, activation = split_model_type(model_type)
    if dataset == "billboard":
        seeds = [model_seed(seed, arch, activation, t) for t in trials]
    else:
        seeds = [derive_seed(seed, "diffroar-leakage-model", dataset, model_type, t) for t in trials]
    train_members(data, outputs, arch=arch, model_kwargs=[model_options(activation, models)] * len(trials),
                  model_ids=[f"{model_type}_{regime}_{t}" for t in trials], seeds=seeds,
                  metas=[{"trial": t, "regime": regime, "dataset": dataset} for t in trials],
                  training=regime_training(regime, regularizers, training), engine=engine, group=group,
                  device=device, threads=threads)


def _attribution_options(method: str, options: dict[str, Any], seed: int, *key: Any) -> dict[str, Any]:
    """A method's options, seeded from `seed` and `key` when it draws at random (noise, references)."""
    from gradcorr.attribution import OPTIONS

    return {**options, "seed": derive_seed(seed, "diffroar-attribution", *key)} if "seed" in OPTIONS[method] \
        else dict(options)


def position_score_maps(model: Any, x: np.ndarray, *, method: str, options: dict[str, Any], output: str,
                        score: str, batch_size: int) -> dict[str, np.ndarray]:
    """The per-position scores (N, L), float32, of a model's raw and corrected maps of `x`, `SCORE_BLOCK`
    sequences at a time (memory holds one block's maps); a method's random draws are seeded per block from
    `options["seed"]`, so no two blocks share them."""
    from gradcorr.attribution import attribute
    from gradcorr.correction import correct
    from gradcorr.faithfulness import position_scores

    blocks: dict[str, list[np.ndarray]] = {kind: [] for kind in KINDS}
    for i0 in range(0, len(x), SCORE_BLOCK):
        chunk = x[i0:i0 + SCORE_BLOCK]
        block = {**options, "seed": derive_seed(options["seed"], "block", i0)} if "seed" in options else options
        raw = attribute(model, chunk, method, output=output, batch_size=batch_size, **block)
        for kind, maps in (("raw", raw), ("corrected", correct(raw))):
            blocks[kind].append(position_scores(maps, chunk, score).astype(np.float32))
        log.info("%s: scored %d of %d sequences", method, min(i0 + SCORE_BLOCK, len(x)), len(x))
    return {kind: np.concatenate(parts) for kind, parts in blocks.items()}


def _test_scores(model: Any, x: np.ndarray, y: np.ndarray, batch_size: int) -> dict[str, float]:
    """A model's test AUROC and accuracy (sigmoid on the side of 0.5 of the label)."""
    import torch

    from gradcorr.metrics import classification_scores
    from gradcorr.models.training import predict

    p = predict(model, torch.as_tensor(x, dtype=torch.float32), batch_size).numpy()
    y = np.asarray(y).reshape(-1)
    return {"auroc": classification_scores(y, p)["auroc"], "accuracy": float(((p >= 0.5) == (y == 1)).mean())}


def score_model(data: str | Path, model_path: str | Path, out: str | Path, *, model_type: str, regime: str,
                trial: int, method: str, options: dict[str, Any], output: str, score: str, batch_size: int,
                seed: int, device: str = "auto", threads: int = 1) -> None:
    """Score every position of every sequence of `data` (train, valid, test) by one model's maps of `method`,
    raw and corrected; write them (keys f"{kind}_{split}") with the model's test AUROC and accuracy as
    attributes."""
    from gradcorr.studies.model_runs import load_models

    [(model, _)] = load_models([model_path], device, threads)
    opts = _attribution_options(method, options, seed, model_type, regime, trial, method)
    arrays: dict[str, np.ndarray] = {}
    for split in SPLITS:
        x, y = read_xy(data, split)
        log.info("%s %s trial %d, %s: %s split, %d sequences", model_type, regime, trial, method, split, len(x))
        for kind, values in position_score_maps(model, x, method=method, options=opts, output=output, score=score,
                                                batch_size=batch_size).items():
            arrays[f"{kind}_{split}"] = values
        if split == "test":
            tested = _test_scores(model, x, y, batch_size)
    write_arrays(out, arrays, {"model_type": model_type, "regime": regime, "trial": trial, "method": method,
                               "output": output, "score": score, "model": str(model_path),
                               **{f"test_{k}": v for k, v in tested.items()}})
    log.info("%s %s trial %d: test AUROC %.4f, accuracy %.4f", model_type, regime, trial, tested["auroc"],
             tested["accuracy"])


def ranking_scores(data: str | Path, method: str, kind: str, scores: str | Path | None = None,
                   seed: int = 0) -> dict[str, np.ndarray]:
    """The scores (N, L) that rank the positions of each split: a method's maps (`kind` raw or corrected, from the
    `score_model` file `scores`), the input-agnostic baseline (the mean of the `scores` file's raw training scores,
    for every sequence) or the random baseline (fresh uniform draws, seeded by split)."""
    from gradcorr.unmasking import input_agnostic_scores, random_scores

    with open_hdf5(data) as f:  # the shapes only: the sequences are read where they are unmasked
        shapes = {split: f[f"x_{split}"].shape for split in SPLITS}
    if method == RANDOM:
        return {split: random_scores(n, length, derive_seed(seed, "diffroar-random", split))
                for split, (n, _, length) in shapes.items()}
    if scores is None:
        raise ValueError(f"ranking {method!r} needs its maps' scores file")
    if method == INPUT_AGNOSTIC:
        train = read_arrays(scores, ["raw_train"])["raw_train"]  # the rules give it the saliency maps' file
        return {split: input_agnostic_scores(train, n) for split, (n, _, _) in shapes.items()}
    keys = [f"{kind}_{split}" for split in SPLITS]
    found = read_arrays(scores, keys)
    return {split: found[f"{kind}_{split}"] for split in SPLITS}


def predictive_power(data: str | Path, ranked: dict[str, np.ndarray], *, model_type: str, fractions: list[float],
                     fill: str, retrainings: int, models: dict[str, Any], training: dict[str, Any], seed: int,
                     engine: str = "vectorized", group: int = 50, device: str = "auto", threads: int = 1,
                     batch_size: int = 512) -> list[dict[str, Any]]:
    """For each fraction and keep ("top", "bottom"): unmask train, valid and test by `ranked` (`unmasking.unmask`,
    ties broken by a seed per split), train `retrainings` new models of `model_type` on the unmasked train split
    (early-stopped on the unmasked valid split), together in the ensemble engine, and score them on the unmasked
    test split. Retraining r has the same seed in every ranking, fraction and keep, so differences are paired.
    One row per (fraction, keep, retraining): auroc, accuracy, epochs trained."""
    import torch

    from gradcorr.models.architectures import build_model
    from gradcorr.models.training import TrainConfig
    from gradcorr.studies.model_runs import fit_members, job_device
    from gradcorr.studies.synthetic import model_options
    from gradcorr.unmasking import unmask

    dev = job_device(device, threads)
    arch, activation = split_model_type(model_type)
    splits = {split: read_xy(data, split) for split in SPLITS}
    seeds = [derive_seed(seed, "diffroar-retrain", model_type, r) for r in range(retrainings)]
    configs = [TrainConfig.from_dict({**training, "regularizer": {"name": "none"}, "seed": s}) for s in seeds]
    options = {**model_options(activation, models), "input_length": splits["train"][0].shape[2],
               "alphabet": splits["train"][0].shape[1]}
    rows = []
    for fraction in fractions:
        for keep in KEEPS:
            unmasked = {split: unmask(x, ranked[split], fraction, keep=keep, fill=fill,
                                      seed=derive_seed(seed, "diffroar-unmask", split))
                        for split, (x, _) in splits.items()}
            tensors = tuple(torch.as_tensor(a, dtype=torch.float32) for split in ("train", "valid")
                            for a in (unmasked[split], splits[split][1]))
            members = []
            for s in seeds:
                torch.manual_seed(s)
                members.append(build_model(arch, **options))
            names = [f"{keep} {fraction:g} retraining {r}" for r in range(retrainings)]
            log.info("%s: retraining %d model(s) on the %s %g unmasked data (fill %s)", model_type, retrainings,
                     keep, fraction, fill)
            trained, histories = fit_members(members, tensors, configs, dev, names, engine=engine, group=group)[:2]
            for r, (model, history) in enumerate(zip(trained, histories)):
                tested = _test_scores(model, unmasked["test"], splits["test"][1], batch_size)
                rows.append({"fraction": fraction, "keep": keep, "retraining": r, **tested,
                             "epochs": sum("val_auroc" in h for h in history)})
                log.info("  %s: test AUROC %.4f, accuracy %.4f", names[r], tested["auroc"], tested["accuracy"])
    return rows


def power_job(data: str | Path, out: str | Path, *, model_type: str, fill: str, fractions: list[float],
              retrainings: int, models: dict[str, Any], training: dict[str, Any], seed: int,
              scores: str | Path | None = None, regime: str = ANY_REGIME, trial: int = 0, method: str = RANDOM,
              kind: str = "baseline", engine: str = "vectorized", group: int = 50, device: str = "auto",
              threads: int = 1) -> None:
    """The predictive power of one ranking (a method's raw or corrected maps of one model, from its `score_model`
    file `scores`, or a baseline; by default the random one, which has no model) at every fraction, top and bottom,
    written as rows of `POWER_COLUMNS` (`predictive_power`)."""
    ranked = ranking_scores(data, method, kind, scores, seed=seed)
    rows = predictive_power(data, ranked, model_type=model_type, fractions=fractions, fill=fill,
                            retrainings=retrainings, models=models, training=training, seed=seed, engine=engine,
                            group=group, device=device, threads=threads)
    labels = {"model_type": model_type, "regime": regime, "trial": trial, "method": method, "kind": kind,
              "fill": fill}
    write_tsv(pd.DataFrame([{**labels, **r} for r in rows], columns=POWER_COLUMNS), out)


# ---------------------------------------------------------------------------------------------------
# Feature leakage


def make_leakage_dataset(out: str | Path, *, placement: str, settings: dict[str, Any], seed: int) -> None:
    """One leakage dataset (`data.leakage.generate_leakage`), written atomically. Both placements take one seed, so
    they hold the same sequences, the blocks arranged apart."""
    from gradcorr.data.leakage import generate_leakage, leakage_attrs, write_leakage

    settings = {**settings, "split": tuple(settings.get("split", (0.7, 0.1, 0.2)))}
    data_seed = derive_seed(seed, "diffroar-leakage-data")
    write_leakage(out, generate_leakage(placement=placement, seed=data_seed, **settings),
                  leakage_attrs(placement=placement, seed=data_seed, **settings))
    log.info("leakage dataset (%s): %d train, %d test sequences -> %s", placement,
             len(read_xy(out, "train")[1]), len(read_xy(out, "test")[1]), out)


def leakage_rows(model: Any, test: dict[str, np.ndarray], *, methods: list[str], options: dict[str, dict[str, Any]],
                 output: str, score: str, batch_size: int, seed: int) -> list[dict[str, Any]]:
    """Per method and kind (raw, corrected): the mean and SD over `test`'s sequences (x, null and motifs masks) of
    the share of the position scores' mass in the null block (`data.leakage.null_share`), and the mean share on the
    null block's motifs."""
    from gradcorr.data.leakage import null_share

    rows = []
    for method in methods:
        opts = _attribution_options(method, options.get(method, {}), seed, "leakage", method)
        found = position_score_maps(model, test["x"], method=method, options=opts, output=output, score=score,
                                    batch_size=batch_size)
        for kind, values in found.items():
            share = null_share(values, test["null"])
            on_motifs = null_share(values, test["null"] & test["motifs"])
            rows.append({"method": method, "kind": kind, "null_share": float(np.nanmean(share)),
                         "null_share_sequences_sd": float(np.nanstd(share)),
                         "null_motif_share": float(np.nanmean(on_motifs)),
                         "n": int(np.isfinite(share).sum())})
    return rows


def leakage_job(data: str | Path, models: list[str | Path], out: str | Path, *, placement: str, model_type: str,
                regime: str, methods: list[str], options: dict[str, dict[str, Any]], output: str, score: str,
                n_test: int, batch_size: int, seed: int, device: str = "auto", threads: int = 1) -> None:
    """Each model's test accuracy and AUROC, and its maps' null-block shares (`leakage_rows`) on the first `n_test`
    test sequences, written as rows of `LEAKAGE_COLUMNS`."""
    from gradcorr.data.leakage import read_leakage
    from gradcorr.studies.model_runs import load_models

    test = read_leakage(data, "test")
    scored = {key: values[:n_test] for key, values in test.items()}
    rows = []
    for path, (model, saved) in zip(models, load_models(models, device, threads)):
        trial = int(saved["meta"].get("trial", Path(path).stem.rsplit("_", 1)[-1]))
        tested = _test_scores(model, test["x"], test["y"], batch_size)
        log.info("%s %s %s trial %d: test accuracy %.4f", placement, model_type, regime, trial, tested["accuracy"])
        found = leakage_rows(model, scored, methods=methods, options=options, output=output, score=score,
                             batch_size=batch_size, seed=seed)
        rows += [{"placement": placement, "model_type": model_type, "regime": regime, "trial": trial, **tested, **r}
                 for r in found]
    write_tsv(pd.DataFrame(rows, columns=LEAKAGE_COLUMNS), out)


# ---------------------------------------------------------------------------------------------------
# Tables


def diffroar_table(power: pd.DataFrame) -> pd.DataFrame:
    """DiffROAR per model type, regime, method, kind, fill and fraction: the mean top-k and bottom-k predictive
    power (AUROC and accuracy) and their difference, each retraining's top paired with its bottom, with its SD
    and the number of pairs. Random baselines (regime `ANY_REGIME`) are listed once per model type."""
    keys = ["model_type", "regime", "trial", "method", "kind", "fill", "fraction", "retraining"]
    columns = ["model_type", "regime", "method", "kind", "fill", "fraction"] + \
        [f"{c}_{m}" for m in POWER_METRICS for c in ("top", "bottom", "diffroar", "diffroar_sd")] + ["pairs"]
    if power.empty:
        return pd.DataFrame(columns=columns)
    wide = power.pivot_table(index=keys, columns="keep", values=list(POWER_METRICS), aggfunc="first")
    paired = pd.DataFrame(index=wide.index)
    for m in POWER_METRICS:
        paired[f"top_{m}"], paired[f"bottom_{m}"] = wide[(m, "top")], wide[(m, "bottom")]
        paired[f"diffroar_{m}"] = paired[f"top_{m}"] - paired[f"bottom_{m}"]
    paired = paired.reset_index()
    grouped = paired.groupby(columns[:6], sort=False)
    out = grouped[[f"{c}_{m}" for m in POWER_METRICS for c in ("top", "bottom", "diffroar")]].mean()
    for m in POWER_METRICS:
        out[f"diffroar_sd_{m}"] = grouped[f"diffroar_{m}"].std()
    out["pairs"] = grouped.size()
    return out.reset_index()[columns].sort_values(columns[:6], kind="stable", ignore_index=True)


def diffroar_correction(diffroar: pd.DataFrame, metric: str = "auroc") -> pd.DataFrame:
    """Does correction change whether a method's largest attributions are the discriminative positions? Per model
    type, regime, method, fill and fraction: DiffROAR of the raw and the corrected maps, their difference, and
    whether correction turns a negative DiffROAR positive ("flip")."""
    columns = ["model_type", "regime", "method", "fill", "fraction", "raw", "corrected", "gain", "flip"]
    maps = diffroar[diffroar["kind"].isin(KINDS)]
    if maps.empty:
        return pd.DataFrame(columns=columns)
    wide = maps.pivot_table(index=columns[:5], columns="kind", values=f"diffroar_{metric}").reset_index()
    wide["gain"] = wide["corrected"] - wide["raw"]
    wide["flip"] = (wide["raw"] < 0) & (wide["corrected"] > 0)
    return wide[columns]


def leakage_table(rows: pd.DataFrame) -> pd.DataFrame:
    """Mean over models of the null-block share per placement, model type, regime, method and kind, with its SD
    over models, the share on the null block's motifs, the models' test accuracy and their number."""
    keys = ["placement", "model_type", "regime", "method", "kind"]
    if rows.empty:
        return pd.DataFrame(columns=[*keys, "null_share", "null_share_sd", "null_motif_share", "accuracy", "models"])
    grouped = rows.groupby(keys, sort=False)
    return grouped.agg(null_share=("null_share", "mean"), null_share_sd=("null_share", "std"),
                       null_motif_share=("null_motif_share", "mean"), accuracy=("accuracy", "mean"),
                       models=("trial", "nunique")).reset_index()


def models_table(scores: list[str | Path]) -> pd.DataFrame:
    """The scored models' test AUROC and accuracy (attributes of the `score_model` files), one row per model."""
    rows = [{k: read_attrs(p)[k] for k in ("model_type", "regime", "trial", "test_auroc", "test_accuracy", "model")}
            for p in scores]
    columns = ["model_type", "regime", "trial", "test_auroc", "test_accuracy", "model"]
    return pd.DataFrame(rows, columns=columns).drop_duplicates(["model_type", "regime", "trial"], ignore_index=True)


def diffroar_tables(power: list[str | Path], leakage: list[str | Path], scores: list[str | Path],
                    out: dict[str, str | Path]) -> None:
    """The study's tables: every retraining's predictive power (`power`), DiffROAR (`diffroar`), raw against
    corrected (`correction`, by AUROC), the scored models (`models`) and the leakage shares per model
    (`leakage_models`) and averaged (`leakage`)."""
    every = read_tsvs(power, POWER_COLUMNS)
    table = diffroar_table(every)
    leaks = read_tsvs(leakage, LEAKAGE_COLUMNS)
    write_tsv(every, out["power"])
    write_tsv(table, out["diffroar"])
    write_tsv(diffroar_correction(table), out["correction"])
    write_tsv(models_table(scores), out["models"])
    write_tsv(leaks, out["leakage_models"])
    write_tsv(leakage_table(leaks), out["leakage"])
    log.info("%d retrainings, %d DiffROAR rows, %d leakage rows", len(every), len(table), len(leaks))


def diffroar_figures(tables: dict[str, str | Path], out: dict[str, str | Path]) -> None:
    """DiffROAR against the unmasked fraction (one figure per fill) and the leakage bars, each as PNG, PDF and a
    TSV of the numbers drawn."""
    from gradcorr.studies import diffroar_plots, plotting  # matplotlib only in the jobs that draw

    table = read_tsv(tables["diffroar"])
    for fill in ("zeros", "uniform"):
        if fill not in out:
            continue
        fig, numbers = diffroar_plots.fig_diffroar(table[table["fill"] == fill], fill)
        plotting.save_figure(fig, out[f"{fill}_pdf"], out[fill])
        write_tsv(numbers, out[f"{fill}_tsv"])
    fig, numbers = diffroar_plots.fig_leakage(read_tsv(tables["leakage"]))
    plotting.save_figure(fig, out["leakage_pdf"], out["leakage"])
    write_tsv(numbers, out["leakage_tsv"])
