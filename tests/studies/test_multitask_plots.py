"""The multi-task study's figures: what each draws (its table of numbers) and the empty cases."""

import numpy as np
import pandas as pd
import pytest

from gradcorr.angles import ANGLE_EDGES
from gradcorr.studies.multitask_plots import fig11, fig_task_angles, fig_task_interpretability


def histograms(activation: str, rng: np.random.Generator) -> tuple[dict, dict]:
    attrs = {"activation": activation, "trial": 0, "method": "saliency", "task_names": ["a", "b", "c"]}
    arrays = {"edges": ANGLE_EDGES, "top_class": np.array(2), "hist_top_class": rng.integers(0, 50, 180),
              "hist_task": rng.integers(0, 50, (3, 180))}
    arrays["hist_task"][1] = 0  # a task without positives draws nothing, and its shares are 0
    return attrs, arrays


def test_fig11_draws_each_histogram_as_shares_of_its_positions():
    rng = np.random.default_rng(0)
    fig, numbers = fig11([histograms("relu", rng), histograms("exp", rng)], "saliency")
    assert len(fig.axes) == 4
    assert fig.axes[0].get_title().startswith("exponential")  # exp first, as in the paper
    shares = numbers.groupby(["activation", "panel", "task"])["density"].sum()
    np.testing.assert_allclose(shares.drop(1, level="task"), 1.0)
    np.testing.assert_allclose(shares.xs(1, level="task"), 0.0)
    assert set(numbers["panel"]) == {"top_class", "tasks"} and len(numbers) == 2 * 4 * 180


@pytest.mark.parametrize("draw", [fig_task_angles, fig_task_interpretability])
def test_empty_tables_give_a_message_figure(draw):
    fig, numbers = draw(pd.DataFrame())
    assert numbers.empty and len(fig.axes) == 1 and not fig.axes[0].axison


def test_task_figures_draw_every_task_of_every_model():
    angles = pd.DataFrame([{"activation": a, "trial": 0, "method": "saliency", "task": t, "task_name": f"t{t}",
                            "n": 10, "mean_abs_angle": 20 + t, "sd_abs_angle": 2.0, "kruskal_h": 3.0,
                            "kruskal_p": 0.2} for a in ("exp", "relu") for t in range(4)])
    _, numbers = fig_task_angles(angles)
    assert len(numbers) == 8 and numbers["mean_abs_angle"].tolist()[:4] == [20, 21, 22, 23]
    quality = pd.DataFrame([{"activation": "exp", "trial": 0, "method": "saliency", "task": t, "task_name": f"t{t}",
                             "auroc_raw": 0.7, "auroc_corrected": 0.75} for t in range(4)])
    _, numbers = fig_task_interpretability(quality)
    assert len(numbers) == 8 and numbers.groupby("kind")["auroc"].mean().to_dict() == {"corrected": 0.75, "raw": 0.7}
