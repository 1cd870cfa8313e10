"""Training regimes and saliency quality (the regularization-saliency paper: Labelson, Tripathy & Koo): its
baseline CNN (`models.architectures.cnn_consistency`, the same network: width factor f, conv dropout r,
optional BatchNorm) trained under combinations of regularizer (none or manifold mixup), f, batch size,
dropout, learning rate, BatchNorm and schedule (constant, or the two-phase regime), on the synthetic
study's dataset. Every model is scored on the test set after every epoch (`gradcorr.monitor`), and its
ground-truth-free scores on the validation set; both the early-stopping and the last epoch are saved.

A combination is a dict of `SETTINGS`. Its schedule is "constant" (every epoch at its learning rate and
dropout) or "two_phase": `first_phase` epochs at 0.001 without dropout, then its learning rate and dropout.
`mode` "paper" follows the paper's text; "authors_code" follows thelabelmaker/Regularization-Genomics-NeurIPS:
the first phase runs every layer in inference mode (no dropout at all, BatchNorm on fixed statistics), the
second starts from fresh weights and a fresh optimizer (the code builds a new network for it), manifold
mixup adds the clean batch's loss to the mixed one, hidden kernels are drawn Glorot-uniform (Keras' default)
and the hidden layers of a model without BatchNorm have no bias. One function per workflow stage; the figures are in
`regularization_plots`.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gradcorr.data.io import read_tsv, write_tsv
from gradcorr.metrics import spearman
from gradcorr.workflow.config_checks import REGULARIZATION_CHOICES
from gradcorr.workflow.config_checks import REGULARIZATION_SETTINGS as SETTINGS  # what a combination sets
from gradcorr.workflow.runtime import derive_seed

log = logging.getLogger(__name__)

MODES = ("paper", "authors_code")
CHECKPOINTS = ("es", "last")  # the early-stopping epoch (best validation AUROC) and the last epoch
SUMMARY_SCORES = ("test_auroc", "test_interp_auroc_raw", "test_interp_auroc_corrected")
RAW, CORRECTED = "test_interp_auroc_raw", "test_interp_auroc_corrected"  # the paper's interpretability AUROC: raw
# The ground-truth-free early-stopping rules: candidate -> which end is better
STOPPING_RULES = {"valid_kld_kmer": "max", "valid_kld_attr_mean": "max", "valid_angle_sd": "min"}
# Scores whose course through training is compared with interpretability's (val_auroc: the classic criterion)
TRACKED = ("val_auroc", "valid_kld_kmer", "valid_kld_attr_mean", "valid_angle_sd", "test_kld_kmer",
           "test_kld_attr_mean", "test_angle_sd")
TARGETS = (RAW, CORRECTED)
PAPER_NUMBERS = ("es_auroc", "es_auroc_sd", "es_interp", "es_interp_sd", "last_auroc", "last_auroc_sd",
                 "last_interp", "last_interp_sd")
PAPER_TABLES = ("table1", "table2")
HISTORY_SUFFIX = ".history.tsv"


def schedule_phases(schedule: str, learning_rate: float, dropout: float, first_phase: dict[str, Any],
                    mode: str = "paper") -> list[dict[str, Any]]:
    """The training phases (`models.training.Phase` fields) of a combination's schedule: none for "constant";
    for "two_phase", `first_phase` (epochs, learning_rate, dropout) then the combination's rate and dropout
    for the remaining epochs, as the paper describes it or as the authors' code runs it (`mode`)."""
    if schedule not in REGULARIZATION_CHOICES["schedule"]:
        raise ValueError(f"unknown schedule {schedule!r}; choose one of {REGULARIZATION_CHOICES['schedule']}")
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}; choose one of {MODES}")
    if schedule == "constant":
        return []
    if mode == "paper":
        return [{"epochs": first_phase["epochs"], "learning_rate": first_phase["learning_rate"],
                 "dropout": first_phase["dropout"]},
                {"learning_rate": learning_rate, "dropout": dropout}]
    return [{"epochs": first_phase["epochs"], "learning_rate": first_phase["learning_rate"], "train_mode": False},
            {"learning_rate": learning_rate, "dropout": dropout, "restart": True}]


