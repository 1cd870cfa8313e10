"""Snakemake adapter: the top-k and bottom-k predictive power of one ranking and fill (a model's maps, or a
baseline), every fraction."""
import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../src")

from gradcorr.studies.diffroar import ANY_REGIME, RANDOM, power_job  # noqa: E402
from gradcorr.workflow.runtime import setup_logging  # noqa: E402

setup_logging(snakemake.log[0])
w, p = snakemake.wildcards, snakemake.params
model_agnostic = "rmethod" not in w.keys()  # the random baseline's rule
power_job(
    snakemake.input.data, snakemake.output[0], scores=None if model_agnostic else snakemake.input.scores,
    model_type=w.model_type, regime=ANY_REGIME if model_agnostic else w.regime,
    trial=0 if model_agnostic else int(w.trial), method=RANDOM if model_agnostic else w.rmethod,
    kind="baseline" if model_agnostic else w.rkind, fill=w.fill, fractions=p.fractions, retrainings=p.retrainings,
    models=p.models, training=p.training, seed=p.seed, engine=p.engine, group=p.group, device=p.device,
    threads=snakemake.threads,
)
