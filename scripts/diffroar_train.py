"""Snakemake adapter: train the trials of one model type under one regime (DiffROAR study)."""
import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../src")

from gradcorr.studies.diffroar import train_regime_models  # noqa: E402
from gradcorr.workflow.runtime import setup_logging  # noqa: E402

setup_logging(snakemake.log[0])
p = snakemake.params
train_regime_models(
    snakemake.input.data, list(zip(snakemake.output.models, snakemake.output.histories)), dataset=p.dataset,
    model_type=snakemake.wildcards.model_type, regime=snakemake.wildcards.regime, trials=p.trials, models=p.models,
    regularizers=p.regularizers,
    training={**p.training, "compile": p.compile},
    seed=p.seed, engine=p.engine, group=p.group, device=p.device,
    threads=snakemake.threads,
)
