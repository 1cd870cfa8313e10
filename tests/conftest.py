"""Fixtures shared by test modules."""

import pytest

from test_workflow import TEST_CONFIG, snakemake


@pytest.fixture(scope="session")
def workflow_run(tmp_path_factory):
    """config/test.yaml run locally on 2 cores, once per session: (working directory, finished process)."""
    workdir = tmp_path_factory.mktemp("workflow")
    run = snakemake("--cores", "2", "--configfile", str(TEST_CONFIG), cwd=workdir)
    assert run.returncode == 0, run.stderr[-5000:]
    return workdir, run
