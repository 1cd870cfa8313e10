"""The models, in PyTorch: CNN-shallow and CNN-deep of the gradient-correction paper (Appendix A), the
consistency paper's CNN (its Appendix B), the Basset-style multi-task CNN of the exponential-activation paper
(Koo & Ploenzke, Task 4; the gradient-correction paper's Fig. 11), SeqCNN and the MLP of the
faithful-attributions paper (Adebayo et al., Appendix B), and the BatchNorm-folded inference copy
attribution runs on.

The CNNs of the gradient-correction and consistency papers match the authors' Keras model zoo: padding
"same", BatchNorm before every activation with Keras' defaults (epsilon 1e-3, momentum 0.99), dropout after
each activation and before pooling, He-normal kernels on hidden layers, a Glorot-uniform linear output.
`basset` follows the same conventions, with "valid" padding after its first convolution, BatchNorm after
its dense layers too, and one output per task. Every model returns logits, (N, 1) or (N, n_tasks) for
`basset`; apply a sigmoid for the published output. Flattening follows Keras' (length, channels) order so
that Keras weights can be loaded one to one.

SeqCNN and the MLP are described in words only ("a 4 layer CNN where the first two layers are followed by a
ReLU activation and a pooling operation; then two fully-connected layers with dropout optionally applied";
"four fully connected layers"): the sizes are our choices. With alphabet A and length L (20 and 40 for the
paper's protein sequences):

- `seq_cnn`: conv A -> 64, width 5, padding "same"; ReLU; max-pool 2; conv 64 -> 64, width 5, "same";
  ReLU; max-pool 2; flatten (64 * (L // 4) features); dense 128; ReLU; dropout (0 by default); dense 1.
- `mlp`: flatten (A * L features); dense 256, 128, 64, each followed by ReLU and dropout (0 by default);
  dense 1.

Neither has BatchNorm, and both start from PyTorch's default initialisation (Kaiming-uniform kernels with
a = sqrt(5), uniform biases in +-1/sqrt(fan_in)), drawn from torch's global generator; `build_model`'s
`kernel_init` redraws them in a Keras scheme instead. Their dropout is in the dense part, which
`training.set_dropout` (and so a `training.Phase`'s dropout) leaves alone: set it when building.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

CONV_ARCHITECTURES = ("cnn_shallow", "cnn_deep", "cnn_consistency")  # the Keras model zoo's CNNs
ARCHITECTURES = (*CONV_ARCHITECTURES, "seq_cnn", "mlp", "basset")
ACTIVATIONS = ("relu", "exp")
# How the first layer starts and trains: "free" (the published model), "projected" (its kernel kept zero-mean
# over the alphabet throughout training, a reparameterisation), "projected_init" (zero-mean at initialisation)
FIRST_LAYERS = ("free", "projected", "projected_init")
KERNEL_INITS = ("he_normal", "glorot_uniform")  # hidden kernels: the published models', Keras' default
TORCH_DEFAULT_INIT = "torch_default"  # the scheme seq_cnn and mlp are built with (PyTorch's reset_parameters)
INIT_OPTIONS = ("init_sigma", "first_layer", "kernel_init")  # build_model options that act only when a model is created
KERAS_BN_EPS = 1e-3
KERAS_BN_MOMENTUM = 0.01  # PyTorch momentum = 1 - Keras momentum (0.99)


class Exp(nn.Module):
    """Exponential activation of the first layer (Koo & Ploenzke 2021)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.exp(x)


def _activation(name: str) -> nn.Module:
    if name == "relu":
        return nn.ReLU()
    if name == "exp":
        return Exp()
    raise ValueError(f"unknown activation {name!r}; choose one of {ACTIVATIONS}")


