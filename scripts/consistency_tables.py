"""Snakemake adapter: per-model table, Table 1 and SNR-KLD correlations of one attribution method."""
import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../src")

from gradcorr.studies.consistency import consistency_tables  # noqa: E402
from gradcorr.workflow.runtime import setup_logging  # noqa: E402

setup_logging(snakemake.log[0])
consistency_tables(list(snakemake.input), dict(snakemake.output.items()), method=snakemake.wildcards.method,
                   auroc_min=snakemake.params.auroc_min, paper_table=snakemake.params.paper_table)
