"""Snakemake adapter: train one Basset-style model (multi-task study)."""
import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../src")

from gradcorr.studies.multitask import train_model  # noqa: E402
from gradcorr.workflow.runtime import setup_logging  # noqa: E402

setup_logging(snakemake.log[0])
p, w = snakemake.params, snakemake.wildcards
train_model(snakemake.input.data, snakemake.output.model, snakemake.output.history, activation=w.activation,
            trial=int(w.trial), model=p.model,
            training={**p.training, "compile": p.compile},
            seed=p.seed, device=p.device,
            threads=snakemake.threads)
