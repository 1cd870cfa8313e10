"""rules/synthetic.smk through the Snakemake command line, on config/test.yaml: every output of the synthetic
study, the numbers in its tables recomputed from its files, the rerun and the report (also from an environment
with only the README's workflow install)."""

import re
import subprocess
import sys

import h5py
import numpy as np
import pandas as pd
import pytest
from workflow_cli import ROOT, TEST_CONFIG, job_counts, snakemake

from gradcorr.data.synthetic import read_dataset
from gradcorr.kld import attr_mean_kld, kmer_counts, kmer_kld
from gradcorr.metrics import attribution_snr
from gradcorr.models.checkpoint import load_model
from gradcorr.studies.model_runs import PROGRESS_BLOCK

METHODS = ("saliency", "integrated_gradients", "smoothgrad", "expected_gradients")


@pytest.mark.workflow
def test_workflow_outputs_exist_and_parse(workflow_run):
    workdir, _ = workflow_run
    syn = workdir / "results" / "synthetic"
    table = pd.read_csv(syn / "tables" / "interpretability_saliency.tsv", sep="\t")
    assert len(table) == 4
    assert set(table["arch"]) == {"cnn_shallow", "cnn_deep"} and set(table["activation"]) == {"relu", "exp"}
    for column in ("test_auroc", "cosine_raw", "cosine_corrected", "auroc_improvement", "aupr_corrected"):
        assert table[column].notna().all(), column
    assert table["test_auroc"].between(0, 1).all() and (table["n_sequences"] == 40).all()
    # the improvement columns are the differences they claim to be
    pd.testing.assert_series_equal(table["cosine_corrected"] - table["cosine_raw"], table["cosine_improvement"],
                                   check_names=False, atol=1e-5)
    assert (syn / "figures" / "fig2_saliency.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (syn / "figures" / "fig2_saliency.pdf").read_bytes()[:5] == b"%PDF-"
    with h5py.File(syn / "attributions" / "cnn_deep_exp_0.saliency.h5") as f:
        assert f["saliency"].shape == f["x"].shape == f["ground_truth"].shape == (40, 4, 200)
        assert (f["x"][:].sum(axis=1) == 1).all()
        raw, x, truth = f["saliency"][()], f["x"][()], f["ground_truth"][()]
    # the consistency scores of every synthetic model, recomputed from its saved map (prior: whole test set)
    x_test, _, _ = read_dataset(syn / "data" / "billboard.h5", "test")
    row = table[table["model"] == "cnn_deep_exp_0"].iloc[0]
    assert row["kld_kmer"] == pytest.approx(kmer_kld(raw, x, prior=kmer_counts(x_test, 6)), rel=1e-5)
    assert row["kld_attr_mean"] == pytest.approx(attr_mean_kld(raw), rel=1e-5)
    assert row["snr"] == pytest.approx(attribution_snr(raw, x, truth).mean(), rel=1e-5, abs=1e-6)
    for method in METHODS:
        scores = pd.read_csv(syn / "tables" / f"interpretability_{method}.tsv", sep="\t")
        assert len(scores) == 4 and scores["cosine_corrected"].notna().all(), method
        for fig in ("fig2", "fig3cd", "fig4a", "fig10", "model_selection"):
            assert (syn / "figures" / f"{fig}_{method}.png").stat().st_size > 10_000, (fig, method)
    # model selection: one model per type here, so no correlation within a type, and every pick is a hit
    corr = pd.read_csv(syn / "tables" / "model_selection_correlations_saliency.tsv", sep="\t")
    assert set(corr["model_type"]) == {"cnn_shallow_relu", "cnn_shallow_exp", "cnn_deep_relu", "cnn_deep_exp", "all"}
    assert corr.loc[corr["model_type"] != "all", "spearman"].isna().all()
    assert corr.loc[corr["model_type"] == "all", "spearman"].between(-1, 1).all()
    picks = pd.read_csv(syn / "tables" / "model_selection_saliency.tsv", sep="\t")
    assert picks.loc[picks["model_type"] != "all", "is_best"].all()
    summary = pd.read_csv(syn / "tables" / "model_selection_summary_saliency.tsv", sep="\t")
    assert (summary["n_groups"] == 4).all() and (summary["rate_top_k"] == 1).all()
    assert len(pd.read_csv(syn / "tables" / "model_selection_points_saliency.tsv", sep="\t")) == 4
    assert (syn / "figures" / "model_selection_saliency.pdf").read_bytes()[:5] == b"%PDF-"
    bins = pd.read_csv(syn / "tables" / "fig3cd_saliency.tsv", sep="\t")
    assert set(bins["model_type"]) == {"cnn_shallow_relu", "cnn_shallow_exp", "cnn_deep_relu", "cnn_deep_exp"}
    np.testing.assert_allclose(bins.groupby("model_type")["density_background"].sum(), 1.0, rtol=1e-4)  # %.6g in TSV
    summary = pd.read_csv(syn / "tables" / "angle_summary.tsv", sep="\t")
    assert len(summary) == 16 and (summary["improvement_bound_excess"] < 1e-5).all()
    assert summary["fraction_improved_cosine"].between(0, 1).all()
    logo = pd.read_csv(syn / "tables" / "logos" / "cnn_deep_exp_0.saliency.tsv", sep="\t")
    assert len(logo) == 100 and set(logo["base"]) <= set("ACGT")
    np.testing.assert_allclose(logo[[f"corrected_{b}" for b in "ACGT"]].sum(axis=1), 0, atol=1e-6)
    model, saved = load_model(syn / "models" / "cnn_shallow_relu_0.pt")
    assert saved["arch"] == "cnn_shallow" and len(saved["history"]) == 2
    history = pd.read_csv(syn / "models" / "cnn_shallow_relu_0.history.tsv", sep="\t")
    assert list(history["epoch"]) == [1, 2]
    train_log = (workdir / "logs" / "synthetic" / "train" / "cnn_shallow_relu.log").read_text()  # one job per type
    assert "device: cpu" in train_log and "vectorized engine" in train_log


@pytest.mark.workflow
def test_motif_stage_of_each_model_type(workflow_run):
    """The saliency maps of trial 0 of each model type, raw and corrected, exported for modisco-lite, run through
    it and summarised with the ground truth's chance level; 40 sequences give too few seqlets, which the table
    says (a row, not a failure)."""
    workdir, _ = workflow_run
    syn = workdir / "results" / "synthetic"
    summary = pd.read_csv(syn / "tables" / "motifs_summary.tsv", sep="\t")
    assert len(summary) == 8 and set(summary["kind"]) == {"raw", "corrected"}
    assert set(summary["model"]) == {f"{t}_0" for t in ("cnn_shallow_relu", "cnn_shallow_exp", "cnn_deep_relu",
                                                         "cnn_deep_exp")}
    with h5py.File(syn / "attributions" / "cnn_deep_exp_0.saliency.h5") as f:
        raw, truth = f["saliency"][()], f["ground_truth"][()]
    corrected = np.load(syn / "motifs" / "inputs" / "cnn_deep_exp_0.saliency.corrected.npz")["arr_0"]
    np.testing.assert_allclose(corrected, raw - raw.mean(axis=1, keepdims=True), atol=1e-6)
    chance = (np.abs(truth - 0.25).max(axis=1) > 1e-6).mean()
    assert summary["motif_fraction"].to_numpy() == pytest.approx(chance)
    empty = summary[summary["n_patterns"] == 0]
    assert (empty["note"].str.len() > 0).all() and (empty["core_recovered"] == 0).all()
    for row in summary.itertuples():
        assert (syn / "motifs" / "logos" / f"{row.model}.saliency.{row.kind}.png").stat().st_size > 0


@pytest.mark.workflow
def test_rerun_has_nothing_to_do_and_report_holds_every_figure(workflow_run):
    workdir, _ = workflow_run
    again = snakemake("-n", "--configfile", str(TEST_CONFIG), cwd=workdir)
    assert again.returncode == 0 and "Nothing to be done" in again.stdout + again.stderr
    report = snakemake("--configfile", str(TEST_CONFIG), "--report", "report.html", cwd=workdir)
    assert report.returncode == 0, report.stderr[-3000:]
    html = (workdir / "report.html").read_text()
    assert "fig2_saliency.png" in html and "Reproduces" in html and "Fig. 2" in html
    assert "model_selection_saliency.png" in html and "most interpretable model" in html


def _attribution_parts(config, workdir, *targets):
    """(model type, method) -> parts of the synthetic attribution jobs a dry run of `config` (for `targets`, else
    all) plans (none: one job), and the run's output."""
    run = snakemake("-n", *targets, "--configfile", str(ROOT / config), cwd=workdir)
    assert run.returncode == 0, run.stderr[-3000:]
    found = re.findall(r"attribution_parts/(\w+)\.(\w+)\.(\d+)-of-(\d+)\.h5", run.stdout)
    parts = {(t, m): int(n) for t, m, _, n in found}
    assert {(t, m, int(p)) for t, m, p, _ in found} == {(t, m, p) for (t, m), n in parts.items() for p in range(n)}
    return parts, run.stdout


def test_heavy_attribution_jobs_are_split_into_parts_and_light_ones_are_not(tmp_path):
    """At the published scale (50 models a type), expected gradients (about 26 minutes of work a job by the
    resource model) is attributed in 8 parts of a block of 64 of the 500 sequences each, SmoothGrad (about 3) in
    2, and saliency and integrated gradients in one job each; each evaluation merges its parts. At the default
    scale (3 models a type) even expected gradients is one job."""
    parts, output = _attribution_parts("config/published.yaml", tmp_path)
    types = ("cnn_shallow_relu", "cnn_shallow_exp", "cnn_deep_relu", "cnn_deep_exp")
    assert parts == {**{(t, "expected_gradients"): 8 for t in types}, **{(t, "smoothgrad"): 2 for t in types}}
    counts = job_counts(output)
    assert counts["synthetic_attribute"] == 40 and counts["synthetic_evaluate"] == 16
    assert "runtime=14," in output  # a part: 10 + ceil(64 x 50 models x 210 inputs x 3e-4 s / 60 s)
    # the DAG's block (restated: the DAG process imports no torch) is the package's
    assert f"\nATTRIBUTION_BLOCK = {PROGRESS_BLOCK}\n" in (ROOT / "rules" / "resources.smk").read_text()
    (tmp_path / "default").mkdir()
    target = "results/synthetic/metrics/cnn_deep_exp_0.expected_gradients.tsv"
    default, output = _attribution_parts("config/config.yaml", tmp_path / "default", target)
    assert default == {} and job_counts(output)["synthetic_evaluate"] == 1


@pytest.fixture(scope="session")
def workflow_only_python(tmp_path_factory):
    """The python of a fresh virtual environment holding only the README's workflow install (no test extra).
    --no-compile skips byte-compiling its 13,000 modules (about half the install's time); the few the report
    imports compile when imported."""
    env = tmp_path_factory.mktemp("workflow_env")
    subprocess.run([sys.executable, "-m", "venv", str(env)], check=True, timeout=300)
    python = env / "bin" / "python"
    install = subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-compile", "-e", f"{ROOT}[workflow]"],
                             capture_output=True, text=True, timeout=1200)
    assert install.returncode == 0, install.stderr[-3000:]
    return python


@pytest.mark.workflow
def test_the_readme_workflow_install_suffices_for_the_report(workflow_run, workflow_only_python):
    """`snakemake --report` (the README's command) works after `pip install -e ".[workflow]"` alone."""
    workdir, _ = workflow_run
    lacks_test_extra = subprocess.run([str(workflow_only_python), "-c", "import pytest"], capture_output=True)
    assert lacks_test_extra.returncode != 0  # pytest (which brings pygments in) is not there
    report = subprocess.run([str(workflow_only_python), "-m", "snakemake", "-s", str(ROOT / "Snakefile"),
                             "--configfile", str(TEST_CONFIG), "--report", "report_workflow_only.html"],
                            cwd=workdir, capture_output=True, text=True, timeout=600)
    assert report.returncode == 0, report.stderr[-3000:]
    assert "fig2_saliency.png" in (workdir / "report_workflow_only.html").read_text()
