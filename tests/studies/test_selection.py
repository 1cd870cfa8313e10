"""Model selection on tables whose answer can be worked out by hand: a KLD that is a monotone function of
the cosine, one that swaps neighbours, a reversed one, types with one or two models, and the in vivo stage
on constructed ensemble files."""

import numpy as np
import pandas as pd
import pytest

from gradcorr.data.io import write_arrays
from gradcorr.studies import selection

SCORES = list(selection.GROUND_TRUTH_SCORES)


def _models(model_type, cosine, kld_kmer, kld_attr_mean=None, test_auroc=None):
    """One row per model of one type: every ground-truth score equal to `cosine`."""
    arch, activation = model_type.rsplit("_", 1)
    n = len(cosine)
    frame = pd.DataFrame({"model": [f"{model_type}_{t}" for t in range(n)], "arch": arch, "activation": activation,
                          "trial": range(n), "kld_kmer": kld_kmer,
                          "kld_attr_mean": kld_kmer if kld_attr_mean is None else kld_attr_mean,
                          "test_auroc": np.linspace(0.9, 0.8, n) if test_auroc is None else test_auroc})
    for score in SCORES:
        frame[score] = np.asarray(cosine, dtype=float)
    return frame.assign(model_type=model_type)


COSINE = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6]


def _table():
    """Four types: KLD monotone in the cosine, neighbours swapped, one model, two models."""
    return pd.concat([
        _models("cnn_deep_exp", COSINE, np.square(COSINE)),          # monotone: rho 1, pick the best
        _models("cnn_deep_relu", COSINE, [2.0, 1.0, 4.0, 3.0, 6.0, 5.0], kld_attr_mean=[6.0, 5, 4, 3, 2, 1]),
        _models("cnn_shallow_exp", [0.3], [1.0]),
        _models("cnn_shallow_relu", [0.3, 0.4], [1.0, 2.0]),
    ], ignore_index=True)


def _correlation(frame, model_type, selector, score="cosine_corrected"):
    row = frame[(frame["model_type"] == model_type) & (frame["selector"] == selector) & (frame["score"] == score)]
    assert len(row) == 1
    return row.iloc[0]


def test_spearman_within_types_by_hand():
    corr = selection.rank_correlations(_table(), group="model_type", selectors=["kld_kmer", "kld_attr_mean"],
                                       scores=SCORES, pooled=True)
    assert len(corr) == 5 * 2 * len(SCORES)  # four types and "all"
    assert _correlation(corr, "cnn_deep_exp", "kld_kmer")["spearman"] == pytest.approx(1.0)
    # swapped neighbours: every rank off by 1, sum d^2 = 6, rho = 1 - 6 * 6 / (6 * 35)
    assert _correlation(corr, "cnn_deep_relu", "kld_kmer")["spearman"] == pytest.approx(1 - 36 / 210)
    assert _correlation(corr, "cnn_deep_relu", "kld_attr_mean")["spearman"] == pytest.approx(-1.0)
    for model_type, n in (("cnn_shallow_exp", 1), ("cnn_shallow_relu", 2)):  # too few models: NaN, no error
        row = _correlation(corr, model_type, "kld_kmer")
        assert row["n_models"] == n and np.isnan(row["spearman"])
    assert _correlation(corr, "all", "kld_kmer")["n_models"] == 15


def test_selection_ranks_the_pick_by_hand():
    sel = selection.model_selections(_table(), group="model_type", selectors=["kld_kmer", "kld_attr_mean"],
                                     scores=SCORES, top_k=5, pooled=True)
    monotone = _correlation(sel, "cnn_deep_exp", "kld_kmer")
    assert monotone["selected"] == monotone["best"] == "cnn_deep_exp_5"
    assert monotone["score_rank"] == 1 and monotone["is_best"] and monotone["in_top_k"]
    assert monotone["chance_best"] == pytest.approx(1 / 6) and monotone["chance_top_k"] == pytest.approx(5 / 6)
    swapped = _correlation(sel, "cnn_deep_relu", "kld_kmer")  # KLD 6 is model 4, the second best cosine
    assert swapped["selected"] == "cnn_deep_relu_4" and swapped["score_rank"] == 2
    assert not swapped["is_best"] and swapped["in_top_k"]
    assert swapped["selector_value"] == 6.0 and swapped["score_value"] == pytest.approx(0.5)
    reversed_ = _correlation(sel, "cnn_deep_relu", "kld_attr_mean")  # picks the worst of six
    assert reversed_["selected"] == "cnn_deep_relu_0" and reversed_["score_rank"] == 6 and not reversed_["in_top_k"]
    single = _correlation(sel, "cnn_shallow_exp", "kld_kmer")
    assert single["n_models"] == 1 and single["is_best"] and single["chance_top_k"] == 1.0
    pair = _correlation(sel, "cnn_shallow_relu", "kld_kmer")
    assert pair["selected"] == "cnn_shallow_relu_1" and pair["score_rank"] == 1 and pair["chance_best"] == 0.5


