"""The model-selection figure: one column per group, one row of heat maps and one per selector."""

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from gradcorr.studies import selection, selection_plots


def test_figure_has_a_panel_per_group_and_selector_and_stars_the_pick():
    points = pd.DataFrame({"model_type": ["cnn_deep_exp"] * 4 + ["cnn_deep_relu"],
                           "model": ["a", "b", "c", "d", "e"], "kld_kmer": [1.0, 2.0, 3.0, 4.0, 1.0],
                           "cosine_corrected": [0.1, 0.2, 0.3, 0.4, np.nan]})
    corr = selection.rank_correlations(points, group="model_type", selectors=["kld_kmer"],
                                       scores=["cosine_corrected"], pooled=True)
    fig = selection_plots.fig_model_selection(corr, points, group="model_type", selectors=["kld_kmer"],
                                              scores=["cosine_corrected"], score="cosine_corrected", top_k=2,
                                              title="t")
    panels = [ax for ax in fig.axes if ax.get_label() != "<colorbar>"]
    assert len(panels) == 2 * 3  # heat map and scatter for deep-exp, deep-relu and all
    heat = panels[0]
    assert [t.get_text() for t in heat.texts] == ["1.00"]  # rho of a monotone KLD
    assert [t.get_text() for t in panels[1].texts] == ["n/a"]  # one model
    legend = panels[3].get_legend()  # deep-exp scatter: the pick is d, the best of four
    assert legend is not None and "rank 1 of 4" in legend.get_texts()[1].get_text()
    assert [t.get_text() for t in panels[4].texts] == ["no models"]  # deep-relu: its only cosine is NaN
    plt.close(fig)
