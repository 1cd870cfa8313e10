"""The workflow through its command line, as the tests run it: the repository, the test config and `snakemake`."""

import functools
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TEST_CONFIG = ROOT / "config" / "test.yaml"
SNAKEMAKE = [sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile")]


def snakemake(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """Run snakemake in `cwd` with `args`; its output captured."""
    return subprocess.run([*SNAKEMAKE, *args], cwd=cwd, capture_output=True, text=True, timeout=900)


def study_run(workdir: Path, study: str, overrides: str = "") -> subprocess.CompletedProcess:
    """The test config run end to end in `workdir` with `studies: [study]` and the YAML `overrides`; it must
    succeed."""
    (workdir / "study.yaml").write_text(f"studies: [{study}]\n{overrides}")
    run = snakemake("--cores", "2", "--configfile", str(TEST_CONFIG), "study.yaml", cwd=workdir)
    assert run.returncode == 0, run.stderr[-5000:]
    return run


def job_counts(output: str) -> dict[str, int]:
    """Rule -> jobs, from the (first) job stats table of a (dry) run's output."""
    stats = output[output.index("Job stats"):]
    end = re.search(r"^total\s+\d+$", stats, re.M)
    stats = stats[:end.end()] if end else stats
    return {m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)$", stats, re.M)}


@functools.lru_cache(maxsize=None)
def planned_jobs(*configs: str) -> dict[str, int]:
    """Rule -> jobs of a dry run with the repository's `configs` (paths from the root), in a scratch folder; each
    set of configs is planned once per test session (the published scale's DAG takes a while to build)."""
    with tempfile.TemporaryDirectory() as scratch:
        run = snakemake("-n", "--quiet", "rules", "--configfile", *(str(ROOT / c) for c in configs), cwd=Path(scratch))
    assert run.returncode == 0, run.stderr[-3000:]
    return job_counts(run.stdout)


ONE_MODEL_TYPE = "models: {architectures: [cnn_shallow], activations: [relu]}\n"  # the other runs train all four
