"""Snakemake adapter: in vivo Figs. 3e / 9 and 4b / 13 for one model type."""
import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../src")

from gradcorr.studies.invivo import invivo_figures  # noqa: E402
from gradcorr.workflow.runtime import setup_logging  # noqa: E402

setup_logging(snakemake.log[0])
invivo_figures(
    list(snakemake.input.ensembles), dict(snakemake.output.items()),
    model_type=f"{snakemake.wildcards.arch}_{snakemake.wildcards.activation}",
    synthetic_summary=snakemake.input.synthetic[0] if snakemake.input.synthetic else None,
)
