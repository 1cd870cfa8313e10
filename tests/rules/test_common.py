"""rules/common.smk and the files it holds together: the workflow is lint- and snakefmt-clean, and a bad config
stops it before any job, naming the key (the schema, `check_config`, and the checks of the DAG code)."""

import subprocess
import sys

import pytest
from workflow_cli import ROOT, TEST_CONFIG, snakemake

BAD_CONFIGS = [
    ("trainig:\n  max_epochs: 3\n", "trainig"),  # the schema
    ("synthetic:\n  split: [0.7, 0.2, 0.2]\n", "synthetic.split"),  # check_config
    ("studies: [invivo]\ninvivo:\n  tfs: [NOSUCHTF]\n", "NOSUCHTF"),  # the DAG code of the in vivo study
    ("studies: [consistency]\nconsistency:\n  exclude: [{activation: exp}, {activation: relu}]\n",
     "consistency.exclude"),  # the DAG code of the consistency study
]


def test_lint_is_clean(tmp_path):
    run = snakemake("--lint", "--configfile", str(TEST_CONFIG), cwd=tmp_path)
    assert run.returncode == 0, run.stderr + run.stdout
    assert "Congratulations" in run.stdout + run.stderr


def test_snakefmt_is_clean():
    """The Snakefile and every rules file are formatted as snakefmt formats them (pyproject.toml: line length)."""
    files = [str(ROOT / "Snakefile"), *map(str, sorted((ROOT / "rules").glob("*.smk")))]
    run = subprocess.run([sys.executable, "-m", "snakefmt", "--check", *files], cwd=ROOT, capture_output=True,
                         text=True)
    assert run.returncode == 0, run.stdout + run.stderr


@pytest.mark.parametrize("override, key", BAD_CONFIGS)
def test_bad_config_stops_the_workflow_before_any_job_naming_the_key(tmp_path, override, key):
    (tmp_path / "bad.yaml").write_text(override)
    run = snakemake("-n", "--configfile", str(TEST_CONFIG), "bad.yaml", cwd=tmp_path)
    assert run.returncode != 0
    assert key in run.stderr + run.stdout
    assert not (tmp_path / "results").exists()
