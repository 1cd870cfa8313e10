"""Raw (uncorrected) gradient-based attribution maps, batched over sequences and model inputs.

`attribute` is the one entry point. Every method is a weighted mean of input gradients of the
model's score: sequence i gets K model inputs u_ik (the sequence itself, noisy copies, or points on
straight paths from references) and the map sum_k w_k d score(u_ik) / d u_ik, with weights summing
to 1. A method registers a `Plan` that says how to build u_ik and its w_k; one engine pushes the
inputs of all sequences through the model in chunks of at most `batch_size`. Maps stay
gradient-like (one score per letter and position, never multiplied by input - baseline) and
uncorrected; apply `gradcorr.correct` to remove the off-simplex component.
"""

from __future__ import annotations

import logging
import numbers
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from gradcorr.references import dinuc_shuffle, permute_positions

log = logging.getLogger(__name__)

OUTPUTS = ("sigmoid", "logit")
RULES = ("riemann_trapezoid", "riemann_left", "riemann_right", "riemann_middle")
REFERENCES = ("permute", "dinuc", "zeros", "uniform")
RANDOM_REFERENCES = ("permute", "dinuc")
DRAW_BLOCK = 256  # sequences whose random draws are made together (fixed: draws never depend on batch_size)

# Options of each method and their defaults (the paper's values); output, target and batch_size are
# common to all methods.
OPTIONS: dict[str, dict[str, Any]] = {
    "saliency": {},
    "integrated_gradients": {"steps": 20, "rule": "riemann_trapezoid", "reference": "permute", "seed": 0},
    "smoothgrad": {"n_samples": 25, "noise_sd": 0.1, "seed": 0},
    "expected_gradients": {"n_references": 10, "steps": 20, "rule": "riemann_trapezoid",
                           "reference": "permute", "seed": 0},
}

