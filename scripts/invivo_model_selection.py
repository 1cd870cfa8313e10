"""Snakemake adapter: the consistency KLDs as selectors among ensemble members, judged by their ensemble."""
import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../src")

from gradcorr.studies.selection import select_invivo_members  # noqa: E402
from gradcorr.workflow.runtime import setup_logging  # noqa: E402

setup_logging(snakemake.log[0])
select_invivo_members(
    snakemake.input.classification, list(snakemake.input.ensembles), dict(snakemake.output.items()),
    model_type=f"{snakemake.wildcards.arch}_{snakemake.wildcards.activation}",
)
