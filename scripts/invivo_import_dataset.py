"""Snakemake adapter: check an already processed dataset and import it."""
import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../src")

from gradcorr.studies.invivo import import_processed_dataset  # noqa: E402
from gradcorr.workflow.runtime import setup_logging  # noqa: E402

setup_logging(snakemake.log[0])
import_processed_dataset(snakemake.input[0], snakemake.output[0], tf=snakemake.wildcards.tf,
                         architectures=snakemake.params.architectures)
