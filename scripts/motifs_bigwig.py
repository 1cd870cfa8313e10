"""Snakemake adapter: bigWig tracks of an in vivo ensemble file's map kinds at its windows' genome coordinates."""
import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../src")

from gradcorr.studies.motifs import write_tracks  # noqa: E402
from gradcorr.workflow.runtime import setup_logging  # noqa: E402

setup_logging(snakemake.log[0])
write_tracks(snakemake.input.ensemble, snakemake.input.data, snakemake.input.fai, dict(snakemake.output.items()))
