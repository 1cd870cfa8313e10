"""Snakemake adapter: train the trials of one task, architecture and setting of the faithfulness study."""
import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../src")

from gradcorr.studies.faithfulness import train_faithfulness_models  # noqa: E402
from gradcorr.workflow.runtime import setup_logging  # noqa: E402

setup_logging(snakemake.log[0])
w = snakemake.wildcards
train_faithfulness_models(
    snakemake.input.data, list(zip(snakemake.output.models, snakemake.output.best, snakemake.output.histories)),
    task=w.task, net=w.net,
    setting=w.setting, trials=snakemake.params.trials, strengths=snakemake.params.strengths,
    architecture=snakemake.params.architecture,
    training={**snakemake.params.training, "compile": snakemake.params.compile},
    seed=snakemake.params.seed,
    engine=snakemake.params.engine, device=snakemake.params.device, threads=snakemake.threads,
)
