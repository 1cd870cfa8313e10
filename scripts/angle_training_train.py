"""Snakemake adapter: train the trials of one arm of the angle-training study (all at once, or one)."""
import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../src")

from gradcorr.studies.angle_training import train_arm_models  # noqa: E402
from gradcorr.workflow.runtime import setup_logging  # noqa: E402

setup_logging(snakemake.log[0])
train_arm_models(
    snakemake.input.data, list(zip(snakemake.output.models, snakemake.output.histories)),
    **snakemake.params.variant, trials=snakemake.params.trials, models=snakemake.params.models,
    training={**snakemake.params.training, "compile": snakemake.params.compile},
    seed=snakemake.params.seed, engine=snakemake.params.engine,
    group=snakemake.params.group, device=snakemake.params.device, threads=snakemake.threads,
)
