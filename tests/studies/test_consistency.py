"""The consistency study's numbers: per-model scores, Table 1, correlations and the paper's table."""

import numpy as np
import pandas as pd
import pytest
from workflow_cli import ROOT

from gradcorr.kld import attr_mean_kld, kmer_counts, kmer_kld, published_attr_mean_kld
from gradcorr.metrics import attribution_snr
from gradcorr.studies.consistency import (
    consistency_scores,
    consistency_table,
    correlations,
    highlighted,
    read_paper_table,
)

PAPER = ROOT.parent / "shared" / "papers" / "consistency-kld_majdandzic-rajesh-koo.md"
SETTINGS = {"kmer": {"k": 4, "percentile": 90.0, "buffer": 2},
            "attr_mean": {"window": 3, "percentile": 90.0, "bin_width": 0.1, "prior_width": 0.5,
                          "top_fraction": 0.2, "prior_range": 2},
            "sensitivity": {"k": [3, 4], "percentile": [80.0, 90.0], "window": [1, 3, 500]}}


def planted(n=60, length=80, seed=0):
    """One-hot sequences, a ground truth with a motif at 30..37, and a map attributing it plus noise."""
    rng = np.random.default_rng(seed)
    x = np.eye(4)[rng.integers(0, 4, (n, length))].transpose(0, 2, 1)
    truth = np.full((n, 4, length), 0.25)
    truth[:, :, 30:38] = x[:, :, 30:38]
    raw = rng.normal(0, 0.1, x.shape) + 0.7  # an offset off the simplex, removed by correction
    raw[:, :, 30:38] += 2 * x[:, :, 30:38]
    return raw, x, truth


def test_scores_match_the_metrics_computed_directly():
    raw, x, truth = planted()
    prior = {k: kmer_counts(x, k) for k in (3, 4)}
    row, sweep = consistency_scores(raw, x, truth, prior, settings=SETTINGS)
    assert row["snr"] == pytest.approx(attribution_snr(raw, x, truth).mean())
    assert row["kld_kmer"] == pytest.approx(kmer_kld(raw, x, k=4))  # prior = the same sequences here
    assert row["kld_attr_mean"] == pytest.approx(attr_mean_kld(raw))
    assert row["kld_attr_mean_published"] == pytest.approx(published_attr_mean_kld(raw, 3, 0.2, 0.1, 2))
    assert row["kld_attr_mean_published"] != pytest.approx(row["kld_attr_mean"])
    assert row["kld_kmer_union"] == pytest.approx(kmer_kld(raw, x, k=4, merge="union"))
    # the sweep at the configured value is the headline number; a window longer than L is left out
    at = sweep.set_index(["parameter", "value"])["kld"]
    assert at[("k", 4)] == pytest.approx(row["kld_kmer"])
    assert at[("percentile", 90.0)] == pytest.approx(row["kld_kmer"])
    assert at[("window", 3)] == pytest.approx(row["kld_attr_mean"])
    assert ("window", 500) not in at.index
    assert at[("k", 3)] == pytest.approx(kmer_kld(raw, x, k=3))


def test_scores_use_the_given_prior():
    raw, x, truth = planted()
    uniform = {k: np.ones(4**k) for k in (3, 4)}
    row, _ = consistency_scores(raw, x, truth, uniform, settings=SETTINGS)
    assert row["kld_kmer"] == pytest.approx(kmer_kld(raw, x, k=4, prior=np.ones(256)))


def models_frame():
    rng = np.random.default_rng(3)
    rows = []
    for reg in ("none", "mixup"):
        for bn in (True, False):
            for trial in range(4):
                rows.append({"model": f"{reg}_{bn}_{trial}", "regularizer": reg, "batchnorm": bn,
                             "activation": "exp", "dropout": 0.1, "trial": trial,
                             "test_auroc": rng.uniform(0.95, 0.99), "snr": rng.uniform(0, 3),
                             "kld_kmer": rng.uniform(0, 1), "kld_attr_mean": rng.uniform(0, 1),
                             "kld_attr_mean_published": rng.uniform(0, 1), "kld_kmer_union": rng.uniform(0, 1)})
    frame = pd.DataFrame(rows)
    frame.loc[(frame["regularizer"] == "mixup") & frame["batchnorm"], "test_auroc"] = 0.9  # none pass
    frame["passed"] = frame["test_auroc"] >= 0.97
    return frame