def _conv_block(c_in: int, c_out: int, width: int, activation: str, dropout: float, pool: int,
                padding: str = "same", bias: bool = True) -> list[nn.Module]:
    """Conv (`padding` "same" or "valid"), BatchNorm (Keras' defaults), activation, dropout, max-pool (if > 1)."""
    layers: list[nn.Module] = [
        nn.Conv1d(c_in, c_out, width, padding=padding, bias=bias),
        nn.BatchNorm1d(c_out, eps=KERAS_BN_EPS, momentum=KERAS_BN_MOMENTUM),
        _activation(activation),
        nn.Dropout(dropout),
    ]
    if pool > 1:
        layers.append(nn.MaxPool1d(pool))
    return layers


class KerasFlatten(nn.Module):
    """Flatten (N, C, L) in Keras' (L, C) order."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.transpose(1, 2).flatten(1)


def _pooled_length(arch: str, input_length: int, pools: tuple[int, ...]) -> int:
    """The length left after `pools`; ValueError when nothing would be left for the dense layer."""
    length = input_length
    for pool in pools:
        length //= pool
    if length < 1:
        raise ValueError(f"{arch} needs inputs of length at least {math.prod(pools)} (its pooling sizes "
                         f"{' x '.join(map(str, pools))}), got {input_length}")
    return length


def _head(n_features: int, hidden: int = 96) -> list[nn.Module]:
    return [
        KerasFlatten(),
        nn.Linear(n_features, hidden),
        nn.BatchNorm1d(hidden, eps=KERAS_BN_EPS, momentum=KERAS_BN_MOMENTUM),
        nn.ReLU(),
        nn.Dropout(0.5),
        nn.Linear(hidden, 1),
    ]


def cnn_shallow(activation: str = "relu", n_filters: int = 24, kernel_size: int = 19,
                input_length: int = 200, alphabet: int = 4) -> nn.Sequential:
    """CNN-shallow: conv (first-layer activation), pool 50; conv 48x3, pool 2; dense 96; dense 1."""
    length = _pooled_length("cnn_shallow", input_length, (50, 2))
    model = nn.Sequential(
        *_conv_block(alphabet, n_filters, kernel_size, activation, 0.1, 50),
        *_conv_block(n_filters, 48, 3, "relu", 0.2, 2),
        *_head(48 * length),
    )
    return _init_keras(model)


def cnn_deep(activation: str = "relu", n_filters: int = 24, kernel_size: int = 19,
             input_length: int = 200, alphabet: int = 4) -> nn.Sequential:
    """CNN-deep: conv (first-layer activation); conv 32x7 pool 4; conv 48x7 pool 4; conv 64x3 pool 3;
    dense 96; dense 1."""
    length = _pooled_length("cnn_deep", input_length, (4, 4, 3))
    model = nn.Sequential(
        *_conv_block(alphabet, n_filters, kernel_size, activation, 0.1, 1),
        *_conv_block(n_filters, 32, 7, "relu", 0.2, 4),
        *_conv_block(32, 48, 7, "relu", 0.3, 4),
        *_conv_block(48, 64, 3, "relu", 0.4, 3),
        *_head(64 * length),
    )
    return _init_keras(model)


def cnn_consistency(activation: str = "relu", batchnorm: bool = True, dropout: float = 0.1, width: int = 1,
                    n_filters: int = 24, kernel_size: int = 19, input_length: int = 200,
                    alphabet: int = 4, bias: bool = True) -> nn.Sequential:
    """The consistency paper's CNN (Majdandzic, Rajesh & Koo, Appendix B), which is also the baseline CNN of
    the regularization-saliency paper (Labelson, Tripathy & Koo, Appendix A): conv 24k x 19 (first-layer
    activation); conv 32k x 7, pool 4; conv 48k x 5, pool 4; conv 64k x 5, pool 4; dense 96k; dense 1.
    BatchNorm before every hidden activation when `batchnorm`; dropout `dropout` after each
    convolution (before pooling in the second block, after it in the third and fourth, as listed
    there) and 0.5 after the dense layer; k = `width`. `bias` False leaves the hidden layers without a
    bias (the regularization-saliency code builds its models without BatchNorm so)."""
    def block(c_in: int, c_out: int, size: int, act: str, pool: int, pool_first: bool) -> list[nn.Module]:
        layers: list[nn.Module] = [nn.Conv1d(c_in, c_out, size, padding="same", bias=bias)]
        if batchnorm:
            layers.append(nn.BatchNorm1d(c_out, eps=KERAS_BN_EPS, momentum=KERAS_BN_MOMENTUM))
        layers.append(_activation(act))
        tail: list[nn.Module] = [nn.Dropout(dropout)] + ([nn.MaxPool1d(pool)] if pool > 1 else [])
        return layers + (tail[::-1] if pool_first else tail)

    length = _pooled_length("cnn_consistency", input_length, (4, 4, 4))
    head: list[nn.Module] = [KerasFlatten(), nn.Linear(64 * width * length, 96 * width, bias=bias)]
    if batchnorm:
        head.append(nn.BatchNorm1d(96 * width, eps=KERAS_BN_EPS, momentum=KERAS_BN_MOMENTUM))
    head += [nn.ReLU(), nn.Dropout(0.5), nn.Linear(96 * width, 1)]
    model = nn.Sequential(
        *block(alphabet, n_filters * width, kernel_size, activation, 1, False),
        *block(n_filters * width, 32 * width, 7, "relu", 4, False),
        *block(32 * width, 48 * width, 5, "relu", 4, True),
        *block(48 * width, 64 * width, 5, "relu", 4, True),
        *head,
    )
    return _init_keras(model)


def seq_cnn(alphabet: int = 20, input_length: int = 40, n_filters: int = 64, kernel_size: int = 5, pool: int = 2,
            hidden: int = 128, dropout: float = 0.0) -> nn.Sequential:
    """SeqCNN of the faithful-attributions paper (Adebayo et al., Appendix B), sizes ours: conv
    `n_filters` x `kernel_size` ("same"), ReLU, max-pool `pool`; the same again; dense `hidden`, ReLU,
    dropout `dropout`; dense 1. No BatchNorm; PyTorch's default initialisation."""
    length = _pooled_length("seq_cnn", input_length, (pool, pool))
    model = nn.Sequential(
        nn.Conv1d(alphabet, n_filters, kernel_size, padding="same"),
        nn.ReLU(),
        nn.MaxPool1d(pool),
        nn.Conv1d(n_filters, n_filters, kernel_size, padding="same"),
        nn.ReLU(),
        nn.MaxPool1d(pool),
        KerasFlatten(),
        nn.Linear(n_filters * length, hidden),
        nn.ReLU(),
        nn.Dropout(dropout),
        nn.Linear(hidden, 1),
    )
    model.kernel_init = TORCH_DEFAULT_INIT
    return model


