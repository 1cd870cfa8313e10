"""The architectures: layer shapes as published, Keras initialisation and flatten order, BatchNorm folding; the
normal initialisation and the zero-mean (simplex-projected) first layer."""

import copy
import math

import numpy as np
import pytest
import torch
from torch import nn
from torch.nn.utils import parametrize

from gradcorr import attribute, correct
from gradcorr.attribution import path_rule
from gradcorr.models.architectures import (
    Exp,
    KerasFlatten,
    build_model,
    fold_batchnorm,
    l2_penalty,
    project_first_layer,
    reinitialize,
    release_first_layer,
)
from gradcorr.models.checkpoint import load_model, save_model
from gradcorr.models.ensemble import EnsembleCNN
from gradcorr.models.regularizers import mixing_points


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


def _kernels(model: nn.Sequential) -> list[nn.Module]:
    return [m for m in model if isinstance(m, (nn.Conv1d, nn.Linear))]


def test_reinitialize_draws_from_its_generator_alone():
    torch.manual_seed(0)
    a = build_model("cnn_deep", n_filters=8)
    torch.manual_seed(1)
    b = build_model("cnn_deep", n_filters=8)  # other weights to start from
    assert not torch.equal(a[0].weight, b[0].weight)
    global_state = torch.get_rng_state()
    reinitialize(a, torch.Generator().manual_seed(5))
    reinitialize(b, torch.Generator().manual_seed(5))
    assert torch.equal(torch.get_rng_state(), global_state), "torch's global generator was drawn from"
    for key, value in a.state_dict().items():
        assert torch.equal(b.state_dict()[key], value), key
    c = reinitialize(copy.deepcopy(a), torch.Generator().manual_seed(6))
    for layer_a, layer_c in zip(_kernels(a), _kernels(c)):
        assert not torch.equal(layer_a.weight, layer_c.weight)


def test_reinitialize_resets_batchnorm_and_biases():
    model = _trained_like("cnn_deep", "exp")  # non-trivial running statistics
    with torch.no_grad():
        for m in model:
            if isinstance(m, nn.BatchNorm1d):
                m.weight.uniform_(0.5, 2.0)
                m.bias.uniform_(-1, 1)
                m.num_batches_tracked.fill_(17)
            if isinstance(m, (nn.Conv1d, nn.Linear)):
                m.bias.uniform_(-1, 1)
    assert reinitialize(model, torch.Generator().manual_seed(0)) is model  # in place
    bns = [m for m in model if isinstance(m, nn.BatchNorm1d)]
    assert len(bns) == 5
    for bn in bns:
        assert torch.equal(bn.weight, torch.ones_like(bn.weight)) and torch.count_nonzero(bn.bias) == 0
        assert torch.count_nonzero(bn.running_mean) == 0
        assert torch.equal(bn.running_var, torch.ones_like(bn.running_var))
        assert int(bn.num_batches_tracked) == 0
    assert all(torch.count_nonzero(layer.bias) == 0 for layer in _kernels(model))


def test_reinitialize_draws_keras_scales():
    """He-normal hidden kernels truncated at 2 sd (sample sd 0.8796 of sqrt(2 / fan_in)) and a Glorot-uniform
    output kernel; checked on the wide dense layer of cnn_consistency width 2 (384 x 192 weights)."""
    model = build_model("cnn_consistency", width=2, batchnorm=False)
    with torch.no_grad():
        for layer in _kernels(model):
            layer.weight.fill_(3.0)
    reinitialize(model, torch.Generator().manual_seed(3))
    dense, output = _kernels(model)[-2:]
    nominal = math.sqrt(2 / dense.in_features)
    assert dense.weight.shape == (192, 384)
    assert dense.weight.std().item() == pytest.approx(0.8796 * nominal, rel=0.02)
    assert abs(dense.weight.mean().item()) < 0.02 * nominal
    assert dense.weight.abs().max().item() <= 2 * nominal + 1e-6
    for layer in _kernels(model)[:-1]:  # every hidden kernel at its own fan-in
        fan_in = layer.weight[0].numel()
        assert layer.weight.std().item() == pytest.approx(0.8796 * math.sqrt(2 / fan_in), rel=0.15)
    bound = math.sqrt(6 / (output.in_features + output.out_features))
    assert output.weight.abs().max().item() <= bound and output.weight.abs().max().item() > 0.5 * bound


