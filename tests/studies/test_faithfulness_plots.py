"""The faithfulness study's figures: what they draw is the tables' numbers."""

import numpy as np
import pandas as pd

from gradcorr.studies import faithfulness_plots


def test_fig_table1_draws_the_table():
    rows = []
    for net in ("seq_cnn", "mlp"):
        for setting in ("adversarial_low", "unregularized"):  # drawn in the paper's order, not the table's
            for method in ("saliency", "integrated_gradients"):
                raw = 0.1 + 0.2 * len(rows) % 0.9
                rows.append({"net": net, "setting": setting, "task": "helix", "method": method, "output": "logit",
                             "models": 2,
                             "precision_raw": raw, "precision_sd_raw": 0.01, "precision_corrected": raw + 0.05,
                             "precision_sd_corrected": np.nan, "gain": 0.05,
                             "paper": 0.41 if net == "seq_cnn" else np.nan})
    table = pd.DataFrame(rows)
    fig, numbers = faithfulness_plots.fig_table1(table)
    assert len(fig.axes) == 2 and len(numbers) == 2 * len(table)
    merged = numbers[numbers["kind"] == "raw"].merge(table, left_on=["group", "method"],
                                                       right_on=["setting", "method"])
    merged = merged[merged["panel"] == merged["net"] + "/logit/helix"]
    np.testing.assert_allclose(merged["precision"], merged["precision_raw"])
    assert list(dict.fromkeys(numbers["group"])) == ["unregularized", "adversarial_low"]
    _, empty = faithfulness_plots.fig_table1(table.iloc[:0])  # the DNA part alone: nothing to draw, said
    assert empty.empty


def test_fig_dna_draws_the_means_or_says_there_are_none():
    rows = [{"task": "dna", "net": net, "setting": "trained", "method": "saliency", "kind": kind, "output": "logit",
             "score": score,
             "reference": reference, "precision": 0.3 + 0.1 * i, "precision_sd": 0.02, "models": 2}
            for i, (net, kind, score, reference) in enumerate(
                (n, k, s, r) for n in ("cnn_deep_exp", "cnn_deep_relu") for k in ("raw", "corrected")
                for s in ("observed", "l2") for r in ("ablation_zeros", "signal"))]
    dna = pd.DataFrame(rows)
    fig, numbers = faithfulness_plots.fig_dna(dna)
    assert len(fig.axes) == 2 and len(numbers) == 8
    want = dna[dna["score"] == "observed"].set_index(["reference", "net", "kind"])["precision"]
    got = numbers.set_index(["panel", "group", "kind"])["precision"]
    np.testing.assert_allclose(got.sort_index(), want.sort_index().values)
    _, empty = faithfulness_plots.fig_dna(dna.iloc[:0])
    assert empty.empty
