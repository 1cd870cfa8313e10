"""Snakemake adapter: one part (a range of sequence blocks) of the attribution of one model type's models."""
import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../src")

from gradcorr.studies.synthetic import attribute_synthetic_part  # noqa: E402
from gradcorr.workflow.runtime import setup_logging  # noqa: E402

setup_logging(snakemake.log[0])
attribute_synthetic_part(
    snakemake.input.data, list(snakemake.input.models), snakemake.output[0], method=snakemake.wildcards.method,
    evaluation=snakemake.params.evaluation, options=snakemake.params.options, seed=snakemake.params.seed,
    part=int(snakemake.wildcards.part), parts=int(snakemake.wildcards.parts), device=snakemake.params.device,
    threads=snakemake.threads,
)
