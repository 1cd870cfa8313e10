"""Snakemake adapter: fetch a genome FASTA (md5-verified: the config's md5, else the host's md5sum.txt) and
index it for pyfaidx."""
import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../src")

from gradcorr.data.download import fetch_genome  # noqa: E402
from gradcorr.workflow.runtime import setup_logging  # noqa: E402

setup_logging(snakemake.log[0])
fetch_genome(
    snakemake.params.source["url"], snakemake.output.fasta, md5=snakemake.params.source["md5"],
    allowed_hosts=snakemake.params.allowed_hosts, retries=snakemake.params.retries,
)
