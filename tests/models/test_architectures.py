"""The architectures: layer shapes as published, Keras initialisation and flatten order, BatchNorm folding."""

import math

import pytest
import torch
from torch import nn

from gradcorr import attribute
from gradcorr.models.architectures import KerasFlatten, build_model, fold_batchnorm, l2_penalty


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


def test_fold_batchnorm_computes_the_eval_model():
    torch.manual_seed(0)
    deep64 = build_model("cnn_deep", activation="exp", n_filters=8).double()
    for bn in (m for m in deep64.modules() if isinstance(m, nn.BatchNorm1d)):  # non-trivial statistics
        bn.running_mean.uniform_(-0.2, 0.2)
        bn.running_var.uniform_(0.5, 2.0)
    folded = fold_batchnorm(deep64)
    kinds = {type(m) for m in folded}
    assert nn.BatchNorm1d not in kinds and nn.Dropout not in kinds
    x = torch.nn.functional.one_hot(torch.randint(0, 4, (6, 200)), 4).double().transpose(1, 2)
    torch.testing.assert_close(folded(x), deep64.eval()(x), rtol=1e-12, atol=1e-12)
    assert sum(isinstance(m, nn.BatchNorm1d) for m in deep64) == 5, "the model itself is left alone"
