"""Figures of the angle-training study: one panel group per model type, the numbers they draw, and a figure that
says what is missing when the run lacks the arms."""

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from gradcorr.angles import ANGLE_EDGES
from gradcorr.studies.angle_training import SCORES, arm_settings, arm_table, comparison_table, sweep_table
from gradcorr.studies.angle_training_plots import fig_angle_penalty, fig_comparison, fig_init_sweep
from gradcorr.studies.plotting import model_type_label

TYPES = ("cnn_deep_relu", "cnn_shallow_exp")
ARMS = ("he_normal", "sigma0.01", "sigma0.1", "sigma1", "lambda0.01", "lambda1e-05", "projected", "projected_init")


def models_frame(types=TYPES, arms=ARMS, trials=3, seed=0):
    """Rows as `model_table` makes them (random scores), for `arm_table`."""
    rng = np.random.default_rng(seed)
    rows = [{"model": f"{t}_{a}_{i}", "model_type": t, "arm": a, "trial": i, **arm_settings(a), "failed": "",
             **{s: rng.uniform(0.5, 1.0) for s in SCORES}}
            for t in types for a in arms for i in range(trials)]
    return pd.DataFrame(rows)


def histograms_frame(arms_table):
    """A random density over the angle bins for every model type and arm."""
    rng = np.random.default_rng(1)
    frames = []
    for t, a in zip(arms_table["model_type"], arms_table["arm"]):
        h = rng.uniform(size=len(ANGLE_EDGES) - 1)
        frames.append(pd.DataFrame({"model_type": t, "arm": a, "angle_lo": ANGLE_EDGES[:-1],
                                    "angle_hi": ANGLE_EDGES[1:], "density": h / h.sum()}))
    return pd.concat(frames, ignore_index=True)


@pytest.fixture(scope="module")
def arms():
    return arm_table(models_frame())


def is_message(fig, words):
    """The figure is a single axis, switched off, with one text holding `words`."""
    (ax,) = fig.axes
    return not ax.axison and len(ax.texts) == 1 and words in ax.texts[0].get_text()


def test_init_sweep_draws_one_panel_per_model_type(arms):
    init = sweep_table(arms, "init_sigma")
    fig = fig_init_sweep(init)
    assert isinstance(fig, plt.Figure)
    assert len(fig.axes) == 2 * len(TYPES)  # a panel and its twin (angle SD) per model type
    panels, twins = fig.axes[:len(TYPES)], fig.axes[len(TYPES):]
    for ax, twin, model_type in zip(panels, twins, TYPES):
        assert ax.get_title() == model_type_label(model_type) and ax.get_xscale() == "log"
        mine = init[(init["model_type"] == model_type)]
        sweep, reference = mine[mine["init_sigma"].notna()], mine[mine["arm"] == "he_normal"]
        curve, dashed = ax.lines
        np.testing.assert_allclose(curve.get_xdata(), [0.01, 0.1, 1.0])
        np.testing.assert_allclose(curve.get_ydata(), sweep["test_auroc_mean"])
        np.testing.assert_allclose(dashed.get_ydata(), reference["test_auroc_mean"].item())
        curve, dashed = twin.lines
        np.testing.assert_allclose(curve.get_ydata(), sweep["angle_sd_all_mean"])
        np.testing.assert_allclose(dashed.get_ydata(), reference["angle_sd_all_mean"].item())
    plt.close(fig)


def test_angle_penalty_draws_three_rows_per_model_type(arms):
    penalty = sweep_table(arms, "angle_lambda")
    histograms = histograms_frame(penalty)
    fig = fig_angle_penalty(penalty, histograms)
    assert isinstance(fig, plt.Figure)
    n = len(TYPES)
    assert len(fig.axes) == 3 * n + n  # AUROC (with its twin), interpretability, angle distributions
    for j, model_type in enumerate(TYPES):
        top, middle, bottom = fig.axes[j], fig.axes[n + j], fig.axes[2 * n + j]
        assert top.get_title() == model_type_label(model_type)
        mine = penalty[penalty["model_type"] == model_type]
        assert mine["angle_lambda"].tolist() == [0.0, 1e-5, 1e-2]
        np.testing.assert_allclose(top.lines[0].get_ydata(), mine["test_auroc_mean"])
        np.testing.assert_allclose(fig.axes[3 * n + j].lines[0].get_ydata(), mine["angle_sd_all_mean"])
        assert [t.get_text() for t in top.get_xticklabels()] == ["0", "1e-05", "0.01"]
        np.testing.assert_allclose(middle.lines[0].get_ydata(), mine["cosine_raw_mean"])
        assert [line.get_label() for line in bottom.lines] == ["0", "1e-05", "0.01"]
        for line, arm in zip(bottom.lines, mine["arm"]):
            h = histograms[(histograms["model_type"] == model_type) & (histograms["arm"] == arm)]
            np.testing.assert_allclose(line.get_xdata(), ANGLE_EDGES[:-1] + 0.5)
            np.testing.assert_allclose(line.get_ydata(), h["density"])
    plt.close(fig)


def test_comparison_draws_four_panels_per_model_type(arms):
    comparison = comparison_table(arms)
    fig = fig_comparison(comparison)
    assert isinstance(fig, plt.Figure)
    assert len(fig.axes) == 4 * len(TYPES)
    for i, model_type in enumerate(TYPES):
        row = fig.axes[4 * i:4 * i + 4]
        assert row[0].get_ylabel() == model_type_label(model_type)
        mine = comparison[comparison["model_type"] == model_type]
        assert len(mine) == 4
        np.testing.assert_allclose([p.get_height() for p in row[0].patches], mine["test_auroc_mean"])
        np.testing.assert_allclose([p.get_height() for p in row[1].patches], mine["angle_sd_all_mean"])
        np.testing.assert_allclose([p.get_height() for p in row[2].patches],
                                   [*mine["cosine_raw_mean"], *mine["cosine_corrected_mean"]])
        np.testing.assert_allclose([p.get_height() for p in row[3].patches],
                                   [*mine["aupr_raw_mean"], *mine["aupr_corrected_mean"]])
    plt.close(fig)


def test_each_figure_says_what_is_missing_when_its_arms_are_absent(arms):
    reference_only = arms[arms["arm"] == "he_normal"]
    figures = [(fig_init_sweep(sweep_table(reference_only, "init_sigma")), "no initialisation arms"),
               (fig_angle_penalty(sweep_table(reference_only, "angle_lambda"), histograms_frame(reference_only)),
                "no angle-penalty arms"),
               (fig_comparison(comparison_table(arms[arms["arm"].str.startswith("sigma")])), "no arms to compare")]
    for fig, words in figures:
        assert isinstance(fig, plt.Figure) and is_message(fig, words)
        plt.close(fig)
    fig = fig_init_sweep(sweep_table(arms, "init_sigma"))  # with its arms, no message
    assert not any(ax.texts for ax in fig.axes)
    plt.close(fig)
