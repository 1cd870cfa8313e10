"""Snakemake adapter: TF-MoDISco (modisco-lite) on one exported map kind."""
import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../src")

import numba  # noqa: E402

from gradcorr.studies.motifs import run_modisco  # noqa: E402
from gradcorr.workflow.runtime import setup_logging  # noqa: E402

setup_logging(snakemake.log[0])
numba.set_num_threads(min(snakemake.threads, numba.config.NUMBA_NUM_THREADS))
run_modisco(snakemake.input.ohe, snakemake.input.maps, snakemake.output[0], dict(snakemake.params.modisco))
