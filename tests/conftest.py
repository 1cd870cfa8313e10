"""Fixtures shared by test modules."""

import subprocess

import pytest
from workflow_cli import SNAKEMAKE, TEST_CONFIG


@pytest.fixture(scope="session")
def local_run_started(tmp_path_factory):
    """config/test.yaml run locally on 2 cores, started in the background: (working directory, process).

    The SLURM tests start it first, so that it overlaps their runs, which mostly wait on the scheduler."""
    workdir = tmp_path_factory.mktemp("workflow")
    with open(workdir / "run.out", "w") as out:
        run = subprocess.Popen([*SNAKEMAKE, "--cores", "2", "--configfile", str(TEST_CONFIG)], cwd=workdir,
                               stdout=out, stderr=subprocess.STDOUT, text=True)
    yield workdir, run
    if run.poll() is None:
        run.kill()
        run.wait()


@pytest.fixture(scope="session")
def workflow_run(local_run_started):
    """The finished local run of config/test.yaml: (working directory, its output)."""
    workdir, run = local_run_started
    run.wait(timeout=900)
    output = (workdir / "run.out").read_text()
    assert run.returncode == 0, output[-5000:]
    return workdir, output
