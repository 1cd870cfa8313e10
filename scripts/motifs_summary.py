"""Snakemake adapter: a study's motif summary (one row per attribution file and map kind) and all its patterns."""
import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../src")

from gradcorr.studies.motifs import summary_table  # noqa: E402
from gradcorr.workflow.runtime import setup_logging  # noqa: E402

setup_logging(snakemake.log[0])
summary_table(list(snakemake.input), snakemake.output.summary, snakemake.output.patterns)
