"""Snakemake adapter: the multi-task dataset from ENCODE peaks, one file per cell type (multi-task study)."""
import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../src")

from gradcorr.studies.multitask import make_encode  # noqa: E402
from gradcorr.workflow.runtime import setup_logging  # noqa: E402

setup_logging(snakemake.log[0])
make_encode(snakemake.output[0], list(snakemake.input.peaks), list(snakemake.input.metadata), snakemake.input.genome,
            snakemake.params.table, snakemake.params.settings, snakemake.params.seed)