def mlp(alphabet: int = 20, input_length: int = 40, hidden: Sequence[int] = (256, 128, 64),
        dropout: float = 0.0) -> nn.Sequential:
    """The MLP of the faithful-attributions paper (Adebayo et al., Appendix B), sizes ours: the one-hot input
    flattened (Keras' (length, alphabet) order), a dense layer of each width in `hidden` followed by ReLU and
    dropout `dropout`, dense 1: four dense layers with the default widths. No BatchNorm; PyTorch's default
    initialisation."""
    hidden = tuple(int(h) for h in hidden)
    if not hidden or min(hidden) < 1:
        raise ValueError(f"mlp needs at least one hidden layer, each of width >= 1; got hidden={hidden}")
    layers: list[nn.Module] = [KerasFlatten()]
    width = alphabet * input_length
    for size in hidden:
        layers += [nn.Linear(width, size), nn.ReLU(), nn.Dropout(dropout)]
        width = size
    model = nn.Sequential(*layers, nn.Linear(width, 1))
    model.kernel_init = TORCH_DEFAULT_INIT
    return model


def _basset_min_length(widths: tuple[int, ...], pools: tuple[int, ...]) -> int:
    """The shortest input that leaves at least one position after Basset's convolutions and pools: the first
    convolution pads "same", the others are "valid" (each shortens by its width - 1)."""
    need = 1
    for i in reversed(range(len(widths))):
        need *= pools[i]
        if i > 0:
            need += widths[i] - 1
    return need


