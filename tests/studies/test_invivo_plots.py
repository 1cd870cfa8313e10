"""Figures of the in vivo study: the sequence and window the logos show, and the dashed synthetic means of Fig. 4b."""

import numpy as np
import pandas as pd
from matplotlib.collections import LineCollection

from gradcorr.studies.invivo_plots import attribution_window, fig_invivo_large_angles, representative_row


def test_representative_row_and_logo_window():
    assert representative_row(np.array([5.0, np.nan, 1.0, 3.0, 9.0])) == 3  # lower median of 1, 3, 5, 9
    assert representative_row(np.array([np.nan, np.nan])) == 0
    x = np.zeros((4, 50))
    x[0] = 1
    ens = np.zeros((4, 50))
    ens[0, 30:34] = 1.0  # the attributed positions: the window must cover them
    start, stop = attribution_window(ens, x, 10)
    assert stop - start == 10 and start <= 30 and 34 <= stop
    assert attribution_window(ens, x, 80) == (0, 50)


def test_fig4b_draws_the_synthetic_means_as_dashed_lines():
    large = pd.DataFrame({"source": ["A", "B"], "percent_above_30": [30.0, 35.0], "percent_above_45": [12.0, 14.0]})
    synthetic = pd.DataFrame([{"source": "synthetic", "percent_above_30": 33.0, "percent_above_45": 17.5}])
    ax = fig_invivo_large_angles(large, synthetic, "cnn_deep_relu").axes[0]
    levels = sorted({float(seg[0][1]) for c in ax.collections if isinstance(c, LineCollection)
                     for seg in c.get_segments()})
    assert levels == [17.5, 33.0]
    assert not [c for c in fig_invivo_large_angles(large, None, "cnn_deep_relu").axes[0].collections
                if isinstance(c, LineCollection)]
