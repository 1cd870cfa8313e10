"""The workflow through its command line, as the tests run it: the repository, the test config and `snakemake`."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TEST_CONFIG = ROOT / "config" / "test.yaml"
SNAKEMAKE = [sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile")]


def snakemake(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """Run snakemake in `cwd` with `args`; its output captured."""
    return subprocess.run([*SNAKEMAKE, *args], cwd=cwd, capture_output=True, text=True, timeout=900)