def basset(activation: str = "relu", n_tasks: int = 164, input_length: int = 600, alphabet: int = 4,
           filters: Sequence[int] = (300, 200, 200), widths: Sequence[int] = (19, 11, 7),
           pools: Sequence[int] = (3, 4, 4), dense: Sequence[int] = (1000, 1000), conv_dropout: float = 0.2,
           dense_dropout: float = 0.5, bias: bool = True) -> nn.Sequential:
    """The Basset-style multi-task CNN of Koo & Ploenzke's exponential-activation paper (its Task 4, the model
    of the gradient-correction paper's Fig. 11), with the published sizes as defaults.

    Conv `filters[0]` x `widths[0]` ("same"), BatchNorm, first-layer `activation`, dropout `conv_dropout`,
    max-pool `pools[0]`; each further convolution "valid", BatchNorm, ReLU, dropout, max-pool; flatten (Keras'
    (length, channels) order); a dense layer of each width in `dense` with BatchNorm, ReLU and dropout
    `dense_dropout`; dense `n_tasks` logits (one per task; apply a sigmoid for the published output).
    The original puts an L2 penalty of 1e-6 on every hidden kernel, which `training.TrainConfig`'s default
    `l2` (1e-6 times `l2_penalty`, output layer excluded as in the original) gives.

    The authors' layers have no bias before a BatchNorm; with `bias` True (the default) they have one, zero
    at the start, which the BatchNorm that follows cancels (its batch mean and running mean absorb it), so
    the function class is the same, while `fold_batchnorm` can fold every BatchNorm into the layer before it
    and attribution can split off the first convolution. `bias` False builds the published layers exactly.
    """
    filters, widths, pools, dense = (tuple(int(v) for v in seq) for seq in (filters, widths, pools, dense))
    if not filters or len(widths) != len(filters) or len(pools) != len(filters):
        raise ValueError(f"basset needs one width and one pool per convolution, and at least one convolution; got "
                         f"filters={filters}, widths={widths}, pools={pools}")
    if min(filters + widths + pools + dense, default=1) < 1 or n_tasks < 1:
        raise ValueError(f"basset's sizes must be >= 1; got filters={filters}, widths={widths}, pools={pools}, "
                         f"dense={dense}, n_tasks={n_tasks}")
    need = _basset_min_length(widths, pools)
    if input_length < need:
        raise ValueError(f"basset needs inputs of length at least {need} for its convolutions (widths {widths}, "
                         f"all but the first 'valid') and pools {pools}; got {input_length}")
    layers: list[nn.Module] = []
    length, c_in = input_length, alphabet
    for i, (c_out, width, pool) in enumerate(zip(filters, widths, pools)):
        layers += _conv_block(c_in, c_out, width, activation if i == 0 else "relu", conv_dropout, pool,
                              padding="same" if i == 0 else "valid", bias=bias)
        length = (length - (width - 1 if i > 0 else 0)) // pool
        c_in = c_out
    layers.append(KerasFlatten())
    width_in = c_in * length
    for units in dense:
        layers += [nn.Linear(width_in, units, bias=bias),
                   nn.BatchNorm1d(units, eps=KERAS_BN_EPS, momentum=KERAS_BN_MOMENTUM), nn.ReLU(),
                   nn.Dropout(dense_dropout)]
        width_in = units
    layers.append(nn.Linear(width_in, n_tasks))
    return _init_keras(nn.Sequential(*layers))


def _torch_default_(model: nn.Sequential, generator: torch.Generator | None = None) -> nn.Sequential:
    """Every conv and dense layer drawn as PyTorch's `reset_parameters` draws it (Kaiming-uniform kernel with
    a = sqrt(5), bias uniform in +-1/sqrt(fan_in)), in layer order, from `generator` or torch's global one."""
    with torch.no_grad():
        for layer in (m for m in model if isinstance(m, (nn.Conv1d, nn.Linear))):
            weight = _trained_weight(layer)
            nn.init.kaiming_uniform_(weight, a=math.sqrt(5), generator=generator)
            if layer.bias is not None:
                fan_in = weight[0].numel()
                bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0.0
                nn.init.uniform_(layer.bias, -bound, bound, generator=generator)
    model.kernel_init = TORCH_DEFAULT_INIT
    return model


