"""Figures of the consistency study: the numbers each figure draws."""

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from gradcorr.kld import attributed_kmer_counts, kmer_counts
from gradcorr.studies.consistency_plots import fig_sensitivity, fig_snr_kld

SETTINGS = {"kmer": {"k": 3, "percentile": 90.0, "buffer": 2},
            "attr_mean": {"window": 3, "percentile": 90.0, "bin_width": 0.1, "prior_width": 0.5,
                          "basis": "orthonormal"}}


def models_table():
    return pd.DataFrame({"model": ["m0", "m1", "m2", "m3"], "regularizer": ["none", "mixup", "none", "mixup"],
                         "activation": ["exp", "exp", "relu", "relu"], "test_auroc": [0.9, 0.8, 0.95, 0.6],
                         "snr": [1.0, 0.4, 0.7, 0.1], "kld_kmer": [1.2, 0.5, 0.9, 0.2],
                         "kld_attr_mean": [0.8, 0.3, 0.6, 0.1], "passed": [True, True, True, False]})


def test_fig2_draws_the_attributed_kmer_frequencies_against_the_prior():
    rng = np.random.default_rng(0)
    x = np.eye(4)[rng.integers(0, 4, (30, 50))].transpose(0, 2, 1)
    chosen = {name: {"raw": rng.normal(size=x.shape), "x": x} for name in ("m0", "m2")}
    fig, freq = fig_snr_kld(models_table(), chosen, x, method="saliency", settings=SETTINGS)
    assert len(fig.axes) >= 6 and len(freq) == 64 and list(freq.columns) == ["kmer", "prior", "m0", "m2"]
    prior = kmer_counts(x, 3)
    np.testing.assert_allclose(freq["prior"], prior / prior.sum())
    counts = attributed_kmer_counts(chosen["m2"]["raw"], x, **SETTINGS["kmer"])
    np.testing.assert_allclose(freq["m2"], counts / counts.sum())
    plt.close(fig)


def test_fig6_means_are_over_the_models_that_pass():
    models = models_table()
    sweep = pd.DataFrame([{"model": m, "metric": "kld_kmer", "parameter": "k", "value": k, "kld": kld}
                          for m, kld in zip(models["model"], [1.0, 2.0, 4.0, 100.0]) for k in (3, 6)])
    sweep = sweep.merge(models[["model", "regularizer", "activation", "passed"]].assign(batchnorm=True), on="model")
    fig, means = fig_sensitivity(sweep, method="saliency")
    relu_none = means[(means["activation"] == "relu") & (means["regularizer"] == "none")]
    assert relu_none["mean"].tolist() == [4.0, 4.0] and relu_none["count"].tolist() == [1, 1]
    assert not ((means["activation"] == "relu") & (means["regularizer"] == "mixup")).any()  # m3 fails the filter
    assert means["count"].sum() == 3 * 2
    assert len(fig.axes) == 2 * 3
    plt.close(fig)
    assert pytest.approx(means.loc[means["regularizer"] == "mixup", "mean"].tolist()) == [2.0, 2.0]