def test_reinitialize_redraws_a_constrained_first_layer_and_keeps_it_zero_mean():
    torch.manual_seed(0)
    constrained = build_model("cnn_deep", first_layer="projected", n_filters=8)
    with torch.no_grad():
        constrained[0].parametrizations.weight.original.add_(0.5)
    before = constrained[0].parametrizations.weight.original.clone()
    reinitialize(constrained, torch.Generator().manual_seed(4))
    original = constrained[0].parametrizations.weight.original
    # the unconstrained kernel is drawn as a plain model's first kernel is from the same generator
    plain = reinitialize(build_model("cnn_deep", n_filters=8), torch.Generator().manual_seed(4))
    assert torch.equal(original, plain[0].weight) and not torch.equal(original, before)
    assert parametrize.is_parametrized(constrained[0], "weight")
    assert constrained[0].weight.mean(dim=1).abs().max() < 1e-6
    torch.testing.assert_close(constrained[0].weight, original - original.mean(dim=1, keepdim=True))
    for key, value in plain.state_dict().items():  # the other layers alike too
        if not key.startswith("0."):
            assert torch.equal(constrained.state_dict()[key], value), key


# --- SeqCNN and the MLP of the faithful-attributions paper (Adebayo et al., Appendix B) -------------------------

def _protein(n: int, alphabet: int = 20, length: int = 40, seed: int = 2, dtype=torch.float64) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    x = torch.randint(0, alphabet, (n, length), generator=g)
    return torch.nn.functional.one_hot(x, alphabet).to(dtype).transpose(1, 2)


