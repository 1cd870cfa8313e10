"""Snakemake adapter: attribute the models of one model type (all at once, or one), or merge parts; score them."""
import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../src")

from gradcorr.studies.synthetic import evaluate_synthetic_models  # noqa: E402
from gradcorr.workflow.runtime import setup_logging  # noqa: E402

setup_logging(snakemake.log[0])
outs = [{"attributions": a, "metrics": m, "angles": g}
        for a, m, g in zip(snakemake.output.attributions, snakemake.output.metrics, snakemake.output.angles)]
evaluate_synthetic_models(
    snakemake.input.data, list(snakemake.input.models), outs, method=snakemake.wildcards.method,
    evaluation=snakemake.params.evaluation, options=snakemake.params.options,
    thresholds=snakemake.params.thresholds, seed=snakemake.params.seed, engine=snakemake.params.engine,
    device=snakemake.params.device, threads=snakemake.threads, parts=list(snakemake.input.parts),
    predictions=snakemake.input.predictions,
)
