"""Snakemake adapter: classification table of every in vivo model."""
import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../src")

from gradcorr.studies.invivo import classification_table  # noqa: E402
from gradcorr.workflow.runtime import setup_logging  # noqa: E402

setup_logging(snakemake.log[0])
classification_table(list(snakemake.input), snakemake.output[0])
