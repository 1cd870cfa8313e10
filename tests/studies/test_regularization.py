"""The regularization study's tables: stacking the per-epoch histories, the early-stopping and last epochs and the
ground-truth-free rules per model, Tables 1 and 2 beside the paper's numbers, the scores through training, the
rules against the classic one, and whether correction changes the winning regime."""

import numpy as np
import pandas as pd
import pytest
import torch
from scipy.stats import spearmanr

from gradcorr.data.io import read_tsv
from gradcorr.data.synthetic import generate_billboard, write_dataset
from gradcorr.studies.regularization import (
    PAPER_NUMBERS,
    SETTINGS,
    TARGETS,
    TRACKED,
    checkpoint_table,
    correction_table,
    read_histories,
    read_paper_tables,
    regime_table,
    regularization_tables,
    schedule_phases,
    stopping_table,
    tracking_summary,
    tracking_table,
    train_regularization_models,
)

PAPER = "resources/regularization_tables.tsv"
STD = "std_f1_bs128_do0.1_lr0.001_nobn_const"  # Table 1's Standard-1
MIX = "mix_f1_bs32_do0.4_lr0.01_bn_two_phase"  # Table 2's first Manifold-1 (BatchNorm on)
OTHER = "std_f2_bs64_do0.2_lr0.01_nobn_const"  # not in the paper
COMBINATIONS = {
    STD: {"regularizer": "none", "width": 1, "batch_size": 128, "dropout": 0.1, "learning_rate": 0.001,
          "batchnorm": False, "schedule": "constant"},
    MIX: {"regularizer": "manifold_mixup", "width": 1, "batch_size": 32, "dropout": 0.4, "learning_rate": 0.01,
          "batchnorm": True, "schedule": "two_phase"},
    OTHER: {"regularizer": "none", "width": 2, "batch_size": 64, "dropout": 0.2, "learning_rate": 0.01,
            "batchnorm": False, "schedule": "constant"},
}
SCORES = ("test_auroc", "test_aupr", "test_interp_auroc_raw", "test_interp_auroc_corrected", "test_interp_aupr_raw",
          "test_interp_aupr_corrected", "test_cosine_raw", "test_cosine_corrected", "test_snr_raw",
          "test_snr_corrected", "test_kld_kmer", "test_kld_attr_mean", "test_angle_sd", "valid_kld_kmer",
          "valid_kld_attr_mean", "valid_angle_sd")


def history(val_auroc, seed=0, **columns):
    """A history as training writes it: epoch 0 (scores only) then one row per validation AUROC; every score
    random unless given in `columns` (a value per row, epoch 0 first)."""
    rng = np.random.default_rng(seed)
    n = len(val_auroc)
    frame = pd.DataFrame({"epoch": np.arange(n + 1), "loss": [np.nan, *rng.uniform(0.1, 1, n)],
                          "val_loss": [np.nan, *rng.uniform(0.1, 1, n)], "val_auroc": [np.nan, *val_auroc],
                          "lr": [np.nan, *[0.001] * n], "seconds": [np.nan, *[1.0] * n],
                          "hook_seconds": [np.nan, *[0.5] * n]})
    for score in SCORES:
        frame[score] = columns.pop(score, rng.uniform(0.5, 1.0, n + 1))
    assert not columns, f"unknown columns {list(columns)}"
    return frame


def write_histories(directory, trials=2, epochs=5):
    """Histories of every combination's trials, named as the workflow names them; their paths."""
    paths = []
    for k, name in enumerate(COMBINATIONS):
        for trial in range(trials):
            path = directory / f"{name}_{trial}.history.tsv"
            val = np.random.default_rng(100 + 10 * k + trial).uniform(0.9, 1.0, epochs)
            history(val, seed=10 * k + trial).to_csv(path, sep="\t", index=False)
            paths.append(path)
    return paths


def models_frame(rows):
    """A `checkpoint_table`-like frame from (combination, scores) rows: settings filled in, the trial counted."""
    out = []
    for i, (combination, scores) in enumerate(rows):
        out.append({"model": f"{combination}_{i}", "combination": combination, "trial": i,
                    **COMBINATIONS[combination], "es_epoch": 3, **scores})
    return pd.DataFrame(out)


