"""Snakemake adapter: attribute and score one model."""
import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../src")

from gradcorr.runtime import setup_logging  # noqa: E402
from gradcorr.stages import evaluate_synthetic_model  # noqa: E402

setup_logging(snakemake.log[0])
evaluate_synthetic_model(
    snakemake.input.data, snakemake.input.model, dict(snakemake.output.items()),
    method=snakemake.wildcards.method, evaluation=snakemake.params.evaluation,
    options=snakemake.params.options, thresholds=snakemake.params.thresholds, seed=snakemake.params.seed,
    device=snakemake.params.device, threads=snakemake.threads,
)
