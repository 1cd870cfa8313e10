"""Snakemake adapter: Figs. 2, 4, 5 and 6 of the consistency paper."""
import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../src")

from gradcorr.studies.consistency import consistency_figures  # noqa: E402
from gradcorr.workflow.runtime import setup_logging  # noqa: E402

setup_logging(snakemake.log[0])
methods = snakemake.params.methods
consistency_figures(dict(zip(methods, snakemake.input.tables)), list(snakemake.input.attributions),
                    list(snakemake.input.sensitivity), snakemake.input.data, dict(snakemake.output.items()),
                    methods=methods, settings=snakemake.params.settings)
