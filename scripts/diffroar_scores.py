"""Snakemake adapter: score every position of the dataset by one model's maps of one method, raw and corrected."""
import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../src")

from gradcorr.studies.diffroar import score_model  # noqa: E402
from gradcorr.workflow.runtime import setup_logging  # noqa: E402

setup_logging(snakemake.log[0])
w, p = snakemake.wildcards, snakemake.params
score_model(
    snakemake.input.data, snakemake.input.model, snakemake.output[0], model_type=w.model_type, regime=w.regime,
    trial=int(w.trial), method=w.method, options=p.options, output=p.output, score=p.score, batch_size=p.batch_size,
    seed=p.seed, device=p.device, threads=snakemake.threads,
)
