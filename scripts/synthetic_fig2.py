"""Snakemake adapter: Fig. 2 of the gradient-correction paper."""
import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../src")

from gradcorr.studies.synthetic import plot_interpretability  # noqa: E402
from gradcorr.workflow.runtime import setup_logging  # noqa: E402

setup_logging(snakemake.log[0])
plot_interpretability(snakemake.input[0], snakemake.output.pdf, snakemake.output.png, snakemake.wildcards.method)
