"""Train K members of one architecture together, as one vectorised model, each as if trained alone.

Small CNNs leave a machine mostly idle: a batch of 100 sequences is too little work per kernel call.
`EnsembleCNN` stacks K `nn.Sequential` members of the same layer sequence (gradcorr.models.architectures): every
weight gets a leading member axis, convolutions run as one grouped convolution (member k reads
channels k*C:(k+1)*C), dense layers as one batched matmul, BatchNorm per channel (so per member).
Members may differ in width (the ChIP-seq ensembles' first-layer filters 12..30): tensors are padded
to the widest member with zeros, and the padded entries are masked out of every update, so each
member computes exactly what it computes alone (the dense layer after a flatten of members of different
channel widths is stacked with each input position's channels padded). Any such sequence of convolutions,
dense layers, ReLU or Exp, dropout, max-pooling, BatchNorm and `KerasFlatten` stacks: the MLP and SeqCNN
(`architectures.mlp`, `seq_cnn`) too.

`train_ensemble` runs the published protocol for every member at once: its own data order and dropout masks
(generators seeded by its own seed, drawn as `training.train` draws them, by the configs' `dropout_masks`), its
own BatchNorm statistics, Adam moments (AdamW's decoupled weight decay with `TrainConfig.weight_decay`), plateau
learning rate and early stopping (a stopped member's updates are masked and its best epoch is restored); with the
angle penalty, its own saliency pass; the training schedule's phases (`training.Phase`) and the epoch hooks as
`training.train` runs them.
The result equals training each member alone with `training.train` up to float rounding (tested), and
members come back as ordinary models. Training takes single-output members (one binary label); members of
several outputs (e.g. `architectures.basset`) stack for prediction and attribution (`inference_ensemble`), not
for training here.
"""

from __future__ import annotations

import copy
import logging
import math
import time
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrize import type_before_parametrizations

from gradcorr.models.architectures import Exp, KerasFlatten, SimplexConv1d, ZeroMeanKernel, fold_batchnorm, reinitialize
from gradcorr.models.dropout import dropout_mask
from gradcorr.models.regularizers import angle_norms, training_saliency
from gradcorr.models.training import (
    RESTART_SEED_OFFSET,
    EpochHook,
    KerasSchedule,
    NonFiniteLossError,
    TrainConfig,
    describe_phase,
    phase_starting,
    run_hooks,
    validation_auroc,
)

log = logging.getLogger(__name__)

SAME_ACROSS_MEMBERS = ("max_epochs", "batch_size", "learning_rate", "lr_schedule", "lr_factor", "lr_patience",
                       "lr_min_delta", "min_lr", "early_stopping_patience", "l2", "weight_decay", "phases",
                       "dropout_masks")