def train_regularization_models(data: str | Path, outputs: list[tuple[str | Path, str | Path, str | Path]], *,
                                name: str, combination: dict[str, Any], trials: list[int], training: dict[str, Any],
                                monitor: dict[str, Any], kld: dict[str, Any], first_phase: dict[str, Any],
                                mode: str = "paper", seed: int, engine: str = "vectorized", group: int = 10,
                                device: str = "auto", threads: int = 1) -> None:
    """Train trials of one combination (called `name`); `outputs[i]` = (early-stopping model, last-epoch model,
    history TSV) of trial `trials[i]`.

    `training` holds the study's protocol (epochs, Adam, no early stop; `batch_size` and `learning_rate` come
    from the combination), `monitor` the per-epoch scoring (n_positive test and valid_positive validation
    sequences, evaluation batch size, SNR top k), `kld` the consistency study's k-mer and attr-mean
    settings. Trial t has the same seed in every combination, so that regimes are compared on paired draws.
    """
    from gradcorr.data.synthetic import read_dataset
    from gradcorr.monitor import GROUND_TRUTH_FREE, MONITOR_SCORES, epoch_hook
    from gradcorr.studies.model_runs import train_members

    c = combination
    manifold = c["regularizer"] == "manifold_mixup"
    regularizer = {"name": c["regularizer"], **({"mixup_clean": True} if manifold and mode == "authors_code" else {})}
    protocol = {**training, "batch_size": c["batch_size"], "learning_rate": c["learning_rate"],
                "regularizer": regularizer,
                "phases": schedule_phases(c["schedule"], c["learning_rate"], c["dropout"], first_phase, mode)}
    common = {"kmer": kld["kmer"], "attr_mean": kld["attr_mean"], "snr_top_k": monitor["snr_top_k"],
              "batch_size": monitor["batch_size"]}
    x, y, truth = read_dataset(data, "test")
    hooks = [epoch_hook(x, y, truth, scores=MONITOR_SCORES, n_positive=monitor["n_positive"], prefix="test_",
                        **common)]
    x, y, _ = read_dataset(data, "valid")
    hooks.append(epoch_hook(x, y, scores=GROUND_TRUTH_FREE, n_positive=monitor["valid_positive"], prefix="valid_",
                            **common))
    kwargs = {"activation": "relu", "batchnorm": c["batchnorm"], "dropout": c["dropout"], "width": c["width"]}
    if mode == "authors_code":  # Keras' default kernels, and hidden biases only where BatchNorm follows
        kwargs.update(bias=c["batchnorm"], kernel_init="glorot_uniform")
    train_members(data, [(best, history) for best, _, history in outputs], arch="cnn_consistency",
                  model_kwargs=[kwargs] * len(trials), model_ids=[f"{name}_{t}" for t in trials],
                  seeds=[derive_seed(seed, "regularization-model", t) for t in trials],
                  metas=[{"combination": name, **c, "mode": mode, "trial": t} for t in trials],
                  training=protocol, engine=engine, group=group, device=device, threads=threads, hooks=hooks,
                  last_outputs=[last for _, last, _ in outputs])


def expected_sign(score: str) -> int:
    """+1 where a higher score should go with more interpretable maps (the KLDs, val_auroc), -1 for an angle SD."""
    return -1 if score.endswith("angle_sd") else 1


