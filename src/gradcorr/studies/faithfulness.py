"""Faithfulness of attributions (the faithful-attributions paper: Adebayo et al.), raw and corrected, for proteins
and DNA.

Protein part (the paper's section 4-6): per task (helix, turn, sheet; `data.protein`) a dataset of 40-residue
sequences; per architecture (`seq_cnn`, `mlp`) and regularization setting (`SETTINGS`) `trials` models. Each
model is verified as the paper asks (test accuracy near 1, unchanged when the distractor is ablated); a model
that fails is marked and left out of the tables, which say how many. On the first `n_samples` test positives,
every method's maps, raw and corrected (`gradcorr.correct`), rank the 40 positions (`faithfulness.position_scores`,
"observed" and "l2") against the model's own sensitivity: its feature ablation (each of `ablations`), occlusion,
and the known signal positions; `faithfulness.precision_at_k` with k = the signal's length. Table 1 of the
paper is the mean Precision@k against zeros ablation.

DNA part: the synthetic study's models (trained, or the authors' published ones) on its billboard test
positives, the same scores with k = the number of ground-truth motif positions of each sequence.

One function per workflow stage; the figures are in `faithfulness_plots`.
"""

from __future__ import annotations

import itertools
import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gradcorr.data.io import read_tsv, read_tsvs, write_tsv
from gradcorr.workflow.runtime import derive_seed

log = logging.getLogger(__name__)

# The paper's regularization settings (Table 1 rows, Appendix B), their strengths from the config
SETTINGS = ("unregularized", "dropout", "weight_decay", "noise_low", "noise_medium", "adversarial_low",
            "adversarial_medium")
KINDS = ("raw", "corrected")
REFERENCE_OCCLUSION, REFERENCE_SIGNAL = "occlusion", "signal"
# the Table 1 measure: Precision@k of the "observed" score against the model's zeros ablation
TABLE_REFERENCE, TABLE_SCORE = "ablation_zeros", "observed"
SCORE_COLUMNS = ["task", "net", "setting", "trial", "method", "kind", "output", "score", "reference", "precision",
                 "precision_sd", "distractor_share", "signal_share", "n"]


def setting_protocol(setting: str, strengths: dict[str, float], training: dict[str, Any]
                     ) -> tuple[dict[str, Any], dict[str, Any]]:
    """(model options, training protocol) of a regularization setting.

    "dropout" sets the dense layers' dropout, "weight_decay" AdamW's decoupled decay, "noise_*" Gaussian noise of
    sd `strengths[setting]` on the inputs, "adversarial_*" FGSM (one signed-gradient step of size eps) on clean
    plus adversarial batches from the first epoch; "unregularized" none of them.
    """
    if setting not in SETTINGS:
        raise ValueError(f"unknown setting {setting!r}; choose one of {SETTINGS}")
    model: dict[str, Any] = {"dropout": strengths["dropout"] if setting == "dropout" else 0.0}
    protocol = {**training, "weight_decay": strengths["weight_decay"] if setting == "weight_decay" else 0.0}
    if setting.startswith("noise"):
        protocol["regularizer"] = {"name": "noise", "noise_sd": strengths[setting]}
    elif setting.startswith("adversarial"):
        eps = strengths[setting]
        protocol["regularizer"] = {"name": "adversarial", "adv_eps": eps, "adv_step": eps, "adv_steps": 1,
                                   "adv_clean_epochs": 0, "adv_mixed_until": training["max_epochs"]}
    else:
        protocol["regularizer"] = {"name": "none"}
    return model, protocol


def make_protein_dataset(out: str | Path, *, task: str, settings: dict[str, Any], seed: int) -> None:
    """One task's dataset (`data.protein.generate_protein_task`; `settings["alphabet"]` names one of
    `data.protein.PROTEIN_ALPHABETS`), seeded per task, written atomically."""
    from gradcorr.data.protein import PROTEIN_ALPHABETS, generate_protein_task, protein_task_attrs, write_protein_task

    settings = {**settings, "alphabet": PROTEIN_ALPHABETS[settings.get("alphabet", "protein")],
                "split": tuple(settings.get("split", (0.7, 0.1, 0.2)))}
    task_seed = derive_seed(seed, "faithfulness-data", task)
    data = generate_protein_task(task, seed=task_seed, **settings)
    write_protein_task(out, data, protein_task_attrs(task, seed=task_seed, **settings))
    log.info("%s: %d train, %d valid, %d test sequences -> %s", task, len(data["y_train"]), len(data["y_valid"]),
             len(data["y_test"]), out)


