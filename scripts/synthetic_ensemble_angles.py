"""Snakemake adapter: angles of the ensemble-averaged map of one model type."""
import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../src")

from gradcorr.studies.synthetic import ensemble_angles  # noqa: E402
from gradcorr.workflow.runtime import setup_logging  # noqa: E402

setup_logging(snakemake.log[0])
ensemble_angles(list(snakemake.input), snakemake.output[0], method=snakemake.wildcards.method)
