"""Snakemake adapter: ensemble average and each member's ensemble difference."""
import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../src")

from gradcorr.studies.invivo import analyse_ensemble  # noqa: E402
from gradcorr.workflow.runtime import setup_logging  # noqa: E402

setup_logging(snakemake.log[0])
analyse_ensemble(
    list(snakemake.input), snakemake.output[0], tf=snakemake.wildcards.tf,
    model_type=f"{snakemake.wildcards.arch}_{snakemake.wildcards.activation}",
    correct_ensemble=snakemake.params.correct_ensemble, thresholds=snakemake.params.thresholds,
)
