"""Raw (uncorrected) gradient-based attribution maps, batched over sequences and model inputs.

`attribute` is the entry point for one model (saliency, integrated gradients, SmoothGrad, expected
gradients, gradient SHAP). Every method is a weighted mean of input gradients of the
model's score: sequence i gets K model inputs u_ik (the sequence itself, noisy copies, or points on
straight paths from references) and the map sum_k w_k d score(u_ik) / d u_ik, with weights summing
to 1. A method registers a `Plan` that says how to build u_ik (linear in the sequence and its random
draws) and its w_k; one engine pushes the inputs of all sequences through the model in chunks of at
most `batch_size`. Maps stay gradient-like (one score per letter and position, never multiplied by
input - baseline) and uncorrected; apply `gradcorr.correct` to remove the off-simplex component.

Two exact shortcuts make the engine fast. BatchNorm is folded into the layer before it and dropout
dropped (`models.architectures.fold_batchnorm`, on a copy). And when the first layer is a convolution f(u) = W*u + b,
the methods with many inputs per sequence never run it on u_ik: since u_ik is linear in the sequence
and its draws, f(u_ik) is the same combination of W*x_i and W*(draws) plus b, so W runs once per
sequence and draw; and since sum_k w_k W^T g_ik = W^T (sum_k w_k g_ik), the gradient goes back through
W once per sequence. Only the layers after the first run per input.

On the CPU the passes run channels-last (`_ChannelsLast`: the same layers on (M, C, 1, L) tensors stored
(length, channel)-major), for a folded `nn.Sequential` of convolutions, activations, max-pools, flattens and
dense layers, or an ensemble module of them: oneDNN then convolves without reordering every input and
output, about twice as fast for CNN-deep (same results up to float rounding); and an activation that a
max-pool follows runs after the pool, on k times fewer values (max(f(u)) = f(max(u)) for increasing f, with
the same gradient). With `compile=True` the passes go through `torch.compile` instead of running eagerly.

What is explained (`target`) is one output column, several (one map each: a forward pass serves them all,
each has its own backward pass, and all see the same draws), or a callable's score of the outputs. Each is a
`Head` on the model's outputs.

`attribute_members` runs the same engine on an ensemble held in one module (members side by side on
the channel axis, member k's T outputs in logit columns k*T:(k+1)*T): each model input reaches every
member, and one backward pass per target gives all members' gradients. `iter_attribute_members` yields
the maps in blocks of sequences, so that a caller can stream them to disk with memory bounded by the
block, not by the number of sequences.
"""

from __future__ import annotations

import logging
import numbers
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from gradcorr.baselines import dinuc_shuffle, permute_positions
from gradcorr.models.architectures import Exp, KerasFlatten, fold_batchnorm

__all__ = ["METHODS", "OPTIONS", "OUTPUTS", "REFERENCES", "RULES", "Plan", "attribute", "attribute_members",
           "gradient_shap_draws", "iter_attribute_members", "path_rule", "random_draws"]

log = logging.getLogger(__name__)

OUTPUTS = ("sigmoid", "logit")
RULES = ("riemann_trapezoid", "riemann_left", "riemann_right", "riemann_middle")
REFERENCES = ("permute", "dinuc", "zeros", "uniform")
RANDOM_REFERENCES = ("permute", "dinuc")
DRAW_BLOCK = 256  # sequences whose random draws are made together (fixed: draws never depend on batch_size)
STREAM_BLOCK = 512  # sequences per block that iter_attribute_members yields by default

# Options of each method and their defaults (the paper's values); output, target and batch_size are
# common to all methods.
OPTIONS: dict[str, dict[str, Any]] = {
    "saliency": {},
    "integrated_gradients": {"steps": 20, "rule": "riemann_trapezoid", "reference": "permute", "seed": 0},
    "smoothgrad": {"n_samples": 25, "noise_sd": 0.1, "seed": 0},
    "expected_gradients": {"n_references": 10, "steps": 20, "rule": "riemann_trapezoid",
                           "reference": "permute", "seed": 0},
    "gradient_shap": {"n_samples": 25, "noise_sd": 0.0, "reference": "zeros", "seed": 0},
}

