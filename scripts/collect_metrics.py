"""Snakemake adapter: one table of every model's numbers."""
import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../src")

from gradcorr.runtime import setup_logging  # noqa: E402
from gradcorr.stages import collect_tables  # noqa: E402

setup_logging(snakemake.log[0])
collect_tables(list(snakemake.input), snakemake.output[0])
