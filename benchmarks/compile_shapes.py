"""One compiled shape with the last chunk padded, against shapes marked dynamic: attribution's compiled passes.

Usage: python benchmarks/compile_shapes.py [--arch cnn_deep] [--rows 2048] [--n 5000] [--repeats 3]

`attribute(..., compile=True)` compiles the folded, channels-last model (`attribution._channels_last`) once,
for chunks of `rows` inputs, and pads a smaller last chunk with zero rows (`attribution._model_forward`). The
alternative is `torch.compile(..., dynamic=True)`, one graph for any number of rows. Same process, same
inputs: the time of the first pass over n inputs (compiling included; inductor's cache as it stands) and of
the next passes (best of --repeats), saliency's work per chunk (forward and input-gradient backward), the
two settings alternating. Training does not pad: extra rows would change BatchNorm's batch statistics, so its
last partial batch runs eagerly.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F
from attribution_speed import machine_header  # benchmarks/ is on the path when this script runs

from gradcorr.attribution import _channels_last
from gradcorr.models.architectures import build_model, fold_batchnorm


def saliency_pass(forward: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, rows: int, pad: bool) -> None:
    """Forward and input-gradient backward of every chunk of `rows` inputs of x; the last one padded with `pad`."""
    for chunk in torch.split(x, rows):
        u = chunk.clone().requires_grad_(True)
        v = F.pad(u, (0, 0, 0, 0, 0, rows - len(u))) if pad and len(u) < rows else u
        out = torch.sigmoid(forward(v))[: len(u)]
        torch.autograd.grad(out.sum(), u)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", default="cnn_deep")
    parser.add_argument("--rows", type=int, default=2048)
    parser.add_argument("--n", type=int, default=5000, help="inputs per pass (n % rows is the last chunk)")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print(machine_header())
    torch.manual_seed(0)
    model = fold_batchnorm(build_model(args.arch, activation="exp").eval())
    g = torch.Generator().manual_seed(1)
    x = F.one_hot(torch.randint(0, 4, (args.n, 200), generator=g), 4).float().transpose(1, 2).contiguous()
    settings = {"padded": (torch.compile(_channels_last(model), dynamic=False), True),
                "dynamic": (torch.compile(_channels_last(model), dynamic=True), False)}
    first, steady = {}, {name: [] for name in settings}
    for name, (forward, pad) in settings.items():
        start = time.perf_counter()
        saliency_pass(forward, x, args.rows, pad)
        first[name] = time.perf_counter() - start
    for _ in range(args.repeats):
        for name, (forward, pad) in settings.items():
            start = time.perf_counter()
            saliency_pass(forward, x, args.rows, pad)
            steady[name].append(time.perf_counter() - start)
    print(f"{args.arch}, {args.n} inputs in chunks of {args.rows} (last {args.n % args.rows or args.rows})")
    print(f"{'setting':<9} {'first pass s':>13} {'next passes s':>14}")
    for name in settings:
        print(f"{name:<9} {first[name]:>13.1f} {min(steady[name]):>14.3f}")
    print(f"padded over dynamic, next passes: {min(steady['dynamic']) / min(steady['padded']):.2f}x faster")


if __name__ == "__main__":
    main()
