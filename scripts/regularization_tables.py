"""Snakemake adapter: the regularization study's tables from every model's per-epoch history."""
import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../src")

from gradcorr.studies.regularization import regularization_tables  # noqa: E402
from gradcorr.workflow.runtime import setup_logging  # noqa: E402

setup_logging(snakemake.log[0])
regularization_tables(
    list(snakemake.input), dict(snakemake.output), combinations=snakemake.params.combinations,
    blocks=snakemake.params.blocks, paper_tables=snakemake.params.paper_tables, tolerance=snakemake.params.tolerance,
)
