"""Keras weight files into gradcorr models: against a float64 NumPy forward pass of the Keras architecture,
and on the authors' published files."""

import re

import numpy as np
import pytest
import torch
from keras_files import ARCHS, PUBLISHED, keras_layers, set_weight, write_keras_file
from sklearn.metrics import roc_auc_score

from gradcorr.data.synthetic import generate_billboard
from gradcorr.models.keras import load_keras_model, published_model_id, read_keras_weights


def numpy_forward(arch, activation, layers, x):
    """The Keras model's logit in float64: conv1d 'same', BatchNorm (inference, eps 1e-3), activation,
    max-pool 'valid', flatten (length, channels), dense, BatchNorm, relu, dense. x is (N, A, L)."""
    weights = dict(layers)
    names = [n for n, _ in layers]
    h = np.transpose(x, (0, 2, 1)).astype(np.float64)  # Keras (N, L, C)

    def batchnorm(h, w):
        return w["gamma"] * (h - w["moving_mean"]) / np.sqrt(w["moving_variance"] + 1e-3) + w["beta"]

    for i, (_, width, act, pool) in enumerate(ARCHS[arch]):
        conv, bn = weights[names[2 * i]], weights[names[2 * i + 1]]
        padded = np.pad(h, ((0, 0), ((width - 1) // 2, width // 2), (0, 0)))
        windows = np.lib.stride_tricks.sliding_window_view(padded, width, axis=1)  # (N, L, C, width)
        h = np.einsum("nlcw,wco->nlo", windows, conv["kernel"]) + conv["bias"]
        h = batchnorm(h, bn)
        h = np.exp(h) if (act or activation) == "exp" else np.maximum(h, 0)
        if pool > 1:
            n, length, c = h.shape
            h = h[:, : length // pool * pool].reshape(n, length // pool, pool, c).max(axis=2)
    h = h.reshape(len(h), -1)
    dense, bn, out = (weights[n] for n in names[-3:])
    h = np.maximum(batchnorm(h @ dense["kernel"] + dense["bias"], bn), 0)
    return h @ out["kernel"] + out["bias"]


def one_hot(n, seed):
    rng = np.random.default_rng(seed)
    return np.eye(4)[rng.integers(0, 4, (n, 200))].transpose(0, 2, 1)


@pytest.mark.parametrize("arch, activation", [("cnn_shallow", "relu"), ("cnn_shallow", "exp"),
                                              ("cnn_deep", "relu"), ("cnn_deep", "exp")])
def test_loaded_model_equals_the_keras_forward_pass(tmp_path, arch, activation):
    layers = keras_layers(arch, np.random.default_rng(1))
    path = tmp_path / "weights.h5"
    write_keras_file(path, layers)
    model = load_keras_model(path, arch, activation).double()
    assert model[0].kernel_size[0] == layers[0][1]["kernel"].shape[0]  # read from the file (11 for deep)
    x = one_hot(16, seed=2)
    with torch.no_grad():
        ours = model(torch.as_tensor(x)).numpy()
    # the file holds float32 weights: the reference uses the same rounded values
    stored = [(n, {k: v.astype(np.float32).astype(np.float64) for k, v in w.items()}) for n, w in layers]
    reference = numpy_forward(arch, activation, stored, x)
    np.testing.assert_allclose(ours, reference, rtol=1e-10, atol=1e-12)
    assert reference.std() > 0.01  # outputs vary: a transposed kernel or flatten order would show


def test_read_keeps_model_order_and_skips_layers_without_weights(tmp_path):
    layers = keras_layers("cnn_shallow", np.random.default_rng(3))
    write_keras_file(tmp_path / "w.h5", layers)
    read = read_keras_weights(tmp_path / "w.h5")
    assert [n for n, _ in read] == [n for n, _ in layers]
    np.testing.assert_array_equal(read[0][1]["kernel"], layers[0][1]["kernel"].astype(np.float32))


def test_mismatches_are_refused_naming_the_layer(tmp_path):
    rng = np.random.default_rng(4)
    deep = keras_layers("cnn_deep", rng)
    write_keras_file(tmp_path / "deep.h5", deep)
    with pytest.raises(ValueError, match="4 conv1d layers, but cnn_shallow has 2"):
        load_keras_model(tmp_path / "deep.h5", "cnn_shallow", "relu")
    wrong = [(n, dict(w)) for n, w in deep]
    wrong[-3][1]["kernel"] = rng.normal(size=(100, 96))  # dense after a wrong flatten size
    write_keras_file(tmp_path / "wrong.h5", wrong)
    with pytest.raises(ValueError, match=r"layer 'dense'.*shape \(96, 100\)"):
        load_keras_model(tmp_path / "wrong.h5", "cnn_deep", "exp")
    lstm = deep[:2] + [("lstm", {"kernel": rng.normal(size=(3, 3))})] + deep[2:]
    write_keras_file(tmp_path / "lstm.h5", lstm)
    with pytest.raises(ValueError, match="layer 'lstm' has weights but its type 'lstm'"):
        load_keras_model(tmp_path / "lstm.h5", "cnn_deep", "exp")
    (tmp_path / "text.h5").write_text("not hdf5")
    with pytest.raises(ValueError, match="text.h5: not a readable HDF5"):
        read_keras_weights(tmp_path / "text.h5")
    with pytest.raises(ValueError, match="not a published model name"):
        load_keras_model(tmp_path / "deep.h5")



@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_weights_are_refused_naming_file_layer_and_weight(tmp_path, bad):
    layers = keras_layers("cnn_shallow", np.random.default_rng(5))
    name, weights = layers[2]
    assert name == "conv1d_1"
    kernel = weights["kernel"].copy()
    kernel.flat[[0, 7, 40]] = bad
    path = tmp_path / "cnn_shallow_relu_0.h5"
    write_keras_file(path, layers[:2] + [(name, {**weights, "kernel": kernel})] + layers[3:])
    message = re.escape(f"{path}: layer conv1d_1 weight kernel has 3 non-finite values (NaN/inf)")
    with pytest.raises(ValueError, match=message):
        read_keras_weights(path)
    with pytest.raises(ValueError, match=message):
        load_keras_model(path)


def test_non_numeric_weight_is_refused_naming_file_layer_and_weight(tmp_path):
    path = tmp_path / "w.h5"
    write_keras_file(path, keras_layers("cnn_shallow", np.random.default_rng(6)))
    set_weight(path, "batch_normalization_1", "gamma", np.array([b"x"] * 48))
    with pytest.raises(ValueError, match=re.escape(f"{path}: layer batch_normalization_1 weight gamma is not a")):
        read_keras_weights(path)


def test_published_names():
    assert published_model_id("x/cnn_deep_exponential_7.h5") == ("cnn_deep", "exp", 7)
    assert published_model_id("cnn_shallow_relu_49.h5") == ("cnn_shallow", "relu", 49)


@pytest.mark.skipif(not PUBLISHED.is_dir(), reason=f"the authors' published models are not in {PUBLISHED}")
def test_every_published_file_loads_and_classifies_the_regenerated_data():
    files = sorted(PUBLISHED.glob("*.h5"))
    assert len(files) == 200
    data = generate_billboard(n_positive=300, n_negative=300, length=200, split=(0.0, 0.0, 1.0), seed=11)
    x, y = torch.as_tensor(data["x_test"], dtype=torch.float32), data["y_test"].ravel()
    aurocs = {}
    for path in files:
        arch, activation, trial = published_model_id(path)
        model = load_keras_model(path)
        if trial == 0:
            with torch.no_grad():
                aurocs[f"{arch}_{activation}"] = roc_auc_score(y, model(x).numpy().ravel())
    assert len(aurocs) == 4
    assert min(aurocs.values()) > 0.8, aurocs  # chance is 0.5