def test_table1_means_over_the_models_that_pass():
    models = models_frame()
    table = consistency_table(models).set_index(["regularizer", "batchnorm"])
    for (reg, bn), group in models.groupby(["regularizer", "batchnorm"]):
        kept = group[group["passed"]]
        assert table.loc[(reg, bn), "trials"] == len(kept) and table.loc[(reg, bn), "trained"] == 4
        for column in ("kld_kmer", "kld_attr_mean", "test_auroc", "snr"):
            expected = kept[column].mean() if len(kept) else np.nan
            assert table.loc[(reg, bn), column] == pytest.approx(expected, nan_ok=True)
    assert np.isnan(table.loc[("mixup", True), "snr"])


def test_table1_sets_the_paper_beside_its_own_rows_only():
    paper = pd.DataFrame({"regularizer": ["none", "mixup"], "batchnorm": [True, True], "activation": ["exp", "exp"],
                          "paper_trials": [9, 12], "paper_snr": [2.445, 2.458]})
    models = pd.concat([models_frame(), models_frame().assign(dropout=0.4)])
    table = consistency_table(models, paper)
    row = table[(table["regularizer"] == "mixup") & table["batchnorm"] & (table["dropout"] == 0.1)]
    assert row["paper_snr"].item() == 2.458 and row["paper_trials"].item() == 12
    assert table.loc[table["dropout"] == 0.4, "paper_snr"].isna().all()  # the paper trained dropout 0.1
    assert table.loc[~table["batchnorm"], "paper_snr"].isna().all()  # not in this paper table
    assert len(table) == 8


def test_correlations_use_passing_models_only():
    models = models_frame()
    corr = correlations(models, "saliency").set_index("kld")
    kept = models[models["passed"]]
    assert corr.loc["kld_kmer", "pearson_r"] == pytest.approx(np.corrcoef(kept["snr"], kept["kld_kmer"])[0, 1])
    assert corr.loc["kld_kmer", "models"] == len(kept)
    assert corr.loc["kld_attr_mean_published", "paper_pearson_r"] == 0.875  # the paper's is the published method
    assert np.isnan(corr.loc["kld_attr_mean", "paper_pearson_r"])
    assert correlations(models, "smoothgrad")["paper_pearson_r"].isna().all()


def test_highlighted_models_are_the_extremes_of_snr_among_passing():
    models = models_frame()
    best, worst = highlighted(models)
    kept = models[models["passed"]]
    assert best == kept.loc[kept["snr"].idxmax(), "model"] and worst == kept.loc[kept["snr"].idxmin(), "model"]
    models["passed"] = False  # fewer than two pass: all models
    assert highlighted(models)[0] == models.loc[models["snr"].idxmax(), "model"]


def test_shipped_paper_table_matches_the_paper():
    table = read_paper_table(ROOT / "resources" / "consistency_table1.tsv")
    # 26 rows of 15 trials (390 models); the text says 327 pass the filter, the table sums to 317
    assert len(table) == 26 and table["paper_trials"].sum() == 317
    if not PAPER.is_file():
        pytest.skip(f"{PAPER} not present: cannot compare with the paper's text")
    lines = PAPER.read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("Method\tBN\tActivation"))
    rows = [line.split("\t") for line in lines[start + 1:start + 27]]
    names = {"Standard": "none", "Mixup": "mixup", "Manifold-mixup": "manifold_mixup", "Noise": "noise",
             "Manifold-noise": "manifold_noise", "Adversarial": "adversarial", "Spectral-norm": "spectral_norm"}
    for method, bn, act, trials, kmer, attr, auroc, snr in rows:
        mine = table[(table["regularizer"] == names[method]) & (table["batchnorm"] == (bn == "bn"))
                     & (table["activation"] == ("exp" if act == "exponential" else "relu"))]
        assert mine[["paper_trials", "paper_kld_kmer", "paper_kld_attr_mean", "paper_auroc", "paper_snr"]
                    ].to_numpy().ravel().tolist() == pytest.approx([float(v) for v in (trials, kmer, attr, auroc, snr)])


def test_paper_table_missing_column_is_named(tmp_path):
    bad = tmp_path / "t.tsv"
    bad.write_text("regularizer\tbatchnorm\tactivation\ttrials\n")
    with pytest.raises(ValueError, match="t.tsv: missing column"):
        read_paper_table(bad)
