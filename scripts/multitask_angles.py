"""Snakemake adapter: one model's angles of the top class and the shown tasks, and their interpretability
(multi-task study)."""
import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../src")

from gradcorr.studies.multitask import model_angles  # noqa: E402
from gradcorr.workflow.runtime import setup_logging  # noqa: E402

setup_logging(snakemake.log[0])
p = snakemake.params
model_angles(snakemake.input.data, snakemake.input.model, snakemake.output.histograms, snakemake.output.rows,
             method=snakemake.wildcards.method, options=p.options, settings=p.settings, thresholds=p.thresholds,
             seed=p.seed, device=p.device, threads=snakemake.threads)
