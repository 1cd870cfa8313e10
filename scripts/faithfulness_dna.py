"""Snakemake adapter: the faithfulness scores of the synthetic study's models of one type."""
import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../src")

from gradcorr.studies.faithfulness import evaluate_dna_models  # noqa: E402
from gradcorr.workflow.runtime import setup_logging  # noqa: E402

setup_logging(snakemake.log[0])
evaluate_dna_models(
    snakemake.input.data, list(snakemake.input.models), snakemake.output[0], model_type=snakemake.wildcards.model_type,
    evaluation=snakemake.params.evaluation, threshold=snakemake.params.threshold, source=snakemake.params.source,
    device=snakemake.params.device, threads=snakemake.threads,
)
