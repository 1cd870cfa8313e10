"""Snakemake adapter: import the authors' published weight files of one model type (all trials, or one)."""
import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../src")

from gradcorr.studies.synthetic import import_published_models  # noqa: E402
from gradcorr.workflow.runtime import setup_logging  # noqa: E402

setup_logging(snakemake.log[0])
import_published_models(
    snakemake.input.data, list(snakemake.input.weights), list(snakemake.output.models),
    arch=snakemake.wildcards.arch, activation=snakemake.wildcards.activation, trials=snakemake.params.trials,
)