# --------------------------------------------------------------------------- read_histories
def test_read_histories_parses_combinations_with_underscores_and_adds_settings(tmp_path):
    paths = write_histories(tmp_path, trials=2, epochs=3)
    epochs = read_histories(paths, COMBINATIONS)
    assert len(epochs) == len(COMBINATIONS) * 2 * 4  # epochs 0..3
    assert list(epochs.columns[:3 + len(SETTINGS)]) == ["model", "combination", "trial", *SETTINGS]
    mine = epochs[epochs["model"] == f"{MIX}_1"]
    assert len(mine) == 4 and set(mine["combination"]) == {MIX} and set(mine["trial"]) == {1}
    for key, value in COMBINATIONS[MIX].items():
        assert (mine[key] == value).all(), key
    np.testing.assert_allclose(mine["test_auroc"], read_tsv(tmp_path / f"{MIX}_1.history.tsv")["test_auroc"])


def test_read_histories_names_the_file_of_an_unknown_combination(tmp_path):
    path = tmp_path / "std_f9_bs1_do0.1_lr0.1_nobn_const_0.history.tsv"
    history([0.9, 0.95]).to_csv(path, sep="\t", index=False)
    with pytest.raises(ValueError, match=r"std_f9_bs1_do0\.1_lr0\.1_nobn_const_0\.history\.tsv.*'std_f9_bs1"):
        read_histories([path], COMBINATIONS)
    bad = tmp_path / f"{STD}.history.tsv"  # no trial
    history([0.9]).to_csv(bad, sep="\t", index=False)
    with pytest.raises(ValueError, match=f"{STD}.history.tsv"):
        read_histories([bad], COMBINATIONS)


# --------------------------------------------------------------------------- checkpoint_table
def one_model(frame, name=STD, trial=0):
    settings = COMBINATIONS[name]
    return frame.assign(model=f"{name}_{trial}", combination=name, trial=trial, **settings)


def test_checkpoint_table_takes_the_first_best_validation_epoch_ignoring_epoch_0_and_a_stopped_row():
    frame = history([0.90, 0.95, 0.93, 0.95])
    frame.loc[0, "val_auroc"] = 0.99  # epoch 0 is never a candidate, whatever it holds
    stopped = pd.DataFrame([{"epoch": 5, "stopped": "non-finite loss (nan) at epoch 5, batch 3"}])
    epochs = one_model(pd.concat([frame, stopped], ignore_index=True))
    (row,) = checkpoint_table(epochs, tolerance=0.0).to_dict("records")
    assert row["es_epoch"] == 2 and row["last_epoch"] == 4 and row["epochs"] == 4
    assert row["stopped"].startswith("non-finite loss")
    for score in SCORES:
        if score.startswith("test_"):
            assert row[f"es_{score}"] == frame.loc[2, score]
            assert row[f"last_{score}"] == frame.loc[4, score]
    # with no tolerance the rules choose between the two epochs at the best validation AUROC
    kmer = 2 if frame.loc[2, "valid_kld_kmer"] >= frame.loc[4, "valid_kld_kmer"] else 4
    angle = 2 if frame.loc[2, "valid_angle_sd"] <= frame.loc[4, "valid_angle_sd"] else 4
    assert row["rule_valid_kld_kmer_epoch"] == kmer and row["rule_valid_angle_sd_epoch"] == angle


