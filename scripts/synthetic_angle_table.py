"""Snakemake adapter: the angle summary table of every model type and method."""
import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../src")

from gradcorr.studies.synthetic import angle_summary_table  # noqa: E402
from gradcorr.workflow.runtime import setup_logging  # noqa: E402

setup_logging(snakemake.log[0])
angle_summary_table(list(snakemake.input.summaries), list(snakemake.input.interpretability), snakemake.output[0])