def _he_normal_(weight: torch.Tensor, generator: torch.Generator | None = None) -> None:
    """Keras 2 he_normal: truncated normal at 2 sd, sd = sqrt(2 / fan_in)."""
    fan_in = weight[0].numel()
    std = math.sqrt(2.0 / fan_in)
    nn.init.trunc_normal_(weight, std=std, a=-2 * std, b=2 * std, generator=generator)


def _init_keras(model: nn.Sequential, generator: torch.Generator | None = None,
                kernel_init: str = "he_normal") -> nn.Sequential:
    """He-normal (or Glorot-uniform) hidden kernels, a Glorot-uniform output kernel, zero biases (Keras); drawn
    from `generator`, or torch's global one. The scheme is kept on the model (`kernel_init`) for `reinitialize`."""
    if kernel_init not in KERNEL_INITS:
        raise ValueError(f"unknown kernel_init {kernel_init!r}; choose one of {KERNEL_INITS}")
    layers = [m for m in model if isinstance(m, (nn.Conv1d, nn.Linear))]
    with torch.no_grad():
        for layer in layers[:-1]:
            if kernel_init == "he_normal":
                _he_normal_(_trained_weight(layer), generator)
            else:
                nn.init.xavier_uniform_(_trained_weight(layer), generator=generator)
        nn.init.xavier_uniform_(_trained_weight(layers[-1]), generator=generator)
        for layer in layers:
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)
    model.kernel_init = kernel_init
    return model


def _trained_weight(layer: nn.Module) -> torch.Tensor:
    """The kernel a layer trains: the unconstrained one of a parametrised layer (`constrain_first_layer`)."""
    found = getattr(getattr(layer, "parametrizations", None), "weight", None)
    return found.original if found is not None else layer.weight


def reinitialize(model: nn.Sequential, generator: torch.Generator) -> nn.Sequential:
    """Fresh weights in place, drawn from `generator` as `build_model` drew the model's (its `kernel_init`:
    He-normal by default, a Glorot-uniform output kernel, zero biases; PyTorch's default scheme for a model
    built with it, seq_cnn and mlp); every BatchNorm back to its initial state."""
    for layer in model:
        if isinstance(layer, nn.BatchNorm1d):
            layer.reset_parameters()
    scheme = getattr(model, "kernel_init", "he_normal")
    if scheme == TORCH_DEFAULT_INIT:
        return _torch_default_(model, generator)
    return _init_keras(model, generator, scheme)


def normal_init_(model: nn.Sequential, sigma: float) -> nn.Sequential:
    """Kernels of every convolution and hidden dense layer drawn from N(0, sigma^2), biases zero (the
    initialisation sweep of the gradient-correction paper, section 5.6). The output layer keeps its
    Glorot-uniform kernel, as the authors' model zoo passes its initializer to the hidden layers only."""
    layers = [m for m in model if isinstance(m, (nn.Conv1d, nn.Linear))]
    for layer in layers[:-1]:
        nn.init.normal_(layer.weight, 0.0, sigma)
        if layer.bias is not None:
            nn.init.zeros_(layer.bias)
    return model


class ZeroMeanKernel(nn.Module):
    """A convolution kernel (F, A, w) minus its mean over the alphabet axis: the parametrisation of a first
    layer whose input gradient lies in the simplex plane at every position."""

    def forward(self, weight: torch.Tensor) -> torch.Tensor:
        return weight - weight.mean(dim=1, keepdim=True)