def test_checkpoint_table_rules_pick_the_best_candidate_within_the_tolerance_only():
    val = [0.90, 0.96, 0.955, 0.94, 0.952]  # within 0.01 of the best: epochs 2, 3 and 5
    frame = history(val, valid_kld_kmer=[50.0, 8.0, 1.0, 3.0, 9.0, 3.0],  # best overall: epochs 0, 4 (outside)
                    valid_angle_sd=[0.0, 1.0, 30.0, 20.0, 2.0, 10.0],  # lowest inside: epoch 5
                    valid_kld_attr_mean=[1.0] * 6)  # a tie throughout: the earliest inside
    (row,) = checkpoint_table(one_model(frame), tolerance=0.01).to_dict("records")
    assert row["es_epoch"] == 2
    assert row["rule_valid_kld_kmer_epoch"] == 3  # 3.0 at epochs 3 and 5: the earliest
    assert row["rule_valid_angle_sd_epoch"] == 5
    assert row["rule_valid_kld_attr_mean_epoch"] == 2
    for score in ("test_auroc", "test_interp_auroc_raw", "test_interp_auroc_corrected"):
        assert row[f"rule_valid_kld_kmer_{score}"] == frame.loc[3, score]
        assert row[f"rule_valid_angle_sd_{score}"] == frame.loc[5, score]
    (wide,) = checkpoint_table(one_model(frame), tolerance=0.1).to_dict("records")
    assert wide["rule_valid_kld_kmer_epoch"] == 4 and wide["rule_valid_angle_sd_epoch"] == 1


# --------------------------------------------------------------------------- regime_table and the paper's numbers
def test_read_paper_tables_has_tables_1_and_2():
    paper = read_paper_tables(PAPER)
    assert len(paper) == 20
    assert paper["table"].value_counts().to_dict() == {"table1": 6, "table2": 14}
    assert paper["batchnorm"].dtype == bool
    assert paper["batchnorm"].sum() == 12 and not paper.loc[paper["table"] == "table1", "batchnorm"].any()


def test_read_paper_tables_names_the_file_and_the_missing_column(tmp_path):
    path = tmp_path / "paper.tsv"
    pd.read_csv(PAPER, sep="\t", comment="#").drop(columns="es_interp").to_csv(path, sep="\t", index=False)
    with pytest.raises(ValueError, match=r"paper\.tsv: missing column\(s\) \['es_interp'\]"):
        read_paper_tables(path)


def test_regime_table_means_and_sds_in_block_order_beside_the_papers_rows(tmp_path):
    rng = np.random.default_rng(3)
    columns = [f"{cp}_{s}" for cp in ("es", "last")
               for s in ("test_auroc", "test_interp_auroc_raw", "test_interp_auroc_corrected")]
    models = models_frame([(name, dict(zip(columns, rng.uniform(0.5, 1, len(columns)))))
                           for name in (STD, STD, STD, MIX, OTHER, OTHER)])
    models.loc[1, "es_epoch"] = 7
    # the paper's file with batchnorm as text, one table at a time
    text = tmp_path / "paper.tsv"
    pd.read_csv(PAPER, sep="\t", comment="#", dtype={"batchnorm": str}).to_csv(text, sep="\t", index=False)
    paper = read_paper_tables(text)
    table = regime_table(models, [MIX, "absent", STD, OTHER], paper[paper["table"] != "table1"])
    assert table["combination"].tolist() == [MIX, STD, OTHER]
    assert table["trials"].tolist() == [1, 3, 2]
    for name, row in zip(table["combination"], table.to_dict("records")):
        mine = models[models["combination"] == name]
        for column in columns:
            assert row[f"{column}_mean"] == pytest.approx(np.mean(mine[column]))
            if len(mine) > 1:
                assert row[f"{column}_sd"] == pytest.approx(np.std(mine[column], ddof=1))
            else:
                assert np.isnan(row[f"{column}_sd"])
        assert row["es_epoch_mean"] == pytest.approx(np.mean(mine["es_epoch"]))
        for key, value in COMBINATIONS[name].items():
            assert row[key] == value
    mix = table.iloc[0]  # Table 2's Manifold-1, bs 32, do 0.4, bn True
    assert [mix[f"paper_{c}"] for c in PAPER_NUMBERS] == [0.981, 0.002, 0.833, 0.027, 0.979, 0.002, 0.831, 0.028]
    assert table.iloc[1:][[f"paper_{c}" for c in PAPER_NUMBERS]].isna().all().all()  # Table 1's row was filtered out
    table1 = regime_table(models, [STD], paper[paper["table"] == "table1"])
    assert table1["paper_es_interp"].item() == 0.712 and table1["paper_last_interp"].item() == 0.703
    assert "paper_es_interp" not in regime_table(models, [STD], None)


