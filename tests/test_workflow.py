"""The Snakemake workflow through its command line, on config/test.yaml."""

import re
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest
import yaml
from snakemake.exceptions import WorkflowError
from snakemake.utils import update_config, validate

from gradcorr.checkpoint import load_model
from gradcorr.config_checks import check_config
from gradcorr.consistency import attr_mean_kld, attribution_snr, kmer_counts, kmer_kld
from gradcorr.synthetic import read_dataset

ROOT = Path(__file__).resolve().parents[1]
TEST_CONFIG = ROOT / "config" / "test.yaml"
METHODS = ("saliency", "integrated_gradients", "smoothgrad", "expected_gradients")
SNAKEMAKE = [sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile")]


def snakemake(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([*SNAKEMAKE, *args], cwd=cwd, capture_output=True, text=True, timeout=900)


def test_lint_is_clean(tmp_path):
    run = snakemake("--lint", "--configfile", str(TEST_CONFIG), cwd=tmp_path)
    assert run.returncode == 0, run.stderr + run.stdout
    assert "Congratulations" in run.stdout + run.stderr


def test_stages_without_a_model_start_without_torch():
    """Table, figure and dataset jobs import no torch (it costs each job about 2 s to start)."""
    light = ["gradcorr.stages", "gradcorr.invivo", "gradcorr.consistency_study", "gradcorr.config_checks",
             "gradcorr.download", "gradcorr.runtime", "gradcorr.correction"]
    check = f"import sys, {', '.join(light)}; print(sorted({{'torch', 'h5py'}} & set(sys.modules)))"
    run = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True)
    assert run.stdout.strip() == "['h5py']", run.stderr  # h5py: the check sees what the stages do import


BAD_CONFIGS = [
    ("training:\n  max_epochs: 0\n", "max_epochs"),
    ("trainig:\n  max_epochs: 3\n", "trainig"),
    ("evaluation:\n  output: probability\n", "output"),
    ("synthetic:\n  split: [0.7, 0.2, 0.2]\n", "synthetic.split"),
    ("synthetic:\n  motif_count_probs: [0.5, 0.5]\n", "synthetic.motif_count_probs"),
    ("studies: [invivo]\n", "invivo.tfs"),
    ("invivo:\n  split: [0.5, 0.1, 0.2]\n", "invivo.split"),
    ("invivo:\n  center: peak\n", "center"),
    ("models:\n  source: published\n  trials: 51\n", "models.trials"),
    ("models:\n  source: published\nsynthetic:\n  length: 150\n", "synthetic.length"),
    ("models:\n  source: downloaded\n", "source"),
    ("consistency:\n  training: {max_epoch: 3}\n", "consistency.training"),
    ("consistency:\n  training: {regularizer: {name: noise}}\n", "consistency.training"),
    ("consistency:\n  regularizer: {noise: 0.1}\n", "consistency.regularizer"),
    ("consistency:\n  regularizers: [dropout]\n", "regularizers"),
]


def checked_config(*layers: str) -> dict:
    """config.yaml updated with each YAML text in turn, as Snakemake merges config files, then checked by
    the schema (filling in defaults) and `check_config`, as rules/common.smk does."""
    config = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    for layer in layers:
        update_config(config, yaml.safe_load(layer))
    validate(config, str(ROOT / "config" / "schema.yaml"), set_default=True)
    check_config(config, yaml.safe_load((ROOT / "config" / "schema.yaml").read_text()))
    return config


@pytest.mark.parametrize("name", [p.name for p in sorted((ROOT / "config").glob("*.yaml")) if p.name != "schema.yaml"])
def test_shipped_configs_pass_the_checks(name):
    assert checked_config((ROOT / "config" / name).read_text())["seed"] >= 0


@pytest.mark.parametrize("override, key", BAD_CONFIGS)
def test_bad_config_is_refused_naming_the_key(override, key):
    with pytest.raises((WorkflowError, ValueError)) as error:
        checked_config(TEST_CONFIG.read_text(), override)
    assert key in str(error.value)


@pytest.mark.parametrize("override, key", [
    BAD_CONFIGS[1],  # the schema
    BAD_CONFIGS[3],  # check_config
    ("studies: [invivo]\ninvivo:\n  tfs: [NOSUCHTF]\n", "NOSUCHTF"),  # the DAG code of rules/common.smk
    ("studies: [consistency]\nconsistency:\n  exclude: [{activation: exp}, {activation: relu}]\n",
     "consistency.exclude"),
])
def test_bad_config_stops_the_workflow_before_any_job_naming_the_key(tmp_path, override, key):
    (tmp_path / "bad.yaml").write_text(override)
    run = snakemake("-n", "--configfile", str(TEST_CONFIG), "bad.yaml", cwd=tmp_path)
    assert run.returncode != 0
    assert key in run.stderr + run.stdout
    assert not (tmp_path / "results").exists()


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
        for fig in ("fig2", "fig3cd", "fig4a", "fig10"):
            assert (syn / "figures" / f"{fig}_{method}.png").stat().st_size > 10_000, (fig, method)
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
def test_rerun_has_nothing_to_do_and_report_holds_every_figure(workflow_run):
    workdir, _ = workflow_run
    again = snakemake("-n", "--configfile", str(TEST_CONFIG), cwd=workdir)
    assert again.returncode == 0 and "Nothing to be done" in again.stdout + again.stderr
    report = snakemake("--configfile", str(TEST_CONFIG), "--report", "report.html", cwd=workdir)
    assert report.returncode == 0, report.stderr[-3000:]
    html = (workdir / "report.html").read_text()
    assert "fig2_saliency.png" in html and "Reproduces" in html and "Fig. 2" in html


def slurm_dry_run(tmp_path, override: str) -> dict[str, list[dict[str, str]]]:
    """Rule -> the resources of each of its jobs, as a dry run with the slurm profile prints them."""
    (tmp_path / "override.yaml").write_text(override)
    run = snakemake("-n", "--profile", str(ROOT / "profiles" / "slurm"), "--configfile", str(TEST_CONFIG),
                    "override.yaml", cwd=tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    jobs: dict[str, list[dict[str, str]]] = {}
    for block in (run.stdout + run.stderr).split("\n\n"):
        rule = re.search(r"^(?:local)?rule (\w+):", block, re.M)
        resources = re.search(r"^\s+resources: (.*)$", block, re.M)
        if rule and resources:
            jobs.setdefault(rule.group(1), []).append(dict(kv.split("=", 1) for kv in resources.group(1).split(", ")))
    return jobs


def test_slurm_profile_requests_a_gpu_for_training_and_scales_memory_with_the_config(tmp_path):
    invivo = ("studies: [synthetic, invivo]\n"
              "invivo: {tfs: [GABPA], processed: {GABPA: absent/GABPA_200.h5}}\n")
    small = slurm_dry_run(tmp_path, invivo)
    train, download = small["train_models"][0], small["processed_download"][0]
    assert train["gpu"] == "1" and train["cpus_per_task"] == "4"
    assert "gpu" not in download and download["cpus_per_task"] == "1"  # downloads run on the submit host
    assert small["evaluate_models"][0]["gpu"] == "1" and small["train_invivo_models"][0]["gpu"] == "1"
    larger = slurm_dry_run(tmp_path, invivo + "synthetic: {n_positive: 5000, n_negative: 5000}\n"
                                              "models: {trials: 3}\ntraining: {max_epochs: 20}\n")
    big = larger["train_models"][0]
    # memory grows with the sequences and the models trained at once; runtime with models x epochs x data
    assert int(big["mem_mb"]) > int(train["mem_mb"]) + 2 * 50
    assert int(big["runtime"]) > int(train["runtime"])
    assert int(larger["evaluate_models"][0]["mem_mb"]) > int(small["evaluate_models"][0]["mem_mb"])
