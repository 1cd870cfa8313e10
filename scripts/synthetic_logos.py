"""Snakemake adapter: the sequence-logo panel of one model's representative sequence."""
import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../src")

from gradcorr.studies.synthetic import plot_logos  # noqa: E402
from gradcorr.workflow.runtime import setup_logging  # noqa: E402

setup_logging(snakemake.log[0])
plot_logos(snakemake.input.attributions, snakemake.input.summary, dict(snakemake.output.items()),
           method=snakemake.wildcards.method, window=snakemake.params.window)
