"""Snakemake adapter: one feature-leakage dataset (DiffROAR study)."""
import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../src")

from gradcorr.studies.diffroar import make_leakage_dataset  # noqa: E402
from gradcorr.workflow.runtime import setup_logging  # noqa: E402

setup_logging(snakemake.log[0])
make_leakage_dataset(snakemake.output[0], placement=snakemake.wildcards.placement,
                     settings=snakemake.params.settings, seed=snakemake.params.seed)