def constrain_first_layer(model: nn.Sequential) -> nn.Sequential:
    """Keep the first convolution's kernel zero-mean over the alphabet throughout training, in place.

    A reparameterisation, not a penalty: the layer holds an unconstrained kernel V and computes with
    V - mean_a V (`torch.nn.utils.parametrize`), so every input gradient of the model has angle 0.
    `release_first_layer` turns it back into a plain convolution holding the zero-mean kernel."""
    from torch.nn.utils import parametrize

    parametrize.register_parametrization(model[0], "weight", ZeroMeanKernel())
    return model


def release_first_layer(model: nn.Sequential) -> nn.Sequential:
    """Replace, in place, every layer with a parametrised kernel (`constrain_first_layer`) by a plain
    convolution holding the kernel it computes with: the same function, as a plain model (as saved, folded
    and attributed). A new layer object, not `parametrize.remove_parametrizations`, which edits a class that
    a deep copy shares with its original."""
    from torch.nn.utils import parametrize

    for i, layer in enumerate(model):
        if parametrize.is_parametrized(layer, "weight"):
            plain = nn.Conv1d(layer.in_channels, layer.out_channels, layer.kernel_size, stride=layer.stride,
                              padding=layer.padding, dilation=layer.dilation, groups=layer.groups,
                              bias=layer.bias is not None, padding_mode=layer.padding_mode,
                              device=layer.bias.device, dtype=layer.bias.dtype)
            with torch.no_grad():
                plain.weight.copy_(layer.weight)
                if layer.bias is not None:
                    plain.bias.copy_(layer.bias)
            plain.train(layer.training)
            model[i] = plain
    return model


class SimplexConv1d(nn.Conv1d):
    """A convolution with a zero-mean kernel (over input channels) that computes, on one-hot inputs, what the
    convolution it was made from computes (`project_first_layer`).

    For one-hot x, W*x = (W - m)*x + m*s with m the kernel's mean over the alphabet and s the sum of x over
    the alphabet: 1 at every position of the sequence, 0 in the zero padding. So m*s is a constant per
    filter inside the sequence (moved into the bias) and differs only within half a kernel of the ends,
    where taps fall on padding: that difference is `edge_offset`, a function of the length alone, which
    carries no gradient. `removed` holds m."""

    def __init__(self, conv: nn.Conv1d):
        if conv.padding_mode != "zeros" or conv.groups != 1 or conv.bias is None:
            raise ValueError("project_first_layer needs a convolution with a bias, zero padding and one group")
        super().__init__(conv.in_channels, conv.out_channels, conv.kernel_size[0], stride=conv.stride,
                         padding=conv.padding, dilation=conv.dilation, device=conv.weight.device,
                         dtype=conv.weight.dtype)
        with torch.no_grad():
            removed = conv.weight.mean(dim=1, keepdim=True)
            self.weight.copy_(conv.weight - removed)
            self.bias.copy_(conv.bias + removed.sum(dim=(1, 2)))
        self.register_buffer("removed", removed.detach().clone())

    def edge_offset(self, length: int) -> torch.Tensor:
        """(F, length): what the removed mean adds at each position, less its constant part (in the bias)."""
        ones = torch.ones((1, 1, length), dtype=self.removed.dtype, device=self.removed.device)
        full = F.conv1d(ones, self.removed, None, self.stride, self.padding, self.dilation)[0]
        return full - self.removed.sum(dim=(1, 2))[:, None]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x) + self.edge_offset(x.shape[-1])


def project_first_layer(model: nn.Sequential) -> nn.Sequential:
    """A copy of `model` whose first convolution has a zero-mean kernel over the alphabet (`SimplexConv1d`).

    On one-hot inputs the copy computes the same function, and its input gradient is the original's
    corrected gradient: post hoc correction (`gradcorr.correct`) is exactly the gradient of an equivalent
    model. Off the simplex the two differ: that is the freedom the correction removes.
    """
    out = copy.deepcopy(model)
    release_first_layer(out)
    if not isinstance(out[0], nn.Conv1d):
        raise ValueError(f"the first layer is {type(out[0]).__name__}, not a convolution")
    out[0] = SimplexConv1d(out[0])
    return out


