"""Snakemake adapter: the null-block shares of one placement, model type and regime's models."""
import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../src")

from gradcorr.studies.diffroar import leakage_job  # noqa: E402
from gradcorr.workflow.runtime import setup_logging  # noqa: E402

setup_logging(snakemake.log[0])
w, p = snakemake.wildcards, snakemake.params
leakage_job(
    snakemake.input.data, list(snakemake.input.models), snakemake.output[0], placement=w.placement,
    model_type=w.model_type, regime=w.regime, methods=p.methods, options=p.options, output=p.output, score=p.score,
    n_test=p.n_test, batch_size=p.batch_size, seed=p.seed, device=p.device, threads=snakemake.threads,
)
