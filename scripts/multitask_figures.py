"""Snakemake adapter: the multi-task study's figures."""
import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../src")

from gradcorr.studies.multitask import multitask_figures  # noqa: E402
from gradcorr.workflow.runtime import setup_logging  # noqa: E402

setup_logging(snakemake.log[0])
multitask_figures(dict(snakemake.input), dict(snakemake.output))