BUILDERS = {"cnn_shallow": cnn_shallow, "cnn_deep": cnn_deep, "cnn_consistency": cnn_consistency,
            "seq_cnn": seq_cnn, "mlp": mlp, "basset": basset}


def build_model(arch: str, *, init_sigma: float | None = None, first_layer: str = "free",
                kernel_init: str | None = None, **kwargs: Any) -> nn.Sequential:
    """Build an architecture by name with its keyword arguments (activation, n_filters, ...).

    `kernel_init` None keeps the architecture's own initialisation (He-normal hidden kernels for the Keras
    model zoo's CNNs, PyTorch's default for seq_cnn and mlp); "glorot_uniform" draws the hidden kernels as
    Keras does by default (the regularization-saliency code), "he_normal" as the published model zoo does
    (both with a Glorot-uniform output kernel and zero biases); `init_sigma` draws them from
    N(0, init_sigma^2) (`normal_init_`);
    `first_layer` "projected" keeps the first kernel zero-mean over the alphabet throughout training
    (`constrain_first_layer`), "projected_init" only starts it zero-mean (a model starting with a
    convolution only).
    """
    if arch not in BUILDERS:
        raise ValueError(f"unknown architecture {arch!r}; choose one of {ARCHITECTURES}")
    if first_layer not in FIRST_LAYERS:
        raise ValueError(f"unknown first_layer {first_layer!r}; choose one of {FIRST_LAYERS}")
    if kernel_init is not None and kernel_init not in KERNEL_INITS:
        raise ValueError(f"unknown kernel_init {kernel_init!r}; choose one of {KERNEL_INITS}")
    model = BUILDERS[arch](**kwargs)
    if first_layer != "free" and not isinstance(model[0], nn.Conv1d):
        raise ValueError(f"first_layer {first_layer!r} needs a model whose first layer is a convolution; {arch}'s "
                         f"is {type(model[0]).__name__}")
    if kernel_init is not None and kernel_init != model.kernel_init:
        _init_keras(model, kernel_init=kernel_init)
    if init_sigma is not None:
        normal_init_(model, init_sigma)
    if first_layer == "projected_init":
        with torch.no_grad():
            model[0].weight.sub_(model[0].weight.mean(dim=1, keepdim=True))
    elif first_layer == "projected":
        constrain_first_layer(model)
    return model


def fold_batchnorm(model: nn.Sequential) -> nn.Sequential:
    """An inference copy of `model`: every BatchNorm1d that directly follows a Conv1d or Linear is folded
    into that layer's weight and bias (its running statistics and affine parameters), and Dropout is
    dropped. The copy computes `model.eval()`'s function up to float rounding with fewer passes over the
    activations; it is for prediction and attribution, not training. Other layers are copied as they are."""
    layers: list[nn.Module] = []
    for layer in release_first_layer(copy.deepcopy(model)):
        if isinstance(layer, nn.Dropout):
            continue
        previous = layers[-1] if layers else None
        if (isinstance(layer, nn.BatchNorm1d) and layer.track_running_stats and layer.affine
                and isinstance(previous, (nn.Conv1d, nn.Linear)) and previous.bias is not None):
            with torch.no_grad():
                scale = layer.weight / torch.sqrt(layer.running_var + layer.eps)
                previous.weight.mul_(scale.view(-1, *([1] * (previous.weight.dim() - 1))))
                if isinstance(previous, SimplexConv1d):
                    previous.removed.mul_(scale.view(-1, 1, 1))
                previous.bias.copy_((previous.bias - layer.running_mean) * scale + layer.bias)
            continue
        layers.append(layer)
    return nn.Sequential(*layers).eval()


def l2_penalty(model: nn.Module) -> torch.Tensor:
    """Sum of squared hidden-layer kernels, the published L2 term (output layer and BatchNorm excluded)."""
    layers = [m for m in model.modules() if isinstance(m, (nn.Conv1d, nn.Linear))]
    return torch.stack([layer.weight.square().sum() for layer in layers[:-1]]).sum()
