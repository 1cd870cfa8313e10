"""The DiffROAR study's figures: what they draw is the tables' numbers."""

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from gradcorr.data.io import read_tsv, write_tsv
from gradcorr.studies import diffroar as study
from gradcorr.studies import diffroar_plots

FRACTIONS = (0.1, 0.3, 0.5)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _diffroar_table():
    """Saliency and smoothgrad, raw and corrected, of one model type in two regimes; the random baseline once
    (regime "any") and the input-agnostic one per regime; every value distinct, the rows shuffled."""
    rows = []
    units = [(regime, method, kind) for regime in ("noise", "standard") for method in ("saliency", "smoothgrad")
             for kind in ("raw", "corrected")]
    units += [(study.ANY_REGIME, study.RANDOM, "baseline")]
    units += [(regime, study.INPUT_AGNOSTIC, "baseline") for regime in ("standard", "noise")]
    for i, (regime, method, kind) in enumerate(units):
        for j, fraction in enumerate(FRACTIONS):
            rows.append({"model_type": "cnn_shallow_exp", "regime": regime, "method": method, "kind": kind,
                         "fill": "zeros", "fraction": fraction, "diffroar_auroc": 0.01 * (10 * i + j) - 0.2,
                         "diffroar_sd_auroc": 0.001 * (i + 1) if j else np.nan,
                         "diffroar_accuracy": -0.01 * (10 * i + j), "diffroar_sd_accuracy": 0.002, "pairs": 2})
    return pd.DataFrame(rows).sample(frac=1, random_state=1).reset_index(drop=True)


def _drawn(ax):
    """{label: (x, y)} of the error-bar curves of an axis."""
    return {c.get_label(): tuple(np.asarray(v, float) for v in c.lines[0].get_data()) for c in ax.containers}


def test_fig_diffroar_draws_the_tables_curves_and_baselines():
    table = _diffroar_table()
    fig, numbers = diffroar_plots.fig_diffroar(table, "zeros")
    assert list(numbers.columns) == diffroar_plots.CURVE_COLUMNS
    assert len(fig.axes) == 2 * 2  # (standard, noise) x (saliency, smoothgrad)
    panels = list(dict.fromkeys(numbers["panel"]))
    methods = list(dict.fromkeys(table.loc[table["kind"] != "baseline", "method"]))  # as they come
    assert sorted(methods) == ["saliency", "smoothgrad"]
    assert panels == [f"cnn_shallow_exp/{r}/{m}" for r in ("standard", "noise") for m in methods]
    assert len(numbers) == len(panels) * 4 * len(FRACTIONS)
    for ax, panel in zip(fig.axes, panels):
        _, regime, method = panel.split("/")
        drawn = _drawn(ax)
        assert set(drawn) == {"raw", "corrected", "random", "input-agnostic"}
        for (label, source_method, source_regime, kind) in (
                ("raw", method, regime, "raw"), ("corrected", method, regime, "corrected"),
                ("random", study.RANDOM, study.ANY_REGIME, "baseline"),
                ("input-agnostic", study.INPUT_AGNOSTIC, regime, "baseline")):
            want = table[(table["method"] == source_method) & (table["regime"] == source_regime)
                         & (table["kind"] == kind)].sort_values("fraction")
            got = numbers[(numbers["panel"] == panel) & (numbers["method"] == source_method)
                          & (numbers["kind"] == kind)]
            np.testing.assert_allclose(got["fraction"], FRACTIONS)
            np.testing.assert_allclose(got["diffroar"], want["diffroar_auroc"])
            np.testing.assert_allclose(got["sd"], want["diffroar_sd_auroc"])  # NaN where the table has NaN
            np.testing.assert_allclose(drawn[label][0], FRACTIONS)
            np.testing.assert_allclose(drawn[label][1], want["diffroar_auroc"])
    _, by_accuracy = diffroar_plots.fig_diffroar(table, "zeros", metric="accuracy")
    raw = by_accuracy[(by_accuracy["panel"] == panels[0]) & (by_accuracy["kind"] == "raw")]
    want = table[(table["regime"] == "standard") & (table["method"] == "saliency") & (table["kind"] == "raw")]
    np.testing.assert_allclose(raw["diffroar"], want.sort_values("fraction")["diffroar_accuracy"])


