"""Snakemake adapter: the regularization study's Fig. 1 a-d and the tracking figure."""
import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../src")

from gradcorr.studies.regularization import regularization_figures  # noqa: E402
from gradcorr.workflow.runtime import setup_logging  # noqa: E402

setup_logging(snakemake.log[0])
regularization_figures(dict(snakemake.input), dict(snakemake.output), blocks=snakemake.params.blocks)
