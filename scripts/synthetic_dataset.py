"""Snakemake adapter: generate the synthetic billboard dataset."""
import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../src")

from gradcorr.studies.synthetic import make_synthetic_dataset  # noqa: E402
from gradcorr.workflow.runtime import setup_logging  # noqa: E402

setup_logging(snakemake.log[0])
make_synthetic_dataset(snakemake.output[0], snakemake.params.synthetic, snakemake.params.seed)
