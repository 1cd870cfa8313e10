"""Figures of the TF-MoDISco stage: PPMs in bits, and the per-pattern logo grid."""

import matplotlib.pyplot as plt
import numpy as np
import pytest

from gradcorr.studies.motifs_plots import fig_pattern_logos
from gradcorr.studies.plotting import save_figure


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _cwm(scores: list[float]) -> np.ndarray:
    """A (W, 4) CWM whose summed |CWM| per position is `scores`, split over two signed columns."""
    cwm = np.zeros((len(scores), 4))
    cwm[:, 0] = 0.75 * np.asarray(scores)
    cwm[:, 2] = -0.25 * np.asarray(scores)
    return cwm


def _patterns() -> list[dict]:
    rng = np.random.default_rng(0)
    ppm = rng.dirichlet(np.ones(4), size=6)
    one_hot = np.eye(4)[[2, 2, 0, 0, 2, 3]]
    return [
        {"pattern": "pos_patterns.pattern_0", "n_seqlets": 120, "cwm": _cwm([0.1, 0.5, 1.0, 0.2, 0.35, 0.05]),
         "ppm": ppm, "match_name": "GABPA", "match_id": "MA0062.4", "match_q": 1.2e-4, "match_ppm": one_hot},
        {"pattern": "neg_patterns.pattern_0", "n_seqlets": 31, "cwm": -_cwm([0.0, 0.2, 0.9, 0.8, 0.1, 0.0]),
         "ppm": ppm, "match_name": None, "match_id": None, "match_q": None, "match_ppm": None},
    ]


def test_pattern_logos_grid_and_no_match(tmp_path):
    fig = fig_pattern_logos(_patterns(), "CNN-deep-exp, GABPA")
    assert len(fig.axes) == 6
    grid = np.array(fig.axes).reshape(2, 3)
    assert "pos_patterns.pattern_0 (120 seqlets)" in grid[0, 0].get_title(loc="left")
    assert "GABPA" in grid[0, 0].get_title(loc="left") and "q = 0.00012" in grid[0, 0].get_title(loc="left")
    assert "GABPA (MA0062.4)" in grid[0, 2].get_title(loc="left")
    assert grid[0, 0].get_xlim() == (0.5, 4.5)  # the trimmed positions 1-4
    assert [t.get_text() for t in grid[1, 2].texts] == ["no match"]
    assert "no match" not in [t.get_text() for t in grid[0, 2].texts]
    assert grid[1, 0].get_ylim()[0] < 0  # the negative pattern draws below zero
    save_figure(fig, tmp_path / "logos.pdf", tmp_path / "logos.png")
    assert (tmp_path / "logos.png").stat().st_size > 0


def test_pattern_logos_without_patterns(tmp_path):
    fig = fig_pattern_logos([], "nothing found")
    assert len(fig.axes) == 1
    assert any("no pattern" in t.get_text() for t in fig.axes[0].texts)
    save_figure(fig, tmp_path / "empty.pdf", tmp_path / "empty.png")
    assert (tmp_path / "empty.png").stat().st_size > 0
