"""Start-up of a workflow job: the imports of its script, by kind of stage.

Usage:
    python benchmarks/job_startup.py [repeats]

Every Snakemake job starts a fresh Python that imports its stage module. The stages that train or run
models need torch (`gradcorr.studies.model_runs`); the dataset, table and figure stages of each study
(`gradcorr.studies.synthetic`, `.invivo`, `.consistency`) do not, and import it only inside the
functions that run models. The DAG process (rules/common.smk) imports the standard-library modules
`gradcorr.data.encode` and `gradcorr.workflow.config_checks`. This runs `python -c "import <module>"` for
each, alternating, `repeats` times (default 5), and prints the median wall time of each with its ratio to
the model stage's, the baseline: what every job paid when all stages imported torch.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time

BASELINE = "gradcorr.studies.model_runs"
MODULES = [BASELINE, "gradcorr.studies.synthetic", "gradcorr.studies.invivo", "gradcorr.studies.consistency",
           "gradcorr.data.encode, gradcorr.workflow.config_checks", "torch"]


def import_seconds(module: str) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", f"import {module}"], check=True)
    return time.perf_counter() - start


def main(repeats: int = 5) -> None:
    times: dict[str, list[float]] = {m: [] for m in MODULES}
    for _ in range(repeats):
        for module in MODULES:  # alternating, so that load on the machine hits all alike
            times[module].append(import_seconds(module))
    base = statistics.median(times[BASELINE])
    print(f"{'import':<56} {'median s':>9} {'ratio to ' + BASELINE:>38}")
    for module, seconds in times.items():
        median = statistics.median(seconds)
        print(f"{module:<56} {median:>9.2f} {median / base:>38.2f}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