Score = Callable[[torch.Tensor], torch.Tensor]
# draw(i0, i1, generator): random (or fixed) draws of sequences i0..i1-1, first dimension i1 - i0.
Draw = Callable[[int, int, torch.Generator], torch.Tensor]
# build(x rows, draw rows, row of each input, k of each input) -> the model inputs (M, A, L).
Build = Callable[[torch.Tensor, torch.Tensor | None, torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class Plan:
    """How a method turns each sequence into K weighted model inputs."""

    weights: torch.Tensor  # (K,) float64, sums to 1
    build: Build
    draw: Draw | None = None


def input_gradient(score: Score, x: torch.Tensor) -> torch.Tensor:
    """d score / d x for a batch, one backward pass (scores of different inputs are independent)."""
    x = x.detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(score(x).sum(), x)
    return grad


def scorer(model: nn.Module, output: str = "sigmoid", target: int = 0) -> Score:
    """The scalar per sequence that attributions explain: the sigmoid output (published) or the logit."""
    if output not in OUTPUTS:
        raise ValueError(f"unknown output {output!r}; choose one of {OUTPUTS}")

    def score(x: torch.Tensor) -> torch.Tensor:
        logits = model(x)[:, target]
        return torch.sigmoid(logits) if output == "sigmoid" else logits

    return score


# ---------------------------------------------------------------------------------------------------
# Methods


def saliency_plan(x: torch.Tensor) -> Plan:
    """Saliency: the input gradient of the sequence itself."""
    return Plan(torch.ones(1, dtype=torch.float64), lambda xs, _, row, k: xs[row])


def smoothgrad_plan(x: torch.Tensor, n_samples: int, noise_sd: float) -> Plan:
    """SmoothGrad: mean saliency over copies x + N(0, noise_sd^2), noise on every entry."""

    def draw(i0: int, i1: int, generator: torch.Generator) -> torch.Tensor:
        return gaussian_noise((i1 - i0, n_samples, *x.shape[1:]), noise_sd, generator, x.dtype)

    def build(xs: torch.Tensor, noise: torch.Tensor | None, row: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
        return xs[row] + noise[row, k]

    return Plan(torch.full((n_samples,), 1 / n_samples, dtype=torch.float64), build, draw)


def integrated_gradients_plan(x: torch.Tensor, steps: int, rule: str,
                              reference: str | np.ndarray | torch.Tensor) -> Plan:
    """Integrated gradients: weighted mean gradient on the straight path reference -> x."""
    return path_plan(steps, rule, reference_draw(x, reference, 1), 1)


def expected_gradients_plan(x: torch.Tensor, n_references: int, steps: int, rule: str, reference: str) -> Plan:
    """Expected gradients: integrated gradients averaged over `n_references` random references."""
    if not isinstance(reference, str) or reference not in RANDOM_REFERENCES:
        raise ValueError(f"expected_gradients needs random references: reference must be one of "
                         f"{RANDOM_REFERENCES}; got {reference!r}")
    return path_plan(steps, rule, reference_draw(x, reference, n_references), n_references)


def path_plan(steps: int, rule: str, draw: Draw, n_references: int) -> Plan:
    """Inputs b_r + alpha_s (x - b_r) for the R = n_references references of `draw` and the rule's
    points alpha_s; input k is (r, s) = divmod(k, steps), weighted w_s / R."""
    alphas, weights = path_rule(steps, rule)

    def build(xs: torch.Tensor, refs: torch.Tensor | None, row: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
        base = refs[row, k // steps]
        alpha = alphas.to(xs.device, xs.dtype)[k % steps].view(-1, 1, 1)
        return base + alpha * (xs[row] - base)

    return Plan(weights.repeat(n_references) / n_references, build, draw)


def path_rule(steps: int, rule: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Points alpha in [0, 1] and weights (summing to 1) of a Riemann rule with `steps` points.

    The points are captum's for the same n_steps: left k/n, right (k+1)/n, middle (k+1/2)/n,
    trapezoid k/(n-1), k = 0..n-1. Left, right and middle weigh each point 1/n, like captum. The
    trapezoid weighs the points 1/(n-1), halved at both ends, so its weights sum to 1 (a true
    trapezoid rule on n points, and completeness holds); captum uses 1/n there, so its trapezoid
    weights sum to (n-1)/n and its map is ours times (n-1)/n.
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


def reference_draw(x: torch.Tensor, reference: str | np.ndarray | torch.Tensor, n: int) -> Draw:
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


def gaussian_noise(shape: tuple[int, ...], sd: float, generator: torch.Generator, dtype: torch.dtype) -> torch.Tensor:
    """N(0, sd^2) noise, drawn in float32 whatever `dtype` so that a float64 call sees the same draws."""
    return torch.randn(shape, generator=generator, dtype=torch.float32).to(dtype) * sd


METHODS: dict[str, Callable[..., Plan]] = {
    "saliency": saliency_plan,
    "integrated_gradients": integrated_gradients_plan,
    "smoothgrad": smoothgrad_plan,
    "expected_gradients": expected_gradients_plan,
}


# ---------------------------------------------------------------------------------------------------
# Engine


class DrawStream:
    """Per-sequence draws of a plan, made DRAW_BLOCK sequences at a time, in order, from one
    generator seeded with `seed`.

    Chunks of model inputs ask for rows in increasing order, so the blocks are drawn in the same
    order (and shapes) whatever the chunking: batch_size cannot change the draws, and only the
    blocks in use are held in memory.
    """

    def __init__(self, draw: Draw, n_seq: int, seed: int):
        self.draw, self.n_seq = draw, n_seq
        self.generator = torch.Generator().manual_seed(seed)
        self.start = 0  # first sequence held
        self.held: torch.Tensor | None = None

    def rows(self, i0: int, i1: int) -> torch.Tensor:
        """Draws of sequences i0..i1-1 (i0 never below an earlier call's i0)."""
        if i0 < self.start:
            raise RuntimeError("draws must be requested in increasing order")
        stop = self.start + (0 if self.held is None else len(self.held))
        parts = [] if self.held is None else [self.held[i0 - self.start:]]
        while stop < i1:
            end = min(stop + DRAW_BLOCK, self.n_seq)
            parts.append(self.draw(stop, end, self.generator))
            stop = end
        self.held = torch.cat(parts) if len(parts) > 1 else parts[0]
        self.start = i0
        return self.held[: i1 - i0]


def run_plan(score: Score, x: torch.Tensor, plan: Plan, seed: int, batch_size: int,
             device: torch.device) -> torch.Tensor:
    """sum_k w_k grad(u_ik) for all sequences; the N*K inputs go through the model in chunks of at
    most batch_size (a chunk spans many sequences, or part of one). Accumulates in float64."""
    n_seq, k_per = len(x), len(plan.weights)
    draws = DrawStream(plan.draw, n_seq, seed) if plan.draw is not None else None
    weights = plan.weights.to(device)
    total = torch.zeros(x.shape, dtype=torch.float64, device=device)
    for start in range(0, n_seq * k_per, batch_size):
        flat = torch.arange(start, min(start + batch_size, n_seq * k_per), device=device)
        seq, k = flat // k_per, flat % k_per
        i0, i1 = int(seq[0]), int(seq[-1]) + 1
        extra = draws.rows(i0, i1).to(device) if draws is not None else None
        row = seq - i0
        grads = input_gradient(score, plan.build(x[i0:i1].to(device), extra, row, k))
        total[i0:i1].index_add_(0, row, grads.to(torch.float64) * weights[k].view(-1, 1, 1))
    return total.to(x.dtype)


def check_options(method: str, options: dict[str, Any]) -> dict[str, Any]:
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
              output: str = "sigmoid", target: int = 0, batch_size: int = 256,
              **options: Any) -> np.ndarray | torch.Tensor:
    """Raw, gradient-like attribution map of `model` for inputs `x` of shape (N, A, L), uncorrected.

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
    The score is the sigmoid output (published) or the logit (`output`) of column `target`.

    Memory: `batch_size` bounds memory. It is the most model inputs (sequences x steps, noise
    samples or references) in one forward/backward pass: the inputs of many sequences share a
    pass, and a sequence with more inputs than batch_size is split across passes. Random draws are
    made for blocks of DRAW_BLOCK sequences from a generator seeded with `seed`, in a fixed order,
    so results do not depend on batch_size (up to float rounding).

    The model is evaluated in inference mode (its mode is restored) on the device that holds its
    parameters. Returns the same kind as `x`: a NumPy array (float32) or a tensor on x's device.
    """
    if method not in METHODS:
        raise ValueError(f"unknown attribution method {method!r}; choose one of {sorted(METHODS)}")
    opts = check_options(method, options)
    _check_int("batch_size", batch_size, 1)
    as_numpy = not isinstance(x, torch.Tensor)
    x_t = torch.as_tensor(np.asarray(x, dtype=np.float32)) if as_numpy else x
    if x_t.ndim != 3:
        raise ValueError(f"x must have shape (N, A, L); got {tuple(x_t.shape)}")
    x_t = x_t.detach()
    seed = opts.pop("seed", 0)
    plan = METHODS[method](x_t, **opts)
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    try:
        out = run_plan(scorer(model, output, target), x_t, plan, seed, batch_size, device).to(x_t.device)
    finally:
        model.train(was_training)
    return out.numpy() if as_numpy else out


def random_draws(x: np.ndarray | torch.Tensor, method: str, **options: Any) -> torch.Tensor | None:
    """The random draws `attribute` makes for x with these options: SmoothGrad's noise (N, n_samples,
    A, L) or the references (N, R, A, L) of a path method; None for saliency. For inspection and tests."""
    if method not in METHODS:
        raise ValueError(f"unknown attribution method {method!r}; choose one of {sorted(METHODS)}")
    opts = check_options(method, options)
    x_t = torch.as_tensor(np.asarray(x, dtype=np.float32)) if not isinstance(x, torch.Tensor) else x.detach()
    seed = opts.pop("seed", 0)
    plan = METHODS[method](x_t, **opts)
    return None if plan.draw is None else DrawStream(plan.draw, len(x_t), seed).rows(0, len(x_t))
