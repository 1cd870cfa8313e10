"""Snakemake adapter: one protein task's dataset for the faithfulness study."""
import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../src")

from gradcorr.studies.faithfulness import make_protein_dataset  # noqa: E402
from gradcorr.workflow.runtime import setup_logging  # noqa: E402

setup_logging(snakemake.log[0])
make_protein_dataset(snakemake.output[0], task=snakemake.wildcards.task, settings=snakemake.params.settings,
                     seed=snakemake.params.seed)