def train_faithfulness_models(data: str | Path, outputs: list[tuple[str | Path, str | Path, str | Path]], *, task: str,
                              net: str, setting: str, trials: list[int], strengths: dict[str, float],
                              architecture: dict[str, Any], training: dict[str, Any], seed: int,
                              engine: str = "vectorized", device: str = "auto", threads: int = 1) -> None:
    """Train the trials of one (task, architecture, setting); `outputs[i]` = (last-epoch model, early-stopping
    model, history TSV) of trial `trials[i]`. Trial t has the same seed in every setting, so that settings are
    compared on paired draws."""
    from gradcorr.studies.model_runs import train_members

    model, protocol = setting_protocol(setting, strengths, training)
    name = f"{task}/{net}/{setting}"
    train_members(data, [(best, history) for _, best, history in outputs], arch=net,
                  model_kwargs=[{**architecture, **model}] * len(trials), model_ids=[f"{name}_{t}" for t in trials],
                  seeds=[derive_seed(seed, "faithfulness-model", task, net, t) for t in trials],
                  metas=[{"task": task, "setting": setting, "trial": t} for t in trials], training=protocol,
                  engine=engine, device=device, threads=threads, last_outputs=[last for last, _, _ in outputs])


def letter_index(alphabet: str, letter: str) -> int:
    """The index of `letter` in `alphabet`; ValueError naming both when it is not there."""
    if len(letter) != 1 or letter not in alphabet:
        raise ValueError(f"background letter {letter!r} is not one letter of the alphabet {alphabet!r}")
    return alphabet.index(letter)


def sensitivity_references(model: Any, x: np.ndarray, signal: np.ndarray, *, ablations: list[str], background: int,
                           change: str, output: str, occlusion_window: int, batch_size: int
                           ) -> dict[str, np.ndarray]:
    """The references positions are ranked against: the model's feature ablation of each kind
    ("ablation_<kind>"), its occlusion ("occlusion", zeros ablation) and the signal mask ("signal")."""
    from gradcorr.faithfulness import feature_ablation, occlusion

    common = {"change": change, "output": output, "batch_size": batch_size}
    refs: dict[str, np.ndarray] = {f"ablation_{kind}": feature_ablation(model, x, ablation=kind, background=background,
                                                                        **common) for kind in ablations}
    refs[REFERENCE_OCCLUSION] = occlusion(model, x, window=occlusion_window, **common)
    refs[REFERENCE_SIGNAL] = signal.astype(bool)
    return refs


def faithfulness_rows(model: Any, x: np.ndarray, signal: np.ndarray, distractor: np.ndarray | None, *,
                      methods: dict[str, dict[str, Any]], ablations: list[str], background: int, change: str,
                      outputs: list[str], ablation_output: str, occlusion_window: int, batch_size: int
                      ) -> list[dict[str, Any]]:
    """Mean Precision@k (k = the signal's size per sequence) of every method, raw and corrected, explaining each
    of `outputs` (the logit, or the sigmoid probability), and position score, against every reference
    (`sensitivity_references`, the model's score `ablation_output` ablated); also each reference's own
    precision against the signal (method = the reference, kind "model"), and the share of each score's mass on
    the distractor and on the signal."""
    import torch

    from gradcorr.attribution import attribute
    from gradcorr.correction import correct
    from gradcorr.faithfulness import POSITION_SCORES, position_scores, precision_at_k

    refs = sensitivity_references(model, x, signal, ablations=ablations, background=background, change=change,
                                  output=ablation_output, occlusion_window=occlusion_window, batch_size=batch_size)
    k = signal.sum(1)
    rows = []

    def add(method: str, kind: str, output: str, score: str, values: np.ndarray) -> None:
        total = values.sum(1)
        shares = {name: float(np.nanmean(np.where(total > 0, (values * mask).sum(1) / np.where(total > 0, total, 1),
                                                  np.nan)))
                  for name, mask in (("distractor_share", distractor), ("signal_share", signal)) if mask is not None}
        for ref_name, ref in refs.items():
            if ref_name == method:
                continue
            p = precision_at_k(values, ref, k)
            rows.append({"method": method, "kind": kind, "output": output, "score": score, "reference": ref_name,
                         "precision": float(np.nanmean(p)), "precision_sd": float(np.nanstd(p)),
                         "n": int(np.isfinite(p).sum()), **shares})

    for ref_name, ref in refs.items():
        if ref_name != REFERENCE_SIGNAL:
            add(ref_name, "model", ablation_output, "change", ref)
    dtype = next(model.parameters()).dtype
    for output, (method, options) in itertools.product(outputs, methods.items()):
        raw = attribute(model, torch.as_tensor(x, dtype=dtype), method, output=output, batch_size=batch_size,
                        **options).numpy()
        for kind, maps in (("raw", raw), ("corrected", correct(raw))):
            for score in POSITION_SCORES:
                add(method, kind, output, score, position_scores(maps, x, score))
    return rows


