"""Snakemake adapter: one modisco-lite run's patterns matched to JASPAR (and, on synthetic data, to the truth)."""
import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../src")

from gradcorr.studies.motifs import pattern_table  # noqa: E402
from gradcorr.workflow.runtime import setup_logging  # noqa: E402

setup_logging(snakemake.log[0])
motifs = snakemake.params.motifs
pattern_table(
    snakemake.input.results, snakemake.output[0], label=dict(snakemake.params.label),
    release=motifs["jaspar_release"], collection=motifs["collection"], tax_group=motifs["tax_group"],
    q_threshold=motifs["q_threshold"], own_ids=list(snakemake.params.own_ids),
    truth=snakemake.input.get("truth"), dataset=snakemake.input.get("data"),
)
