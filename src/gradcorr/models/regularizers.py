"""Training regularizers of the consistency paper (Majdandzic, Rajesh & Koo, Appendix B), usable with any
`nn.Sequential` model of gradcorr.models.architectures.

- "mixup": inputs and labels of a batch mixed with a shuffled copy, lambda ~ Beta(alpha, alpha) per batch.
- "manifold_mixup": the same at a random mixing point: the input or the output of a hidden activation.
  With `mixup_clean`, the clean batch's loss is added to the mixed one, as the regularization-saliency
  paper's code (Labelson, Tripathy & Koo) trains.
- "noise": Gaussian noise (sd `noise_sd`) added to the inputs.
- "manifold_noise": the same at a random mixing point.
- "adversarial": projected gradient ascent in the L-infinity ball (radius `adv_eps`, steps of `adv_step`
  along the gradient's sign, `adv_steps` of them, from 0, with the model in inference mode); clean
  batches for the first `adv_clean_epochs` epochs, clean plus adversarial until `adv_mixed_until`,
  adversarial only afterwards. `adv_steps` 1, `adv_step` = `adv_eps`, `adv_clean_epochs` 0 and `adv_mixed_until`
  >= max_epochs is FGSM training on clean plus adversarial batches (Goodfellow et al.; the faithful-attributions paper).
- "spectral_norm": penalty lambda/2 sum_l sigma(W_l)^2 over conv and dense kernels (conv kernels
  flattened to (width * C_in) x C_out), sigma from one power iteration per step with persistent vectors.
- "angle": the gradient-correction paper's angle penalty (section 5.7): `angle_lambda` times the batch mean
  of the L2 norm over positions of the saliency map's simplex angles (degrees), the saliency taken in
  training mode inside the step and differentiated again (double backpropagation).

`batch_loss` is the one entry point `training.train` calls per batch. All random draws come from the
generator it is given (seeded from the training seed).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from gradcorr.models.architectures import Exp

REGULARIZERS = ("none", "mixup", "manifold_mixup", "noise", "manifold_noise", "adversarial", "spectral_norm",
                "angle")
Loss = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class RegularizerConfig:
    """Which regularizer, and its settings (the paper's values)."""

    name: str = "none"
    mixup_alpha: float = 1.0
    mixup_clean: bool = False
    noise_sd: float = 0.15
    adv_eps: float = 0.05
    adv_step: float = 0.005
    adv_steps: int = 15
    adv_clean_epochs: int = 5
    adv_mixed_until: int = 20
    spectral_lambda: float = 0.01
    angle_lambda: float = 1e-3

    def __post_init__(self) -> None:
        if self.name not in REGULARIZERS:
            raise ValueError(f"unknown regularizer {self.name!r}; choose one of {REGULARIZERS}")


def mixing_points(model: nn.Sequential) -> list[int]:
    """Indices i at which the input of model[i] may be mixed or perturbed: 0 (the model input) and the
    layer after each activation, up to the output layer."""
    points = [0] + [i + 1 for i, m in enumerate(model) if isinstance(m, (nn.ReLU, Exp))]
    return [p for p in points if p < len(model)]


def forward_with(model: nn.Sequential, x: torch.Tensor, point: int,
                 change: Callable[[torch.Tensor], torch.Tensor]) -> torch.Tensor:
    """model(x) with `change` applied to the input of model[point]."""
    h = x
    for i, layer in enumerate(model):
        if i == point:
            h = change(h)
        h = layer(h)
    return h


def mix(h: torch.Tensor, perm: torch.Tensor, lam: float) -> torch.Tensor:
    """lam h + (1 - lam) h[perm]."""
    return lam * h + (1 - lam) * h[perm]


def gaussian(h: torch.Tensor, sd: float, generator: torch.Generator) -> torch.Tensor:
    """h + N(0, sd^2), drawn on the CPU from `generator` (device independent)."""
    noise = torch.randn(h.shape, generator=generator, dtype=torch.float32).to(h.device, h.dtype)
    return h + sd * noise


def pgd(model: nn.Module, x: torch.Tensor, y: torch.Tensor, loss_fn: Loss, eps: float, step: float,
        steps: int) -> torch.Tensor:
    """An adversarial perturbation delta, |delta| <= eps entrywise, by `steps` signed gradient-ascent
    steps on the loss from delta = 0, the model in inference mode (its mode is restored)."""
    was_training = model.training
    model.eval()
    delta = torch.zeros_like(x)
    for _ in range(steps):
        delta.requires_grad_(True)
        (grad,) = torch.autograd.grad(loss_fn(model(x + delta), y), delta)
        delta = (delta.detach() + step * grad.sign()).clamp(-eps, eps)
    model.train(was_training)
    return delta.detach()


def adversarial_phase(epoch: int, config: RegularizerConfig) -> str:
    """"clean", "mixed" (clean plus adversarial) or "adversarial" for a 1-based epoch."""
    if epoch <= config.adv_clean_epochs:
        return "clean"
    return "mixed" if epoch <= config.adv_mixed_until else "adversarial"


@dataclass
class SpectralNorm:
    """Largest singular values of a model's conv and dense kernels by power iteration, one step per call,
    with the vectors kept between calls (so the estimate sharpens as training goes)."""

    vectors: dict[int, torch.Tensor] = field(default_factory=dict)

    @staticmethod
    def matrix(weight: torch.Tensor) -> torch.Tensor:
        """Conv kernel (C_out, C_in, width) -> (width * C_in, C_out); dense (out, in) -> (in, out)."""
        return weight.permute(2, 1, 0).reshape(-1, weight.shape[0]) if weight.dim() == 3 else weight.T

    def sigmas(self, model: nn.Module, generator: torch.Generator, iterations: int = 1) -> torch.Tensor:
        """sigma of each kernel, differentiable in the kernel (u^T W v with u, v held fixed)."""
        out = []
        for layer in (m for m in model.modules() if isinstance(m, (nn.Conv1d, nn.Linear))):
            w = self.matrix(layer.weight)
            key = id(layer)
            if key not in self.vectors:
                self.vectors[key] = F.normalize(torch.randn(w.shape[1], generator=generator).to(w), dim=0)
            v = self.vectors[key]
            with torch.no_grad():
                for _ in range(iterations):
                    v = F.normalize(w.T @ F.normalize(w @ v, dim=0), dim=0)
                u = F.normalize(w @ v, dim=0)
            self.vectors[key] = v
            out.append(u @ w @ v)
        return torch.stack(out)


def batch_loss(model: nn.Sequential, xb: torch.Tensor, yb: torch.Tensor, loss_fn: Loss, config: RegularizerConfig,
               epoch: int, generator: torch.Generator, spectral: SpectralNorm | None = None) -> torch.Tensor:
    """The training loss of one batch under `config` (without the L2 term, which train adds)."""
    name = config.name
    if name in ("mixup", "manifold_mixup"):
        lam = _beta(config.mixup_alpha, generator)
        perm = torch.randperm(len(xb), generator=generator).to(xb.device)
        point = 0 if name == "mixup" else _choice(mixing_points(model), generator)
        mixed = loss_fn(forward_with(model, xb, point, lambda h: mix(h, perm, lam)), mix(yb, perm, lam))
        return mixed + loss_fn(model(xb), yb) if config.mixup_clean else mixed
    if name in ("noise", "manifold_noise"):
        point = 0 if name == "noise" else _choice(mixing_points(model), generator)
        return loss_fn(forward_with(model, xb, point, lambda h: gaussian(h, config.noise_sd, generator)), yb)
    if name == "adversarial":
        phase = adversarial_phase(epoch, config)
        if phase == "clean":
            return loss_fn(model(xb), yb)
        adv = xb + pgd(model, xb, yb, loss_fn, config.adv_eps, config.adv_step, config.adv_steps)
        if phase == "adversarial":
            return loss_fn(model(adv), yb)
        return loss_fn(model(torch.cat([xb, adv])), torch.cat([yb, yb]))
    loss = loss_fn(model(xb), yb)
    if name == "angle":
        loss = loss + config.angle_lambda * angle_norms(training_saliency(model, xb)).mean()
    if name == "spectral_norm":
        loss = loss + config.spectral_lambda / 2 * spectral.sigmas(model, generator).square().sum()
    return loss


def training_saliency(model: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """d sum(sigmoid(model(x))) / dx in the model's current mode, kept differentiable (create_graph), as the
    authors' penalty takes it: a second forward pass (its own dropout masks and BatchNorm batch
    statistics) whose gradient, summed over the batch, is each sequence's saliency. With an ensemble
    module (inputs tiled per member) each member's saliency lands in its own channels."""
    x = x.detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(torch.sigmoid(model(x)).sum(), x, create_graph=True)
    return grad


def angle_norms(saliency: torch.Tensor, alphabet: int = 4) -> torch.Tensor:
    """The L2 norm over positions of each map's simplex angles in degrees: saliency (..., A, L) -> (...).

    The angle is `correction.simplex_angle`'s, made safe to differentiate: a zero vector counts as angle 0
    (not NaN, which would end training) and the sine is kept inside (-1, 1), where asin has a gradient.
    `alphabet` is A (the maps' second-to-last axis)."""
    if saliency.shape[-2] != alphabet:
        raise ValueError(f"saliency maps of shape {tuple(saliency.shape)}: expected {alphabet} letters on axis -2")
    norm = torch.linalg.vector_norm(saliency, dim=-2).clamp_min(1e-30)
    sine = (saliency.sum(dim=-2) / (math.sqrt(alphabet) * norm)).clamp(-1 + 1e-6, 1 - 1e-6)
    return torch.linalg.vector_norm(torch.rad2deg(torch.asin(sine)), dim=-1)  # its gradient at 0 is 0


def _beta(alpha: float, generator: torch.Generator) -> float:
    """One Beta(alpha, alpha) draw, seeded from `generator`."""
    seed = int(torch.randint(0, 2**62, (1,), generator=generator))
    return float(np.random.default_rng(seed).beta(alpha, alpha))


def _choice(options: list[int], generator: torch.Generator) -> int:
    return options[int(torch.randint(len(options), (1,), generator=generator))]
