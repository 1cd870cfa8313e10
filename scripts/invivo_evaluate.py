"""Snakemake adapter: classification scores and saliency of members of one TF's ensemble (all at once, or one)."""
import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../src")

from gradcorr.studies.invivo import evaluate_invivo_models  # noqa: E402
from gradcorr.workflow.runtime import setup_logging  # noqa: E402

setup_logging(snakemake.log[0])
outs = [{"saliency": s, "metrics": m} for s, m in zip(snakemake.output.saliency, snakemake.output.metrics)]
evaluate_invivo_models(
    snakemake.input.data, list(snakemake.input.models), outs, tf=snakemake.wildcards.tf,
    output=snakemake.params.output, batch_size=snakemake.params.batch_size, engine=snakemake.params.engine,
    device=snakemake.params.device, threads=snakemake.threads,
)