def read_histories(paths: list[str | Path], combinations: dict[str, dict[str, Any]]) -> pd.DataFrame:
    """Every model's per-epoch history stacked, with its `model` ({combination}_{trial}, from the file name
    {combination}_{trial}.history.tsv), `combination`, `trial` and the combination's settings in front.
    ValueError naming the file when its name does not parse or its combination is not in `combinations`."""
    frames = []
    for path in paths:
        path = Path(path)
        model = path.name[:-len(HISTORY_SUFFIX)] if path.name.endswith(HISTORY_SUFFIX) else ""
        combination, _, trial = model.rpartition("_")
        if not combination or not trial.isdigit():
            raise ValueError(f"{path}: expected a file named {{combination}}_{{trial}}{HISTORY_SUFFIX}")
        if combination not in combinations:
            raise ValueError(f"{path}: combination {combination!r} is not one of this run's combinations")
        history = read_tsv(path)
        front = pd.DataFrame({"model": model, "combination": combination, "trial": int(trial),
                              **combinations[combination]}, index=history.index)
        frames.append(pd.concat([front, history.drop(columns=[c for c in front if c in history])], axis=1))
    if not frames:
        return pd.DataFrame(columns=["model", "combination", "trial", *SETTINGS, "epoch", "val_auroc"])
    return pd.concat(frames, ignore_index=True)


def trained_epochs(history: pd.DataFrame) -> pd.DataFrame:
    """The epochs of one model's history that completed, by epoch: epoch >= 1 with a validation AUROC (not
    epoch 0, scored before training, nor a row saying training stopped on a non-finite loss)."""
    if "val_auroc" not in history:
        return history.iloc[:0]
    ok = (history["epoch"] >= 1) & history["val_auroc"].notna()
    if "stopped" in history:
        ok &= history["stopped"].isna()
    return history[ok].sort_values("epoch", kind="stable")


def _rule_pick(trained: pd.DataFrame, candidate: str, direction: str, tolerance: float) -> Any:
    """The index of the epoch a ground-truth-free rule keeps: among the epochs whose validation AUROC is within
    `tolerance` of the best, the best by `candidate` (`direction` "max" or "min"), the earliest on ties."""
    if candidate not in trained or trained.empty:
        return None
    window = trained[trained["val_auroc"] >= trained["val_auroc"].max() - tolerance]
    values = window[candidate].astype(float).dropna()
    if values.empty:
        return None
    return values.idxmax() if direction == "max" else values.idxmin()


def checkpoint_table(epochs: pd.DataFrame, tolerance: float) -> pd.DataFrame:
    """One row per model: its settings, why training stopped (if it did), the epochs completed, the early-stopping
    epoch (the first with the best validation AUROC) and the last one with every test score there (es_test_*,
    last_test_*), and for each ground-truth-free rule (`STOPPING_RULES`: the best validation KLD or angle SD among the
    epochs within `tolerance` of the best validation AUROC) its epoch and test scores (rule_<candidate>_*)."""
    tests = [c for c in epochs.columns if c.startswith("test_")]
    tests += [s for s in SUMMARY_SCORES if s not in tests]  # the columns the tables read, even with no models
    picks = {"es": tests, "last": tests, **{f"rule_{c}": list(SUMMARY_SCORES) for c in STOPPING_RULES}}
    columns = ["model", "combination", "trial", *SETTINGS, "stopped", "epochs", "es_epoch", "last_epoch",
               *[f"{cp}_{s}" for cp in CHECKPOINTS for s in tests],
               *[f"{name}_{s}" for name in picks if name not in CHECKPOINTS for s in ("epoch", *picks[name])]]
    rows = []
    for model, history in epochs.groupby("model", sort=False):
        first = history.iloc[0]
        stopped = history["stopped"].dropna() if "stopped" in history else pd.Series([], dtype=str)
        trained = trained_epochs(history)
        row = {"model": model, "combination": first["combination"], "trial": first["trial"],
               **{k: first[k] for k in SETTINGS if k in history},
               "stopped": str(stopped.iloc[0]) if len(stopped) else "", "epochs": len(trained)}
        chosen = {"es": trained["val_auroc"].idxmax() if len(trained) else None,
                  "last": trained.index[-1] if len(trained) else None,
                  **{f"rule_{c}": _rule_pick(trained, c, d, tolerance) for c, d in STOPPING_RULES.items()}}
        for name, index in chosen.items():
            row[f"{name}_epoch"] = trained.at[index, "epoch"] if index is not None else np.nan
            for score in picks[name]:
                row[f"{name}_{score}"] = trained.at[index, score] if index is not None and score in trained else np.nan
        if chosen["es"] is None:
            log.warning("%s: no completed epoch%s", model, f" ({row['stopped']})" if row["stopped"] else "")
        rows.append(row)
    return pd.DataFrame(rows, columns=columns)


