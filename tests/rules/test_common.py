"""rules/common.smk and the files it holds together: the workflow is lint- and snakefmt-clean, and a bad config
stops it before any job, naming the key (the schema, `check_config`, and the checks of the DAG code)."""

import os
import signal
import subprocess
import sys
import time

import pytest
from workflow_cli import ROOT, SNAKEMAKE, TEST_CONFIG, snakemake

BAD_CONFIGS = [
    ("trainig:\n  max_epochs: 3\n", "trainig"),  # the schema
    ("synthetic:\n  split: [0.7, 0.2, 0.2]\n", "synthetic.split"),  # check_config
    ("studies: [invivo]\ninvivo:\n  tfs: [NOSUCHTF]\n", "NOSUCHTF"),  # the DAG code of the in vivo study
    ("studies: [consistency]\nconsistency:\n  exclude: [{activation: exp}, {activation: relu}]\n",
     "consistency.exclude"),  # the DAG code of the consistency study
    ("synthetic:\n  length: 60\n", "synthetic.length: 60, but cnn_shallow"),  # what the models take
    ("studies: [invivo]\ninvivo:\n  tfs: [..]\n", "'..' does not match"),  # a name that would be a shared path
    ("studies: [invivo]\ninvivo:\n  tfs: [CTCF]\n  download_dir: no/such/folder\n",
     "invivo.download_dir: no/such/folder"),  # a mistyped shared download folder is not created
    ("studies: [invivo]\ninvivo:\n  tfs: [CTCF]\n  genomes: {GRCh38: 'http://hgdownload.soe.ucsc.edu/hg38.fa.gz'}\n",
     "config invivo.genomes.GRCh38: refusing to download"),  # plain http, refused when the graph is built
]

# A resource table with one bad cell: the error names the table, the line and the column, before any job.
BAD_TABLES = [
    ("table", "tf\tchip_accession\tdnase_accession\nCTCF\tENCFF710VE\tENCFF235KUD\n",
     "line 2, column chip_accession: 'ENCFF710VE' is not an ENCODE file accession"),
    ("table", "tf\tchip_accession\tdnase_accession\nCTCF\tENCFF710VEH\tENCFF235KUD\nCTCF\tENCFF710VEH\tENCFF235KUD\n",
     "line 3: tf 'CTCF' is already on an earlier line"),
    ("table", "tf chip_accession dnase_accession\nCTCF ENCFF710VEH ENCFF235KUD\n", "missing column(s)"),
    ("motifs", "tf\tjaspar_id\nCTCF\tCTCF\n", "line 2, column jaspar_id: 'CTCF' is not a JASPAR matrix ID"),
    ("processed_sources", "tf\turl\tmd5\nCTCF\thttps://raw.githubusercontent.com/c.h5\t0123\n",
     "line 2, column md5: '0123' is not an md5 checksum"),
    ("processed_sources", f"tf\turl\tmd5\nCTCF\thttps://example.org/c.h5\t{'0' * 32}\n",
     "line 2, column url: refusing to download 'https://example.org/c.h5': host 'example.org' is not in the allowed"),
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


@pytest.mark.parametrize("key, text, error", BAD_TABLES)
def test_bad_table_cell_stops_the_workflow_naming_table_line_and_column(tmp_path, key, text, error):
    """invivo.table, motifs and processed_sources are checked as the job graph is built, not when a job fails."""
    (tmp_path / "bad.tsv").write_text(text)
    processed = "  processed: {CTCF: absent.h5}\n" if key == "processed_sources" else ""
    (tmp_path / "bad.yaml").write_text(f"studies: [invivo]\ninvivo:\n  tfs: [CTCF]\n  {key}: bad.tsv\n{processed}")
    run = snakemake("-n", "--configfile", str(TEST_CONFIG), "bad.yaml", cwd=tmp_path)
    assert run.returncode != 0
    assert f"bad.tsv: {error}" in run.stderr + run.stdout
    assert not (tmp_path / "results").exists()


@pytest.mark.workflow
def test_a_killed_run_resumes_after_the_unlock_the_readme_gives(tmp_path):
    """Snakemake killed outright leaves its lock; the rerun refuses until `snakemake --unlock`, as the README says."""
    target = ["results/synthetic/data/billboard.h5", "--configfile", str(TEST_CONFIG)]
    run = subprocess.Popen([*SNAKEMAKE, "--cores", "1", *target], cwd=tmp_path, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, start_new_session=True)
    locks = tmp_path / ".snakemake" / "locks"
    deadline = time.monotonic() + 120
    while not (locks.is_dir() and any(locks.iterdir())) and run.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    os.killpg(run.pid, signal.SIGKILL)
    run.wait()
    assert any(locks.iterdir()), "the run held no lock when it was killed"

    rerun = snakemake("--cores", "1", *target, cwd=tmp_path)
    assert rerun.returncode != 0 and "Directory cannot be locked" in rerun.stdout + rerun.stderr
    readme = (ROOT / "README.md").read_text()
    assert "Directory cannot be locked" in readme and "snakemake --unlock" in readme
    assert snakemake("--unlock", *target, cwd=tmp_path).returncode == 0
    rerun = snakemake("--cores", "1", *target, cwd=tmp_path)
    assert rerun.returncode == 0, rerun.stderr
    assert (tmp_path / "results" / "synthetic" / "data" / "billboard.h5").is_file()
