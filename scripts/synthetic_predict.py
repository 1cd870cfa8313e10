"""Snakemake adapter: the test outputs of one model type's models (all at once, or one), for every method's job."""
import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../src")

from gradcorr.studies.synthetic import predict_synthetic_models  # noqa: E402
from gradcorr.workflow.runtime import setup_logging  # noqa: E402

setup_logging(snakemake.log[0])
predict_synthetic_models(
    snakemake.input.data, list(snakemake.input.models), snakemake.output[0], engine=snakemake.params.engine,
    device=snakemake.params.device, threads=snakemake.threads,
)
