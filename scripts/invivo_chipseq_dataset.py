"""Snakemake adapter: build one TF's balanced dataset from its ENCODE peaks."""
import sys
from pathlib import Path

sys.path.insert(0, f"{snakemake.scriptdir}/../src")

from gradcorr.studies.invivo import build_chipseq_dataset  # noqa: E402
from gradcorr.workflow.runtime import setup_logging  # noqa: E402

setup_logging(snakemake.log[0])
build_chipseq_dataset(
    snakemake.input.chip, snakemake.input.dnase, snakemake.input.chip_meta, snakemake.input.dnase_meta,
    snakemake.input.genome, snakemake.output[0], tf=snakemake.wildcards.tf,
    assembly=Path(snakemake.input.genome).name.removesuffix(".fa"),  # genomes/<assembly>.fa
    invivo=snakemake.params.invivo, seed=snakemake.params.seed,
)
