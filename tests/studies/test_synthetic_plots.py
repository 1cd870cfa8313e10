"""Figures of the synthetic study: the panels each one draws, on maps with a known ground truth."""

import matplotlib.pyplot as plt
import numpy as np
from random_maps import BACKGROUND as BG
from random_maps import random_maps

from gradcorr import angles
from gradcorr.ensemble_difference import ensemble_average
from gradcorr.studies import synthetic_plots


def test_logo_window_rule():
    gt = np.full((4, 300), BG)
    gt[:, 150:160] = np.eye(4)[:, [0, 1, 2, 3, 0, 1, 2, 3, 0, 1]]
    gt[:, 20:22] = np.eye(4)[:, :2]  # a smaller motif that no 100-window can hold with the big one
    assert synthetic_plots.logo_window(gt, 100) == (60, 160)  # leftmost window holding 150-159
    assert synthetic_plots.logo_window(gt, 400) == (0, 300)


def test_figures_run_and_have_expected_axes():
    a, b = random_maps(7, 60, seed=2), random_maps(5, 60, seed=3)
    sa, sb = angles.model_angle_summary(*a), angles.model_angle_summary(*b)
    by_type = {"cnn_deep_exp": angles.combine_summaries([sa, sb]), "cnn_shallow_relu": sa}
    fig = synthetic_plots.fig_angle_analysis(by_type)
    assert len(fig.axes) == 8
    plt.close(fig)
    fig = synthetic_plots.fig_large_angles(by_type)
    assert len(fig.axes) == 2
    plt.close(fig)
    single = {k: s["angle_hist_all"] for k, s in by_type.items()}
    ens = {k: angles.angle_histogram(ensemble_average([a[0][:5], b[0]])) for k in by_type}
    fig = synthetic_plots.fig_ensemble_angles(single, ens)
    assert len(fig.axes) == 2
    plt.close(fig)
    fig = synthetic_plots.fig_sequence_logos(*a, index=int(sa["representative"]), window=30, model="CNN-deep-exp",
                                             sequence_label=17)
    assert len(fig.axes) == 4
    assert fig.axes[0].get_xlim() == fig.axes[3].get_xlim()
    assert "sequence 17" in fig._suptitle.get_text()
    plt.close(fig)