def _as_bool(values: pd.Series) -> pd.Series:
    """Booleans, or their text as a TSV holds it ("true", "False")."""
    return values.map(lambda v: bool(v) if isinstance(v, (bool, np.bool_)) else str(v).strip().lower() == "true")


def _typed_settings(frame: pd.DataFrame) -> pd.DataFrame:
    """`frame` with its settings in one type each (text, integers, rounded floats, booleans), so that tables
    read from files and from a config join on them."""
    out = frame.copy()
    for key, kind in (("regularizer", str), ("schedule", str), ("width", int), ("batch_size", int)):
        out[key] = out[key].astype(kind)
    for key in ("dropout", "learning_rate"):
        out[key] = out[key].astype(float).round(12)
    out["batchnorm"] = _as_bool(out["batchnorm"]).astype(bool)
    return out


def regime_table(models: pd.DataFrame, block: list[str], paper: pd.DataFrame | None = None) -> pd.DataFrame:
    """Per combination of `block` (in its order; those without models left out): its settings, the trials with
    a completed epoch, the mean and SD over them (ddof 1, NaN for one trial) of test AUROC and interpretability
    AUROC raw and corrected at the early-stopping and the last epoch, and the mean early-stopping epoch; with
    `paper` (`read_paper_tables`, one table), the paper's numbers beside (paper_*, NaN where it has no row)."""
    stats = [f"{cp}_{s}_{stat}" for cp in CHECKPOINTS for s in SUMMARY_SCORES for stat in ("mean", "sd")]
    rows = []
    for name in block:
        group = models[models["combination"] == name]
        if group.empty:
            log.warning("combination %s has no models", name)
            continue
        scored = group[group["es_epoch"].notna()]
        row = {"combination": name, **{k: group[k].iloc[0] for k in SETTINGS}, "trials": len(scored)}
        for cp in CHECKPOINTS:
            for score in SUMMARY_SCORES:
                values = scored[f"{cp}_{score}"].astype(float)
                row[f"{cp}_{score}_mean"] = values.mean()
                row[f"{cp}_{score}_sd"] = values.std(ddof=1) if values.count() > 1 else np.nan
        row["es_epoch_mean"] = scored["es_epoch"].astype(float).mean()
        rows.append(row)
    table = _typed_settings(pd.DataFrame(rows, columns=["combination", *SETTINGS, "trials", *stats, "es_epoch_mean"]))
    if paper is None:
        return table
    theirs = _typed_settings(paper)[[*SETTINGS, *PAPER_NUMBERS]]
    theirs = theirs.rename(columns={c: f"paper_{c}" for c in PAPER_NUMBERS})
    try:
        return table.merge(theirs, on=list(SETTINGS), how="left", validate="many_to_one")
    except pd.errors.MergeError as err:
        raise ValueError(f"the paper's table has more than one row for a combination of settings: {err}") from err


def read_paper_tables(path: str | Path) -> pd.DataFrame:
    """The paper's Tables 1 and 2 (resources/regularization_tables.tsv), batchnorm as booleans; ValueError naming
    the file on a missing column or a batchnorm other than true or false."""
    paper = pd.read_csv(path, sep="\t", comment="#")
    missing = {"table", *SETTINGS, *PAPER_NUMBERS} - set(paper.columns)
    if missing:
        raise ValueError(f"{path}: missing column(s) {sorted(missing)}")
    text = paper["batchnorm"].astype(str).str.strip().str.lower()
    if not text.isin(["true", "false"]).all():
        raise ValueError(f"{path}: batchnorm must be true or false, not {sorted(set(text) - {'true', 'false'})}")
    paper["batchnorm"] = text == "true"
    return paper


