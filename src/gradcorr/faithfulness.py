"""Faithfulness of attribution maps: do they rank input positions the way the model's own sensitivity does?

The faithful-attributions paper (Adebayo et al.) calls an attribution faithful when its ranking of the input
positions matches the model's feature ablation: the change of the model's output when one position is
ablated. Three pieces, for any alphabet A:

- `feature_ablation` and `occlusion`: the model's sensitivity per position (N, L). What "ablated" means for
  a one-hot position is a choice (`ABLATIONS`): "zeros", the zero vector (the paper's x * e_j: the letter
  removed, a point off the simplex); "uniform", 1/A for every letter (the simplex centre, no letter
  preferred); "background", one given letter (a neutral residue or base: a point on the simplex).
  `occlusion` ablates windows of `window` positions and gives each position the mean change over the
  windows that cover it (Zeiler & Fergus; captum's Occlusion with stride 1); window 1 is feature ablation.
- `position_scores`: one score per position from a map (N, A, L): "observed", the magnitude of the map at
  the observed letter (grad-times-input summed over the alphabet), or "l2", the L2 norm over the alphabet.
- `precision_at_k`: the share of a score's top k positions that are among a reference's top k (another
  score, such as the ablation) or in a mask (such as the known signal positions). Ties count by their
  expectation under random tie-breaking, so a flat score earns chance precision, never a lucky order.

For a model linear in its input, zeros ablation ranks positions exactly as the raw map's "observed" score and
uniform ablation exactly as the corrected map's (`gradcorr.correct`): the correction asks what the model
loses when the position moves to the simplex centre instead of off the simplex.
"""

from __future__ import annotations

import numbers
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch
from torch import nn

from gradcorr._arrays import to_float64
from gradcorr.models.architectures import fold_batchnorm

__all__ = ["ABLATIONS", "CHANGES", "POSITION_SCORES", "ablation_values", "feature_ablation", "occlusion",
           "position_scores", "precision_at_k", "top_k_membership"]

ABLATIONS = ("zeros", "uniform", "background")
POSITION_SCORES = ("observed", "l2")
# How the change of the model's score is measured: its magnitude |s(x) - s(x')| (default), the drop
# s(x) - s(x') (positions that support the prediction first), or the KL divergence between the Bernoulli
# distributions of the two sigmoid outputs (the paper's example of a divergence D).
CHANGES = ("abs", "drop", "kl")


def ablation_values(alphabet: int, ablation: str = "zeros", background: int | None = None) -> torch.Tensor:
    """The column (A,) an ablated position takes.

    Parameters
    ----------
    alphabet : int
        Letters A.
    ablation : {"zeros", "uniform", "background"}
    background : int, optional
        The letter's index for "background" (required there, ignored otherwise).

    Returns
    -------
    torch.Tensor, shape (A,), float64
    """
    if ablation not in ABLATIONS:
        raise ValueError(f"unknown ablation {ablation!r}; choose one of {ABLATIONS}")
    if ablation == "zeros":
        return torch.zeros(alphabet, dtype=torch.float64)
    if ablation == "uniform":
        return torch.full((alphabet,), 1 / alphabet, dtype=torch.float64)
    if isinstance(background, bool) or not isinstance(background, numbers.Integral) or not 0 <= background < alphabet:
        raise ValueError(f"ablation 'background' needs background = a letter index in [0, {alphabet}); "
                         f"got {background!r}")
    return torch.eye(alphabet, dtype=torch.float64)[background]


@contextmanager
def _evaluating(model: nn.Module) -> Iterator[torch.device]:
    """The model in eval mode (restored afterwards); yields the device of its parameters."""
    was_training = model.training
    model.eval()
    try:
        yield next((p.device for p in model.parameters()), torch.device("cpu"))
    finally:
        model.train(was_training)


def _score(model: nn.Module, u: torch.Tensor, output: str, target: int) -> torch.Tensor:
    logits = model(u)[:, target]
    if output == "sigmoid":
        return torch.sigmoid(logits)
    if output == "logit":
        return logits
    raise ValueError(f"unknown output {output!r}; choose 'sigmoid' or 'logit'")


def _change(before: torch.Tensor, after: torch.Tensor, change: str, output: str) -> torch.Tensor:
    """The change of the score from `before` (M,) to `after` (M, W) as `change` measures it."""
    if change == "abs":
        return (before[:, None] - after).abs()
    if change == "drop":
        return before[:, None] - after
    if change == "kl":
        p = before if output == "sigmoid" else torch.sigmoid(before)
        q = after if output == "sigmoid" else torch.sigmoid(after)
        p, q = p.clamp(1e-12, 1 - 1e-12)[:, None], q.clamp(1e-12, 1 - 1e-12)
        return p * torch.log(p / q) + (1 - p) * torch.log((1 - p) / (1 - q))
    raise ValueError(f"unknown change {change!r}; choose one of {CHANGES}")