# --------------------------------------------------------------------------- through training
def test_tracking_table_spearman_over_epochs_from_1():
    n = 8
    raw = [0.99, *np.linspace(0.6, 0.8, n)]  # epoch 0 the highest: counting it would break the +1 and -1
    rng = np.random.default_rng(7)
    noise = [0.0, *rng.uniform(size=n)]
    frame = history(rng.uniform(0.9, 1, n), test_interp_auroc_raw=raw,
                    valid_kld_kmer=[0.0, *np.arange(n) ** 2],  # rising with raw interpretability
                    valid_angle_sd=[0.0, *np.linspace(40, 20, n)],  # falling
                    valid_kld_attr_mean=noise)
    tracking = tracking_table(one_model(frame))
    assert len(tracking) == len(TRACKED) * len(TARGETS)
    rho = tracking[tracking["target"] == "test_interp_auroc_raw"].set_index("candidate")["rho"]
    assert rho["valid_kld_kmer"] == pytest.approx(1.0)
    assert rho["valid_angle_sd"] == pytest.approx(-1.0)
    assert rho["valid_kld_attr_mean"] == pytest.approx(spearmanr(noise[1:], raw[1:]).statistic)
    assert rho["val_auroc"] == pytest.approx(spearmanr(frame["val_auroc"][1:], raw[1:]).statistic)
    corrected = tracking[tracking["target"] == "test_interp_auroc_corrected"].set_index("candidate")["rho"]
    assert corrected["test_kld_kmer"] == pytest.approx(
        spearmanr(frame["test_kld_kmer"][1:], frame["test_interp_auroc_corrected"][1:]).statistic)
    assert (tracking["epochs"] == n).all()


def test_tracking_summary_counts_the_expected_sign_per_candidate():
    tracking = pd.DataFrame({"model": list("abcdab"), "combination": "c",
                             "candidate": ["valid_angle_sd"] * 4 + ["val_auroc"] * 2,
                             "target": "test_interp_auroc_raw", "rho": [-0.5, 0.2, np.nan, -0.1, 0.3, -0.4],
                             "epochs": 10})
    summary = tracking_summary(tracking).set_index("candidate")
    angle, val = summary.loc["valid_angle_sd"], summary.loc["val_auroc"]
    assert angle["expected_sign"] == -1 and val["expected_sign"] == 1
    assert angle["models"] == 3 and angle["median_rho"] == pytest.approx(-0.1)
    assert angle["mean_rho"] == pytest.approx(-0.4 / 3) and angle["share_expected_sign"] == pytest.approx(2 / 3)
    assert val["models"] == 2 and val["share_expected_sign"] == pytest.approx(0.5)


# --------------------------------------------------------------------------- stopping rules and correction
def test_stopping_table_gains_and_losses_against_the_classic_rule():
    es = {"es_epoch": [3, 4, 5], "es_test_auroc": [0.95, 0.96, 0.97], "es_test_interp_auroc_raw": [0.70, 0.80, 0.60],
          "es_test_interp_auroc_corrected": [0.72, 0.81, 0.65]}
    rule = {"epoch": [6, 4, 9], "test_auroc": [0.94, 0.96, 0.965], "test_interp_auroc_raw": [0.75, 0.80, 0.55],
            "test_interp_auroc_corrected": [0.80, 0.81, 0.60]}
    frame = pd.DataFrame(es)
    for candidate in ("valid_kld_kmer", "valid_kld_attr_mean", "valid_angle_sd"):
        for key, values in rule.items():
            frame[f"rule_{candidate}_{key}"] = values
    frame.loc[2, "rule_valid_angle_sd_test_interp_auroc_raw"] = np.nan  # this rule found no epoch for model 3
    table = stopping_table(frame).set_index("rule")
    classic, kmer, angle = table.loc["classic"], table.loc["rule_valid_kld_kmer"], table.loc["rule_valid_angle_sd"]
    assert classic["interp_gain_raw"] == 0 and classic["share_equal"] == 1 and classic["models"] == 3
    assert classic["epoch_mean"] == pytest.approx(4)
    assert kmer["models"] == 3 and kmer["epoch_mean"] == pytest.approx(19 / 3)
    assert kmer["interp_gain_raw"] == pytest.approx((0.05 + 0 - 0.05) / 3)
    assert kmer["interp_gain_corrected"] == pytest.approx((0.08 + 0 - 0.05) / 3)
    assert kmer["auroc_loss"] == pytest.approx((0.01 + 0 + 0.005) / 3)
    assert [kmer[f"share_{k}"] for k in ("improved", "worse", "equal")] == pytest.approx([1 / 3, 1 / 3, 1 / 3])
    assert angle["models"] == 2 and angle["interp_gain_raw"] == pytest.approx(0.025)
    assert [angle[f"share_{k}"] for k in ("improved", "worse", "equal")] == pytest.approx([0.5, 0, 0.5])