def tracking_table(epochs: pd.DataFrame) -> pd.DataFrame:
    """Do ground-truth-free scores follow interpretability through training? Per model, the Spearman rho over
    its epochs >= 1 of each `TRACKED` score (val_auroc, the classic criterion, for comparison) with each
    interpretability AUROC (`TARGETS`), and the epochs where both are finite (NaN rho under 3)."""
    rows = []
    for model, history in epochs.groupby("model", sort=False):
        trained = history[history["epoch"] >= 1]
        for candidate in TRACKED:
            for target in TARGETS:
                x = trained[candidate].astype(float) if candidate in trained else pd.Series(np.nan, trained.index)
                y = trained[target].astype(float) if target in trained else pd.Series(np.nan, trained.index)
                rows.append({"model": model, "combination": history["combination"].iloc[0], "candidate": candidate,
                             "target": target, "rho": spearman(x, y), "epochs": int((x.notna() & y.notna()).sum())})
    return pd.DataFrame(rows, columns=["model", "combination", "candidate", "target", "rho", "epochs"])


def tracking_summary(tracking: pd.DataFrame) -> pd.DataFrame:
    """Per candidate score and target: the models with a rho, their median and mean rho, and the share whose rho
    has the expected sign (`expected_sign`: a KLD or val_auroc rising with interpretability, an angle SD
    falling)."""
    rows = []
    for (candidate, target), group in tracking.groupby(["candidate", "target"], sort=False):
        rho, sign = group["rho"].astype(float).dropna(), expected_sign(candidate)
        rows.append({"candidate": candidate, "target": target, "expected_sign": sign, "models": len(rho),
                     "median_rho": rho.median(), "mean_rho": rho.mean(),
                     "share_expected_sign": (np.sign(rho) == sign).mean() if len(rho) else np.nan})
    return pd.DataFrame(rows, columns=["candidate", "target", "expected_sign", "models", "median_rho", "mean_rho",
                                       "share_expected_sign"])


def stopping_table(models: pd.DataFrame) -> pd.DataFrame:
    """Per early-stopping rule (classic: the best validation AUROC; rule_<candidate>: `STOPPING_RULES`), over the models
    where it and the classic rule pick an epoch: the mean epoch, the mean interpretability gained over the
    classic rule (raw and corrected), the mean test AUROC lost (classic - rule), and the shares of models whose
    raw interpretability it improves, worsens or leaves equal (equal: mostly the same epoch)."""
    rows = []
    for rule, prefix in {"classic": "es", **{f"rule_{c}": f"rule_{c}" for c in STOPPING_RULES}}.items():
        auroc, raw, corrected = (models[f"{prefix}_{s}"].astype(float) for s in SUMMARY_SCORES)
        ok = raw.notna() & models[f"es_{RAW}"].notna()
        gain = (raw - models[f"es_{RAW}"].astype(float))[ok]
        rows.append({"rule": rule, "models": int(ok.sum()), "epoch_mean": models.loc[ok, f"{prefix}_epoch"].mean(),
                     "interp_gain_raw": gain.mean(),
                     "interp_gain_corrected": (corrected - models[f"es_{CORRECTED}"].astype(float))[ok].mean(),
                     "auroc_loss": (models["es_test_auroc"].astype(float) - auroc)[ok].mean(),
                     **{f"share_{name}": test.mean() if len(gain) else np.nan
                        for name, test in (("improved", gain > 0), ("worse", gain < 0), ("equal", gain == 0))}})
    return pd.DataFrame(rows)