Forward = Callable[[torch.Tensor], torch.Tensor]  # model inputs (or first-layer images) -> model outputs
Head = Callable[[torch.Tensor], torch.Tensor]  # model outputs -> the scores explained, one per input
Target = int | Sequence[int] | Callable[[torch.Tensor], torch.Tensor]
# draw(i0, i1, generator): random (or fixed) draws of sequences i0..i1-1, first dimension i1 - i0.
Draw = Callable[[int, int, torch.Generator], torch.Tensor]
# mix(x of each input, its draw or None, k of each input) -> the model inputs; linear in (x, draw).
Mix = Callable[[torch.Tensor, torch.Tensor | None, torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class Plan:
    """How a method turns each sequence into K weighted model inputs: input k of sequence i is
    mix(x_i, d_i[slot(k)], k), where d_i are the sequence's draws. `mix` must be linear in (x, d)
    jointly, so that it may be applied to their images under the first layer instead: to f(x) and f(d)
    when the draws are model inputs themselves (references: the mix is then an affine combination), to
    f(x) and W*d when they are perturbations added to x (noise)."""

    weights: torch.Tensor  # (K,) float64, sums to 1
    mix: Mix
    draw: Draw | None = None
    slot: Callable[[torch.Tensor], torch.Tensor] | None = None  # k -> which draw of the sequence
    draws_are_inputs: bool = False


def _input_gradients(forward: Forward, heads: Sequence[Head], x: torch.Tensor,
                     weights: torch.Tensor | None = None) -> Iterator[torch.Tensor]:
    """d head(forward(x)) / d x for a batch and each head in turn, one forward pass for all heads and one
    backward pass per head (scores of different inputs are independent); with `weights` (one per input),
    the gradients of the weighted scores. A generator: the caller reduces each gradient before the next."""
    x = x.detach().requires_grad_(True)
    out = forward(x)
    for t, head in enumerate(heads):
        scores = head(out)
        if weights is not None:
            scores = scores * weights.view(-1, *([1] * (scores.dim() - 1)))
        (grad,) = torch.autograd.grad(scores.sum(), x, retain_graph=t + 1 < len(heads))
        yield grad


def _check_output(output: str) -> None:
    if output not in OUTPUTS:
        raise ValueError(f"unknown output {output!r}; choose one of {OUTPUTS}")


def _transform(logits: torch.Tensor, output: str) -> torch.Tensor:
    """The score scale: the sigmoid of the logits (published) or the logits, elementwise."""
    return torch.sigmoid(logits) if output == "sigmoid" else logits


def _target_list(target: Target) -> tuple[list[int | Head], bool]:
    """The targets as a list (one int, the ints of a sequence, or one callable) and whether they are
    stacked on a new axis (a sequence); ValueError for anything else. Indices are range-checked later,
    against the model's outputs (`_index_targets`)."""
    if callable(target):
        return [target], False
    if _is_index(target):
        return [int(target)], False
    if isinstance(target, np.ndarray) and target.ndim == 1 or isinstance(target, Sequence) and not isinstance(
            target, (str, bytes)):
        items = list(target)
        if not items:
            raise ValueError("target is an empty sequence; give at least one output index")
        bad = [t for t in items if not _is_index(t)]
        if bad:
            raise ValueError(f"a target sequence must hold output indices (ints); got {bad[0]!r}")
        return [int(t) for t in items], True
    raise ValueError(f"target must be an output index (int), a sequence of them or a callable of the outputs; "
                     f"got {target!r}")


def _is_index(value: Any) -> bool:
    """Whether `value` is an int (NumPy's too), not a bool."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def _index_targets(targets: list[int | Head], outputs: int) -> list[int | Head]:
    """The targets with indices checked against `outputs` and negative ones counted from the end."""
    out = []
    for t in targets:
        if not callable(t):
            if not -outputs <= t < outputs:
                raise ValueError(f"target index {t} is out of range: the model returns {outputs} output(s) "
                                 f"(indices 0..{outputs - 1}, or -{outputs}..-1 from the end)")
            t %= outputs
        out.append(t)
    return out


def _checked_scores(scores: Any, n: int) -> torch.Tensor:
    """A target callable's scores, ValueError unless they are floating point, one per input (n,), and
    depend on the outputs (when gradients are recorded)."""
    if not isinstance(scores, torch.Tensor) or tuple(scores.shape) != (n,):
        got = tuple(scores.shape) if isinstance(scores, torch.Tensor) else type(scores).__name__
        raise ValueError(f"a target callable must return one score per input, shape ({n},); it returned {got}")
    if not scores.is_floating_point():
        raise ValueError(f"a target callable must return floating-point scores; it returned {scores.dtype}")
    if torch.is_grad_enabled() and not scores.requires_grad:
        raise ValueError("a target callable must return scores computed from the model's outputs (they carry no "
                         "gradient)")
    return scores


def _target_heads(target: Target, output: str, probe: torch.Tensor) -> tuple[list[Head], bool]:
    """One head per target for a single model, and whether they are stacked: a head maps the model's
    outputs (M, outputs, ...) to the scores explained, (M,) (or (M, ...) for an index into outputs with
    more axes: their sum is explained). `probe` is the output for one input: it checks the indices and
    the callable."""
    targets, stacked = _target_list(target)
    if any(not callable(t) for t in targets):
        if probe.dim() < 2:
            raise ValueError(f"an output index needs outputs (M, outputs, ...); the model returns "
                             f"{tuple(probe.shape)} for one input (pass a callable target)")
        targets = _index_targets(targets, probe.shape[1])

    def head(t: int | Head) -> Head:
        if callable(t):
            return lambda out: _checked_scores(t(_transform(out, output)), len(out))
        return lambda out: _transform(out[:, t], output)

    return _probed([head(t) for t in targets], targets, probe), stacked


def _probed(heads: list[Head], targets: list[int | Head], probe: torch.Tensor) -> list[Head]:
    """The heads, after running those of callable targets on the probe's outputs (their shape and dtype
    checks fail there, before any attribution work)."""
    with torch.no_grad():
        for h, t in zip(heads, targets):
            if callable(t):
                h(probe)
    return heads


def _member_heads(target: Target, output: str, probe: torch.Tensor, members: int) -> tuple[list[Head], bool]:
    """One head per target for an ensemble module, and whether they are stacked: a head maps logits
    (M, members * T), member k's T outputs in columns k*T:(k+1)*T, to the sum over members of each
    member's score. Member k's score depends only on member k's block of channels, so the gradient of
    the sum w.r.t. that block is member k's gradient. `probe` is the output for one input."""
    targets, stacked = _target_list(target)
    per = probe.shape[1] // members
    targets = _index_targets(targets, per)

    def head(t: int | Head) -> Head:
        if callable(t):
            def score(logits: torch.Tensor) -> torch.Tensor:
                each = _transform(logits, output).view(len(logits), members, per)
                return sum(_checked_scores(t(each[:, k]), len(logits)) for k in range(members))
            return score
        return lambda logits: _transform(logits.view(len(logits), members, per)[:, :, t], output).sum(1)

    return _probed([head(t) for t in targets], targets, probe), stacked


# ---------------------------------------------------------------------------------------------------
# Methods


def _saliency_plan(x: torch.Tensor) -> Plan:
    """Saliency: the input gradient of the sequence itself (one input per sequence, so a chunk's
    inputs are its sequences, in order: no copy)."""
    return Plan(torch.ones(1, dtype=torch.float64), lambda xs, _, k: xs)


def _smoothgrad_plan(x: torch.Tensor, n_samples: int, noise_sd: float) -> Plan:
    """SmoothGrad: mean saliency over copies x + N(0, noise_sd^2), noise on every entry."""

    def draw(i0: int, i1: int, generator: torch.Generator) -> torch.Tensor:
        return _gaussian_noise((i1 - i0, n_samples, *x.shape[1:]), noise_sd, generator, x.dtype)

    return Plan(torch.full((n_samples,), 1 / n_samples, dtype=torch.float64), lambda xs, noise, k: xs + noise, draw,
                lambda k: k)


def _integrated_gradients_plan(x: torch.Tensor, steps: int, rule: str,
                               reference: str | np.ndarray | torch.Tensor) -> Plan:
    """Integrated gradients: weighted mean gradient on the straight path reference -> x."""
    return _path_plan(steps, rule, _reference_draw(x, reference, 1), 1)


def _expected_gradients_plan(x: torch.Tensor, n_references: int, steps: int, rule: str, reference: str) -> Plan:
    """Expected gradients: integrated gradients averaged over `n_references` random references."""
    if not isinstance(reference, str) or reference not in RANDOM_REFERENCES:
        raise ValueError(f"expected_gradients needs random references: reference must be one of "
                         f"{RANDOM_REFERENCES}; got {reference!r}")
    return _path_plan(steps, rule, _reference_draw(x, reference, n_references), n_references)


def _gradient_shap_plan(x: torch.Tensor, n_samples: int, noise_sd: float,
                        reference: str | np.ndarray | torch.Tensor) -> Plan:
    """Gradient SHAP (Lundberg & Lee 2017; captum's GradientShap): mean gradient at n_samples random points
    b + alpha (x + eps - b) per sequence, alpha ~ U(0, 1), eps ~ N(0, noise_sd^2) on every entry, b a
    reference. The draws are the model inputs themselves, so the first layer still runs once per input
    but its gradient goes back once per sequence."""
    parts = gradient_shap_draws(x, n_samples, noise_sd, reference)

    def draw(i0: int, i1: int, generator: torch.Generator) -> torch.Tensor:
        noise, alpha, base = parts(i0, i1, generator)
        alpha = alpha.to(x.dtype).view(*alpha.shape, *([1] * (x.dim() - 1)))
        return torch.lerp(base, x[i0:i1].unsqueeze(1) + noise, alpha)

    return Plan(torch.full((n_samples,), 1 / n_samples, dtype=torch.float64), lambda xs, points, k: points, draw,
                lambda k: k, draws_are_inputs=True)


def gradient_shap_draws(x: torch.Tensor, n_samples: int, noise_sd: float, reference: str | np.ndarray | torch.Tensor,
                        ) -> Callable[[int, int, torch.Generator], tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """Gradient SHAP's random draws, for inspection and tests: what `attribute(x, "gradient_shap")` draws.

    Parameters
    ----------
    x : torch.Tensor, shape (N, A, L)
    n_samples : int
        Points per sequence.
    noise_sd : float
        The noise's standard deviation.
    reference : str or array_like
        A kind of `REFERENCES` (one draw per sample for "permute" and "dinuc") or, as captum's baseline
        distribution, an array of references (R, A, L), one drawn uniformly per sample.

    Returns
    -------
    callable
        (i0, i1, generator) -> the draws of sequences i0..i1-1, in this order from the generator: the noise
        eps (i1 - i0, n, A, L), the points alpha (i1 - i0, n) in [0, 1) (float64), the references b
        (i1 - i0, n, A, L).
    """
    if isinstance(reference, str):
        references = _reference_draw(x, reference, n_samples)
    else:
        pool = torch.as_tensor(np.asarray(reference) if not isinstance(reference, torch.Tensor) else reference)
        if pool.dim() == 2:
            pool = pool.unsqueeze(0)
        if pool.dim() != 3 or tuple(pool.shape[1:]) != tuple(x.shape[1:]):
            raise ValueError(f"gradient_shap references must be an array (R, A, L) with (A, L) = "
                             f"{tuple(x.shape[1:])}; got {tuple(pool.shape)}")
        pool = pool.to(x.device, x.dtype)

        def references(i0: int, i1: int, generator: torch.Generator) -> torch.Tensor:
            return pool[torch.randint(len(pool), (i1 - i0, n_samples), generator=generator)]

    def parts(i0: int, i1: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        noise = _gaussian_noise((i1 - i0, n_samples, *x.shape[1:]), noise_sd, generator, x.dtype).to(x.device)
        alpha = torch.rand((i1 - i0, n_samples), generator=generator, dtype=torch.float64)
        return noise, alpha.to(x.device), references(i0, i1, generator)

    return parts


def _path_plan(steps: int, rule: str, draw: Draw, n_references: int) -> Plan:
    """Inputs b_r + alpha_s (x - b_r) for the R = n_references references of `draw` and the rule's
    points alpha_s; input k is (r, s) = divmod(k, steps), weighted w_s / R."""
    alphas, weights = path_rule(steps, rule)

    def mix(xs: torch.Tensor, base: torch.Tensor | None, k: torch.Tensor) -> torch.Tensor:
        return torch.lerp(base, xs, alphas.to(xs.device, xs.dtype)[k % steps].view(-1, *([1] * (xs.dim() - 1))))

    return Plan(weights.repeat(n_references) / n_references, mix, draw, lambda k: k // steps, draws_are_inputs=True)


def path_rule(steps: int, rule: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Points alpha in [0, 1] and weights (summing to 1) of a Riemann rule with `steps` points.

    The points are captum's for the same n_steps: left k/n, right (k+1)/n, middle (k+1/2)/n,
    trapezoid k/(n-1), k = 0..n-1. Left, right and middle weigh each point 1/n, like captum. The
    trapezoid weighs the points 1/(n-1), halved at both ends, so its weights sum to 1 (a true
    trapezoid rule on n points, and completeness holds); captum uses 1/n there, so its trapezoid
    weights sum to (n-1)/n and its map is ours times (n-1)/n.

    Parameters
    ----------
    steps : int
        Points n.
    rule : {"riemann_trapezoid", "riemann_left", "riemann_right", "riemann_middle"}

    Returns
    -------
    alphas, weights : torch.Tensor, each shape (steps,), float64
    """
    if rule not in RULES:
        raise ValueError(f"unknown rule {rule!r}; choose one of {RULES}")
    k = torch.arange(steps, dtype=torch.float64)
    weights = torch.full((steps,), 1 / steps, dtype=torch.float64)
    if rule == "riemann_left":
        alphas = k / steps
    elif rule == "riemann_right":
        alphas = (k + 1) / steps
    elif rule == "riemann_middle":
        alphas = (k + 0.5) / steps
    else:
        alphas = k / (steps - 1)
        weights = torch.full((steps,), 1 / (steps - 1), dtype=torch.float64)
        weights[[0, -1]] /= 2
    return alphas, weights


def _reference_draw(x: torch.Tensor, reference: str | np.ndarray | torch.Tensor, n: int) -> Draw:
    """Draw of n references (i1 - i0, n, A, L) per sequence: random permutations of the positions,
    dinucleotide shuffles, zeros, uniform 1/A, or an explicit array broadcastable to x."""
    if not isinstance(reference, str):
        ref = torch.as_tensor(np.asarray(reference) if not isinstance(reference, torch.Tensor) else reference)
        try:
            full = torch.broadcast_to(ref.to(x.device, x.dtype), x.shape)
        except RuntimeError as err:
            raise ValueError(f"reference of shape {tuple(ref.shape)} does not broadcast to x {tuple(x.shape)}") from err
        return lambda i0, i1, generator: full[i0:i1].unsqueeze(1).expand(-1, n, -1, -1)
    if reference == "permute":
        return lambda i0, i1, generator: permute_positions(x[i0:i1], n, generator)
    if reference == "dinuc":
        return lambda i0, i1, generator: dinuc_shuffle(x[i0:i1], n, generator)
    if reference in ("zeros", "uniform"):
        value = 0.0 if reference == "zeros" else 1 / x.shape[1]
        return lambda i0, i1, generator: torch.full((i1 - i0, n, *x.shape[1:]), value, dtype=x.dtype, device=x.device)
    raise ValueError(f"unknown reference {reference!r}; choose one of {REFERENCES} or pass an array")


def _gaussian_noise(shape: tuple[int, ...], sd: float, generator: torch.Generator, dtype: torch.dtype) -> torch.Tensor:
    """N(0, sd^2) noise, drawn in float32 whatever `dtype` so that a float64 call sees the same draws."""
    return torch.randn(shape, generator=generator, dtype=torch.float32).to(dtype) * sd


METHODS: dict[str, Callable[..., Plan]] = {
    "saliency": _saliency_plan,
    "integrated_gradients": _integrated_gradients_plan,
    "smoothgrad": _smoothgrad_plan,
    "expected_gradients": _expected_gradients_plan,
    "gradient_shap": _gradient_shap_plan,
}


# ---------------------------------------------------------------------------------------------------
# Engine


class _DrawStream:
    """Per-sequence draws of a plan, made DRAW_BLOCK sequences at a time, in order, from one
    generator seeded with `seed`.

    Chunks of model inputs ask for rows in increasing order, so the blocks are drawn in the same
    order (and shapes) whatever the chunking: batch_size cannot change the draws, and only the
    blocks in use are held in memory. With `start`, the blocks before start's are drawn and discarded (under
    a second per block of 10 references, against minutes to attribute it), so that a run over sequences
    start.. gets the draws a full run gets for them.
    """

    def __init__(self, draw: Draw, n_seq: int, seed: int, start: int = 0):
        self.draw, self.n_seq = draw, n_seq
        self.generator = torch.Generator().manual_seed(seed)
        self.start = start // DRAW_BLOCK * DRAW_BLOCK  # first sequence held, or to be drawn next
        for b0 in range(0, self.start, DRAW_BLOCK):
            draw(b0, min(b0 + DRAW_BLOCK, n_seq), self.generator)
        self.held: torch.Tensor | None = None

    def rows(self, i0: int, i1: int) -> torch.Tensor:
        """Draws of sequences i0..i1-1 (i0 never below an earlier call's i0)."""
        if i0 < self.start:
            raise RuntimeError("draws must be requested in increasing order")
        stop = self.start + (0 if self.held is None else len(self.held))
        parts = [] if self.held is None else [self.held]
        while stop < i1:
            end = min(stop + DRAW_BLOCK, self.n_seq)
            parts.append(self.draw(stop, end, self.generator))
            stop = end
        self.held = (torch.cat(parts) if len(parts) > 1 else parts[0])[i0 - self.start:]
        self.start = i0
        return self.held[: i1 - i0]


@dataclass(frozen=True)
class _InputLayer:
    """A model's first layer, a convolution f(u) = W*u + b (stride 1, symmetric padding), and the rest.

    For an ensemble of K members the rows k*F:(k+1)*F of W (K*F, A, w) are member k's filters: `hidden`
    applies all members to untiled inputs (M, A, L) at once, and `input_grad` takes hidden gradients
    back to each member's input, (M, K*A, L)."""

    weight: torch.Tensor
    bias: torch.Tensor
    padding: int
    members: int
    rest: Callable[[torch.Tensor], torch.Tensor]

    def hidden(self, u: torch.Tensor) -> torch.Tensor:
        """W*u without the bias (linear in u), (M, K*F, L); on the CPU with (length, channel)-major strides, the
        layout `_ChannelsLast` runs the next layers in (so that the mixed inputs need no reordering)."""
        if self.weight.device.type != "cpu":
            return F.conv1d(u, self.weight, None, padding=self.padding)
        weight = self.weight.unsqueeze(2).contiguous(memory_format=torch.channels_last)
        u = u.unsqueeze(2).contiguous(memory_format=torch.channels_last)
        return F.conv2d(u, weight, None, padding=(0, self.padding)).squeeze(2)

    def input_grad(self, g: torch.Tensor, length: int) -> torch.Tensor:
        """W^T g per member: (M, K*F, L) -> (M, K*A, L)."""
        size = (len(g), self.members * self.weight.shape[1], length)
        return torch.nn.grad.conv1d_input(size, self.weight, g, padding=self.padding, groups=self.members)


def _input_layer(model: nn.Module, members: int = 1) -> _InputLayer | None:
    """The first convolution of an `nn.Sequential` model, or of an ensemble module with `input_conv()` and
    `forward(x, start)` (`models.ensemble.EnsembleCNN`); None when there is none to split off."""
    if hasattr(model, "input_conv"):
        found = model.input_conv()
        if found is None:
            return None
        weight, bias, padding = found
        rest = lambda h: model(h, start=1)  # noqa: E731
        stride = dilation = 1
    elif isinstance(model, nn.Sequential) and len(model) > 1 and type(model[0]) is nn.Conv1d:  # a plain one
        conv = model[0]
        if conv.groups != 1 or conv.bias is None or conv.padding_mode != "zeros" or members != 1:
            return None
        weight, bias, padding, rest = conv.weight, conv.bias, conv.padding, model[1:]
        stride, dilation = conv.stride[0], conv.dilation[0]
    else:
        return None
    padding = _conv_padding(padding, weight.shape[-1])
    if stride != 1 or dilation != 1 or padding is None:
        return None
    return _InputLayer(weight, bias, padding, members, rest)


class _ChannelsLast(nn.Module):
    """The same function as a CNN (from layer `start` on), computed on (M, C, 1, L) channels-last tensors.

    On the CPU, oneDNN convolutions run on (length, channel)-major data without reordering their inputs and
    outputs on every call; that halves the time of a forward plus input-gradient pass of our CNNs (measured:
    benchmarks/attribution_speed.py), and a Keras flatten becomes a view. The ops: ("conv", weight (O, I/g,
    1, w), bias, padding, groups), ("relu",), ("exp",), ("pool", kernel, stride), ("keras_flatten",),
    ("flatten",), ("linear", weight, bias) and, for an ensemble's members, ("dense", weight (K, O, I), bias
    (K, O)) on (M, K, I); for an ensemble (`members` given, even 1) it flattens per member and returns
    (M, K * T). `_channels_last` builds them with activations moved after the max-pools that follow them
    (`_pool_first`)."""

    def __init__(self, ops: list[tuple[Any, ...]], members: int | None = None):
        super().__init__()
        self.ops, self.members = ops, members

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        h = u.unsqueeze(2).contiguous(memory_format=torch.channels_last)
        for op in self.ops:
            kind = op[0]
            if kind == "conv":
                h = F.conv2d(h, op[1], op[2], padding=(0, op[3]), groups=op[4])
            elif kind == "relu":
                h = torch.relu(h)
            elif kind == "exp":
                h = torch.exp(h)
            elif kind == "pool":
                h = F.max_pool2d(h, (1, op[1]), (1, op[2]))
            elif kind == "keras_flatten":  # (M, K*C, 1, L) -> (M, K, L*C): (length, channel) order per member
                h = h.permute(0, 2, 3, 1)  # a view for channels-last data
                if self.members is None:
                    h = h.flatten(1)
                else:
                    h = h.reshape(len(h), h.shape[2], self.members, -1).transpose(1, 2).flatten(2)
            elif kind == "flatten":
                h = h.squeeze(2).flatten(1)
            elif kind == "linear":
                h = F.linear(h, op[1], op[2])
            else:  # "dense"
                h = torch.einsum("bki,koi->bko", h, op[1]) + op[2]
        h = h.squeeze(2) if h.dim() == 4 else h  # a convolution's outputs (M, C, L)
        return h.flatten(1) if self.members is not None else h


def _channels_last(model: nn.Module, start: int = 0, members: int = 1) -> _ChannelsLast | None:
    """`model`'s layers from `start` on as a `_ChannelsLast`: a folded `nn.Sequential` of Conv1d (stride and
    dilation 1, zero or "same"/"valid" padding), ReLU, Exp, MaxPool1d (no padding), KerasFlatten, Flatten,
    Linear, Dropout and Identity layers, or an eval-mode ensemble with `layers` specs (`models.ensemble.
    EnsembleCNN`, BatchNorm folded); None for anything else (the model then runs as it is)."""
    ops: list[tuple[Any, ...]] = []
    with torch.no_grad():
        if isinstance(model, nn.Sequential) and members == 1:
            for layer in list(model)[start:]:
                kind = type(layer)
                if kind is nn.Conv1d:
                    padding = _conv_padding(layer.padding, layer.kernel_size[0])
                    if (padding is None or layer.stride[0] != 1 or layer.dilation[0] != 1
                            or layer.padding_mode != "zeros"):
                        return None
                    ops.append(("conv", layer.weight.detach().unsqueeze(2).contiguous(
                        memory_format=torch.channels_last), None if layer.bias is None else layer.bias.detach(),
                        padding, layer.groups))
                elif kind is nn.ReLU or kind is Exp:
                    ops.append(("relu" if kind is nn.ReLU else "exp",))
                elif kind is nn.MaxPool1d:
                    if _pool_padding(layer) is None:
                        return None
                    ops.append(("pool", _single(layer.kernel_size), _single(layer.stride or layer.kernel_size)))
                elif kind is KerasFlatten:
                    ops.append(("keras_flatten",))
                elif kind is nn.Flatten and layer.start_dim == 1 and layer.end_dim == -1:
                    ops.append(("flatten",))
                elif kind is nn.Linear:
                    ops.append(("linear", layer.weight.detach(),
                                None if layer.bias is None else layer.bias.detach()))
                elif kind not in (nn.Dropout, nn.Identity):
                    return None
        elif hasattr(model, "layers") and hasattr(model, "kernel") and not model.training:
            for kind, spec in model.layers[start:]:
                if kind == "conv":
                    padding = _conv_padding(spec["padding"], model.kernel(spec).shape[-1])
                    if padding is None:
                        return None
                    w = model.kernel(spec).detach()
                    ops.append(("conv", w.reshape(-1, *w.shape[2:]).unsqueeze(2).contiguous(
                        memory_format=torch.channels_last), model.param(f"{spec['name']}_bias").detach().reshape(-1),
                        padding, members))
                elif kind in ("relu", "exp"):
                    ops.append((kind,))
                elif kind == "pool":
                    ops.append(("pool", spec["kernel"], spec["kernel"]))
                elif kind == "flatten":
                    ops.append(("keras_flatten",))
                elif kind == "linear":
                    ops.append(("dense", model.param(f"{spec['name']}_weight").detach(),
                                model.param(f"{spec['name']}_bias").detach()))
                elif kind != "dropout":
                    return None
        else:
            return None
    ensemble = not isinstance(model, nn.Sequential)
    return _ChannelsLast(_pool_first(ops), members if ensemble else None) if ops else None


def _pool_first(ops: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """The ops with every activation that a max-pool follows moved after the pool: max(f(u)) = f(max(u)) for an
    increasing f (exp, ReLU), and the gradient goes to the same position (ReLU's zero at u <= 0 either way), so the
    function and its input gradient are unchanged while the activation and its backward run on the pooled,
    k times smaller tensor (CNN-shallow's first pool: 50 times)."""
    ops = list(ops)
    for i in range(len(ops) - 1):
        if ops[i][0] in ("relu", "exp") and ops[i + 1][0] == "pool":
            ops[i], ops[i + 1] = ops[i + 1], ops[i]
    return ops


def _conv_padding(padding: Any, width: int) -> int | None:
    """A Conv1d's padding as one int per side; None for "same" with an even kernel (padded unevenly)."""
    if padding == "same":
        return (width - 1) // 2 if width % 2 else None
    if padding == "valid":
        return 0
    return _single(padding)


def _pool_padding(layer: nn.MaxPool1d) -> int | None:
    """0 for a max-pool a channels-last 2-D pool computes alike (no padding or dilation, floor mode); else None."""
    plain = (_single(layer.padding) == 0 and _single(layer.dilation) == 1 and not layer.ceil_mode
             and not layer.return_indices)
    return 0 if plain else None


def _single(value: int | tuple[int, ...]) -> int:
    return int(value[0]) if isinstance(value, tuple) else int(value)


def _model_forward(model: nn.Module, layer: _InputLayer | None, device: torch.device, members: int,
                   compile: bool, rows: int) -> Forward:
    """What the engine runs per chunk: the model (or, with `layer`, its layers after the first), channels-last on
    the CPU when `_channels_last` can express it; with `compile`, through `torch.compile` for chunks of `rows`
    inputs, a smaller last chunk padded with zero rows so that a call compiles one shape (their scores are
    dropped, so they add nothing to any gradient)."""
    forward = _channels_last(model, 1 if layer is not None else 0, members) if device.type == "cpu" else None
    if forward is None:
        forward = layer.rest if layer is not None else model
    if not compile:
        return forward
    compiled = torch.compile(forward, dynamic=False)

    def padded(u: torch.Tensor) -> torch.Tensor:
        if len(u) == rows:
            return compiled(u)
        return compiled(F.pad(u, (0, 0) * (u.dim() - 1) + (0, rows - len(u))))[: len(u)]

    return padded


def _iter_plan(forward: Forward, heads: Sequence[Head], x: torch.Tensor, plan: Plan, seed: int, batch_size: int,
               device: torch.device, members: int = 1, layer: _InputLayer | None = None,
               block: int | None = None, sequences: tuple[int, int] | None = None,
               ) -> Iterator[tuple[int, int, torch.Tensor]]:
    """(i0, i1, maps of sequences i0..i1-1 (i1 - i0, members, T, A, L)) for blocks of `block` sequences (all
    in one block by default) from `sequences` = (s0, s1) (all by default; blocks start at s0, and the draws
    are those of a full run), T = len(heads): sum_k w_k grad(u_ik) of each head's score. The inputs go
    through the model in chunks of at most max(1, batch_size // members) (a chunk spans many sequences, or
    part of one, never two blocks).

    `forward` takes model inputs (M, members*A, L), tiled per member; or, with `layer`, the first layer's
    output, to which the inputs are carried as combinations of the layer's images of the sequences and
    draws (see the module docstring). A chunk's draws, first-layer images and forward pass serve all heads;
    each head has its own backward pass. A chunk's weighted gradients are summed per sequence in the
    model's dtype (segment sums); sums across chunks accumulate in float64.
    """
    n_seq, k_per = len(x), len(plan.weights)
    chunk = max(1, batch_size // members)
    s0, s1 = sequences or (0, n_seq)
    draws = _DrawStream(plan.draw, n_seq, seed, s0) if plan.draw is not None else None
    weights = plan.weights.to(device)
    shape = x.shape[1:]
    block = block or max(n_seq, 1)
    for b0 in range(s0, s1, block):
        b1 = min(b0 + block, s1)
        total = torch.zeros((b1 - b0, members, len(heads), *shape), dtype=torch.float64 if k_per > 1 else x.dtype,
                            device=device)
        for start in range(b0 * k_per, b1 * k_per, chunk):
            stop = min(start + chunk, b1 * k_per)
            i0, i1 = start // k_per, (stop - 1) // k_per + 1
            flat = torch.arange(start, stop, device=device)
            row, k = flat // k_per - i0, flat % k_per
            xs = x[i0:i1].to(device)
            extra = draws.rows(i0, i1).to(device) if draws is not None else None
            w = weights[k].to(x.dtype) if k_per > 1 else None
            if layer is None:
                u = _mix(plan, xs, extra, row, k, k_per)
                u = u.repeat(1, members, 1) if members > 1 else u
            else:
                u = _mix(plan, xs, extra, row, k, k_per, layer)
            for t, grads in enumerate(_input_gradients(forward, heads, u, w)):
                sums = _sequence_sums(grads, start - i0 * k_per, k_per)
                if layer is not None:
                    sums = layer.input_grad(sums, shape[-1])
                total[i0 - b0:i1 - b0, :, t] += sums.view(len(sums), members, *shape)
        yield b0, b1, total.to(x.dtype)


def _mix(plan: Plan, xs: torch.Tensor, extra: torch.Tensor | None, row: torch.Tensor, k: torch.Tensor, k_per: int,
         layer: _InputLayer | None = None) -> torch.Tensor:
    """The chunk's model inputs (`row`, `k`) from its sequences and their draws; with `layer`, their images
    under the first layer, which runs once per sequence and per draw in use."""
    drawn = None
    if layer is None:
        if extra is not None:
            drawn = extra[row, plan.slot(k)]
        return plan.mix(xs if k_per == 1 else xs[row], drawn, k)
    bias = layer.bias.view(1, -1, 1)
    if extra is not None:
        used, where = torch.unique(row * extra.shape[1] + plan.slot(k), return_inverse=True)
        drawn = layer.hidden(extra.flatten(0, 1)[used])
        drawn = _rows(drawn + bias if plan.draws_are_inputs else drawn, where)
    hx = layer.hidden(xs) + bias
    return plan.mix(hx if k_per == 1 else _rows(hx, row), drawn, k)


def _rows(h: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """h[index] for (M, C, L) first-layer images, keeping their (length, channel)-major strides."""
    return h.transpose(1, 2).index_select(0, index).transpose(1, 2)


def _run_plan(forward: Forward, heads: Sequence[Head], x: torch.Tensor, plan: Plan, seed: int, batch_size: int,
              device: torch.device, members: int = 1, layer: _InputLayer | None = None) -> torch.Tensor:
    """All blocks of `_iter_plan` in one tensor, (N, members, T, A, L)."""
    blocks = [maps for _, _, maps in _iter_plan(forward, heads, x, plan, seed, batch_size, device, members, layer)]
    return torch.cat(blocks) if blocks else torch.zeros((0, members, len(heads), *x.shape[1:]), dtype=x.dtype,
                                                        device=device)


def _sequence_sums(values: torch.Tensor, offset: int, k_per: int) -> torch.Tensor:
    """Per-sequence sums of a chunk's rows, which are inputs offset, offset+1, ... of consecutive
    sequences with k_per inputs each: a partial first sequence, whole ones, a partial last one."""
    if k_per == 1:
        return values
    head = min(len(values), k_per - offset) if offset else 0
    whole = (len(values) - head) // k_per
    tail = head + whole * k_per
    parts = [values[:head].sum(0, keepdim=True)] if head else []
    if whole:
        parts.append(values[head:tail].view(whole, k_per, *values.shape[1:]).sum(1))
    if tail < len(values):
        parts.append(values[tail:].sum(0, keepdim=True))
    return torch.cat(parts) if len(parts) > 1 else parts[0]


@contextmanager
def _inference_setup(model: nn.Module) -> Iterator[torch.device]:
    """Eval mode and parameters that require no gradient while attributing (autograd then records
    nothing for weights); both restored afterwards. Yields the device of the model's parameters.
    A model already in eval mode throughout is left alone (model.train/eval walk every module)."""
    was_training = model.training
    switch = any(m.training for m in model.modules())
    params = list(model.parameters())
    flags = [p.requires_grad for p in params]
    if switch:
        model.eval()
    for p in params:
        p.requires_grad_(False)
    try:
        yield params[0].device if params else torch.device("cpu")
    finally:
        for p, flag in zip(params, flags):
            p.requires_grad_(flag)
        if switch:
            model.train(was_training)


def _check_options(method: str, options: dict[str, Any]) -> dict[str, Any]:
    """The method's options with defaults filled in; ValueError names unknown options and bad values."""
    defaults = OPTIONS[method]
    unknown = sorted(set(options) - set(defaults))
    if unknown:
        raise ValueError(f"unknown option(s) {', '.join(map(repr, unknown))} for method {method!r}; it takes "
                         f"{sorted(defaults) or 'none'} besides output, target and batch_size")
    opts = {**defaults, **options}
    for name, minimum in (("steps", 2), ("n_samples", 1), ("n_references", 1)):
        if name in opts:
            _check_int(name, opts[name], minimum)
    if "seed" in opts:
        _check_int("seed", opts["seed"], None)
    if "noise_sd" in opts and not (isinstance(opts["noise_sd"], numbers.Real) and opts["noise_sd"] >= 0):
        raise ValueError(f"noise_sd must be a number >= 0; got {opts['noise_sd']!r}")
    if "rule" in opts and opts["rule"] not in RULES:
        raise ValueError(f"unknown rule {opts['rule']!r}; choose one of {RULES}")
    return opts


def _check_int(name: str, value: Any, minimum: int | None) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or (minimum is not None and value < minimum):
        bound = "" if minimum is None else f" >= {minimum}"
        raise ValueError(f"{name} must be an integer{bound}; got {value!r}")


def attribute(model: nn.Module, x: np.ndarray | torch.Tensor, method: str = "saliency", *,
              output: str = "sigmoid", target: Target = 0, batch_size: int = 256, compile: bool = False,
              **options: Any) -> np.ndarray | torch.Tensor:
    """Raw, gradient-like attribution maps of a model, uncorrected.

    Methods and their options (defaults: the paper's):

    - "saliency": d score / d x.
    - "integrated_gradients": steps=20, rule="riemann_trapezoid" (or riemann_left, riemann_right,
      riemann_middle; points as captum's), reference="permute" (a random permutation of the
      positions, as published; or "dinuc", "zeros", "uniform" = 1/A, or an array broadcastable to
      x), seed=0. The weighted mean of the gradients on the straight path reference -> x (weights
      sum to 1); not multiplied by x - reference.
    - "smoothgrad": n_samples=25, noise_sd=0.1, seed=0. Mean saliency over x + N(0, noise_sd^2).
    - "expected_gradients": n_references=10, steps=20, rule="riemann_trapezoid",
      reference="permute" (or "dinuc"), seed=0. Integrated gradients averaged over the references.
    - "gradient_shap": n_samples=25, noise_sd=0.0, reference="zeros" (or "uniform", "permute",
      "dinuc", or an array of references (R, A, L) drawn from uniformly, captum's baseline
      distribution), seed=0. Mean gradient at b + alpha (x + eps - b), alpha ~ U(0, 1), eps ~
      N(0, noise_sd^2): captum's GradientShap with multiply_by_inputs=False.

    Memory: `batch_size` bounds memory. It is the most model inputs (sequences x steps, noise
    samples or references) in one forward/backward pass: the inputs of many sequences share a
    pass, and a sequence with more inputs than batch_size is split across passes. Random draws are
    made for blocks of DRAW_BLOCK sequences from a generator seeded with `seed`, in a fixed order,
    so results do not depend on batch_size (up to float rounding).

    Several targets: a sequence of T indices gives the maps T separate calls would give (the same
    draws), stacked; it costs one forward and T backward passes per chunk of inputs, with the draws
    and first-layer images made once, so less than T calls; the result holds T maps per sequence.

    The model is evaluated in eval mode on the device that holds its parameters, with parameters that
    require no gradient (only input gradients are needed); its mode and flags are restored. An
    `nn.Sequential` runs as a BatchNorm-folded copy (`models.architectures.fold_batchnorm`), and its first
    convolution once per sequence and draw (see the module docstring); both are exact up to float
    rounding. On the CPU such a model runs channels-last (see the module docstring). One probe forward pass
    of a single input finds the number of outputs (to check the target).

    Parameters
    ----------
    model : torch.nn.Module
        Takes (M, A, L) and returns logits (M, outputs) (or, for a callable target, any shape).
    x : numpy.ndarray or torch.Tensor, shape (N, A, L)
        Inputs, one-hot or not.
    method : str, default "saliency"
        One of METHODS: "saliency", "integrated_gradients", "smoothgrad", "expected_gradients", "gradient_shap".
    output : {"sigmoid", "logit"}, default "sigmoid"
        The scale explained: the sigmoid of the logits (published), or the logits; applied elementwise
        before the target selects or combines outputs.
    target : int, sequence of int, or callable, default 0
        What is explained. An int: that output column (negative ints count from the end, as in Python;
        for outputs with more axes, (M, outputs, ...), the sum of that column over them). A sequence of
        ints: one map per index, stacked on a new axis. A callable: takes the model's outputs after
        `output` (sigmoid or logit), shape (M, outputs) or whatever the model returns (e.g. (M, tasks,
        positions)), and returns one floating-point score per input, shape (M,); e.g.
        ``lambda out: out[:, [2, 5]].sum(1)``. ValueError names an index out of range, a non-int index,
        an empty sequence, or a callable's wrong shape or dtype.
    batch_size : int, default 256
        The most model inputs in one forward/backward pass.
    compile : bool, default False
        Run the model's passes through `torch.compile` (compiled once per call, for one chunk shape: a smaller
        last chunk is padded). Compiling takes tens of seconds on a CPU, so it pays only on long runs;
        `benchmarks/attribution_speed.py --compile` measures both. The maps agree with eager ones to float
        rounding.
    **options
        The method's options, above; unknown ones raise ValueError.

    Returns
    -------
    numpy.ndarray or torch.Tensor, shape (N, A, L), or (N, T, A, L) for a sequence of T targets
        The same kind as `x`: a NumPy array (float32), or a tensor on x's device.
    """
    x_t, plan, seed = _prepare(x, method, options, batch_size)
    _check_output(output)
    _target_list(target)  # its type, before any model work
    model = fold_batchnorm(model) if isinstance(model, nn.Sequential) else model
    with _inference_setup(model) as device:
        with torch.no_grad():
            # channels-last when it can: a single input through the plain layers takes oneDNN's slow path
            fast = _channels_last(model) if device.type == "cpu" else None
            probe = (fast or model)(torch.zeros((1, *x_t.shape[1:]), dtype=x_t.dtype, device=device))
        heads, stacked = _target_heads(target, output, probe)
        layer = _input_layer(model) if len(plan.weights) > 1 else None
        forward = _model_forward(model, layer, device, 1, compile, min(batch_size, len(x_t) * len(plan.weights)))
        maps = _run_plan(forward, heads, x_t, plan, seed, batch_size, device, layer=layer)
        out = (maps[:, 0] if stacked else maps[:, 0, 0]).to(x_t.device)
    return out if isinstance(x, torch.Tensor) else out.numpy()


def attribute_members(model: nn.Module | Sequence[nn.Sequential], x: np.ndarray | torch.Tensor,
                      method: str = "saliency", *, members: int | None = None, output: str = "sigmoid",
                      target: Target = 0, batch_size: int = 256, compile: bool = False,
                      **options: Any) -> np.ndarray | torch.Tensor:
    """Raw maps of every member of an ensemble, in one batched pass per chunk.

    The result is what `attribute` gives for each member alone with the same method, options, target
    and seed: the draws (noise, references) are made once on x, each model input reaches every member,
    and the gradient of the summed scores splits into the members' gradients. The whole result is
    held in memory; use `iter_attribute_members` to stream it.

    Parameters
    ----------
    model : sequence of torch.nn.Sequential, or torch.nn.Module
        Models of one architecture with the same number of outputs T (`gradcorr.models.architectures`;
        they are stacked into a `models.ensemble.EnsembleCNN` after BatchNorm folding, on the first one's
        device); or one module holding `members` models: it takes inputs (M, members*A, L), member k
        reading channels k*A:(k+1)*A, and returns logits (M, members * T), member k's T outputs in
        columns k*T:(k+1)*T (T = 1: column k), depending only on member k.
    x : numpy.ndarray or torch.Tensor, shape (N, A, L)
        Inputs, one member's channels.
    method : str, default "saliency"
        As in `attribute`.
    members : int, optional
        The number of members of a single module (read from a list of models).
    output : {"sigmoid", "logit"}, default "sigmoid"
    target : int, sequence of int, or callable, default 0
        As in `attribute`, per member: an index into a member's T outputs, a sequence of them (stacked
        after the member axis), or a callable that takes one member's outputs after `output`, (M, T),
        and returns (M,) (called once per member).
    batch_size : int, default 256
        Counts member-inputs: a pass holds at most max(1, batch_size // members) inputs.
    compile : bool, default False
        As in `attribute`.
    **options
        The method's options, as in `attribute`.

    Returns
    -------
    numpy.ndarray or torch.Tensor, shape (N, members, A, L), or (N, members, T, A, L) for a sequence of T targets
        The same kind and dtype as `attribute` returns.
    """
    blocks = [maps for _, _, maps in iter_attribute_members(model, x, method, members=members, output=output,
                                                             target=target, batch_size=batch_size, compile=compile,
                                                             **options)]
    if not blocks:
        n_members = members if isinstance(model, nn.Module) else len(model)
        targets, stacked = _target_list(target)
        empty = torch.zeros((0, n_members, *([len(targets)] if stacked else []), *np.shape(x)[1:]))
        return empty.to(x.dtype) if isinstance(x, torch.Tensor) else empty.numpy()
    if isinstance(x, torch.Tensor):
        return torch.cat(blocks)
    return np.concatenate(blocks)


def iter_attribute_members(model: nn.Module | Sequence[nn.Sequential], x: np.ndarray | torch.Tensor,
                           method: str = "saliency", *, members: int | None = None, output: str = "sigmoid",
                           target: Target = 0, batch_size: int = 256, compile: bool = False,
                           block: int | None = None,
                           sequences: tuple[int, int] | None = None,
                           **options: Any) -> Iterator[tuple[int, int, np.ndarray | torch.Tensor]]:
    """`attribute_members` in blocks of sequences, for streaming the maps to disk.

    Memory is bounded by the block and batch_size, not by N; the maps are the same as
    `attribute_members`' (the draws do not depend on the blocks).

    Parameters
    ----------
    model, x, method, members, output, target, batch_size, compile, **options
        As in `attribute_members`.
    block : int, optional
        Sequences per block (default STREAM_BLOCK).
    sequences : (int, int), optional
        Only the blocks of sequences s0..s1-1 of x (all by default): s0 a multiple of `block`, s1 one or N.
        Their maps are the bytes the full call yields for them, whatever the range (same blocks, same
        chunks, and the draws of earlier sequences made and discarded); x is still all N sequences.

    Yields
    ------
    i0, i1 : int
        The block's first and past-the-last sequence.
    maps : numpy.ndarray or torch.Tensor, shape (i1 - i0, members, A, L), or (i1 - i0, members, T, A, L)
        for a sequence of T targets.
    """
    block = STREAM_BLOCK if block is None else block
    _check_int("block", block, 1)
    s0, s1 = (0, len(x)) if sequences is None else sequences
    if not (0 <= s0 <= s1 <= len(x) and s0 % block == 0 and (s1 % block == 0 or s1 == len(x))):
        raise ValueError(f"sequences must be (s0, s1) with 0 <= s0 <= s1 <= N = {len(x)}, s0 a multiple of block "
                         f"= {block} and s1 one or N; got {sequences!r}")
    if not isinstance(model, nn.Module):
        from gradcorr.models.ensemble import inference_ensemble  # the engine imports training; keep this light

        if members is not None and members != len(model):
            raise ValueError(f"members={members} but {len(model)} models were given")
        model = inference_ensemble(list(model))
        members = model.members
    elif isinstance(model, nn.Sequential):
        model = fold_batchnorm(model)
    _check_int("members", members, 1)
    x_t, plan, seed = _prepare(x, method, options, batch_size)
    _check_output(output)
    _target_list(target)
    with _inference_setup(model) as device:
        probe = _check_ensemble(model, members, x_t, device)
        heads, stacked = _member_heads(target, output, probe, members)
        layer = _input_layer(model, members) if len(plan.weights) > 1 else None
        rows = min(max(1, batch_size // members), block * len(plan.weights), max(1, s1 - s0) * len(plan.weights))
        forward = _model_forward(model, layer, device, members, compile, rows)
        for i0, i1, maps in _iter_plan(forward, heads, x_t, plan, seed, batch_size, device, members, layer, block,
                                       (s0, s1)):
            maps = (maps if stacked else maps[:, :, 0]).to(x_t.device)
            yield i0, i1, maps if isinstance(x, torch.Tensor) else maps.numpy()


def _check_ensemble(model: nn.Module, members: int, x: torch.Tensor, device: torch.device) -> torch.Tensor:
    """The logits of one input (1, members * T); ValueError unless `model` takes (1, members*A, L) and
    returns that shape, T >= 1 outputs per member."""
    probe = torch.zeros((1, members * x.shape[1], x.shape[2]), dtype=x.dtype, device=device)
    try:
        with torch.no_grad():
            logits = model(probe)
    except RuntimeError as err:
        raise ValueError(f"the model does not take {members} members x {x.shape[1]} channels (x holds one "
                         f"member's input, (N, A, L) = {tuple(x.shape)}): {err}") from err
    if logits.dim() != 2 or len(logits) != 1 or not logits.shape[1] or logits.shape[1] % members:
        raise ValueError(f"an ensemble of {members} members must return logits (M, {members}), or (M, {members} * T) "
                         f"with member k's T outputs in columns k*T:(k+1)*T; got {tuple(logits.shape)[1:]} per input")
    return logits


def _prepare(x: np.ndarray | torch.Tensor, method: str, options: dict[str, Any],
             batch_size: int) -> tuple[torch.Tensor, Plan, int]:
    """Checked inputs of an attribution: x as a detached tensor (NumPy -> float32), the method's plan and seed."""
    if method not in METHODS:
        raise ValueError(f"unknown attribution method {method!r}; choose one of {sorted(METHODS)}")
    opts = _check_options(method, options)
    _check_int("batch_size", batch_size, 1)
    x_t = x.detach() if isinstance(x, torch.Tensor) else torch.as_tensor(np.asarray(x, dtype=np.float32))
    if x_t.ndim != 3:
        raise ValueError(f"x must have shape (N, A, L); got {tuple(x_t.shape)}")
    seed = opts.pop("seed", 0)
    return x_t, METHODS[method](x_t, **opts), seed


def random_draws(x: np.ndarray | torch.Tensor, method: str, **options: Any) -> torch.Tensor | None:
    """The random draws `attribute` makes for x with these options, for inspection and tests.

    Parameters
    ----------
    x : numpy.ndarray or torch.Tensor, shape (N, A, L)
    method : str
    **options
        As in `attribute`.

    Returns
    -------
    torch.Tensor or None
        SmoothGrad's noise (N, n_samples, A, L), the references (N, R, A, L) of a path method or
        gradient SHAP's model inputs (N, n_samples, A, L);
        None for saliency.
    """
    x_t, plan, seed = _prepare(x, method, options, 1)
    return None if plan.draw is None else _DrawStream(plan.draw, len(x_t), seed).rows(0, len(x_t))
