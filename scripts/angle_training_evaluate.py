"""Snakemake adapter: saliency maps of one arm's models, scored against the ground truth, with their angles."""
import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../src")

from gradcorr.studies.angle_training import evaluate_arm_models  # noqa: E402
from gradcorr.workflow.runtime import setup_logging  # noqa: E402

setup_logging(snakemake.log[0])
outs = [{"attributions": a, "metrics": m, "angles": s} for a, m, s in
        zip(snakemake.output.attributions, snakemake.output.metrics, snakemake.output.angles)]
evaluate_arm_models(
    snakemake.input.data, list(snakemake.input.models), outs, evaluation=snakemake.params.evaluation,
    thresholds=snakemake.params.thresholds, seed=snakemake.params.seed, engine=snakemake.params.engine,
    device=snakemake.params.device, threads=snakemake.threads,
)
