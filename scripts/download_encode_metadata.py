"""Snakemake adapter: fetch the ENCODE metadata (JSON) of one file accession."""
import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../src")

from gradcorr.data.encode import fetch_encode_metadata  # noqa: E402
from gradcorr.workflow.runtime import setup_logging  # noqa: E402

setup_logging(snakemake.log[0])
fetch_encode_metadata(
    snakemake.wildcards.accession, snakemake.output[0], base_url=snakemake.params.base_url,
    allowed_hosts=snakemake.params.allowed_hosts, retries=snakemake.params.retries,
)
