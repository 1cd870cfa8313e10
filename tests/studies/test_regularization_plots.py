"""Figures of the regularization study: Fig. 1 a-d and the tracking figure draw the numbers they return, from
small frames, and say so when the run has no models."""

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from gradcorr.studies.regularization import TRACKED, checkpoint_table, tracking_table
from gradcorr.studies.regularization_plots import MAX_CURVES, fig_regimes, fig_tracking, regime_label

SETTINGS = {"regularizer": "none", "width": 1, "batch_size": 128, "dropout": 0.1, "learning_rate": 0.001,
            "batchnorm": False, "schedule": "constant"}
SCORES = ("test_auroc", "test_interp_auroc_raw", "test_interp_auroc_corrected", "test_kld_kmer",
          "test_kld_attr_mean", "test_angle_sd", "valid_kld_kmer", "valid_kld_attr_mean", "valid_angle_sd")


def epochs_frame(combinations, trials=3, epochs=6, seed=0):
    """Stacked histories (as `read_histories` gives them) of `combinations` (name -> settings), random scores."""
    rng = np.random.default_rng(seed)
    frames = []
    for name, settings in combinations.items():
        for trial in range(trials):
            frame = pd.DataFrame({"model": f"{name}_{trial}", "combination": name, "trial": trial, **settings,
                                  "epoch": np.arange(epochs + 1),
                                  "val_auroc": [np.nan, *rng.uniform(0.9, 1, epochs)]})
            for score in SCORES:
                frame[score] = rng.uniform(0.5, 1, epochs + 1)
            frames.append(frame)
    return pd.concat(frames, ignore_index=True)


COMBINATIONS = {"std_f1": SETTINGS, "mix_f1": {**SETTINGS, "regularizer": "manifold_mixup"},
                "std_f4_bn": {**SETTINGS, "width": 4, "batchnorm": True, "schedule": "two_phase"}}
BLOCKS = {"table1": ["std_f1", "mix_f1"], "table2": ["std_f4_bn"], "grid": []}


@pytest.fixture(scope="module")
def epochs():
    return epochs_frame(COMBINATIONS)


@pytest.fixture(scope="module")
def models(epochs):
    return checkpoint_table(epochs, tolerance=0.005)


def is_message(fig, words):
    """The figure is a single axis, switched off, with one text holding `words`."""
    (ax,) = fig.axes
    return not ax.axison and len(ax.texts) == 1 and words in ax.texts[0].get_text()


def test_regime_label_names_a_combination_as_the_paper_does():
    assert regime_label(SETTINGS) == "Standard-1 bs128 do0.1 lr0.001"
    assert regime_label(COMBINATIONS["std_f4_bn"]) == "Standard-4 bs128 do0.1 lr0.001 bn 2-phase"
    assert regime_label({**SETTINGS, "regularizer": "manifold_mixup", "batchnorm": "True"}).startswith("Manifold-1")


def test_fig_regimes_draws_every_model_at_both_checkpoints_and_the_mean_curves(models, epochs):
    fig, numbers = fig_regimes(models, epochs, BLOCKS)
    a, b, c, d = fig.axes
    points = numbers[numbers["panel"] == "a"]
    assert len(points) == 2 * len(models)  # one per model and checkpoint
    pairs = {(m, cp) for m in models["model"] for cp in ("es", "last")}
    assert set(zip(points["model"], points["checkpoint"])) == pairs
    es = points[points["checkpoint"] == "es"].set_index("model")
    np.testing.assert_allclose(es.loc[models["model"], "x"], models["es_test_auroc"])
    np.testing.assert_allclose(es.loc[models["model"], "y"], models["es_test_interp_auroc_raw"])
    drawn = np.concatenate([collection.get_offsets() for collection in a.collections])
    np.testing.assert_allclose(np.sort(drawn[:, 0]), np.sort(points["x"]))
    # panels b and c: one curve per combination of Tables 1 and 2, the mean over trials per epoch from 1
    assert len(b.lines) == len(c.lines) == 3
    trained = epochs[epochs["epoch"] >= 1]
    for line, name in zip(c.lines, ["std_f1", "mix_f1", "std_f4_bn"]):
        mean = trained[trained["combination"] == name].groupby("epoch")["test_interp_auroc_raw"].mean()
        np.testing.assert_allclose(line.get_xdata(), mean.index)
        np.testing.assert_allclose(line.get_ydata(), mean)
        curve = numbers[(numbers["panel"] == "c") & (numbers["combination"] == name)]
        np.testing.assert_allclose(curve["y"], mean)
        assert (curve["trials"] == 3).all()
    assert [t.get_text() for t in c.get_legend().get_texts()][0] == "Standard-1 bs128 do0.1 lr0.001"
    # panel d: last - es, one point per model, a colour per regularizer
    change = numbers[numbers["panel"] == "d"].set_index("model").loc[models["model"]]
    np.testing.assert_allclose(change["x"], models["last_test_auroc"] - models["es_test_auroc"])
    np.testing.assert_allclose(change["y"], models["last_test_interp_auroc_raw"] - models["es_test_interp_auroc_raw"])
    assert len(d.collections) == 2
    plt.close(fig)


def test_fig_regimes_keeps_table_1_only_when_tables_1_and_2_are_many():
    names = {f"c{i}": {**SETTINGS, "batch_size": 8 + i} for i in range(MAX_CURVES + 1)}
    epochs = epochs_frame(names, trials=1, epochs=3)
    blocks = {"table1": ["c0", "c1"], "table2": [f"c{i}" for i in range(2, MAX_CURVES + 1)]}
    fig, numbers = fig_regimes(checkpoint_table(epochs, 0.005), epochs, blocks)
    assert set(numbers.loc[numbers["panel"] == "b", "combination"]) == {"c0", "c1"}
    assert len(fig.axes[1].lines) == 2
    plt.close(fig)


def test_fig_tracking_draws_the_rho_per_candidate_and_the_largest_drops(models, epochs):
    tracking = tracking_table(epochs)
    fig, numbers = fig_tracking(epochs, tracking)
    rho = numbers[numbers["panel"] == "rho"]
    assert len(rho) == len(TRACKED) * len(models)  # one point per model and candidate
    expected = tracking[tracking["target"] == "test_interp_auroc_raw"]
    np.testing.assert_allclose(np.sort(rho["y"]), np.sort(expected["rho"]))
    drops = (models["es_test_interp_auroc_raw"] - models["last_test_interp_auroc_raw"]).to_numpy()
    largest = list(models["model"].to_numpy()[np.argsort(-drops, kind="stable")][:4])
    examples = numbers[numbers["panel"] == "example"]
    assert list(dict.fromkeys(examples["model"])) == largest
    assert len(fig.axes) == 1 + 2 * 4  # the rho panel, then each example with its twin axis
    first = examples[(examples["model"] == largest[0]) & (examples["candidate"] == "valid_kld_kmer_z")]
    assert first["y"].mean() == pytest.approx(0, abs=1e-12) and first["y"].std(ddof=0) == pytest.approx(1)
    plt.close(fig)


def test_figures_say_when_the_run_has_no_models(models, epochs):
    fig, numbers = fig_regimes(models.iloc[:0], epochs.iloc[:0], BLOCKS)
    assert is_message(fig, "no models") and numbers.empty
    plt.close(fig)
    fig, numbers = fig_tracking(epochs.iloc[:0], tracking_table(epochs.iloc[:0]))
    assert is_message(fig, "no models") and numbers.empty
    plt.close(fig)
