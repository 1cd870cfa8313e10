"""Snakemake adapter: in vivo logos (Fig. 3b / 7) for one TF and model type."""
import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../src")

from gradcorr.studies.invivo import plot_invivo_logos  # noqa: E402
from gradcorr.workflow.runtime import setup_logging  # noqa: E402

setup_logging(snakemake.log[0])
plot_invivo_logos(
    snakemake.input[0], dict(snakemake.output.items()), tf=snakemake.wildcards.tf,
    jaspar_id=snakemake.params.jaspar_id, jaspar_release=snakemake.params.jaspar_release,
    window=snakemake.params.window,
)