def test_correction_table_finds_a_winner_that_changes_with_correction():
    a, b, c = "std_a", "std_b", "std_c"
    raw = {a: (0.80, 0.80), b: (0.70, 0.70), c: (0.60, 0.60)}  # two trials each
    corrected = {a: (0.80, 0.82), b: (0.90, 0.90), c: (0.64, 0.66)}
    rows = [{"model": f"{n}_{t}", "combination": n, "es_test_interp_auroc_raw": raw[n][t],
             "es_test_interp_auroc_corrected": corrected[n][t], "last_test_interp_auroc_raw": raw[n][t],
             "last_test_interp_auroc_corrected": raw[n][t] + 0.01} for n in (a, b, c) for t in (0, 1)]
    table = correction_table(pd.DataFrame(rows), {"grid": [a, b, c], "empty": []})
    es = table[(table["block"] == "grid") & (table["checkpoint"] == "es")].iloc[0]
    assert es["combinations"] == 3 and es["best_raw"] == a and es["best_corrected"] == b and not es["agree"]
    assert es["best_raw_interp"] == pytest.approx(0.80) and es["best_corrected_interp"] == pytest.approx(0.90)
    assert es["spearman_rho"] == pytest.approx(0.5)  # ranks (3, 2, 1) vs (2, 3, 1)
    assert es["mean_gain"] == pytest.approx(np.mean([0.0, 0.02, 0.2, 0.2, 0.04, 0.06]))
    last = table[(table["block"] == "grid") & (table["checkpoint"] == "last")].iloc[0]
    assert last["best_raw"] == last["best_corrected"] == a and last["agree"]
    assert last["spearman_rho"] == pytest.approx(1.0) and last["mean_gain"] == pytest.approx(0.01)
    empty = table[table["block"] == "empty"]
    assert len(empty) == 2 and (empty["combinations"] == 0).all() and empty["best_raw"].isna().all()


# --------------------------------------------------------------------------- the stage
def test_regularization_tables_writes_every_table(tmp_path):
    (tmp_path / "models").mkdir()
    paths = write_histories(tmp_path / "models", trials=2, epochs=4)
    names = ("epochs", "models", "table1", "table2", "grid", "tracking", "tracking_summary", "stopping",
             "correction")
    out = {name: tmp_path / "tables" / f"{name}.tsv" for name in names}
    blocks = {"table1": [STD], "table2": [MIX], "grid": []}
    regularization_tables(paths, out, combinations=COMBINATIONS, blocks=blocks, paper_tables=PAPER, tolerance=0.005)
    tables = {name: read_tsv(path) for name, path in out.items()}
    assert len(tables["epochs"]) == 3 * 2 * 5 and len(tables["models"]) == 3 * 2
    assert tables["table1"]["combination"].tolist() == [STD] and tables["table1"]["trials"].item() == 2
    assert tables["table1"]["paper_es_interp"].item() == 0.712
    assert tables["table2"]["paper_es_interp"].item() == 0.833 and tables["table2"]["batchnorm"].item()
    assert tables["grid"].empty and "es_test_auroc_mean" in tables["grid"]  # the header only
    assert len(tables["tracking"]) == 6 * len(TRACKED) * len(TARGETS)
    assert len(tables["tracking_summary"]) == len(TRACKED) * len(TARGETS)
    assert tables["stopping"]["rule"].tolist() == ["classic", "rule_valid_kld_kmer", "rule_valid_kld_attr_mean",
                                                   "rule_valid_angle_sd"]
    assert tables["correction"][["block", "checkpoint"]].values.tolist() == [
        ["table1", "es"], ["table1", "last"], ["table2", "es"], ["table2", "last"], ["grid", "es"], ["grid", "last"]]


