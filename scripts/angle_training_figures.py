"""Snakemake adapter: the angle-training study's figures (initialisation sweep, angle penalty, comparison)."""
import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../src")

from gradcorr.studies.angle_training import study_figures  # noqa: E402
from gradcorr.workflow.runtime import setup_logging  # noqa: E402

setup_logging(snakemake.log[0])
study_figures(dict(snakemake.input.items()), dict(snakemake.output.items()))
