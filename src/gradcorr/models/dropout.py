"""Dropout masks: which generator draws them, and forwards that apply masks drawn beforehand.

Training draws every dropout mask from a generator seeded by the model's own seed, so a model's masks are
reproducible from its seed alone, whether it trains alone (`training.train`) or in the ensemble engine
(`ensemble.train_ensemble`). Two generators (`DROPOUT_MASKS`), chosen by `TrainConfig.dropout_masks`:

- "bernoulli" (the default): torch's `bernoulli_`, the masks `nn.Dropout` draws. Every result in the README
  was trained with these.
- "bits": ours, about 5x cheaper to draw on a CPU (`benchmarks/dropout_masks.py`): one 64-bit draw gives four
  mask entries. `dropout_mask` documents it exactly; a model trained with it differs from one trained with
  "bernoulli" as two seeds differ.
"""

from __future__ import annotations

import contextlib
import math
import types
from collections.abc import Iterator, Sequence

import torch
from torch import nn

DROPOUT_MASKS = ("bernoulli", "bits")
KEEP_BITS = 16  # the resolution of a "bits" mask's keep probability: (1 - p) rounded to a multiple of 2**-16


def check_method(method: str) -> str:
    """`method` when it names a mask generator of `DROPOUT_MASKS`, else ValueError."""
    if method not in DROPOUT_MASKS:
        raise ValueError(f"dropout_masks must be one of {DROPOUT_MASKS}; got {method!r}")
    return method


def dropout_mask(shape: Sequence[int], p: float, method: str = "bernoulli", generator: torch.Generator | None = None,
              device: torch.device | str = "cpu") -> torch.Tensor:
    """A dropout mask (bool, True: kept) of `shape` for dropout rate `p`, drawn from `generator` (None: torch's
    global one) by `method`.

    "bernoulli" is `torch.empty(shape, dtype=torch.bool).bernoulli_(1 - p)`: the draws of `nn.Dropout` (a bool
    tensor takes the same draws as a float one, at less cost).
    "bits" draws ceil(n / 4) integers from the full 64-bit range (`random_(-2**63, None)`) for the n entries,
    reads them as 4n signed 16-bit integers u (each word's lowest 16 bits first: little-endian memory order) and
    keeps entry i when u[i] < round((1 - p) * 2**16) - 2**15, so an entry is kept with probability
    round((1 - p) * 2**16) / 2**16, within 2**-17 of 1 - p; entries come in the tensor's row-major order.

    Parameters
    ----------
    shape : sequence of int
        The mask's shape (a layer's input shape, batch first).
    p : float
        The dropout rate, in [0, 1).
    method : str
        "bernoulli" or "bits" (`DROPOUT_MASKS`).
    generator : torch.Generator, optional
        The generator to draw from (its device must be `device`); None draws from torch's global generator.
    device : torch.device or str
        Where the mask is made.

    Returns
    -------
    torch.Tensor
        A bool tensor of `shape`.
    """
    shape = tuple(shape)
    if check_method(method) == "bernoulli":
        return torch.empty(shape, dtype=torch.bool, device=device).bernoulli_(1 - p, generator=generator)
    n = math.prod(shape)
    threshold = round((1 - p) * 2 ** KEEP_BITS)
    if threshold >= 2 ** KEEP_BITS:
        return torch.ones(shape, dtype=torch.bool, device=device)
    words = torch.empty(-(-n // 4), dtype=torch.int64, device=device).random_(-2 ** 63, None, generator=generator)
    return (words.view(torch.int16)[:n] < threshold - 2 ** (KEEP_BITS - 1)).reshape(shape)


def _dropout_layers(model: nn.Module) -> list[nn.Dropout]:
    """The `nn.Dropout` layers of `model`, in the order a forward of an `nn.Sequential` reaches them."""
    return [layer for layer in model.modules() if isinstance(layer, nn.Dropout)]


def _drawn_forward(self: nn.Dropout, h: torch.Tensor) -> torch.Tensor:
    """`nn.Dropout`'s forward with a mask of `dropout_mask(self.mask_method)` from the global generator, scaled by
    1 / (1 - p) as `nn.Dropout` scales; the identity in inference mode or at p = 0."""
    if not self.training or self.p == 0:
        return h
    return h * dropout_mask(h.shape, self.p, self.mask_method, device=h.device).to(h.dtype).div(1 - self.p)


@contextlib.contextmanager
def mask_generator(model: nn.Module, method: str) -> Iterator[nn.Module]:
    """Within the block, the dropout layers of `model` draw their masks by `method` (`dropout_mask`, from torch's
    global generator); "bernoulli" leaves them as they are. The layers get their own forward back on leaving,
    whatever happens inside; a copy made inside (`copy.deepcopy`) keeps drawing by `method`, in its own mode."""
    layers = _dropout_layers(model) if check_method(method) != "bernoulli" else []
    for layer in layers:
        layer.mask_method = method
        layer.forward = types.MethodType(_drawn_forward, layer)
    try:
        yield model
    finally:
        for layer in layers:
            del layer.forward, layer.mask_method


def dropout_masks(model: nn.Sequential, x: torch.Tensor, method: str = "bernoulli") -> list[torch.Tensor]:
    """The masks (bool, True: kept) that the dropout layers of `model` (in training mode) draw in a forward of
    `x` under `mask_generator(model, method)`, drawn now from torch's global generator in that order and shape,
    for `masked_forward`. The shapes come from a forward of one sequence in inference mode (no statistics
    change)."""
    if not model.training:
        return []
    shapes: list[tuple[torch.Size, float]] = []
    handles = [layer.register_forward_pre_hook(lambda module, args: shapes.append((args[0].shape, module.p)))
               for layer in model if isinstance(layer, nn.Dropout) and layer.p > 0]
    try:
        model.eval()
        with torch.no_grad():
            model(x[:1])
    finally:
        model.train()
        for handle in handles:
            handle.remove()
    return [dropout_mask((len(x), *shape[1:]), p, method, device=x.device) for shape, p in shapes]


def masked_forward(model: nn.Sequential, x: torch.Tensor, masks: Sequence[torch.Tensor]) -> torch.Tensor:
    """`model(x)` with its dropout layers (p > 0, training mode) applying `masks` (`dropout_masks`) in order, scaled
    as `nn.Dropout` scales (by 1 / (1 - p)): what a compiled forward takes as inputs."""
    drawn = iter(masks)
    h = x
    for layer in model:
        if isinstance(layer, nn.Dropout) and model.training and layer.p > 0:
            h = h * next(drawn).to(h.dtype).div(1 - layer.p)
        else:
            h = layer(h)
    return h
