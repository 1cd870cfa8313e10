"""Figures of the consistency study: the numbers each figure draws."""

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from gradcorr.correction import correct
from gradcorr.data.io import attribution_arrays, read_attributions, read_tsv, write_arrays, write_tsv
from gradcorr.data.synthetic import write_dataset
from gradcorr.kld import attributed_kmer_counts, kmer_counts
from gradcorr.metrics import grad_times_input, information_content
from gradcorr.studies.consistency import consistency_figures, highlighted
from gradcorr.studies.consistency_plots import (
    fig_aupr_snr,
    fig_saliency_logos,
    fig_sensitivity,
    fig_snr_kld,
    truth_span,
)

SETTINGS = {"kmer": {"k": 3, "percentile": 90.0, "buffer": 2},
            "attr_mean": {"window": 3, "percentile": 90.0, "bin_width": 0.1, "prior_width": 0.5,
                          "top_fraction": 0.1, "prior_range": 3}}


def models_table():
    return pd.DataFrame({"model": ["m0", "m1", "m2", "m3"], "regularizer": ["none", "mixup", "none", "mixup"],
                         "activation": ["exp", "exp", "relu", "relu"], "test_auroc": [0.9, 0.8, 0.95, 0.6],
                         "test_aupr": [0.85, 0.7, 0.9, 0.55],
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


def test_fig4_draws_aupr_against_snr_for_every_model():
    models = models_table()
    fig, points = fig_aupr_snr(models, ("m0", "m2"), method="saliency")
    pd.testing.assert_frame_equal(points[["model", "test_aupr", "snr", "passed"]],
                                  models[["model", "test_aupr", "snr", "passed"]])
    assert points["label"].tolist() == ["Model 1", "", "Model 2", ""]
    ax = fig.axes[0]
    drawn = np.concatenate([c.get_offsets() for c in ax.collections])
    assert sorted(map(tuple, drawn)) == sorted(zip(models["test_aupr"], models["snr"]))
    hollow = [c.get_offsets().tolist() for c in ax.collections if len(c.get_facecolors()) == 0]
    assert hollow == [[[0.55, 0.1]]]  # m3 fails the filter
    assert {t.get_text(): t.xy for t in ax.texts} == {"Model 1": (0.85, 1.0), "Model 2": (0.9, 0.7)}
    plt.close(fig)


def attributed(names, n=5, length=60, seed=0):
    """Attribution files' contents (read_attributions) of models `names` on the same planted sequences:
    a motif (PWM columns) at 20..27, random raw maps."""
    rng = np.random.default_rng(seed)
    truth = np.full((n, 4, length), 0.25)
    truth[:, :, 20:28] = rng.dirichlet(np.full(4, 0.3), (n, 8)).transpose(0, 2, 1)
    truth[:, :, 20] = [0.0, 1.0, 0.0, 0.0]  # 2 bits: the span starts there whatever the draws
    truth[:, :, 27] = [0.0, 0.0, 0.0, 1.0]
    x = np.eye(4)[rng.integers(0, 4, (n, length))].transpose(0, 2, 1)
    index = np.arange(10, 10 + 2 * n, 2)
    return {name: {"index": index, "x": x, "ground_truth": truth, "raw": rng.normal(size=x.shape)} for name in names}


def glyph_heights(ax: plt.Axes) -> dict[int, float]:
    """Position -> summed signed height of the logo's letters on `ax` (logomaker draws a letter as a
    PathPatch in data coordinates, from its floor to its ceiling, below zero for a negative value, none
    for a zero)."""
    heights: dict[int, float] = {}
    for patch in ax.patches:
        box = patch.get_path().get_extents()
        position = round((box.x0 + box.x1) / 2)
        heights[position] = heights.get(position, 0.0) + (box.y1 - box.y0) * np.sign(box.y0 + box.y1)
    return heights


def test_fig2g_logos_are_grad_times_input_of_both_maps_under_the_ground_truth():
    chosen = attributed(["m_best", "m_worst"])
    fig, numbers = fig_saliency_logos(chosen, method="saliency")
    assert truth_span(information_content(chosen["m_best"]["ground_truth"])[0]) == (15, 33)  # 20..27, 5 either side
    assert numbers["row"].unique().tolist() == [0, 1, 2] and numbers["index"].unique().tolist() == [10, 12, 14]
    assert numbers.groupby("row")["position"].agg(["min", "max"]).to_numpy().tolist() == [[15, 32]] * 3
    assert len(fig.axes) == 3 * 5  # per sequence: truth, Model 1 raw and corrected, Model 2 raw and corrected
    x, truth = chosen["m_best"]["x"], chosen["m_best"]["ground_truth"]
    info = information_content(truth)
    for row in range(3):
        mine = numbers[numbers["row"] == row]
        block = fig.axes[5 * row:5 * row + 5]
        positions = mine["position"].to_numpy()
        drawn = glyph_heights(block[0])  # truth: M x information, stacked; background blank
        assert set(drawn) == set(range(20, 28))
        np.testing.assert_allclose([drawn[p] for p in range(20, 28)], info[row, 20:28], rtol=1e-9)
        np.testing.assert_allclose(mine[[f"truth_{a}" for a in "ACGT"]].to_numpy().T,
                                   (truth[row] * info[row])[:, positions] * (info[row, positions] > 1e-6))
        assert "".join(mine["base"]) == "".join(np.array(list("ACGT"))[x[row].argmax(axis=0)][positions])
        for number, name in enumerate(chosen, start=1):
            raw = chosen[name]["raw"]
            for ax, kind, attr in zip(block[2 * number - 1:2 * number + 1], ("raw", "corrected"), (raw, correct(raw))):
                expected = grad_times_input(attr, x)[row, positions]
                np.testing.assert_allclose(mine[f"{name}_{kind}"], expected, atol=1e-12)
                drawn = glyph_heights(ax)
                np.testing.assert_allclose([drawn[p] for p in positions], expected, atol=1e-9)
                assert ax.get_title(loc="left").startswith(f"Model {number} ({name}): {kind}")
                assert ax.get_xlim() == (14.5, 32.5)
    plt.close(fig)
    other = attributed(["m_best", "m_worst"])
    other["m_worst"]["index"] = other["m_worst"]["index"] + 1
    with pytest.raises(ValueError, match="m_worst: attributed on other sequences"):
        fig_saliency_logos(other, method="saliency")


def test_truth_span_pads_and_clips():
    info = np.zeros(50)
    assert truth_span(info) == (0, 50)
    info[[2, 30]] = 1.0
    assert truth_span(info) == (0, 36)
    info[[2, 30]], info[[45, 48]] = 0.05, 0.5  # below the threshold; near the end
    assert truth_span(info) == (40, 50)


def test_figures_stage_draws_the_highlighted_models(tmp_path):
    names = ["a_0", "b_0", "c_0", "d_0"]
    contents = attributed(names, n=6, length=60, seed=1)
    models = models_table().assign(model=names, method="saliency", batchnorm=True, dropout=0.1)
    write_tsv(models, tmp_path / "models_saliency.tsv")
    attributions, sensitivity = [], []
    for name, d in contents.items():
        attributions.append(tmp_path / f"{name}.saliency.h5")
        write_arrays(attributions[-1], attribution_arrays(d["index"], d["x"], "saliency", d["raw"], d["ground_truth"]),
                     {"model": name, "method": "saliency"})
        sensitivity.append(tmp_path / f"{name}.saliency.tsv")
        write_tsv(pd.DataFrame({"metric": "kld_kmer", "parameter": "k", "value": [3, 4], "kld": [0.5, 0.6],
                                "model": name, "method": "saliency"}), sensitivity[-1])
    x = contents["a_0"]["x"]
    write_dataset(tmp_path / "data.h5",
                  {"x_test": x, "y_test": np.ones(len(x)), "model_test": contents["a_0"]["ground_truth"]})
    figs = ["fig2", "fig2g", "fig4", "fig6"]
    out = {**{f: tmp_path / f"{f}.png" for f in figs}, **{f"{f}_pdf": tmp_path / f"{f}.pdf" for f in figs},
           **{f"{f}_tsv": tmp_path / f"{f}.tsv" for f in figs}}
    consistency_figures({"saliency": tmp_path / "models_saliency.tsv"}, attributions, sensitivity, tmp_path / "data.h5",
                        out, methods=["saliency"], settings=SETTINGS)
    best, worst = highlighted(models)
    assert (best, worst) == ("a_0", "b_0")  # of the passing a, b, c (d fails), the highest and lowest SNR
    logos = read_tsv(out["fig2g_tsv"])
    assert [c for c in logos.columns if c.endswith(("_raw", "_corrected"))] == [
        "a_0_raw", "a_0_corrected", "b_0_raw", "b_0_corrected"]
    d = read_attributions(attributions[1], "saliency")  # b_0: Model 2, as written (float32)
    first = logos[logos["row"] == 0]
    np.testing.assert_allclose(first["b_0_corrected"],
                               grad_times_input(correct(d["raw"].astype(float)), d["x"])[0, first["position"]],
                               rtol=1e-5, atol=1e-6)
    points = read_tsv(out["fig4_tsv"])
    assert points.set_index("model")["label"].fillna("").to_dict() == {"a_0": "Model 1", "b_0": "Model 2", "c_0": "",
                                                                       "d_0": ""}
    np.testing.assert_allclose(points["test_aupr"], models["test_aupr"])
    for f in figs:
        assert out[f].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out[f"{f}_pdf"].read_bytes()[:4] == b"%PDF"