def test_summary_counts_hits_over_types_not_the_pooled_row():
    sel = selection.model_selections(_table(), group="model_type", selectors=["kld_kmer", "kld_attr_mean"],
                                     scores=["cosine_corrected"], top_k=5, pooled=True)
    summary = selection.selection_summary(sel, group="model_type").set_index("selector")
    kmer, attr = summary.loc["kld_kmer"], summary.loc["kld_attr_mean"]
    assert kmer["n_groups"] == 4 and kmer["hits_best"] == 3 and kmer["hits_top_k"] == 4
    assert kmer["rate_best"] == 0.75 and kmer["median_rank"] == 1.0
    # kld_attr_mean: deep-exp best, deep-relu rank 6, shallow-exp best, shallow-relu best (2 > 1)
    assert attr["hits_best"] == 3 and attr["hits_top_k"] == 3
    assert kmer["chance_top_k"] == pytest.approx((5 / 6 + 5 / 6 + 1 + 1) / 4)
    assert kmer["chance_best"] == pytest.approx((1 / 6 + 1 / 6 + 1 + 1 / 2) / 4)


def test_lower_is_better_and_missing_values():
    frame = pd.DataFrame({"tf": "TF", "model": ["a", "b", "c", "d"], "kld_kmer": [3.0, np.nan, 2.0, 1.0],
                          "agreement_distance": [0.1, 0.0, 0.5, 0.9]})
    picked = selection.select_by(frame, "kld_kmer", "agreement_distance", top_k=2, lower_is_better=True)
    # b has no KLD so does not count: among a, c, d the pick a is the closest
    assert picked["n_models"] == 3 and picked["selected"] == "a" and picked["score_rank"] == 1
    assert picked["best"] == "a" and picked["best_score"] == 0.1
    empty = selection.select_by(frame.assign(kld_kmer=np.nan), "kld_kmer", "agreement_distance", top_k=2)
    assert empty["n_models"] == 0 and empty["selected"] is None and not empty["in_top_k"]


def test_points_mark_each_groups_pick():
    points = selection.selection_points(_table(), group="model_type", selectors=["kld_kmer"], scores=["snr"])
    picked = points.loc[points["selected_by_kld_kmer"], "model"].tolist()
    assert picked == ["cnn_deep_exp_5", "cnn_deep_relu_4", "cnn_shallow_exp_0", "cnn_shallow_relu_1"]


