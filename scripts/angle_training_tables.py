"""Snakemake adapter: the angle-training study's tables (per model, per arm, the sweeps, the comparison)."""
import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../src")

from gradcorr.studies.angle_training import study_tables  # noqa: E402
from gradcorr.workflow.runtime import setup_logging  # noqa: E402

setup_logging(snakemake.log[0])
study_tables(list(snakemake.input.metrics), list(snakemake.input.angles), dict(snakemake.output.items()))
