"""Snakemake adapter: Figs. 3c-d / 8, 4a / 12 and 10 for one method."""
import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../src")

from gradcorr.studies.synthetic import angle_figures  # noqa: E402
from gradcorr.workflow.runtime import setup_logging  # noqa: E402

setup_logging(snakemake.log[0])
angle_figures(list(snakemake.input.summaries), list(snakemake.input.ensembles), dict(snakemake.output.items()),
              method=snakemake.wildcards.method)