def _evaluation_rows(model: Any, x: np.ndarray, signal: np.ndarray, distractor: np.ndarray | None,
                     evaluation: dict[str, Any], background: int) -> list[dict[str, Any]]:
    """`faithfulness_rows` with the config's evaluation settings."""
    keys = ("methods", "ablations", "change", "outputs", "ablation_output", "occlusion_window", "batch_size")
    return faithfulness_rows(model, x, signal, distractor, background=background, **{k: evaluation[k] for k in keys})


def _probabilities(model: Any, x: np.ndarray, batch_size: int) -> np.ndarray:
    """The model's float32 sigmoid outputs (N,)."""
    import torch

    from gradcorr.models.training import predict

    return predict(model, torch.as_tensor(x, dtype=torch.float32), batch_size).numpy()


def accuracy(model: Any, x: np.ndarray, y: np.ndarray, batch_size: int) -> float:
    """Share of sequences whose sigmoid output is on the side of 0.5 of their label."""
    return float(((_probabilities(model, x, batch_size) >= 0.5) == (np.asarray(y).reshape(-1) == 1)).mean())


def saturated_share(model: Any, x: np.ndarray, batch_size: int) -> float:
    """Share of sequences whose float32 sigmoid output is exactly 0 or 1: there the sigmoid's gradient, and so
    every saliency map of the probability, is zero at every position."""
    p = _probabilities(model, x, batch_size)
    return float(((p == 0) | (p == 1)).mean())


def evaluate_protein_models(data: str | Path, models: list[str | Path], out_scores: str | Path,
                            out_models: str | Path, *, task: str, net: str, setting: str,
                            evaluation: dict[str, Any], seed: int, device: str = "auto", threads: int = 1) -> None:
    """Verify each model of one (task, architecture, setting) and score its attributions' faithfulness.

    `evaluation`: n_samples (test positives), methods (name -> options), ablations, background (a residue),
    change, outputs, ablation_output, occlusion_window, batch_size, min_accuracy, max_distractor_change. Writes
    one row per model to `out_models` (accuracy, accuracy with the distractor ablated, passed, the share of the
    scored sequences whose sigmoid output saturates in float32) and the precision rows of every model to
    `out_scores`, passed or not (the tables leave the failed ones out).
    """
    from gradcorr.data.protein import AMINO_ACIDS, GAP, ablate_distractor, read_protein_task
    from gradcorr.studies.model_runs import load_models

    e = evaluation
    test = read_protein_task(data, "test")
    alphabet = AMINO_ACIDS if test["x"].shape[1] == len(AMINO_ACIDS) else AMINO_ACIDS + GAP
    ablated = ablate_distractor(test["x"], test["distractor"], task, alphabet,
                                seed=derive_seed(seed, "faithfulness-ablate", task))
    positives = np.flatnonzero(test["y"].reshape(-1) == 1)[: e["n_samples"]]
    x, signal, distractor = test["x"][positives], test["signal"][positives], test["distractor"][positives]
    background = letter_index(alphabet, e["background"]["protein"])
    model_rows, score_rows = [], []
    for path, (model, saved) in zip(models, load_models(models, device, threads)):
        acc, acc_ablated = accuracy(model, test["x"], test["y"], e["batch_size"]), \
            accuracy(model, ablated, test["y"], e["batch_size"])
        passed = acc >= e["min_accuracy"] and abs(acc - acc_ablated) <= e["max_distractor_change"]
        trial = int(saved["meta"].get("trial", len(model_rows)))
        model_rows.append({"task": task, "net": net, "setting": setting, "trial": trial, "accuracy": acc,
                           "accuracy_distractor_ablated": acc_ablated, "passed": passed,
                           "saturated": saturated_share(model, x, e["batch_size"]), "model": str(path)})
        log.info("%s/%s/%s trial %d: accuracy %.4f, distractor ablated %.4f: %s", task, net, setting, trial, acc,
                 acc_ablated, "passed" if passed else "FAILED verification (left out of the tables)")
        rows = _evaluation_rows(model, x, signal, distractor, e, background)
        score_rows += [{"task": task, "net": net, "setting": setting, "trial": trial, **r} for r in rows]
    write_tsv(pd.DataFrame(score_rows, columns=SCORE_COLUMNS), out_scores)
    write_tsv(pd.DataFrame(model_rows), out_models)


