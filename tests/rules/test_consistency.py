"""The consistency study through the Snakemake command line, on config/test.yaml's small grid."""


import h5py
import numpy as np
import pandas as pd
import pytest
import torch
from workflow_cli import TEST_CONFIG, job_counts, snakemake, study_run

from gradcorr.data.synthetic import read_dataset
from gradcorr.kld import kmer_counts, kmer_kld
from gradcorr.metrics import attribution_snr


@pytest.fixture(scope="module")
def consistency_study(tmp_path_factory):
    """The study run end to end in a fresh folder: (working directory, its output, which holds the job plan)."""
    workdir = tmp_path_factory.mktemp("consistency")
    return workdir, study_run(workdir, "consistency")


@pytest.fixture(scope="module")
def consistency_run(consistency_study):
    return consistency_study[0]


@pytest.mark.workflow
def test_table1_counts_the_models_that_pass(consistency_run):
    con = consistency_run / "results" / "consistency"
    models = pd.read_csv(con / "tables" / "models_saliency.tsv", sep="\t")
    # test.yaml's grid: none with BatchNorm and mixup without (the other two excluded), 2 trials each
    assert len(models) == 4 and set(models["regularizer"]) == {"none", "mixup"}
    assert set(zip(models["regularizer"], models["batchnorm"])) == {("none", True), ("mixup", False)}
    assert (models["passed"] == (models["test_auroc"] >= 0.5)).all()  # test.yaml's auroc_min
    table = pd.read_csv(con / "tables" / "table1_saliency.tsv", sep="\t")
    assert len(table) == 2 and (table["trained"] == 2).all()
    for _, row in table.iterrows():
        mine = models[(models["regularizer"] == row["regularizer"]) & (models["batchnorm"] == row["batchnorm"])]
        assert row["trials"] == mine["passed"].sum()
        if row["trials"]:
            assert row["snr"] == pytest.approx(mine.loc[mine["passed"], "snr"].mean(), rel=1e-5)
    # the paper's values sit beside its rows (exp, dropout 0.1): Standard BN exp has 9 trials, SNR 2.445
    standard = table[(table["regularizer"] == "none") & table["batchnorm"]].iloc[0]
    assert standard["paper_trials"] == 9 and standard["paper_snr"] == pytest.approx(2.445)
    corr = pd.read_csv(con / "tables" / "correlations_saliency.tsv", sep="\t")
    assert set(corr["kld"]) == {"kld_kmer", "kld_kmer_union", "kld_attr_mean", "kld_attr_mean_published"}


@pytest.mark.workflow
def test_model_scores_recomputed_from_the_saved_maps(consistency_run):
    con = consistency_run / "results" / "consistency"
    x_test, _, _ = read_dataset(consistency_run / "results" / "synthetic" / "data" / "billboard.h5", "test")
    prior = kmer_counts(x_test, 6)  # the prior is the whole test set, not only the attributed positives
    models = pd.read_csv(con / "tables" / "models_smoothgrad.tsv", sep="\t")
    for _, row in models.iterrows():
        with h5py.File(con / "attributions" / f"{row['model']}.smoothgrad.h5") as f:
            raw, x, truth = f["smoothgrad"][()], f["x"][()], f["ground_truth"][()]
        assert raw.shape == (40, 4, 200)
        assert row["kld_kmer"] == pytest.approx(kmer_kld(raw, x, prior=prior), rel=1e-5)
        assert row["snr"] == pytest.approx(attribution_snr(raw, x, truth).mean(), rel=1e-5, abs=1e-6)
        sweep = pd.read_csv(con / "sensitivity" / f"{row['model']}.smoothgrad.tsv", sep="\t")
        at_default = sweep[(sweep["parameter"] == "k") & (sweep["value"] == 6)]["kld"].item()
        assert at_default == pytest.approx(row["kld_kmer"], rel=1e-5)


