"""Snakemake adapter: the consistency KLDs as model selectors, judged by the ground truth."""
import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../src")

from gradcorr.studies.selection import select_synthetic_models  # noqa: E402
from gradcorr.workflow.runtime import setup_logging  # noqa: E402

setup_logging(snakemake.log[0])
select_synthetic_models(snakemake.input[0], dict(snakemake.output.items()), method=snakemake.wildcards.method)
