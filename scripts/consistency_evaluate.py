"""Snakemake adapter: attribute the models of one consistency combination; SNR and consistency KLDs."""
import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../src")

from gradcorr.studies.consistency import evaluate_consistency_models  # noqa: E402
from gradcorr.workflow.runtime import setup_logging  # noqa: E402

setup_logging(snakemake.log[0])
outs = [{"attributions": a, "metrics": m, "sensitivity": s} for a, m, s in
        zip(snakemake.output.attributions, snakemake.output.metrics, snakemake.output.sensitivity)]
evaluate_consistency_models(
    snakemake.input.data, list(snakemake.input.models), outs, method=snakemake.wildcards.method,
    settings=snakemake.params.settings, evaluation=snakemake.params.evaluation, options=snakemake.params.options,
    seed=snakemake.params.seed, engine=snakemake.params.engine, device=snakemake.params.device,
    threads=snakemake.threads,
)