def correction_table(models: pd.DataFrame, blocks: dict[str, list[str]]) -> pd.DataFrame:
    """Does gradient correction change which regime wins? Per block and checkpoint (es, last): the combination
    with the best mean raw interpretability AUROC and the one with the best mean corrected (first in block
    order on ties) and their means, whether they agree, the Spearman rho between the combinations' raw and
    corrected means, and the mean gain (corrected - raw) over the block's models."""
    rows = []
    for block, names in blocks.items():
        mine = models[models["combination"].isin(names)]
        for cp in CHECKPOINTS:
            raw, corrected = f"{cp}_{RAW}", f"{cp}_{CORRECTED}"
            means = mine.groupby("combination", sort=False)[[raw, corrected]].mean()
            means = means.reindex([n for n in names if n in means.index]).dropna()
            row = {"block": block, "checkpoint": cp, "combinations": len(means), "best_raw": None,
                   "best_raw_interp": np.nan, "best_corrected": None, "best_corrected_interp": np.nan, "agree": None,
                   "spearman_rho": spearman(means[raw], means[corrected]),
                   "mean_gain": (mine[corrected].astype(float) - mine[raw].astype(float)).mean()}
            if len(means):
                row.update({"best_raw": means[raw].idxmax(), "best_raw_interp": means[raw].max(),
                            "best_corrected": means[corrected].idxmax(),
                            "best_corrected_interp": means[corrected].max()})
                row["agree"] = row["best_raw"] == row["best_corrected"]
            rows.append(row)
    return pd.DataFrame(rows, columns=["block", "checkpoint", "combinations", "best_raw", "best_raw_interp",
                                       "best_corrected", "best_corrected_interp", "agree", "spearman_rho",
                                       "mean_gain"])


def regularization_tables(histories: list[str | Path], out: dict[str, str | Path], *,
                          combinations: dict[str, dict[str, Any]], blocks: dict[str, list[str]],
                          paper_tables: str | Path, tolerance: float) -> None:
    """The study's tables from every model's history: the stacked epochs, one row per model (`checkpoint_table`),
    Tables 1 and 2 beside the paper's numbers and the grid (`regime_table`), the ground-truth-free scores
    through training (`tracking_table`, `tracking_summary`), the early-stopping rules (`stopping_table`) and
    whether correction changes the winning regime (`correction_table`)."""
    epochs = read_histories(histories, combinations)
    write_tsv(epochs, out["epochs"])
    models = checkpoint_table(epochs, tolerance)
    write_tsv(models, out["models"])
    paper = read_paper_tables(paper_tables)
    for name in ("table1", "table2", "grid"):
        theirs = paper[paper["table"] == name] if name in PAPER_TABLES else None
        write_tsv(regime_table(models, blocks.get(name, []), theirs), out[name])
    tracking = tracking_table(epochs)
    write_tsv(tracking, out["tracking"])
    write_tsv(tracking_summary(tracking), out["tracking_summary"])
    write_tsv(stopping_table(models), out["stopping"])
    write_tsv(correction_table(models, blocks), out["correction"])
    log.info("%d models of %d combinations, %d epochs -> %s", len(models), models["combination"].nunique(),
             len(epochs), out["models"])


def regularization_figures(tables: dict[str, str | Path], out: dict[str, str | Path], *,
                           blocks: dict[str, list[str]]) -> None:
    """Fig. 1 a-d (`regularization_plots.fig_regimes`) and the tracking figure (`fig_tracking`; its rho from
    tables["tracking"]), each as PNG, PDF and a TSV of the numbers drawn."""
    from gradcorr.studies import plotting, regularization_plots  # matplotlib only in the jobs that draw

    epochs, models = read_tsv(tables["epochs"]), read_tsv(tables["models"])
    tracking = read_tsv(tables["tracking"])
    fig, numbers = regularization_plots.fig_regimes(models, epochs, blocks)
    plotting.save_figure(fig, out["fig1_pdf"], out["fig1"])
    write_tsv(numbers, out["fig1_tsv"])
    fig, numbers = regularization_plots.fig_tracking(epochs, tracking)
    plotting.save_figure(fig, out["tracking_pdf"], out["tracking"])
    write_tsv(numbers, out["tracking_tsv"])
