"""Snakemake adapter: the multi-task billboard dataset (multi-task study)."""
import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../src")

from gradcorr.studies.multitask import make_billboard  # noqa: E402
from gradcorr.workflow.runtime import setup_logging  # noqa: E402

setup_logging(snakemake.log[0])
make_billboard(snakemake.output[0], snakemake.params.settings, snakemake.params.seed)
