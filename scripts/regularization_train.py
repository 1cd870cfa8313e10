"""Snakemake adapter: train the trials of one combination of the regularization study."""
import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../src")

from gradcorr.studies.regularization import train_regularization_models  # noqa: E402
from gradcorr.workflow.runtime import setup_logging  # noqa: E402

setup_logging(snakemake.log[0])
train_regularization_models(
    snakemake.input.data, list(zip(snakemake.output.best, snakemake.output.last, snakemake.output.histories)),
    name=snakemake.wildcards.combination, combination=snakemake.params.combination, trials=snakemake.params.trials,
    training={**snakemake.params.training, "compile": snakemake.params.compile},
    monitor=snakemake.params.monitor, kld=snakemake.params.kld,
    first_phase=snakemake.params.first_phase, mode=snakemake.params.mode, seed=snakemake.params.seed,
    engine=snakemake.params.engine, group=snakemake.params.group, device=snakemake.params.device,
    threads=snakemake.threads,
)