def _n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def _seq_cnn_params(a: int, length: int, f: int, k: int, pool: int, hidden: int) -> int:
    return (a * f * k + f) + (f * f * k + f) + (f * (length // pool // pool) * hidden + hidden) + (hidden + 1)


def _mlp_params(a: int, length: int, hidden: tuple[int, ...]) -> int:
    widths = (a * length, *hidden, 1)
    return sum(i * o + o for i, o in zip(widths, widths[1:]))


@pytest.mark.parametrize("alphabet", [20, 21])
@pytest.mark.parametrize("arch", ["seq_cnn", "mlp"])
def test_protein_models_give_one_logit_and_have_the_documented_layers(arch, alphabet):
    torch.manual_seed(0)
    model = build_model(arch, input_length=40, alphabet=alphabet).eval()
    assert model(_protein(5, alphabet, dtype=torch.float32)).shape == (5, 1)
    assert not any(isinstance(m, nn.BatchNorm1d) for m in model.modules())
    dense = [(m.in_features, m.out_features) for m in model if isinstance(m, nn.Linear)]
    if arch == "seq_cnn":
        convs = [(c.in_channels, c.out_channels, c.kernel_size[0], c.padding)
                 for c in model if isinstance(c, nn.Conv1d)]
        assert convs == [(alphabet, 64, 5, "same"), (64, 64, 5, "same")]
        assert [m.kernel_size for m in model if isinstance(m, nn.MaxPool1d)] == [2, 2]
        assert dense == [(64 * 10, 128), (128, 1)]
        assert _n_params(model) == _seq_cnn_params(alphabet, 40, 64, 5, 2, 128)
    else:
        assert isinstance(model[0], KerasFlatten) and dense == [(alphabet * 40, 256), (256, 128), (128, 64), (64, 1)]
        assert _n_params(model) == _mlp_params(alphabet, 40, (256, 128, 64))
    assert [m.p for m in model if isinstance(m, nn.Dropout)] == [0.0] * {"seq_cnn": 1, "mlp": 3}[arch]


def test_protein_model_parameter_counts_follow_their_sizes():
    assert _n_params(build_model("seq_cnn", alphabet=21, input_length=43, n_filters=7, kernel_size=3, pool=3,
                                 hidden=11)) == _seq_cnn_params(21, 43, 7, 3, 3, 11)
    assert _n_params(build_model("mlp", alphabet=21, input_length=33, hidden=[9, 5])) == _mlp_params(21, 33, (9, 5))
    assert _seq_cnn_params(20, 40, 64, 5, 2, 128) == 109185 and _mlp_params(20, 40, (256, 128, 64)) == 246273
    with pytest.raises(ValueError, match="seq_cnn needs inputs of length at least 4"):
        build_model("seq_cnn", input_length=3)
    with pytest.raises(ValueError, match="hidden layer"):
        build_model("mlp", hidden=())


@pytest.mark.parametrize("arch", ["seq_cnn", "mlp"])
def test_protein_model_dropout_acts_in_training_mode_only(arch):
    torch.manual_seed(0)
    model = build_model(arch, dropout=0.5).double()
    x = _protein(8)
    model.train()
    assert not torch.equal(model(x), model(x))
    model.eval()
    torch.testing.assert_close(model(x), model(x), rtol=0, atol=0)
    folded = fold_batchnorm(model)
    assert not any(isinstance(m, nn.Dropout) for m in folded)
    torch.testing.assert_close(folded(x), model(x), rtol=0, atol=0)
    assert mixing_points(model) == [0] + [i + 1 for i, m in enumerate(model) if isinstance(m, nn.ReLU)]


@pytest.mark.parametrize("arch, kwargs", [("seq_cnn", {"n_filters": 8, "hidden": 16, "dropout": 0.25}),
                                          ("mlp", {"hidden": (32, 16, 8), "dropout": 0.5})])
def test_protein_model_checkpoint_round_trip(arch, kwargs, tmp_path):
    torch.manual_seed(1)
    shape = {**kwargs, "input_length": 40, "alphabet": 20}
    model = build_model(arch, **shape).eval()
    save_model(tmp_path / "m.pt", model, arch, shape, [], {"weight_decay": 0.01})
    loaded, saved = load_model(tmp_path / "m.pt")
    x = _protein(6, dtype=torch.float32)
    torch.testing.assert_close(loaded(x), model(x), rtol=0, atol=0)
    assert not loaded.training and saved["model_kwargs"] == shape


@pytest.mark.parametrize("arch", ["seq_cnn", "mlp"])
def test_protein_model_attributions(arch):
    """Saliency is the input gradient of the sigmoid output; integrated gradients from the zero reference are the
    trapezoid-weighted mean gradient on the path alpha x (maps stay gradient-like)."""
    torch.manual_seed(3)
    model = build_model(arch, dropout=0.3).double().eval()
    x = _protein(7)
    xg = x.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(torch.sigmoid(model(xg)).sum(), xg)
    torch.testing.assert_close(attribute(model, x, "saliency"), grad, rtol=1e-12, atol=1e-14)
    ig = attribute(model, x, "integrated_gradients", reference="zeros", steps=5)
    alphas, weights = path_rule(5, "riemann_trapezoid")
    want = torch.zeros_like(x)
    for alpha, weight in zip(alphas.tolist(), weights.tolist()):
        u = (alpha * x).requires_grad_(True)
        (g,) = torch.autograd.grad(torch.sigmoid(model(u)).sum(), u)
        want += weight * g
    torch.testing.assert_close(ig, want, rtol=1e-10, atol=1e-14)
    assert ig.abs().max() > 0 and not torch.allclose(ig, grad)
    assert not model.training


def test_protein_models_initialise_as_pytorch_and_reinitialize_so():
    """PyTorch's default initialisation from the global generator; `reinitialize` draws the same scheme from its
    generator (so equal to a model built after seeding the global generator alike); kernel_init redraws in a
    Keras scheme; the first-layer options need a convolution."""
    for arch in ("seq_cnn", "mlp"):
        torch.manual_seed(5)
        built = build_model(arch, n_filters=8) if arch == "seq_cnn" else build_model(arch)
        torch.manual_seed(6)
        other = copy.deepcopy(built)
        reinitialize(other, torch.Generator().manual_seed(5))
        for key, value in built.state_dict().items():
            assert torch.equal(other.state_dict()[key], value), (arch, key)
        kernels = _kernels(built)
        bound = 1 / math.sqrt(kernels[0].weight[0].numel())  # kaiming_uniform(a=sqrt 5): U(+-1/sqrt(fan_in))
        assert kernels[0].weight.abs().max() <= bound and kernels[0].weight.abs().max() > 0.9 * bound
        assert kernels[0].bias.abs().max() <= bound and torch.count_nonzero(kernels[0].bias) > 0
        keras = build_model(arch, kernel_init="glorot_uniform")
        assert all(torch.count_nonzero(k.bias) == 0 for k in _kernels(keras)) and keras.kernel_init == "glorot_uniform"
    with pytest.raises(ValueError, match="first layer is a convolution"):
        build_model("mlp", first_layer="projected")
    constrained = build_model("seq_cnn", first_layer="projected").double().eval()
    grad = attribute(constrained, _protein(3), "saliency")
    assert grad.sum(dim=1).abs().max() < 1e-12 and grad.abs().max() > 0


# --- the Basset-style multi-task CNN (Koo & Ploenzke, Task 4; the gradient-correction paper's Fig. 11) ------------

def _basset_params(alphabet: int, length: int, filters: tuple[int, ...], widths: tuple[int, ...],
                   pools: tuple[int, ...], dense: tuple[int, ...], tasks: int, bias: bool = True) -> int:
    """Parameters counted from the layer sizes: kernels, biases (when `bias`), BatchNorm's scale and shift
    (its running statistics are buffers); the first convolution keeps the length ("same"), the others shorten
    it by width - 1 ("valid"), each pool divides it (rounding down)."""
    count, c_in = 0, alphabet
    for i, (f, w, p) in enumerate(zip(filters, widths, pools)):
        count += c_in * f * w + (f if bias else 0) + 2 * f
        length = (length - (w - 1 if i else 0)) // p
        c_in = f
    width = c_in * length
    for units in dense:
        count += width * units + (units if bias else 0) + 2 * units
        width = units
    return count + width * tasks + tasks


def test_basset_has_the_published_layers_and_over_four_million_parameters():
    torch.manual_seed(0)
    model = build_model("basset", activation="exp")
    convs = [(c.in_channels, c.out_channels, c.kernel_size[0], c.padding) for c in model if isinstance(c, nn.Conv1d)]
    assert convs == [(4, 300, 19, "same"), (300, 200, 11, "valid"), (200, 200, 7, "valid")]
    assert [m.kernel_size for m in model if isinstance(m, nn.MaxPool1d)] == [3, 4, 4]
    # 600 -> 200 (pool 3) -> 190 (width 11) -> 47 (pool 4) -> 41 (width 7) -> 10 (pool 4): 10 x 200 features
    assert [(d.in_features, d.out_features) for d in model if isinstance(d, nn.Linear)] == [
        (2000, 1000), (1000, 1000), (1000, 164)]
    bns = [m for m in model if isinstance(m, nn.BatchNorm1d)]
    assert [bn.num_features for bn in bns] == [300, 200, 200, 1000, 1000]
    assert all(bn.eps == 1e-3 and bn.momentum == pytest.approx(0.01) for bn in bns)
    assert [m.p for m in model if isinstance(m, nn.Dropout)] == [0.2] * 3 + [0.5] * 2
    assert [type(m) for m in model if isinstance(m, (nn.ReLU, Exp))] == [Exp] + [nn.ReLU] * 4
    # layer by layer: conv1 4*300*19, conv2 300*200*11, conv3 200*200*7, dense 2000*1000 and 1000*1000, output
    # 1000*164 + 164; BatchNorm 2 per channel; a bias per hidden channel unless built as published (bias=False)
    kernels = 4 * 300 * 19 + 300 * 200 * 11 + 200 * 200 * 7 + 2000 * 1000 + 1000 * 1000 + 1000 * 164 + 164
    hidden = 300 + 200 + 200 + 1000 + 1000
    assert _n_params(model) == kernels + 3 * hidden == 4_135_064
    assert _n_params(build_model("basset", bias=False)) == kernels + 2 * hidden == 4_132_364 > 4_000_000
    assert _basset_params(4, 600, (300, 200, 200), (19, 11, 7), (3, 4, 4), (1000, 1000), 164) == 4_135_064
    with torch.no_grad():
        assert model.eval()(torch.randn(2, 4, 600)).shape == (2, 164)
    output = _kernels(model)[-1]  # Keras' initialisation: Glorot-uniform output, He-normal hidden, zero biases
    assert output.weight.abs().max() <= math.sqrt(6 / (1000 + 164))
    assert all(torch.count_nonzero(k.bias) == 0 for k in _kernels(model))
    dense1 = _kernels(model)[3]
    assert dense1.weight.std().item() == pytest.approx(0.8796 * math.sqrt(2 / 2000), rel=0.02)


def test_basset_sizes_are_options_and_too_short_inputs_are_refused():
    sizes = {"filters": (16, 12, 8), "widths": (9, 5, 3), "pools": (2, 3, 2), "dense": (24,), "n_tasks": 7}
    model = build_model("basset", input_length=200, **sizes).eval()
    assert model(torch.randn(3, 4, 200)).shape == (3, 7)
    # 200 -> 100 -> 96 -> 32 -> 30 -> 15: 15 x 8 features into the dense layer
    assert [m for m in model if isinstance(m, nn.Linear)][0].in_features == 8 * 15
    assert _n_params(model) == _basset_params(4, 200, (16, 12, 8), (9, 5, 3), (2, 3, 2), (24,), 7)
    assert _n_params(build_model("basset", input_length=200, bias=False, **sizes)) == _basset_params(
        4, 200, (16, 12, 8), (9, 5, 3), (2, 3, 2), (24,), 7, bias=False)
    # the published sizes need 3 * (4 * (4 + 6) + 10) = 150: one position is left after the last pool
    with pytest.raises(ValueError, match="basset needs inputs of length at least 150.*got 149"):
        build_model("basset", input_length=149)
    with torch.no_grad():
        assert build_model("basset", input_length=150).eval()(torch.randn(1, 4, 150)).shape == (1, 164)
    with pytest.raises(ValueError, match="one width and one pool per convolution"):
        build_model("basset", filters=(8, 8), widths=(5,), pools=(2, 2))
    with pytest.raises(ValueError, match="sizes must be >= 1"):
        build_model("basset", dense=(0,))
    with pytest.raises(ValueError, match="activation"):
        build_model("basset", activation="tanh")


def _small_basset(activation: str = "exp", bias: bool = True, seed: int = 0) -> nn.Sequential:
    """A narrow float64 basset at length 200 with non-trivial BatchNorm statistics and affine parameters."""
    torch.manual_seed(seed)
    model = build_model("basset", activation=activation, input_length=200, filters=(8, 6, 6), widths=(9, 5, 3),
                        pools=(2, 4, 4), dense=(16, 12), n_tasks=5, bias=bias).double()
    with torch.no_grad():
        for bn in (m for m in model if isinstance(m, nn.BatchNorm1d)):
            bn.running_mean.uniform_(-0.2, 0.2)
            bn.running_var.uniform_(0.5, 2.0)
            bn.weight.uniform_(0.5, 1.5)
            bn.bias.uniform_(-0.3, 0.3)
    return model.eval()


@pytest.mark.parametrize("bias", [True, False])
def test_basset_folds_to_its_eval_function(bias):
    """Every BatchNorm, after convolutions and dense layers alike, folds into the layer before it (when that has
    a bias); the folded copy computes the eval model's logits, for every task."""
    model = _small_basset(bias=bias)
    folded = fold_batchnorm(model)
    assert not any(isinstance(m, nn.Dropout) for m in folded)
    assert sum(isinstance(m, nn.BatchNorm1d) for m in folded) == (0 if bias else 5)
    x = _one_hot(6)
    out = model(x)
    assert out.shape == (6, 5) and out.std(dim=0).min() > 0
    torch.testing.assert_close(folded(x), out, rtol=1e-12, atol=1e-12)


def test_basset_attributions_explain_the_chosen_task():
    """Saliency of task t is the input gradient of sigmoid(logit t); the first convolution ("same", odd width) is
    split off by the engine; integrated gradients run on it too."""
    model = _small_basset()
    x = _one_hot(4)
    for task in (0, 3):
        xg = x.clone().requires_grad_(True)
        (grad,) = torch.autograd.grad(torch.sigmoid(model(xg)[:, task]).sum(), xg)
        torch.testing.assert_close(attribute(model, x, "saliency", target=task), grad, rtol=1e-10, atol=1e-14)
    ig = attribute(model, x, "integrated_gradients", steps=4, target=2)
    assert ig.shape == (4, 4, 200) and torch.isfinite(ig).all() and ig.abs().max() > 0
    assert not model.training