def _window_changes(model: nn.Module, x: np.ndarray | torch.Tensor, window: int, ablation: str,
                    background: int | None, change: str, output: str, target: int,
                    batch_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The change of the score when positions s..s+window-1 are ablated, for every start s: (N, L - window + 1),
    and x as a float64 tensor."""
    x_t = torch.as_tensor(np.asarray(x) if not isinstance(x, torch.Tensor) else x.detach().cpu()).to(torch.float64)
    if x_t.ndim != 3:
        raise ValueError(f"x must have shape (N, A, L); got {tuple(x_t.shape)}")
    n, alphabet, length = x_t.shape
    if isinstance(window, bool) or not isinstance(window, numbers.Integral) or not 1 <= window <= length:
        raise ValueError(f"window must be an integer in [1, {length}]; got {window!r}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral) or batch_size < 1:
        raise ValueError(f"batch_size must be an integer >= 1; got {batch_size!r}")
    value = ablation_values(alphabet, ablation, background)
    starts = length - window + 1
    cols = torch.arange(length)
    ablated = (cols >= torch.arange(starts)[:, None]) & (cols < torch.arange(starts)[:, None] + window)  # (starts, L)
    out = torch.empty((n, starts), dtype=torch.float64)
    model = fold_batchnorm(model) if isinstance(model, nn.Sequential) else model  # exact, and cheaper
    with _evaluating(model) as device, torch.no_grad():
        dtype = next((p.dtype for p in model.parameters()), torch.float32)
        value, ablated = value.to(device, dtype)[None, None, :, None], ablated.to(device)[None, :, None, :]
        per_pass = max(1, batch_size // starts)
        for i0 in range(0, n, per_pass):
            xs = x_t[i0:i0 + per_pass].to(device, dtype)
            before = _score(model, xs, output, target).double().cpu()
            copies = torch.where(ablated, value, xs[:, None]).flatten(0, 1)  # (m * starts, A, L)
            after = torch.cat([_score(model, chunk, output, target).double().cpu()
                               for chunk in copies.split(batch_size)])
            out[i0:i0 + len(xs)] = _change(before, after.view(len(xs), starts), change, output)
    return out, x_t


def feature_ablation(model: nn.Module, x: np.ndarray | torch.Tensor, *, ablation: str = "zeros",
                     background: int | None = None, change: str = "abs", output: str = "sigmoid", target: int = 0,
                     batch_size: int = 1024) -> np.ndarray:
    """The model's feature ablation: the change of its score when each position alone is ablated.

    Parameters
    ----------
    model : torch.nn.Module
        Takes (M, A, L), returns logits (M, outputs); run in eval mode (restored), without gradients.
    x : numpy.ndarray or torch.Tensor, shape (N, A, L)
        One-hot sequences.
    ablation : {"zeros", "uniform", "background"}, default "zeros"
        What an ablated position becomes (module docstring).
    background : int, optional
        The letter index of "background".
    change : {"abs", "drop", "kl"}, default "abs"
        How the change of the score is measured (`CHANGES`).
    output : {"sigmoid", "logit"}, default "sigmoid"
        The score: the sigmoid of the logit, or the logit (no saturation, so no ties between positions).
    target : int, default 0
        The output column.
    batch_size : int, default 1024
        The most ablated copies in one forward pass.

    Returns
    -------
    numpy.ndarray, shape (N, L), float64
    """
    changes, _ = _window_changes(model, x, 1, ablation, background, change, output, target, batch_size)
    return changes.numpy()


def occlusion(model: nn.Module, x: np.ndarray | torch.Tensor, *, window: int = 3, ablation: str = "zeros",
              background: int | None = None, change: str = "abs", output: str = "sigmoid", target: int = 0,
              batch_size: int = 1024) -> np.ndarray:
    """Occlusion: the change of the model's score when a window of positions is ablated, each position
    given the mean over the windows (stride 1) that cover it. window=1 is `feature_ablation`.

    Parameters
    ----------
    model, x, ablation, background, change, output, target, batch_size
        As in `feature_ablation`.
    window : int, default 3
        The positions ablated together.

    Returns
    -------
    numpy.ndarray, shape (N, L), float64
    """
    changes, x_t = _window_changes(model, x, window, ablation, background, change, output, target, batch_size)
    length = x_t.shape[-1]
    cover = torch.zeros((window, length), dtype=torch.float64)  # row w: windows starting w before a position
    total = torch.zeros((len(x_t), length), dtype=torch.float64)
    for w in range(window):
        total[:, w:w + changes.shape[1]] += changes
        cover[w, w:w + changes.shape[1]] = 1
    return (total / cover.sum(0)).numpy()


def position_scores(maps: Any, x: Any, how: str = "observed") -> np.ndarray:
    """One score per position of attribution maps, for ranking positions.

    Parameters
    ----------
    maps : array_like, shape (N, A, L)
        Attribution maps, raw or corrected.
    x : array_like, shape (N, A, L)
        The one-hot sequences (used by "observed").
    how : {"observed", "l2"}, default "observed"
        "observed": |sum_a maps * x|, the magnitude of the map at the observed letter (grad-times-input);
        "l2": the L2 norm of the map over the alphabet.

    Returns
    -------
    numpy.ndarray, shape (N, L), float64
    """
    maps = to_float64(maps)
    if maps.ndim != 3:
        raise ValueError(f"maps must have shape (N, A, L); got {maps.shape}")
    if how == "observed":
        x = to_float64(x)
        if x.shape != maps.shape:
            raise ValueError(f"x {x.shape} and maps {maps.shape} differ in shape")
        return np.abs((maps * x).sum(axis=1))
    if how == "l2":
        return np.sqrt((maps ** 2).sum(axis=1))
    raise ValueError(f"unknown position score {how!r}; choose one of {POSITION_SCORES}")


def top_k_membership(scores: Any, k: Any) -> np.ndarray:
    """P(position j is among the top k of its row) under random tie-breaking: 1 above the k-th largest
    score, 0 below, and for the positions tied at it the places left over shared among them.

    Parameters
    ----------
    scores : array_like, shape (N, L)
    k : int or array_like of int, shape (N,)
        Positions to take per row, 0 <= k <= L.

    Returns
    -------
    numpy.ndarray, shape (N, L), float64; row sums equal k
    """
    scores = to_float64(scores)
    if scores.ndim != 2:
        raise ValueError(f"scores must have shape (N, L); got {scores.shape}")
    if np.isnan(scores).any():
        raise ValueError("scores hold NaN")
    n, length = scores.shape
    k = _check_k(k, n, length)
    ordered = -np.sort(-scores, axis=1)
    kth = ordered[np.arange(n), np.maximum(k - 1, 0)][:, None]
    above = scores > kth
    tied = scores == kth
    left = (k - above.sum(1))[:, None]
    share = np.divide(left, tied.sum(1)[:, None], out=np.zeros((n, 1)), where=tied.any(1)[:, None])
    return above + tied * share


def _check_k(k: Any, n: int, length: int) -> np.ndarray:
    k_arr = np.broadcast_to(np.asarray(k), (n,)) if np.ndim(k) == 0 else np.asarray(k)
    if k_arr.shape != (n,) or not np.issubdtype(k_arr.dtype, np.integer) or (k_arr < 0).any() or (k_arr > length).any():
        raise ValueError(f"k must be an integer or one per row ({n}), each in [0, {length}]; got {k!r}")
    return k_arr.astype(np.int64)


def precision_at_k(scores: Any, reference: Any, k: Any = None) -> np.ndarray:
    """Precision@k: the share of each row's top k positions by `scores` that are among the top k by
    `reference` (scores) or marked in it (a boolean mask), ties counted by their expectation.

    Parameters
    ----------
    scores : array_like, shape (N, L)
        Per-position scores of an attribution (`position_scores`).
    reference : array_like, shape (N, L)
        Scores (the model's ablation, `feature_ablation`) or a boolean mask (the known signal positions).
    k : int or array_like of int (N,), optional
        Positions per row. Default: a mask's count per row (required with reference scores).

    Returns
    -------
    numpy.ndarray, shape (N,), float64
        NaN for rows with k = 0.
    """
    ref = np.asarray(reference)
    scores = to_float64(scores)
    if ref.shape != scores.shape:
        raise ValueError(f"scores {scores.shape} and reference {ref.shape} differ in shape")
    if ref.dtype == bool:
        k = ref.sum(1) if k is None else k
        relevant = ref.astype(np.float64)
    else:
        if k is None:
            raise ValueError("k is required when the reference is scores (not a mask)")
        relevant = top_k_membership(ref, k)
    k = _check_k(k, *scores.shape)
    hits = (top_k_membership(scores, k) * relevant).sum(1)
    return np.divide(hits, k, out=np.full(len(k), np.nan), where=k > 0)
