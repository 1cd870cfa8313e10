"""Snakemake adapter: the DiffROAR study's tables."""
import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../src")

from gradcorr.studies.diffroar import diffroar_tables  # noqa: E402
from gradcorr.workflow.runtime import setup_logging  # noqa: E402

setup_logging(snakemake.log[0])
diffroar_tables(list(snakemake.input.power), list(snakemake.input.leakage), list(snakemake.input.scores),
                dict(snakemake.output))