def test_synthetic_stage_writes_tables_and_figure(tmp_path):
    table = _table().drop(columns="model_type")
    table.to_csv(tmp_path / "interpretability_saliency.tsv", sep="\t", index=False)
    out = {k: tmp_path / f"{k}.tsv" for k in ("correlations", "selections", "summary", "points")}
    out.update(pdf=tmp_path / "fig.pdf", png=tmp_path / "fig.png")
    selection.select_synthetic_models(tmp_path / "interpretability_saliency.tsv", out, method="saliency")
    corr = pd.read_csv(out["correlations"], sep="\t")
    assert set(corr["model_type"]) == {"cnn_deep_exp", "cnn_deep_relu", "cnn_shallow_exp", "cnn_shallow_relu", "all"}
    assert set(corr["selector"]) == {"kld_kmer", "kld_attr_mean", "test_auroc"}
    # test AUROC falls as the cosine rises in every type: the baseline is perfectly wrong here
    assert _correlation(corr, "cnn_deep_exp", "test_auroc")["spearman"] == pytest.approx(-1.0)
    summary = pd.read_csv(out["summary"], sep="\t")
    assert len(summary) == 3 * len(SCORES) and (summary["n_groups"] == 4).all()
    assert len(pd.read_csv(out["points"], sep="\t")) == 15
    assert out["png"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out["pdf"].read_bytes()[:5] == b"%PDF-"
    with pytest.raises(ValueError, match="no column kld_kmer"):
        table.drop(columns="kld_kmer").to_csv(tmp_path / "bad.tsv", sep="\t", index=False)
        selection.select_synthetic_models(tmp_path / "bad.tsv", out, method="saliency")


def _ensemble_file(path, tf, models, cosine, distance):
    write_arrays(path, {"agreement_cosine": np.asarray(cosine, dtype=float),
                        "agreement_distance": np.asarray(distance, dtype=float)},
                 {"tf": tf, "model_type": "cnn_shallow_exp", "models": models})
    return path


def test_member_agreement_means_over_sequences_and_needs_the_arrays(tmp_path):
    path = _ensemble_file(tmp_path / "e.h5", "TF", ["m0", "m1"], [[1.0, 0.5], [0.2, np.nan]], [[0.0, 1.0], [2.0, 4.0]])
    frame = selection.member_agreement(path)
    assert frame["model"].tolist() == ["m0", "m1"] and (frame["tf"] == "TF").all()
    np.testing.assert_allclose(frame["agreement_cosine"], [0.75, 0.2])
    np.testing.assert_allclose(frame["agreement_distance"], [0.5, 3.0])
    write_arrays(tmp_path / "old.h5", {"ensemble": np.zeros(3)}, {"tf": "TF", "models": ["m0"]})
    with pytest.raises(ValueError, match="rerun the invivo_ensemble rule"):
        selection.member_agreement(tmp_path / "old.h5")


def test_invivo_stage_ranks_members_per_tf(tmp_path):
    models = [f"cnn_shallow_exp_{m}" for m in range(4)]
    rows = []
    for tf, kld in (("GABPA", [1.0, 2.0, 3.0, 4.0]), ("REST", [4.0, 3.0, 1.0, 2.0])):
        rows += [{"tf": tf, "model": m, "arch": "cnn_shallow", "activation": "exp", "member": i, "n_filters": 4,
                  "test_auroc": 0.9, "kld_kmer": k, "kld_attr_mean": k} for i, (m, k) in enumerate(zip(models, kld))]
    rows.append({**rows[0], "arch": "cnn_deep", "model": "cnn_deep_exp_0"})  # another model type: left out
    pd.DataFrame(rows).to_csv(tmp_path / "classification.tsv", sep="\t", index=False)
    cosine = np.array([[0.1, 0.3], [0.4, 0.4], [0.5, 0.7], [0.9, 0.9]])  # member means 0.2, 0.4, 0.6, 0.9
    ensembles = [_ensemble_file(tmp_path / f"{tf}.h5", tf, models, cosine, 1 - cosine) for tf in ("GABPA", "REST")]
    out = {"table": tmp_path / "sel.tsv", "points": tmp_path / "points.tsv", "pdf": tmp_path / "f.pdf",
           "png": tmp_path / "f.png"}
    selection.select_invivo_members(tmp_path / "classification.tsv", ensembles, out, model_type="cnn_shallow_exp")
    table = pd.read_csv(out["table"], sep="\t").set_index(["tf", "selector", "score"])
    gabpa = table.loc[("GABPA", "kld_kmer", "agreement_cosine")]
    assert gabpa["spearman"] == pytest.approx(1.0) and gabpa["is_best"] and gabpa["selected"] == models[3]
    assert table.loc[("GABPA", "kld_kmer", "agreement_distance"), "spearman"] == pytest.approx(-1.0)
    rest = table.loc[("REST", "kld_kmer", "agreement_cosine")]  # picks member 0, the least agreeing of four
    assert rest["selected"] == models[0] and rest["score_rank"] == 4 and not rest["in_top_k"]
    # KLD ranks 4 3 1 2 against agreement 1 2 3 4: sum d^2 = 9 + 1 + 4 + 4 = 18, rho = 1 - 6 * 18 / 60
    assert rest["spearman"] == pytest.approx(1 - 108 / 60)
    assert np.isnan(table.loc[("REST", "test_auroc", "agreement_cosine"), "spearman"])  # constant AUROC
    points = pd.read_csv(out["points"], sep="\t")
    assert len(points) == 8 and {"member", "n_filters", "selected_by_kld_kmer"} <= set(points.columns)
    assert out["png"].stat().st_size > 0
    bad = _ensemble_file(tmp_path / "FIXA.h5", "FIXA", models, cosine, cosine)
    with pytest.raises(ValueError, match="no row for FIXA"):
        selection.select_invivo_members(tmp_path / "classification.tsv", [bad], out, model_type="cnn_shallow_exp")
