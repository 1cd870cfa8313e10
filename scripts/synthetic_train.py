"""Snakemake adapter: train trials of one synthetic model type (all at once, or one)."""
import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../src")

from gradcorr.studies.synthetic import train_synthetic_models  # noqa: E402
from gradcorr.workflow.runtime import setup_logging  # noqa: E402

setup_logging(snakemake.log[0])
train_synthetic_models(
    snakemake.input.data, list(zip(snakemake.output.models, snakemake.output.histories)),
    arch=snakemake.wildcards.arch, activation=snakemake.wildcards.activation, trials=snakemake.params.trials,
    models=snakemake.params.models,
    training={**snakemake.params.training, "compile": snakemake.params.compile},
    seed=snakemake.params.seed,
    engine=snakemake.params.engine, group=snakemake.params.group, device=snakemake.params.device,
    threads=snakemake.threads,
)
