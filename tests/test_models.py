"""Architectures, saliency, checkpoints."""

import math

import numpy as np
import pytest
import torch
from torch import nn

from gradcorr import attribute
from gradcorr.checkpoint import load_model, save_model
from gradcorr.models import KerasFlatten, build_model, l2_penalty


@pytest.mark.parametrize("arch", ["cnn_shallow", "cnn_deep"])
@pytest.mark.parametrize("activation", ["relu", "exp"])
def test_output_shape_and_layers(arch, activation):
    model = build_model(arch, activation=activation, n_filters=12, kernel_size=11).eval()
    out = model(torch.randn(5, 4, 200))
    assert out.shape == (5, 1)
    first = model[0]
    assert first.weight.shape == (12, 4, 11)
    bns = [m for m in model.modules() if isinstance(m, nn.BatchNorm1d)]
    assert bns and all(bn.eps == 1e-3 and bn.momentum == pytest.approx(0.01) for bn in bns)
    n_conv = sum(isinstance(m, nn.Conv1d) for m in model)
    assert n_conv == {"cnn_shallow": 2, "cnn_deep": 4}[arch]


def test_unknown_names_are_refused():
    with pytest.raises(ValueError, match="architecture"):
        build_model("resnet")
    with pytest.raises(ValueError, match="activation"):
        build_model("cnn_deep", activation="tanh")


def test_keras_flatten_order():
    x = torch.arange(2 * 3 * 5).reshape(2, 3, 5)  # (N, C, L)
    out = KerasFlatten()(x)
    # Keras holds (L, C): element (l, c) at l * C + c.
    assert out[1, 4 * 3 + 2] == x[1, 2, 4]


def test_he_normal_init_scale():
    torch.manual_seed(0)
    model = build_model("cnn_deep")
    conv = model[0]
    fan_in = 4 * 19
    # Truncated at 2 sd, the sample sd is 0.8796 of the nominal sqrt(2 / fan_in).
    assert conv.weight.std().item() == pytest.approx(0.8796 * math.sqrt(2 / fan_in), rel=0.15)
    assert conv.weight.abs().max().item() <= 2 * math.sqrt(2 / fan_in) + 1e-6
    assert torch.count_nonzero(conv.bias) == 0


def test_l2_penalty_covers_hidden_kernels_only():
    model = build_model("cnn_shallow")
    kernels = [m.weight for m in model.modules() if isinstance(m, (nn.Conv1d, nn.Linear))]
    expected = sum(float(w.detach().square().sum()) for w in kernels[:-1])
    assert l2_penalty(model).item() == pytest.approx(expected, rel=1e-5)


def linear_model() -> nn.Module:
    """logit = sum(W * x) + b: the input gradient of the logit is W, known in closed form."""
    torch.manual_seed(3)
    model = nn.Sequential(nn.Flatten(), nn.Linear(4 * 10, 1))
    return model.double()


def test_saliency_of_a_linear_model_is_its_weights():
    model = linear_model()
    w = model[1].weight.detach().reshape(4, 10).numpy()
    x = np.eye(4)[np.random.default_rng(0).integers(0, 4, size=(6, 10))].transpose(0, 2, 1)
    logit_map = attribute(model, torch.from_numpy(x), output="logit").numpy()
    np.testing.assert_allclose(logit_map, np.broadcast_to(w, logit_map.shape), atol=1e-12)
    z = (x * w).sum(axis=(1, 2)) + model[1].bias.item()
    s = 1 / (1 + np.exp(-z))
    sigmoid_map = attribute(model, torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(sigmoid_map, (s * (1 - s))[:, None, None] * w, atol=1e-12)


def test_saliency_matches_per_sequence_autograd_and_is_batch_independent():
    model = build_model("cnn_deep", activation="exp")
    model.train()
    x = torch.from_numpy(np.eye(4, dtype=np.float32)[np.random.default_rng(1).integers(0, 4, (9, 200))]
                         ).transpose(1, 2).contiguous()
    maps = attribute(model, x.numpy(), batch_size=4)
    assert isinstance(maps, np.ndarray) and maps.shape == (9, 4, 200)
    assert model.training, "attribute must restore the model's mode"
    model.eval()
    for i in (0, 8):
        xi = x[i:i + 1].clone().requires_grad_(True)
        torch.sigmoid(model(xi))[0, 0].backward()
        np.testing.assert_allclose(maps[i], xi.grad[0].numpy(), rtol=1e-4, atol=1e-7)
    np.testing.assert_allclose(attribute(model, x.numpy(), batch_size=9), maps, rtol=1e-5, atol=1e-8)


def test_attribute_rejects_bad_input():
    model = build_model("cnn_shallow")
    with pytest.raises(ValueError, match="method"):
        attribute(model, np.zeros((1, 4, 200)), method="occlusion")
    with pytest.raises(ValueError, match="shape"):
        attribute(model, np.zeros((4, 200)))


def test_checkpoint_round_trip(tmp_path):
    kwargs = {"activation": "exp", "n_filters": 8, "kernel_size": 11}
    model = build_model("cnn_deep", **kwargs).eval()
    history = [{"epoch": 1, "val_auroc": 0.7}]
    path = tmp_path / "m.pt"
    save_model(path, model, "cnn_deep", kwargs, history, {"seed": 1}, trial=2)
    loaded, saved = load_model(path)
    x = torch.randn(3, 4, 200)
    torch.testing.assert_close(loaded(x), model(x))
    assert saved["history"] == history and saved["meta"]["trial"] == 2
    assert not loaded.training
    assert [p.name for p in tmp_path.iterdir()] == ["m.pt"], "no temporary file left behind"


def test_load_rejects_foreign_files(tmp_path):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a model")
    with pytest.raises(ValueError, match="bad.pt"):
        load_model(bad)
    other = tmp_path / "other.pt"
    torch.save({"weights": 1}, other)
    with pytest.raises(ValueError, match="other.pt.*not a gradcorr model"):
        load_model(other)


@pytest.mark.parametrize("batchnorm", [True, False])
@pytest.mark.parametrize("width", [1, 2])
def test_consistency_cnn_follows_appendix_b(batchnorm, width):
    """Conv 24k x 19, 32k x 7, 48k x 5, 64k x 5 (pools of 4 after the last three), dense 96k, output 1;
    BatchNorm before each of the five hidden activations only when asked; dropout 0.4 after each
    convolution and 0.5 after the dense layer."""
    model = build_model("cnn_consistency", activation="exp", batchnorm=batchnorm, dropout=0.4, width=width)
    convs = [m for m in model if isinstance(m, nn.Conv1d)]
    assert [(c.out_channels, c.kernel_size[0]) for c in convs] == [(24 * width, 19), (32 * width, 7),
                                                                     (48 * width, 5), (64 * width, 5)]
    dense = [m for m in model if isinstance(m, nn.Linear)]
    assert [(d.in_features, d.out_features) for d in dense] == [(64 * width * 3, 96 * width), (96 * width, 1)]
    assert sum(isinstance(m, nn.BatchNorm1d) for m in model) == (5 if batchnorm else 0)
    assert [m.p for m in model if isinstance(m, nn.Dropout)] == [0.4] * 4 + [0.5]
    assert [m.kernel_size for m in model if isinstance(m, nn.MaxPool1d)] == [4, 4, 4]
    x = torch.nn.functional.one_hot(torch.randint(0, 4, (3, 200)), 4).float().transpose(1, 2)
    assert model.eval()(x).shape == (3, 1)
    assert attribute(model, x, "integrated_gradients", steps=4).shape == (3, 4, 200)