def evaluate_dna_models(data: str | Path, models: list[str | Path], out: str | Path, *, model_type: str,
                        evaluation: dict[str, Any], threshold: float, source: str = "trained", device: str = "auto",
                        threads: int = 1) -> None:
    """The same faithfulness scores for the synthetic study's models of one type (`source`: trained or published)
    on its billboard test positives: the signal is each sequence's ground-truth motif positions (information
    content above `threshold` bits, `metrics.position_labels`), k their number; no distractor."""
    from gradcorr.data.synthetic import positive_indices, read_dataset
    from gradcorr.metrics import information_content, position_labels
    from gradcorr.studies.model_runs import load_models

    e = evaluation
    x, y, truth = read_dataset(data, "test")
    idx = positive_indices(y, e["n_dna"])
    x, signal = x[idx], position_labels(information_content(truth[idx]), threshold)[0]
    background = letter_index("ACGT", e["background"]["dna"])
    rows = []
    for path, (model, saved) in zip(models, load_models(models, device, threads)):
        trial = int(saved["meta"].get("trial", Path(path).stem.rsplit("_", 1)[-1]))
        log.info("%s trial %d: %d test positives, %d ground-truth positions on average", model_type, trial, len(x),
                 signal.sum(1).mean())
        found = _evaluation_rows(model, x, signal, None, e, background)
        rows += [{"task": "dna", "net": model_type, "setting": source, "trial": trial, **r} for r in found]
    write_tsv(pd.DataFrame(rows, columns=SCORE_COLUMNS), out)


# ---------------------------------------------------------------------------------------------------
# Tables


