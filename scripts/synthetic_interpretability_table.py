"""Snakemake adapter: one table of every model's numbers."""
import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../src")

from gradcorr.studies.synthetic import interpretability_table  # noqa: E402
from gradcorr.workflow.runtime import setup_logging  # noqa: E402

setup_logging(snakemake.log[0])
interpretability_table(list(snakemake.input), snakemake.output[0])
