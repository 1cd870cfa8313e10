"""Snakemake adapter: the top-k and bottom-k predictive power of one ranking and fill (a model's maps, or a
baseline), every fraction."""
import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../src")

from gradcorr.studies.diffroar import power_job  # noqa: E402
from gradcorr.workflow.runtime import setup_logging  # noqa: E402

setup_logging(snakemake.log[0])
p = snakemake.params
power_job(
    snakemake.input.data, snakemake.output[0], scores=dict(snakemake.input).get("scores"),
    model_type=snakemake.wildcards.model_type, fill=snakemake.wildcards.fill, **p.ranking, fractions=p.fractions,
    retrainings=p.retrainings, models=p.models, training=p.training, seed=p.seed, engine=p.engine, group=p.group,
    device=p.device, threads=snakemake.threads,
)
