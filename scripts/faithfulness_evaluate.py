"""Snakemake adapter: verify the models of one task, architecture and setting and score their faithfulness."""
import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../src")

from gradcorr.studies.faithfulness import evaluate_protein_models  # noqa: E402
from gradcorr.workflow.runtime import setup_logging  # noqa: E402

setup_logging(snakemake.log[0])
w = snakemake.wildcards
evaluate_protein_models(
    snakemake.input.data, list(snakemake.input.models), snakemake.output.scores, snakemake.output.models,
    task=w.task, net=w.net, setting=w.setting, evaluation=snakemake.params.evaluation, seed=snakemake.params.seed,
    device=snakemake.params.device, threads=snakemake.threads,
)