def test_schedule_phases_are_the_papers_text_or_the_authors_code():
    first = {"epochs": 2, "learning_rate": 0.001, "dropout": 0.0}
    assert schedule_phases("constant", 0.01, 0.4, first) == []
    assert schedule_phases("two_phase", 0.01, 0.4, first) == [
        {"epochs": 2, "learning_rate": 0.001, "dropout": 0.0}, {"learning_rate": 0.01, "dropout": 0.4}]
    assert schedule_phases("two_phase", 0.01, 0.4, first, "authors_code") == [
        {"epochs": 2, "learning_rate": 0.001, "train_mode": False},
        {"learning_rate": 0.01, "dropout": 0.4, "restart": True}]
    with pytest.raises(ValueError, match="schedule"):
        schedule_phases("cyclic", 0.01, 0.4, first)


@pytest.fixture(scope="module")
def tiny_dataset(tmp_path_factory):
    path = tmp_path_factory.mktemp("regularization") / "billboard.h5"
    write_dataset(path, generate_billboard(n_positive=120, n_negative=120, seed=4))
    return path


@pytest.mark.parametrize("mode", ["paper", "authors_code"])
def test_training_saves_both_checkpoints_and_runs_the_mode_asked(tiny_dataset, tmp_path, mode):
    """Each trial's two checkpoints and history; the authors' code mode trains its model and schedule as that code
    does (Glorot kernels, no hidden bias without BatchNorm, inference-mode first phase, restart, clean mixup loss)."""
    combination = {"regularizer": "manifold_mixup", "width": 1, "batch_size": 32, "dropout": 0.4,
                   "learning_rate": 0.01, "batchnorm": False, "schedule": "two_phase"}
    outputs = [(tmp_path / f"m_{t}.pt", tmp_path / f"m_{t}.last.pt", tmp_path / f"m_{t}.history.tsv") for t in (0, 3)]
    train_regularization_models(
        tiny_dataset, outputs, name="mix_f1_bs32_do0.4_lr0.01_nobn_2ph", combination=combination, trials=[0, 3],
        training={"max_epochs": 3, "lr_schedule": "constant", "early_stopping_patience": None, "l2": 0,
                  "log_every": 0},
        monitor={"n_positive": 20, "valid_positive": 10, "snr_top_k": 20, "batch_size": 64},
        kld={"kmer": {"k": 4}, "attr_mean": {"window": 3}}, first_phase={"epochs": 1, "learning_rate": 0.001,
                                                                          "dropout": 0.0},
        mode=mode, seed=5, device="cpu")
    best, last = (torch.load(p, weights_only=True) for p in outputs[1][:2])
    assert (best["meta"]["checkpoint"], last["meta"]["checkpoint"]) == ("best", "last")
    assert best["meta"]["trial"] == 3 and best["meta"]["mode"] == mode and last["meta"]["epoch"] == 3
    history = read_tsv(outputs[1][2])
    assert history["epoch"].tolist() == [0, 1, 2, 3] and history["test_kld_kmer"].notna().all()
    phases = best["train_config"]["phases"]
    authors = mode == "authors_code"
    assert best["train_config"]["regularizer"]["mixup_clean"] is authors
    assert [p["train_mode"] for p in phases] == [not authors, True]
    assert [p["restart"] for p in phases] == [False, authors]
    assert ("0.bias" in best["state_dict"]) is not authors  # no BatchNorm: the authors' layers have no bias
    assert best["meta"].get("kernel_init", "he_normal") == ("glorot_uniform" if authors else "he_normal")
