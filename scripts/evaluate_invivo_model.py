"""Snakemake adapter: classification scores and saliency of one ensemble member."""
import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../src")

from gradcorr.invivo import evaluate_invivo_model  # noqa: E402
from gradcorr.runtime import setup_logging  # noqa: E402

setup_logging(snakemake.log[0])
evaluate_invivo_model(
    snakemake.input.data, snakemake.input.model, dict(snakemake.output.items()), tf=snakemake.wildcards.tf,
    output=snakemake.params.output, batch_size=snakemake.params.batch_size, device=snakemake.params.device,
    threads=snakemake.threads,
)
