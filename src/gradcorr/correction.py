"""Gradient correction for one-hot inputs and the angle between a gradient and the simplex.

One-hot sequences live on the simplex sum_a x_a = 1. The component of an input gradient along the
simplex normal (1, ..., 1) / sqrt(A) is not constrained by any data; removing it means subtracting
the mean over the alphabet at each position (Majdandzic et al., Eq. 3). Both functions accept NumPy
arrays and PyTorch tensors and return the same kind. They do not import torch: a tensor can only
come from a program that already has.
"""

from __future__ import annotations

import math
import sys
from typing import TYPE_CHECKING, TypeVar

import numpy as np

if TYPE_CHECKING:
    import torch

__all__ = ["correct", "simplex_angle"]

Array = TypeVar("Array", np.ndarray, "torch.Tensor")


def _is_tensor(a: object) -> bool:
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(a, torch.Tensor)


def correct(attr: Array, axis: int = 1) -> Array:
    """Remove the off-simplex component: subtract the per-position mean over the alphabet axis.

    Works for any alphabet size (4 for DNA, 20 for protein). The result sums to zero over `axis`.

    Parameters
    ----------
    attr : numpy.ndarray or torch.Tensor, shape (N, A, L)
        Attribution maps (any gradient-like map, raw), alphabet on `axis`.
    axis : int, default 1
        The alphabet axis; 0 for a single map of shape (A, L).

    Returns
    -------
    numpy.ndarray or torch.Tensor, shape (N, A, L)
        The corrected maps, of the same kind as `attr`, summing to zero over `axis` at each position.
    """
    if _is_tensor(attr):
        return attr - attr.mean(dim=axis, keepdim=True)
    attr = np.asarray(attr)
    return attr - attr.mean(axis=axis, keepdims=True)


def simplex_angle(grad: Array, axis: int = 1) -> Array:
    """Signed angle in degrees between each position's gradient vector and the simplex plane.

    angle = arcsin(sum_a g_a / (sqrt(A) * ||g||_2)), in [-90, 90]: 0 for a vector in the plane,
    +/-90 for a multiple of (1, ..., 1). A zero vector has no direction, so its angle is NaN: leave
    such positions out of statistics rather than counting them as 0.

    Parameters
    ----------
    grad : numpy.ndarray or torch.Tensor, shape (N, A, L)
        Raw gradients (or gradient-like maps), alphabet on `axis`.
    axis : int, default 1
        The alphabet axis; 0 for a single map of shape (A, L).

    Returns
    -------
    numpy.ndarray or torch.Tensor, shape (N, L)
        The angle of each position in degrees, of the same kind as `grad`; NaN where the gradient is 0.
    """
    if _is_tensor(grad):
        torch = sys.modules["torch"]
        n_letters = grad.shape[axis]
        total = grad.sum(dim=axis)
        norm = torch.linalg.vector_norm(grad, dim=axis)
        ratio = total / (math.sqrt(n_letters) * norm)
        angle = torch.rad2deg(torch.asin(ratio.clamp(-1.0, 1.0)))
        return torch.where(norm > 0, angle, torch.full_like(angle, float("nan")))
    grad = np.asarray(grad)
    n_letters = grad.shape[axis]
    total = grad.sum(axis=axis)
    norm = np.linalg.norm(grad, axis=axis)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = total / (math.sqrt(n_letters) * norm)
    angle = np.degrees(np.arcsin(np.clip(ratio, -1.0, 1.0)))
    return np.where(norm > 0, angle, np.nan)
