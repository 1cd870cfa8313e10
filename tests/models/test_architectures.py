"""The architectures: layer shapes as published, Keras initialisation and flatten order, BatchNorm folding; the
normal initialisation and the zero-mean (simplex-projected) first layer."""

import copy
import math

import numpy as np
import pytest
import torch
from torch import nn

from gradcorr import attribute, correct
from gradcorr.models.architectures import (
    KerasFlatten,
    build_model,
    fold_batchnorm,
    l2_penalty,
    project_first_layer,
    release_first_layer,
)
from gradcorr.models.ensemble import EnsembleCNN


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


def _trained_like(arch: str, activation: str, seed: int = 0) -> nn.Sequential:
    """A float64 model with non-trivial BatchNorm statistics and a first kernel far from zero-mean."""
    torch.manual_seed(seed)
    model = build_model(arch, activation=activation, n_filters=8, kernel_size=9).double()
    with torch.no_grad():
        model[0].weight.add_(0.3)  # a large mean over the alphabet: large angles
        for bn in (m for m in model.modules() if isinstance(m, nn.BatchNorm1d)):
            bn.running_mean.uniform_(-0.2, 0.2)
            bn.running_var.uniform_(0.5, 2.0)
    return model.eval()


def _one_hot(n: int, length: int = 200, seed: int = 1) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.nn.functional.one_hot(torch.randint(0, 4, (n, length), generator=g), 4).double().transpose(1, 2)


@pytest.mark.parametrize("arch, activation", [("cnn_deep", "exp"), ("cnn_shallow", "relu")])
def test_projected_first_layer_is_the_same_function_and_its_gradient_is_the_corrected_one(arch, activation):
    model = _trained_like(arch, activation)
    before = copy.deepcopy(model.state_dict())
    projected = project_first_layer(model)
    x = _one_hot(12)
    # the same function on one-hot inputs, at the ends of the sequence too (where taps fall on padding)
    torch.testing.assert_close(projected(x), model(x), rtol=1e-12, atol=1e-12)
    assert projected[0].weight.mean(dim=1).abs().max() < 1e-15
    ig = {"steps": 6, "seed": 3, "output": "logit"}  # the path from a permuted sequence stays on the plane sum = 1
    for method, options in (("saliency", {"output": "logit"}), ("integrated_gradients", ig)):
        raw = attribute(model, x, method, **options).numpy()
        mine = attribute(projected, x, method, **options).numpy()
        assert np.abs(raw.sum(axis=1)).max() > 1e-3, "the original's gradients leave the simplex"
        np.testing.assert_allclose(mine, correct(raw), rtol=1e-9, atol=1e-12)
    # off the simplex the two functions differ: that is the freedom correction removes
    assert not torch.allclose(projected(x + 0.5), model(x + 0.5))
    for key, value in model.state_dict().items():
        assert torch.equal(value, before[key]), "project_first_layer works on a copy"


def test_projected_copy_folds_and_refuses_to_stack():
    projected = project_first_layer(_trained_like("cnn_deep", "relu"))
    x = _one_hot(4, seed=5)
    torch.testing.assert_close(fold_batchnorm(projected)(x), projected(x), rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError, match="projected copy"):
        EnsembleCNN([projected, projected])


def test_normal_init_draws_hidden_kernels_at_sigma_and_keeps_the_output_layer():
    torch.manual_seed(0)
    model = build_model("cnn_deep", init_sigma=0.05)
    layers = [m for m in model if isinstance(m, (nn.Conv1d, nn.Linear))]
    for layer in layers[:-1]:
        assert layer.weight.std().item() == pytest.approx(0.05, rel=0.1)
        assert layer.weight.abs().max() > 2 * 0.05  # not truncated at 2 sd as He-normal is
        assert torch.count_nonzero(layer.bias) == 0
    bound = math.sqrt(6 / sum(layers[-1].weight.shape))
    assert layers[-1].weight.abs().max() <= bound  # Glorot-uniform, as the authors' model zoo leaves it


def test_first_layer_options():
    torch.manual_seed(0)
    constrained = build_model("cnn_deep", first_layer="projected").double().eval()
    # it computes with V - mean_a V: every input gradient lies in the simplex plane
    with torch.no_grad():
        constrained[0].parametrizations.weight.original.add_(0.5)
    x = _one_hot(3)
    grad = attribute(constrained, x, "saliency").numpy()
    assert np.abs(grad.sum(axis=1)).max() < 1e-12 and np.abs(grad).max() > 0
    original = copy.deepcopy(constrained)
    plain = release_first_layer(copy.deepcopy(constrained))
    assert type(plain[0]) is nn.Conv1d
    torch.testing.assert_close(plain(x), constrained(x), rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(original(x), constrained(x))  # a released copy leaves the others alone
    torch.manual_seed(0)
    started = build_model("cnn_deep", first_layer="projected_init")
    assert started[0].weight.mean(dim=1).abs().max() < 1e-6 and type(started[0]) is nn.Conv1d
    with pytest.raises(ValueError, match="first_layer"):
        build_model("cnn_deep", first_layer="tied")
