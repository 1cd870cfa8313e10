"""Snakemake adapter: CWM and PWM logos of one modisco-lite run's top patterns beside their JASPAR match."""
import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../src")

from gradcorr.studies.motifs import plot_pattern_logos  # noqa: E402
from gradcorr.workflow.runtime import setup_logging  # noqa: E402

setup_logging(snakemake.log[0])
plot_pattern_logos(
    snakemake.input.results, snakemake.input.patterns, dict(snakemake.output.items()),
    release=snakemake.params.release, top=snakemake.params.top,
    title=f"{snakemake.wildcards.unit}, {snakemake.wildcards.kind} maps",
)
