"""Snakemake adapter: train one member of a TF's ensemble."""
import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../src")

from gradcorr.invivo import train_invivo_model  # noqa: E402
from gradcorr.runtime import setup_logging  # noqa: E402

setup_logging(snakemake.log[0])
train_invivo_model(
    snakemake.input.data, snakemake.output.model, snakemake.output.history, tf=snakemake.wildcards.tf,
    arch=snakemake.wildcards.arch, activation=snakemake.wildcards.activation,
    member=int(snakemake.wildcards.member), invivo=snakemake.params.invivo,
    kernel_size=snakemake.params.kernel_size, training=snakemake.params.training, seed=snakemake.params.seed,
    device=snakemake.params.device, threads=snakemake.threads,
)
