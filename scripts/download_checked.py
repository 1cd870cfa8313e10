"""Snakemake adapter: fetch one file of a resource table (its url and md5), verifying the md5."""
import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../src")

from gradcorr.data.download import fetch  # noqa: E402
from gradcorr.workflow.runtime import setup_logging  # noqa: E402

setup_logging(snakemake.log[0])
fetch(
    snakemake.params.source["url"], snakemake.output[0], md5=snakemake.params.source["md5"],
    allowed_hosts=snakemake.params.allowed_hosts, retries=snakemake.params.retries,
)
