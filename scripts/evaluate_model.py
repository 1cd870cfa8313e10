"""Snakemake adapter: attribute and score one model."""
import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../src")

from gradcorr.runtime import setup_logging  # noqa: E402
from gradcorr.stages import evaluate_synthetic_model  # noqa: E402

setup_logging(snakemake.log[0])
evaluate_synthetic_model(
    snakemake.input.data, snakemake.input.model, snakemake.output.attributions, snakemake.output.metrics,
    method=snakemake.wildcards.method, evaluation=snakemake.params.evaluation,
    device=snakemake.params.device, threads=snakemake.threads,
)
