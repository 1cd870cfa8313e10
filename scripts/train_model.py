"""Snakemake adapter: train one model on the synthetic dataset."""
import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../src")

from gradcorr.runtime import setup_logging  # noqa: E402
from gradcorr.stages import train_synthetic_model  # noqa: E402

setup_logging(snakemake.log[0])
train_synthetic_model(
    snakemake.input.data, snakemake.output.model, snakemake.output.history,
    arch=snakemake.wildcards.arch, activation=snakemake.wildcards.activation,
    trial=int(snakemake.wildcards.trial), models=snakemake.params.models,
    training=snakemake.params.training, seed=snakemake.params.seed,
    device=snakemake.params.device, threads=snakemake.threads,
)