def mean_table(scores: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Mean and SD over models of the per-model mean precision (and shares), and the number of models."""
    grouped = scores.groupby(keys, sort=False)
    out = grouped.agg(precision=("precision", "mean"), precision_sd=("precision", "std"),
                      models=("trial", "nunique"))
    for share in ("distractor_share", "signal_share"):
        if share in scores:
            out[share] = grouped[share].mean()
    return out.reset_index()


def by_kind(means: pd.DataFrame, index: list[str], values: list[str]) -> pd.DataFrame:
    """Means (one row per kind) side by side per `index`: columns f"{value}_{kind}" (precision_raw, ...)."""
    wide = means.pivot(index=index, columns="kind", values=values)
    wide.columns = [f"{value}_{kind}" for value, kind in wide.columns]
    return wide.reset_index()


def verification_table(models: pd.DataFrame) -> pd.DataFrame:
    """Per (task, architecture, setting): models trained, passed and left out, their accuracies, and the share of
    scored sequences whose float32 sigmoid output saturates (mean over models)."""
    grouped = models.groupby(["task", "net", "setting"], sort=False)
    out = grouped.agg(models=("trial", "count"), passed=("passed", "sum"), accuracy=("accuracy", "mean"),
                      accuracy_distractor_ablated=("accuracy_distractor_ablated", "mean"),
                      saturated=("saturated", "mean")).reset_index()
    out["left_out"] = out["models"] - out["passed"]
    return out


def read_paper_precision(path: str | Path) -> pd.DataFrame:
    """The paper's Table 1 (resources/faithfulness_table1.tsv): net, setting, task, method, precision."""
    paper = pd.read_csv(path, sep="\t", comment="#")
    missing = {"net", "setting", "task", "method", "precision"} - set(paper.columns)
    if missing:
        raise ValueError(f"{path}: missing column(s) {sorted(missing)}")
    return paper


def table1(protein: pd.DataFrame, paper: pd.DataFrame, reference: str = TABLE_REFERENCE,
           score: str = TABLE_SCORE) -> pd.DataFrame:
    """The paper's Table 1 beside ours: per architecture, setting, task, method and output explained (the logit, or
    the sigmoid probability), the mean Precision@k of the raw and the corrected maps against `reference`, the
    models averaged, and the paper's number."""
    columns = ["net", "setting", "task", "method", "output", "models", "precision_raw", "precision_sd_raw",
               "precision_corrected", "precision_sd_corrected", "gain", "paper"]
    keys = ["net", "setting", "task", "method"]
    chosen = protein[(protein["reference"] == reference) & (protein["score"] == score)
                     & protein["kind"].isin(KINDS)]
    if chosen.empty:
        return pd.DataFrame(columns=columns)
    wide = by_kind(mean_table(chosen, [*keys, "output", "kind"]), [*keys, "output"], ["precision", "precision_sd",
                                                                                    "models"])
    wide = wide.rename(columns={"models_raw": "models"})
    wide = wide.merge(paper.rename(columns={"precision": "paper"})[[*keys, "paper"]], on=keys, how="left")
    wide["gain"] = wide["precision_corrected"] - wide["precision_raw"]
    order = {name: i for i, name in enumerate(SETTINGS)}
    return wide.sort_values(["net", "output", "setting"], key=lambda c: c.map(order) if c.name == "setting" else c,
                            kind="stable")[columns]


def correction_effect(scores: pd.DataFrame) -> pd.DataFrame:
    """Does correction make a method faithful? Per part (protein architecture or DNA model type), method, output,
    score and reference: mean precision raw and corrected, their difference, and the share of models improved."""
    keys = ["part", "net", "method", "output", "score", "reference"]
    maps = scores[scores["kind"].isin(KINDS)]
    if maps.empty:
        return pd.DataFrame(columns=[*keys, "raw", "corrected", "gain", "improved", "models"])
    per = maps.pivot(index=["task", "net", "setting", "trial", "method", "output", "score", "reference"],
                     columns="kind", values="precision").reset_index()
    per["gain"] = per["corrected"] - per["raw"]
    per["part"] = np.where(per["task"] == "dna", "dna", "protein")
    grouped = per.groupby(keys, sort=False)
    return grouped.agg(raw=("raw", "mean"), corrected=("corrected", "mean"), gain=("gain", "mean"),
                       improved=("gain", lambda g: float((g > 0).mean())), models=("gain", "size")).reset_index()


def faithfulness_tables(scores: list[str | Path], models: list[str | Path], dna: list[str | Path],
                        out: dict[str, str | Path], *, paper_table: str | Path) -> None:
    """The study's tables: every precision row of the protein models that passed verification and of the DNA
    models (`precision`), the verification counts (`verification`), Table 1 beside the paper over the models
    that passed (`table1`) and over every model (`table1_all`), the means over models for every method, kind,
    output, score and reference (`summary`), the DNA part (`dna`) and the effect of correction (`correction`)."""
    checked = read_tsvs(models, ["task", "net", "setting", "trial", "accuracy", "accuracy_distractor_ablated",
                                 "passed", "saturated"])
    every_protein = read_tsvs(scores, SCORE_COLUMNS)
    passed = checked.loc[checked["passed"].astype(str) == "True", ["task", "net", "setting", "trial"]]
    protein = every_protein.merge(passed, on=["task", "net", "setting", "trial"])
    dna_scores = read_tsvs(dna, SCORE_COLUMNS)
    every = pd.concat([protein, dna_scores], ignore_index=True)
    paper = read_paper_precision(paper_table)
    write_tsv(every, out["precision"])
    write_tsv(verification_table(checked), out["verification"])
    write_tsv(table1(protein, paper), out["table1"])
    write_tsv(table1(every_protein, paper), out["table1_all"])
    summary = mean_table(every, ["task", "net", "setting", "method", "kind", "output", "score", "reference"])
    write_tsv(summary, out["summary"])
    write_tsv(summary[summary["task"] == "dna"], out["dna"])
    write_tsv(correction_effect(every), out["correction"])
    log.info("%d protein models passed verification of %d; %d DNA models", len(passed), len(checked),
             dna_scores[["net", "trial"]].drop_duplicates().shape[0])


def faithfulness_figures(tables: dict[str, str | Path], out: dict[str, str | Path]) -> None:
    """Table 1 as bars (raw and corrected beside the paper) and the DNA part, each as PNG, PDF and a TSV of the
    numbers drawn."""
    from gradcorr.studies import faithfulness_plots, plotting  # matplotlib only in the jobs that draw

    fig, numbers = faithfulness_plots.fig_table1(read_tsv(tables["table1"]))
    plotting.save_figure(fig, out["table1_pdf"], out["table1"])
    write_tsv(numbers, out["table1_tsv"])
    fig, numbers = faithfulness_plots.fig_dna(read_tsv(tables["dna"]))
    plotting.save_figure(fig, out["dna_pdf"], out["dna"])
    write_tsv(numbers, out["dna_tsv"])
