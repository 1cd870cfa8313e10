"""Raw (uncorrected) gradient-based attribution maps, batched over sequences.

`attribute` is the one entry point: methods register a function that maps a batch of inputs to a
gradient-like map of the same shape (N, A, L). Maps are returned uncorrected; apply
`gradcorr.correct` to remove the off-simplex component.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import numpy as np
import torch
from torch import nn

log = logging.getLogger(__name__)

OUTPUTS = ("sigmoid", "logit")
Method = Callable[[Callable[[torch.Tensor], torch.Tensor], torch.Tensor], torch.Tensor]


def input_gradient(score: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """d score / d x for a batch, one backward pass (scores of different sequences are independent)."""
    x = x.detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(score(x).sum(), x)
    return grad


METHODS: dict[str, Method] = {"saliency": input_gradient}


def scorer(model: nn.Module, output: str = "sigmoid", target: int = 0) -> Callable[[torch.Tensor], torch.Tensor]:
    """The scalar per sequence that attributions explain: the sigmoid output (published) or the logit."""
    if output not in OUTPUTS:
        raise ValueError(f"unknown output {output!r}; choose one of {OUTPUTS}")

    def score(x: torch.Tensor) -> torch.Tensor:
        logits = model(x)[:, target]
        return torch.sigmoid(logits) if output == "sigmoid" else logits

    return score


def attribute(model: nn.Module, x: np.ndarray | torch.Tensor, method: str = "saliency", *,
              output: str = "sigmoid", target: int = 0, batch_size: int = 256) -> np.ndarray | torch.Tensor:
    """Attribution map of `model` for inputs `x` of shape (N, A, L), uncorrected.

    The model is evaluated in inference mode (dropout off, BatchNorm running statistics) on the
    device that holds its parameters, in batches of `batch_size` sequences. Returns
    the same kind as `x`: a NumPy array (float32) or a tensor on x's device.
    """
    if method not in METHODS:
        raise ValueError(f"unknown attribution method {method!r}; choose one of {sorted(METHODS)}")
    as_numpy = not isinstance(x, torch.Tensor)
    x_t = torch.as_tensor(np.asarray(x, dtype=np.float32)) if as_numpy else x
    if x_t.ndim != 3:
        raise ValueError(f"x must have shape (N, A, L); got {tuple(x_t.shape)}")
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    score = scorer(model, output, target)
    try:
        maps = [METHODS[method](score, batch.to(device)).to(x_t.device)
                for batch in torch.split(x_t, batch_size)]
    finally:
        model.train(was_training)
    out = torch.cat(maps) if maps else torch.zeros_like(x_t)
    return out.numpy() if as_numpy else out