@pytest.mark.workflow
def test_models_carry_their_combination(consistency_run):
    con = consistency_run / "results" / "consistency" / "models"
    mixup = torch.load(con / "mixup_nobn_exp_d0.1_1.pt", weights_only=True)
    assert mixup["train_config"]["regularizer"]["name"] == "mixup"
    assert mixup["model_kwargs"]["batchnorm"] is False and mixup["meta"]["trial"] == 1
    standard = torch.load(con / "none_bn_exp_d0.1_0.pt", weights_only=True)
    assert standard["train_config"]["regularizer"]["name"] == "none" and standard["model_kwargs"]["batchnorm"]
    assert any("running_mean" in k for k in standard["state_dict"])
    assert not any("running_mean" in k for k in mixup["state_dict"])
    # trials differ (their own seeds)
    other = torch.load(con / "mixup_nobn_exp_d0.1_0.pt", weights_only=True)
    assert not torch.equal(other["state_dict"]["0.weight"], mixup["state_dict"]["0.weight"])


@pytest.mark.workflow
def test_figures_rerun_and_report(consistency_run):
    figures = consistency_run / "results" / "consistency" / "figures"
    for fig in ("fig2", "fig2g", "fig4", "fig5", "fig6"):
        assert (figures / f"{fig}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert (figures / f"{fig}.png").stat().st_size > 20_000
    kmers = pd.read_csv(consistency_run / "results" / "consistency" / "tables" / "fig2.tsv", sep="\t")
    assert len(kmers) == 4**6 and np.allclose(kmers.drop(columns="kmer").sum(), 1.0)
    run = snakemake("-n", "--configfile", str(TEST_CONFIG), "study.yaml", cwd=consistency_run)
    assert run.returncode == 0 and "Nothing to be done" in run.stdout + run.stderr
    # a new filter or KLD setting redoes only what depends on it, never the training
    (consistency_run / "filter.yaml").write_text("consistency:\n  auroc_min: 0.6\n")
    run = snakemake("-n", "--configfile", str(TEST_CONFIG), "study.yaml", "filter.yaml", cwd=consistency_run)
    assert set(job_counts(run.stdout)) == {"consistency_tables", "consistency_figures", "all", "total"}
    (consistency_run / "kmer.yaml").write_text("consistency:\n  kmer: {k: 5}\n")
    run = snakemake("-n", "--configfile", str(TEST_CONFIG), "study.yaml", "kmer.yaml", cwd=consistency_run)
    assert "consistency_evaluate" in job_counts(run.stdout)
    assert not {"consistency_train", "consistency_train_single"} & set(job_counts(run.stdout))
    report = snakemake("--configfile", str(TEST_CONFIG), "study.yaml", "--report", "report.html", cwd=consistency_run)
    assert report.returncode == 0, report.stderr[-3000:]
    html = (consistency_run / "report.html").read_text()
    for text in ("fig2.png", "fig2g.png", "fig4.png", "fig5.png", "fig6.png", "table1_saliency.tsv", "Table 1",
                 "Consistency study", "smoothgrad"):
        assert text in html, text


@pytest.mark.workflow
def test_job_layout_of_the_vectorized_engine(consistency_study):
    """The jobs the run above planned (from a fresh folder, as a dry run would)."""
    jobs = job_counts(consistency_study[1].stderr + consistency_study[1].stdout)
    # vectorized: the unregularized combination trains its trials together; mixup trials one by one
    assert jobs["consistency_train"] == 1 and jobs["consistency_train_single"] == 2
    assert jobs["consistency_evaluate"] == 2 * 2  # combinations x methods


def test_job_layout_of_the_sequential_engine(tmp_path):
    (tmp_path / "study.yaml").write_text("studies: [consistency]\n")
    (tmp_path / "sequential.yaml").write_text("ensemble_engine: sequential\n")
    run = snakemake("-n", "--configfile", str(TEST_CONFIG), "study.yaml", "sequential.yaml", cwd=tmp_path)
    jobs = job_counts(run.stdout)
    assert "consistency_train" not in jobs and jobs["consistency_train_single"] == 2 * 2  # combinations x trials
    assert jobs["consistency_evaluate"] == 4 * 2  # models x methods