def test_fig_diffroar_without_maps_says_so():
    table = _diffroar_table()
    for empty in (table[table["kind"] == "baseline"], table.iloc[:0]):
        fig, numbers = diffroar_plots.fig_diffroar(empty, "uniform")
        assert numbers.empty and list(numbers.columns) == diffroar_plots.CURVE_COLUMNS
        assert len(fig.axes) == 1 and not fig.axes[0].lines
        assert "uniform" in " ".join(t.get_text() for t in fig.axes[0].texts)


def _leakage_table():
    rows = []
    for model_type in ("cnn_shallow_exp", "cnn_deep_relu"):
        for placement in ("random", "fixed"):
            for regime in ("adversarial", "standard"):  # drawn in the study's order, not the table's
                for method in ("saliency", "smoothgrad"):
                    for kind in ("raw", "corrected"):
                        i = len(rows)
                        rows.append({"placement": placement, "model_type": model_type, "regime": regime,
                                     "method": method, "kind": kind, "null_share": 0.1 + 0.01 * i,
                                     "null_share_sd": 0.001 * i if i % 5 else np.nan, "null_motif_share": 0.05,
                                     "accuracy": 0.9, "models": 2})
    return pd.DataFrame(rows)


def test_fig_leakage_draws_the_tables_shares():
    table = _leakage_table()
    fig, numbers = diffroar_plots.fig_leakage(table)
    assert list(numbers.columns) == diffroar_plots.BAR_COLUMNS
    assert len(numbers) == len(table)
    key = ["panel", "regime", "method", "kind"]
    want = table.assign(panel=table["model_type"] + "/" + table["placement"]).set_index(key).sort_index()
    got = numbers.set_index(key).sort_index()
    assert got.index.equals(want.index)
    np.testing.assert_allclose(got["null_share"], want["null_share"])
    np.testing.assert_allclose(got["sd"], want["null_share_sd"])
    panels = list(dict.fromkeys(numbers["panel"]))
    assert len(panels) == len(fig.axes) == 4
    for ax, panel in zip(fig.axes, panels):
        part = numbers[numbers["panel"] == panel]
        assert list(dict.fromkeys(part["regime"])) == ["standard", "adversarial"]
        assert [t.get_text() for t in ax.get_xticklabels()] == ["standard", "adversarial"]
        heights = [p.get_height() for p in ax.patches]
        np.testing.assert_allclose(heights, part["null_share"])


def test_fig_leakage_without_numbers_says_so():
    fig, numbers = diffroar_plots.fig_leakage(_leakage_table().iloc[:0])
    assert numbers.empty and list(numbers.columns) == diffroar_plots.BAR_COLUMNS
    assert len(fig.axes) == 1 and not fig.axes[0].patches and fig.axes[0].texts


def test_diffroar_figures_write_the_numbers_drawn(tmp_path):
    table = _diffroar_table()
    uniform = table.assign(fill="uniform", diffroar_auroc=table["diffroar_auroc"] + 1)
    tables = {"diffroar": tmp_path / "diffroar.tsv", "leakage": tmp_path / "leakage.tsv"}
    write_tsv(pd.concat([table, uniform], ignore_index=True), tables["diffroar"])
    write_tsv(_leakage_table(), tables["leakage"])
    out = {}
    for name in ("zeros", "uniform", "leakage"):
        out.update({name: tmp_path / f"{name}.png", f"{name}_pdf": tmp_path / f"{name}.pdf",
                    f"{name}_tsv": tmp_path / f"{name}.tsv"})
    study.diffroar_figures(tables, out)
    assert all(path.stat().st_size > 0 for path in out.values())
    for fill, source in (("zeros", table), ("uniform", uniform)):
        curves = read_tsv(out[f"{fill}_tsv"])
        _, want = diffroar_plots.fig_diffroar(source, fill)
        np.testing.assert_allclose(curves["diffroar"], want["diffroar"], rtol=1e-5)
    assert read_tsv(out["uniform_tsv"])["diffroar"].min() > 0.5  # the uniform fill's own rows
    bars = read_tsv(out["leakage_tsv"])
    np.testing.assert_allclose(np.sort(bars["null_share"]), np.sort(_leakage_table()["null_share"]), rtol=1e-5)
