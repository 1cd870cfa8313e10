"""Snakemake adapter: train trials of one combination of the consistency grid (all at once, or one)."""
import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../src")

from gradcorr.studies.consistency import train_consistency_models  # noqa: E402
from gradcorr.workflow.runtime import setup_logging  # noqa: E402

setup_logging(snakemake.log[0])
train_consistency_models(
    snakemake.input.data, list(zip(snakemake.output.models, snakemake.output.histories)),
    name=snakemake.wildcards.combo, **snakemake.params.combo, trials=snakemake.params.trials,
    width=snakemake.params.width,
    training={**snakemake.params.training, "compile": snakemake.params.compile},
    regularizer_settings=snakemake.params.regularizer,
    seed=snakemake.params.seed,
    engine=snakemake.params.engine, group=snakemake.params.group, device=snakemake.params.device,
    threads=snakemake.threads,
)
