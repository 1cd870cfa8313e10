"""Snakemake adapter: the faithfulness study's tables."""
import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../src")

from gradcorr.studies.faithfulness import faithfulness_tables  # noqa: E402
from gradcorr.workflow.runtime import setup_logging  # noqa: E402

setup_logging(snakemake.log[0])
faithfulness_tables(list(snakemake.input.scores), list(snakemake.input.models), list(snakemake.input.dna),
                    dict(snakemake.output), paper_table=snakemake.params.paper_table)
