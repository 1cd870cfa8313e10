"""Snakemake adapter: train members of one TF's ensemble of one model type (all at once, or one)."""
import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../src")

from gradcorr.studies.invivo import train_invivo_models  # noqa: E402
from gradcorr.workflow.runtime import setup_logging  # noqa: E402

setup_logging(snakemake.log[0])
train_invivo_models(
    snakemake.input.data, list(zip(snakemake.output.models, snakemake.output.histories)),
    tf=snakemake.wildcards.tf, arch=snakemake.wildcards.arch, activation=snakemake.wildcards.activation,
    members=snakemake.params.members, invivo=snakemake.params.invivo, kernel_size=snakemake.params.kernel_size,
    training={**snakemake.params.training, "compile": snakemake.params.compile},
    seed=snakemake.params.seed, engine=snakemake.params.engine,
    group=snakemake.params.group,
    device=snakemake.params.device, threads=snakemake.threads,
)
