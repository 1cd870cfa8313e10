"""The synthetic study's stages: the authors' published models imported, and a model's row of scores."""

import h5py
import numpy as np
import pytest
import torch
import yaml
from keras_files import file_md5, weight_file
from random_maps import random_maps
from sklearn.metrics import roc_auc_score
from workflow_cli import ROOT

from gradcorr import attribute
from gradcorr.correction import correct
from gradcorr.data.synthetic import generate_billboard
from gradcorr.kld import consistency_klds, kmer_counts
from gradcorr.metrics import attribution_snr, interpretability_scores
from gradcorr.models.architectures import build_model
from gradcorr.models.checkpoint import load_model
from gradcorr.models.keras import load_keras_model
from gradcorr.studies.synthetic import (
    evaluate_model,
    import_published_models,
    make_synthetic_dataset,
    model_options,
    model_seed,
    score_maps,
)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    path = tmp_path_factory.mktemp("published") / "billboard.h5"
    synthetic = yaml.safe_load((ROOT / "config" / "schema.yaml").read_text())["properties"]["synthetic"]
    config = {k: v["default"] for k, v in synthetic["properties"].items()}
    make_synthetic_dataset(path, {**config, "n_positive": 150, "n_negative": 150}, seed=3)
    return path


def test_import_keeps_the_weights_and_records_where_they_came_from(tmp_path, dataset):
    sources = [weight_file(tmp_path / "weights", f"cnn_deep_exponential_{t}.h5", seed=t) for t in (0, 1)]
    outs = [tmp_path / f"cnn_deep_exp_{t}.pt" for t in (0, 1)]
    import_published_models(dataset, sources, outs, arch="cnn_deep", activation="exp", trials=[0, 1])
    with h5py.File(dataset, "r") as f:
        x_valid, y_valid = f["x_valid"][()], f["y_valid"][()]
    x = torch.as_tensor(x_valid)
    for source, out in zip(sources, outs):
        model, saved = load_model(out)
        with torch.no_grad():
            np.testing.assert_array_equal(model(x).numpy(), load_keras_model(source)(x).numpy())
            probs = torch.sigmoid(model(x)).numpy().ravel()
        meta = saved["meta"]
        assert meta["source"] == "published" and meta["origin"] == source.name and meta["md5"] == file_md5(source)
        assert meta["val_auroc"] == pytest.approx(roc_auc_score(y_valid.ravel(), probs), abs=1e-12)
        assert saved["history"] == [] and saved["model_kwargs"]["kernel_size"] == 11


def test_import_refuses_a_file_of_another_model(tmp_path, dataset):
    source = weight_file(tmp_path, "cnn_deep_relu_4.h5", seed=0)
    with pytest.raises(ValueError, match=r"cnn_deep_relu_4\.h5: expected the published file of cnn_deep_exp_4"):
        import_published_models(dataset, [source], [tmp_path / "m.pt"], arch="cnn_deep", activation="exp",
                                trials=[4])
    assert not (tmp_path / "m.pt").exists()


def test_score_maps_row_is_the_metrics_of_the_raw_and_corrected_maps():
    raw, x, gt = random_maps(8, 60, seed=5)
    y = np.array([1, 0] * 10)
    p = np.linspace(0.1, 0.9, 20)
    idx = np.arange(0, 16, 2)
    prior = kmer_counts(np.concatenate([x, x]))
    row, arrays = score_maps(p, y, idx, raw, x, gt, method="saliency", prior=prior)
    raw_scores, corrected = interpretability_scores(raw, x, gt), interpretability_scores(correct(raw), x, gt)
    for metric in ("cosine", "auroc", "aupr"):
        assert row[f"{metric}_raw"] == raw_scores[metric] and row[f"{metric}_corrected"] == corrected[metric]
        assert row[f"{metric}_improvement"] == corrected[metric] - raw_scores[metric]
    assert row["test_auroc"] == roc_auc_score(y, p) and row["n_sequences"] == 8
    assert row["snr"] == pytest.approx(attribution_snr(raw, x, gt).mean())
    klds = consistency_klds(raw, x, prior)
    assert {k: row[k] for k in klds} == klds and set(klds) == {"kld_kmer", "kld_attr_mean", "kld_attr_mean_published"}
    assert list(arrays) == ["index", "x", "ground_truth", "saliency"] and arrays["saliency"].dtype == np.float32


def test_evaluate_model_scores_the_first_positives_as_the_workflow_does():
    data = generate_billboard(n_positive=40, n_negative=40, length=200, seed=1)
    x, y, gt = data["x_test"], data["y_test"], data["model_test"]
    torch.manual_seed(0)
    model = build_model("cnn_shallow", activation="exp", n_filters=6).eval()
    row, arrays = evaluate_model(model, x, y, gt, n_positive=5)
    index = np.flatnonzero(y[:, 0] == 1)[:5]
    np.testing.assert_array_equal(arrays["index"], index)
    np.testing.assert_allclose(arrays["saliency"], attribute(model, x[index]), rtol=1e-6)
    with torch.no_grad():
        p = torch.sigmoid(model(torch.as_tensor(x)))[:, 0].numpy()
    assert row["test_auroc"] == pytest.approx(roc_auc_score(y[:, 0], p)) and row["n_sequences"] == 5


def test_model_options_and_seeds_are_the_trained_models():
    """A synthetic model type's options come from the models section, and trial t's seed is what
    `train_synthetic_models` trains it from (the DiffROAR study starts its robust models from the same)."""
    from gradcorr.workflow.runtime import derive_seed

    models = {"n_filters": 12, "kernel_size": 7, "trials": 3, "architectures": ["cnn_deep"]}
    assert model_options("exp", models) == {"activation": "exp", "n_filters": 12, "kernel_size": 7}
    assert model_seed(5, "cnn_deep", "exp", 2) == derive_seed(5, "synthetic-model", "cnn_deep", "exp", 2)
    assert len({model_seed(5, "cnn_deep", a, t) for a in ("relu", "exp") for t in range(3)}) == 6
