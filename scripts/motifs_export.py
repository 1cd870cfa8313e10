"""Snakemake adapter: an attribution file's map kinds in modisco-lite's format."""
import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../src")

from gradcorr.studies.motifs import export_maps  # noqa: E402
from gradcorr.workflow.runtime import setup_logging  # noqa: E402

setup_logging(snakemake.log[0])
export_maps(snakemake.input[0], dict(snakemake.output.items()))