def _padded(tensors: Sequence[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """Stack tensors of equal rank along a new first axis, zero-padded to the largest shape; and the mask of
    real entries (1.0) as opposed to padding (0.0)."""
    shape = [max(t.shape[d] for t in tensors) for d in range(tensors[0].dim())]
    out = torch.zeros((len(tensors), *shape), dtype=tensors[0].dtype)
    mask = torch.zeros_like(out)
    for k, t in enumerate(tensors):
        region = (k, *(slice(0, n) for n in t.shape))
        out[region] = t.detach()
        mask[region] = 1.0
    return out, mask


_ORIGINAL = "parametrizations.weight.original"  # where torch.nn.utils.parametrize keeps a kernel


def _zero_mean(layer: nn.Module) -> bool:
    """Whether `layer`'s kernel is parametrised zero-mean (`architectures.constrain_first_layer`)."""
    found = getattr(getattr(layer, "parametrizations", None), "weight", None)
    if found is None:
        return False
    if len(found) != 1 or not isinstance(found[0], ZeroMeanKernel):
        raise ValueError(f"{type(layer).__name__}: only the zero-mean kernel parametrisation can be stacked")
    return True


def _raw(layer: nn.Module, name: str) -> torch.Tensor:
    """A layer's parameter as trained: the unconstrained kernel of a parametrised one."""
    return layer.parametrizations.weight.original if name == "weight" and _zero_mean(layer) else getattr(layer, name)


def member_mask(generators: Sequence[torch.Generator], shape: Sequence[int], p: float, widths: Sequence[int],
                device: torch.device | str, method: str = "bernoulli") -> torch.Tensor:
    """Dropout masks (bool, True: kept) of shape (B, K, ...), member k's drawn from generators[k] by `method` over
    its `widths[k]` real channels, in the order and shape a mask is drawn for the member alone
    (`dropout.dropout_mask`), so masks equal those of single training; padded channels get False. `_dropout` scales
    the kept entries by 1 / (1 - p), as `nn.Dropout`."""
    noise = torch.zeros(tuple(shape), dtype=torch.bool, device=device)
    for m, g in enumerate(generators):
        noise[:, m, : widths[m]] = dropout_mask((shape[0], widths[m], *shape[3:]), p, method, g, device)
    return noise


class EnsembleCNN(nn.Module):
    """K members of one CNN as one module: input (B, K*A, L), member k reading channels k*A:(k+1)*A;
    output logits (B, K * T) for members of T outputs each (all members alike), member k's in columns
    k*T:(k+1)*T and depending only on member k: (B, K) for single-output members, column k member k's."""

    def __init__(self, members: Sequence[nn.Sequential]):
        super().__init__()
        if not members:
            raise ValueError("an ensemble needs at least one member")
        kinds = [[type_before_parametrizations(m) for m in member] for member in members]
        if any(k != kinds[0] for k in kinds):
            raise ValueError("ensemble members must share one layer sequence (the same architecture)")
        self.members = len(members)
        self.layers: list[tuple[str, dict]] = []
        self.generators: list[torch.Generator] | None = None  # per-member dropout generators (training)
        self.mask_method = "bernoulli"  # how they draw masks (dropout.dropout_mask; set by train_ensemble)
        self.shapes: list[tuple[tuple[int, ...], float, list[int]]] | None = None  # dropout shapes (draw_masks)
        # a dense layer reading a flattened (length, channels) input of members of different channel widths:
        # layer name -> (length, padded width); its kernel is stacked with each position's channels padded
        self.spread: dict[str, tuple[int, int]] = {}
        widths = [0] * len(members)  # each member's real width at the current layer (from the last conv/dense)
        flattened: list[int] | None = None  # the channel widths at a flatten, until the dense layer after it
        for i, layers in enumerate(zip(*members)):
            first = layers[0]
            name = f"l{i}"
            if isinstance(first, SimplexConv1d):
                raise ValueError(f"layer {i}: a projected copy (project_first_layer) cannot be stacked into an "
                                 "ensemble; its kernel is already zero-mean, attribute it alone")
            if isinstance(first, nn.Conv1d):
                widths = [m.out_channels for m in layers]
                self._stack(name, layers, ("weight", "bias"))
                self.layers.append(("conv", {"name": name, "padding": first.padding,
                                             "zero_mean": _zero_mean(first)}))
            elif isinstance(first, nn.Linear):
                if flattened is not None and len(set(flattened)) > 1:
                    length = first.in_features // flattened[0]
                    if any(m.in_features != length * c for m, c in zip(layers, flattened)):
                        raise ValueError(f"layer {i}: members flatten inputs of different lengths")
                    self.spread[name] = (length, max(flattened))
                flattened = None
                widths = [m.out_features for m in layers]
                self._stack(name, layers, ("weight", "bias"))
                self.layers.append(("linear", {"name": name}))
            elif isinstance(first, nn.BatchNorm1d):
                self._stack(name, layers, ("weight", "bias"))
                mean, _ = _padded([m.running_mean for m in layers])
                var, _ = _padded([m.running_var for m in layers])
                var[var == 0] = 1.0  # padded channels: any positive variance; they are masked
                self.register_buffer(f"{name}_running_mean", mean)
                self.register_buffer(f"{name}_running_var", var)
                widths = [m.num_features for m in layers]
                self.layers.append(("bn", {"name": name, "eps": first.eps, "momentum": first.momentum}))
            elif isinstance(first, nn.ReLU):
                self.layers.append(("relu", {}))
            elif isinstance(first, Exp):
                self.layers.append(("exp", {}))
            elif isinstance(first, nn.Dropout):
                self.layers.append(("dropout", {"p": first.p, "widths": widths}))
            elif isinstance(first, nn.MaxPool1d):
                self.layers.append(("pool", {"kernel": first.kernel_size}))
            elif isinstance(first, KerasFlatten):
                flattened = widths
                self.layers.append(("flatten", {}))
            else:
                raise ValueError(f"layer {i} ({type(first).__name__}) cannot be stacked into an ensemble")
        if len(set(widths)) > 1:  # padded outputs would mix into the blocks of other members
            raise ValueError(f"ensemble members must return the same number of outputs; their last layers have "
                             f"{widths} outputs (channels)")
        weighted = [kind for kind, _ in self.layers if kind in ("conv", "linear")]
        # outputs per member: the last dense layer's width (None when a convolution is the last such layer)
        self.outputs: int | None = widths[0] if weighted and weighted[-1] == "linear" else None

    def _stack(self, name: str, layers: Sequence[nn.Module], params: Sequence[str]) -> None:
        """Stack the members' parameters; a missing bias stacks as zeros that no update reaches (masked). The
        kernel of a dense layer in `spread` is stacked with its input positions' channels padded (`_spread`)."""
        for p in params:
            found = [_raw(m, p) for m in layers]
            if any(t is None for t in found):
                if any(t is not None for t in found):
                    raise ValueError(f"layer {name}: members must all have a {p}, or none")
                found = [torch.zeros(m.weight.shape[0], dtype=m.weight.dtype) for m in layers]
                value, mask = _padded(found)
                mask.zero_()
            elif p == "weight" and name in self.spread:
                value, _ = _padded([_spread(t.detach(), *self.spread[name]) for t in found])
                mask, _ = _padded([_spread(torch.ones_like(t), *self.spread[name]) for t in found])
            else:
                value, mask = _padded(found)
            self.register_parameter(f"{name}_{p}", nn.Parameter(value))
            self.register_buffer(f"{name}_{p}_mask", mask)

    def param(self, name: str) -> torch.Tensor:
        return getattr(self, name)

    def kernel(self, spec: dict) -> torch.Tensor:
        """The stacked kernel (K, out, in, ...) a conv or dense layer computes with: zero-mean over the input
        channels for a first layer trained projected (`architectures.constrain_first_layer`)."""
        w = self.param(f"{spec['name']}_weight")
        return w - w.mean(dim=2, keepdim=True) if spec.get("zero_mean") else w

    def forward(self, x: torch.Tensor, start: int = 0, masks: Sequence[torch.Tensor] | None = None) -> torch.Tensor:
        """Logits (B, K * T) of input (B, K*A, L), member k's T outputs in columns k*T:(k+1)*T (T = 1: column
        k); or, with `start`, of the output of layers[:start] (a conv block's output: dense layers are not
        entry points). `masks` (training, from `draw_masks`) are the dropout masks, one per dropout layer in
        order, drawn beforehand so that a compiled forward takes them as inputs."""
        k = self.members
        h, dense = x, False
        masks = list(masks) if masks is not None else None
        for kind, spec in self.layers[start:]:
            if kind == "conv":
                w, b = self.kernel(spec), self.param(f"{spec['name']}_bias")
                h = F.conv1d(h, w.reshape(-1, *w.shape[2:]), b.reshape(-1), padding=spec["padding"], groups=k)
            elif kind == "bn":
                name = spec["name"]
                flat = h.reshape(h.shape[0], -1) if dense else h  # dense (B, K, F) -> (B, K*F) channels
                flat = F.batch_norm(flat, self.param(f"{name}_running_mean").view(-1),
                                    self.param(f"{name}_running_var").view(-1),
                                    self.param(f"{name}_weight").reshape(-1), self.param(f"{name}_bias").reshape(-1),
                                    self.training, spec["momentum"], spec["eps"])
                h = flat.reshape(h.shape)
            elif kind == "relu":
                h = F.relu(h)
            elif kind == "exp":
                h = torch.exp(h)
            elif kind == "dropout":
                drawn = masks.pop(0) if masks and self.training and spec["p"] else None
                h = self._dropout(h, spec["p"], spec["widths"], dense, drawn)
            elif kind == "pool":
                h = F.max_pool1d(h, spec["kernel"])
            elif kind == "flatten":  # (B, K*C, L) -> (B, K, L*C), Keras' (length, channels) order per member
                h = h.reshape(h.shape[0], k, -1, h.shape[-1]).transpose(2, 3).reshape(h.shape[0], k, -1)
                dense = True
            elif kind == "linear":
                w, b = self.param(f"{spec['name']}_weight"), self.param(f"{spec['name']}_bias")
                h = torch.einsum("bki,koi->bko", h, w) + b
        return h.flatten(1)  # dense (B, K, T) -> (B, K * T), member-major

    def input_conv(self) -> tuple[torch.Tensor, torch.Tensor, int | str | tuple[int, ...]] | None:
        """(weight (K*F, A, w), bias (K*F,), padding) of the first layer when it is a convolution: member k's
        filters in rows k*F:(k+1)*F; as a grouped convolution (groups=K) of the tiled input it is layer 0."""
        kind, spec = self.layers[0]
        if kind != "conv":
            return None
        w, b = self.kernel(spec), self.param(f"{spec['name']}_bias")
        return w.reshape(-1, *w.shape[2:]), b.reshape(-1), spec["padding"]

    def _dropout(self, h: torch.Tensor, p: float, widths: list[int], dense: bool,
                 mask: torch.Tensor | None = None) -> torch.Tensor:
        """Dropout with member k's mask drawn from member k's generator over its `widths[k]` real channels
        (`member_mask`), or with the given `mask` (drawn beforehand by `draw_masks`); while `shapes` records,
        only the shape a mask takes is noted."""
        per = h if dense else h.reshape(h.shape[0], self.members, -1, h.shape[-1])  # (B, K, F) or (B, K, C, L)
        if self.shapes is not None and p != 0:
            self.shapes.append((tuple(per.shape), p, widths))
            return h
        if not self.training or p == 0:
            return h
        if mask is None:
            if self.generators is None:
                return F.dropout(h, p, True)
            mask = member_mask(self.generators, per.shape, p, widths, h.device, self.mask_method)
        return (per * mask.to(h.dtype).div(1 - p)).reshape(h.shape)

    def draw_masks(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The dropout masks a training forward of input `x` uses, drawn now from the members' generators in the
        order the forward would draw them (so a forward with them equals one that draws its own)."""
        if self.generators is None:
            raise ValueError("draw_masks needs the members' generators (set by train_ensemble)")
        if not self.training:
            return []
        self.shapes = []  # recorded by a forward of one sequence in inference mode (BatchNorm statistics unchanged)
        try:
            self.eval()
            with torch.no_grad():
                self(x[:1])
            found = self.shapes
        finally:
            self.shapes = None
            self.train()
        return [member_mask(self.generators, (len(x), *shape[1:]), p, widths, x.device, self.mask_method)
                for shape, p, widths in found]

    def set_dropout(self, rate: float) -> None:
        """Set every dropout before the dense head to `rate` (`training.set_dropout` for the members)."""
        for kind, spec in self.layers:
            if kind == "flatten":
                break
            if kind == "dropout":
                spec["p"] = rate

    def grad_masks(self) -> dict[str, torch.Tensor]:
        """Parameter name -> mask of its real (unpadded) entries."""
        return {name: getattr(self, f"{name}_mask") for name, _ in self.named_parameters()}

    def member_state(self, k: int, template: nn.Sequential) -> dict[str, torch.Tensor]:
        """Member k's weights and BatchNorm statistics as a state dict of `template` (a model of its width)."""
        state = {}
        for i, layer in enumerate(template):
            name = f"l{i}"
            for key, value in layer.state_dict().items():
                if key == "num_batches_tracked":
                    state[f"{i}.{key}"] = value
                    continue
                stacked = getattr(self, f"{name}_{key.replace(_ORIGINAL, 'weight')}")[k]
                if key == "weight" and name in self.spread:  # (out, length * padded width): the real channels
                    length, width = self.spread[name]
                    stacked = stacked[: value.shape[0]].reshape(value.shape[0], length, width)
                    stacked = stacked[:, :, : value.shape[1] // length].reshape(value.shape)
                state[f"{i}.{key}"] = stacked[tuple(slice(0, n) for n in value.shape)].detach().clone().cpu()
        return state


def _spread(kernel: torch.Tensor, length: int, width: int) -> torch.Tensor:
    """A dense kernel (out, length * c) that reads a flattened (length, c) input as one (out, length * width) that
    reads the same input with each position's channels zero-padded to `width` (the padded member's flatten)."""
    out = kernel.new_zeros((kernel.shape[0], length, width))
    out[:, :, : kernel.shape[1] // length] = kernel.reshape(kernel.shape[0], length, -1)
    return out.reshape(kernel.shape[0], -1)


def inference_ensemble(models: Sequence[nn.Sequential]) -> EnsembleCNN:
    """The models as one `EnsembleCNN` for prediction and attribution (BatchNorm folded, eval mode), on the
    first model's device."""
    if not models:
        raise ValueError("an ensemble needs at least one member")
    device = next(models[0].parameters()).device
    return EnsembleCNN([fold_batchnorm(m) for m in models]).to(device).eval()


def replicate(x: torch.Tensor, members: int) -> torch.Tensor:
    """(N, A, L) -> (N, K*A, L): the same sequences for every member (validation, attribution)."""
    return x.repeat(1, members, 1)


@torch.no_grad()
def predict_members(model: nn.Module, x: torch.Tensor, batch_size: int = 1000, members: int | None = None
                    ) -> torch.Tensor:
    """Sigmoid outputs (N, K) of every member in inference mode; restores the model's mode. `members` is K for a
    module that is no `EnsembleCNN` (a plain model is one member); inputs take the model's dtype."""
    members = model.members if members is None else members
    was_training = model.training
    model.eval()
    param = next(model.parameters())
    out = torch.cat([torch.sigmoid(model(replicate(b.to(param.device, param.dtype), members))).cpu()
                     for b in torch.split(x, max(1, batch_size // members))])
    model.train(was_training)
    return out


class MemberAdam:
    """Adam (PyTorch's update, elementwise) on stacked parameters with a learning rate per member and
    updates only for active members and real (unpadded) entries; with `weight_decay` > 0, AdamW (PyTorch's
    decoupled decay: p <- p - lr * weight_decay * p before the Adam step, on every parameter with a gradient)."""

    def __init__(self, params: dict[str, nn.Parameter], masks: dict[str, torch.Tensor],
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8, weight_decay: float = 0.0):
        self.params, self.masks, self.betas, self.eps = params, masks, betas, eps
        self.weight_decay = weight_decay
        self.m = {n: torch.zeros_like(p) for n, p in params.items()}
        self.v = {n: torch.zeros_like(p) for n, p in params.items()}
        k = next(iter(params.values())).shape[0]
        self.steps = torch.zeros(k, dtype=torch.float64)

    @torch.no_grad()
    def reset(self, members: torch.Tensor) -> None:
        """A fresh Adam state (moments and step count) for the members where `members` (K,) bool is true."""
        self.steps[members] = 0
        for state in (self.m, self.v):
            for value in state.values():
                value[members.to(value.device)] = 0

    @torch.no_grad()
    def step(self, lr: torch.Tensor, active: torch.Tensor) -> None:
        """One update; lr (K,) float64, active (K,) bool."""
        b1, b2 = self.betas
        self.steps += active.to(torch.float64)
        t = self.steps.clamp(min=1)
        step_size = lr / (1 - b1 ** t)
        c2 = torch.sqrt(1 - b2 ** t)
        for name, p in self.params.items():
            if p.grad is None:
                continue
            view = (-1,) + (1,) * (p.dim() - 1)
            keep = active.to(p.device, p.dtype).view(view) * self.masks[name]
            if self.weight_decay:
                p.mul_(1 - keep * (lr * self.weight_decay).to(p.device, p.dtype).view(view))
            g = p.grad * self.masks[name]
            m, v = self.m[name], self.v[name]
            new_m = torch.lerp(m, g, 1 - b1)
            new_v = v * b2 + (1 - b2) * g * g
            m.copy_(torch.where(keep > 0, new_m, m))
            v.copy_(torch.where(keep > 0, new_v, v))
            denom = v.sqrt() / c2.to(p.device, p.dtype).view(view) + self.eps
            p.sub_(keep * step_size.to(p.device, p.dtype).view(view) * m / denom)


ENGINE_REGULARIZERS = ("none", "angle")  # the published loss, and it plus the angle penalty


def _check_configs(configs: Sequence[TrainConfig]) -> TrainConfig:
    first = configs[0]
    if any(c.regularizer.name not in ENGINE_REGULARIZERS for c in configs):
        raise ValueError("the ensemble engine trains with the published loss, or with the angle penalty; train "
                         "models with another regularizer one at a time (training.train, or ensemble_engine: "
                         "sequential)")
    if any(c.regularizer != first.regularizer for c in configs):
        raise ValueError("ensemble members must share their regularizer and its settings")
    for name in SAME_ACROSS_MEMBERS:
        values = {getattr(c, name) for c in configs}
        if len(values) > 1:
            raise ValueError(f"ensemble members must share {name}; got {sorted(values)}")
    return first


def _l2_members(model: EnsembleCNN) -> torch.Tensor:
    """The published L2 term of each member, (K,): squared hidden kernels (every conv and dense but the output)."""
    specs = [spec for kind, spec in model.layers if kind in ("conv", "linear")][:-1]
    return torch.stack([model.kernel(s).square().flatten(1).sum(dim=1) for s in specs]).sum(dim=0)


def train_ensemble(members: Sequence[nn.Sequential], x_train: torch.Tensor, y_train: torch.Tensor,
                   x_valid: torch.Tensor, y_valid: torch.Tensor, configs: Sequence[TrainConfig],
                   device: torch.device | str = "cpu", names: Sequence[str] | None = None,
                   group: int | None = None, keep_going: bool = False, hooks: Sequence[EpochHook] = (),
                   keep_last: bool = False, compile: bool = False,
                   ) -> (tuple[list[nn.Sequential | None], list[list[dict]]]
                         | tuple[list[nn.Sequential | None], list[list[dict]], list[nn.Sequential | None]]):
    """Train every member as `training.train` would alone (config k's seed for its data order and dropout);
    returns the members (ordinary models, best epochs restored, on the CPU) and their histories; with
    `keep_last`, also copies of the members as the last epoch left them. `hooks` score every member after
    each epoch (and before the first), as in `training.train`.

    `group` caps the members trained at once (one vectorised model per group of consecutive members):
    memory grows with the group, not with the number of members. On a CPU, groups of about 10 are
    fastest (benchmarks/ensemble_training.py): a grouped convolution over many more members slows down
    more than in proportion. Each member comes out the same whatever the grouping.

    A member whose loss turns non-finite stops and keeps its best epoch; if it completed none,
    NonFiniteLossError is raised, or with `keep_going` that member comes back as None (its history
    ends with the reason) while the others train on.

    Members must have one output (one binary label per sequence): ValueError for members of several
    outputs, which the engine cannot train (train them one at a time with `training.train`).

    `compile` runs each full batch's loss (forward, and so backward) through torch.compile (inductor), once per
    group and batch shape; the last, partial batch of an epoch runs eagerly (no second compilation; padding it
    would change BatchNorm's batch statistics), as do the Adam step (compiled: 3-6% faster alone, nothing more
    with the loss compiled), validation and the angle penalty (a double backward, which compiled autograd does
    not support). On a CPU the compiled engine measured slower than the eager one (`benchmarks/compile_speed.py`).
    Dropout masks are drawn eagerly from the members' generators (`EnsembleCNN.draw_masks`) and passed in, so
    compiled training equals eager training to float rounding.
    """
    k = len(members)
    names = list(names) if names is not None else [f"member {i}" for i in range(k)]
    if group is not None and k > group:
        parts = [train_ensemble(members[i:i + group], x_train, y_train, x_valid, y_valid, configs[i:i + group],
                                device, names[i:i + group], keep_going=keep_going, hooks=hooks, keep_last=keep_last,
                                compile=compile)
                 for i in range(0, k, group)]
        return tuple([m for part in parts for m in part[j]] for j in range(len(parts[0])))
    device = torch.device(device)
    config = _check_configs(configs)
    model = EnsembleCNN(members).to(device)
    if model.outputs != 1:
        found = f"{model.outputs} outputs" if model.outputs is not None else "no dense output layer"
        raise ValueError(f"the ensemble engine trains members of one output (a last dense layer of width 1, one "
                         f"binary label); these have {found}: train them one at a time (training.train)")
    model.generators = [torch.Generator(device=device).manual_seed(c.seed) for c in configs]
    model.mask_method = config.dropout_masks
    order_rngs = [torch.Generator().manual_seed(c.seed) for c in configs]
    params = dict(model.named_parameters())
    optimizer = MemberAdam(params, {n: m.to(device) for n, m in model.grad_masks().items()},
                           weight_decay=config.weight_decay)
    y_train = y_train.to(x_train.dtype).reshape(-1)
    n = len(x_train)
    n_batches = math.ceil(n / config.batch_size)
    schedules = [KerasSchedule(c) for c in configs]
    lr = torch.full((k,), config.learning_rate, dtype=torch.float64)
    active = torch.ones(k, dtype=torch.bool)
    histories: list[list[dict]] = [[{"epoch": 0, **row}] for row in run_hooks(hooks, model, k)] if hooks else \
        [[] for _ in range(k)]
    best = [(-math.inf, 0) for _ in range(k)]
    best_state = {key: value.detach().clone() for key, value in model.state_dict().items()}
    completed = [False] * k
    passes = 2 if config.regularizer.name == "angle" else 1  # the penalty's saliency pass counts a batch too
    tracked = torch.zeros(k, dtype=torch.long)  # BatchNorm's batch count of each member
    best_tracked = tracked.clone()
    train_mode = True

    def member_losses(xb: torch.Tensor, yb: torch.Tensor, masks: list[torch.Tensor] | None) -> torch.Tensor:
        """Each member's loss on one batch (BCE and the L2 term), (K,)."""
        per_member = F.binary_cross_entropy_with_logits(model(xb, masks=masks), yb, reduction="none").mean(dim=0)
        return per_member + config.l2 * _l2_members(model) if config.l2 else per_member

    compiled_losses = member_losses
    if compile and config.regularizer.name == "angle":
        log.info("compile: the angle penalty's double backward runs eagerly")
    elif compile:
        compiled_losses = torch.compile(member_losses)

    for epoch in range(1, config.max_epochs + 1):
        if not active.any():
            break
        start = time.perf_counter()
        phase = phase_starting(config.phases, epoch)
        if phase is not None:
            if phase.restart:  # each active member redrawn as training.train redraws it alone
                fresh = EnsembleCNN([reinitialize(copy.deepcopy(member), torch.Generator().manual_seed(
                    c.seed + RESTART_SEED_OFFSET)) for member, c in zip(members, configs)]).state_dict()
                with torch.no_grad():
                    for key, value in model.state_dict().items():
                        if value.dim() and value.shape[0] == k:
                            value[active.to(value.device)] = fresh[key].to(value.device)[active.to(value.device)]
                optimizer.reset(active)
                tracked[active] = 0
            lr.fill_(phase.learning_rate or config.learning_rate)
            for schedule in schedules:
                schedule.start_phase(float(lr[0]))
            if phase.dropout is not None:
                model.set_dropout(phase.dropout)
            train_mode = phase.train_mode
            log.info(describe_phase(phase, epoch, float(lr[0])))
        model.train(train_mode)
        orders = torch.stack([torch.randperm(n, generator=g) for g in order_rngs])  # (K, N)
        total = torch.zeros(k, dtype=torch.float64)
        seen = 0
        diverged: dict[int, str] = {}
        for b in range(n_batches):
            idx = orders[:, b * config.batch_size:(b + 1) * config.batch_size]  # (K, B)
            xb = x_train[idx].transpose(0, 1).reshape(idx.shape[1], -1, x_train.shape[-1]).to(device)
            yb = y_train[idx].transpose(0, 1).to(device)  # (B, K)
            full = idx.shape[1] == config.batch_size and compiled_losses is not member_losses
            if config.regularizer.name == "angle":  # as regularizers.batch_loss: a second pass for the saliency
                per_member = F.binary_cross_entropy_with_logits(model(xb), yb, reduction="none").mean(dim=0)
                saliency = training_saliency(model, xb).reshape(idx.shape[1], k, -1, x_train.shape[-1])
                per_member = per_member + config.regularizer.angle_lambda * angle_norms(
                    saliency, saliency.shape[2]).mean(dim=0)
                if config.l2:
                    per_member = per_member + config.l2 * _l2_members(model)
            elif full:
                per_member = compiled_losses(xb, yb, model.draw_masks(xb))
            else:
                per_member = member_losses(xb, yb, None)
            loss = per_member.sum()
            values = per_member.detach().cpu().to(torch.float64)
            for m in torch.nonzero(active & ~torch.isfinite(values)).flatten().tolist():
                diverged[m] = f"non-finite loss ({values[m].item()}) at epoch {epoch}, batch {b + 1}"
                active[m] = False
            for p in params.values():
                p.grad = None
            loss.backward()
            optimizer.step(lr, active)
            total += torch.where(torch.isfinite(values), values, 0.0) * idx.shape[1]
            seen += idx.shape[1]
            if config.log_every and (b + 1) % config.log_every == 0:
                log.info("epoch %d batch %d/%d mean loss over %d active members %.4f", epoch, b + 1, n_batches,
                         int(active.sum()), float((total / seen)[active].mean()) if active.any() else float("nan"))
        for m, why in diverged.items():
            histories[m].append({"epoch": epoch, "stopped": why})
            if completed[m]:
                log.error("%s: %s: stopping and keeping epoch %d", names[m], why, best[m][1])
            elif keep_going:
                log.error("%s: %s; no epoch completed: this member failed, the others go on", names[m], why)
            else:
                raise NonFiniteLossError(f"{names[m]}: {why}; no epoch completed, so no model is written")

        if train_mode:
            tracked += active.long() * n_batches * passes
        p_valid = predict_members(model, x_valid)
        seconds = time.perf_counter() - start
        if hooks:
            start = time.perf_counter()
            scores = run_hooks(hooks, model, k)
            hook_seconds = time.perf_counter() - start
        for m in torch.nonzero(active).flatten().tolist():
            p = p_valid[:, m]
            val_loss = float(F.binary_cross_entropy(p.clamp(1e-7, 1 - 1e-7), y_valid.to(p.dtype).reshape(-1)))
            val_auroc = validation_auroc(y_valid, p)
            histories[m].append({"epoch": epoch, "loss": float(total[m] / seen), "val_loss": val_loss,
                                 "val_auroc": val_auroc, "lr": float(lr[m]), "seconds": seconds,
                                 **({**scores[m], "hook_seconds": hook_seconds} if hooks else {})})
            completed[m] = True
            improved, new_lr, stop = schedules[m].update(val_auroc)
            if improved:
                best[m] = (val_auroc, epoch)
                best_tracked[m] = tracked[m]
                for key, value in model.state_dict().items():
                    if value.dim() and value.shape[0] == k:
                        best_state[key][m] = value[m]
            if new_lr != lr[m]:
                lr[m] = new_lr
                log.info("%s: validation AUROC plateaued: learning rate now %.1e", names[m], new_lr)
            if stop:
                active[m] = False
                log.info("%s: early stopping at epoch %d; best epoch %d", names[m], epoch, best[m][1])
        aurocs = [h[-1].get("val_auroc", float("nan")) for h in histories]
        log.info("epoch %d/%d: %d of %d members active; val_auroc %.4f-%.4f (%.1f s)", epoch, config.max_epochs,
                 int(active.sum()), k, min(aurocs), max(aurocs), seconds)

    lasts: list[nn.Sequential | None] = []
    if keep_last:
        for m, member in enumerate(members):
            lasts.append(copy.deepcopy(_member(model, m, member, tracked[m])) if completed[m] else None)
    model.load_state_dict(best_state)
    out: list[nn.Sequential | None] = []
    for m, member in enumerate(members):
        if not completed[m] and keep_going:
            out.append(None)
            continue
        if not completed[m]:
            raise NonFiniteLossError(f"{names[m]}: no epoch produced a finite validation AUROC")
        out.append(_member(model, m, member, best_tracked[m]))
        log.info("%s: restored epoch %d (validation AUROC %.4f)", names[m], best[m][1], best[m][0])
    return (out, histories, lasts) if keep_last else (out, histories)


def _member(model: EnsembleCNN, m: int, template: nn.Sequential, batches: torch.Tensor) -> nn.Sequential:
    """Member m of a trained ensemble as an ordinary model in eval mode on the CPU (`template` holds its shape;
    it is loaded in place), with BatchNorm's batch count `batches` as single training counts it."""
    template.load_state_dict(model.member_state(m, template))
    for layer in template:
        if isinstance(layer, nn.BatchNorm1d):
            layer.num_batches_tracked.fill_(int(batches))
    return template.cpu().eval()
