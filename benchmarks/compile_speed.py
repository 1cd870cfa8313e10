"""Training step, compiled (torch.compile, inductor) over eager, single model and ensemble engine; and dropout masks.

Usage: python benchmarks/compile_speed.py [--archs cnn_shallow cnn_deep] [--members 3 10] [--batch 100]
       [--steps 6] [--rounds 5] [--threads N]

Same process, same data (random one-hot sequences of length 200), the published step (batch 100, BCE, the L2
term, Adam; dropout and BatchNorm in training mode), as `training.train` and `ensemble.train_ensemble` run it:
eager; the loss (forward and backward) compiled with the optimizer eager; the optimizer compiled with the loss
eager; both compiled (what `compile=True` runs). Variants of one model alternate in rounds, each round timing
`--steps` steps; the table has medians over rounds, in ms per step and as ratios to eager, and the compile
times (the first two steps of a variant less two of its timed steps; a later compiled variant finds its loss
graph in inductor's cache). A second
table times the dropout masks of one step: the float bernoulli_ masks drawn before (as `nn.Dropout` draws
them), the bool masks drawn now (the same draws), against the eager step.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from gradcorr.models.architectures import build_model, l2_penalty
from gradcorr.models.dropout import dropout_masks, masked_forward
from gradcorr.models.ensemble import EnsembleCNN, MemberAdam, _l2_members, replicate

L2 = 1e-6


def batches(n: int, batch: int, seed: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """`n` batches of random one-hot sequences (length 200) and labels."""
    g = torch.Generator().manual_seed(seed)
    x = F.one_hot(torch.randint(0, 4, (n * batch, 200), generator=g), 4).float().transpose(1, 2)
    y = torch.randint(0, 2, (n * batch, 1), generator=g).float()
    return [(x[i * batch:(i + 1) * batch], y[i * batch:(i + 1) * batch]) for i in range(n)]


def model(arch: str, seed: int) -> nn.Sequential:
    torch.manual_seed(seed)
    return build_model(arch, activation="exp", n_filters=24, kernel_size=19, input_length=200, alphabet=4).train()


def single_steps(arch: str, loss_compiled: bool, adam_compiled: bool) -> Callable[[torch.Tensor, torch.Tensor], None]:
    """One training step of a single model, as `training.train` runs it."""
    net = model(arch, 0)
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
    bce = nn.BCEWithLogitsLoss()

    def eager_loss(xb: torch.Tensor, yb: torch.Tensor) -> torch.Tensor:
        return bce(net(xb), yb) + L2 * l2_penalty(net)

    def masked_loss(xb: torch.Tensor, yb: torch.Tensor, masks: list[torch.Tensor]) -> torch.Tensor:
        return bce(masked_forward(net, xb, masks), yb) + L2 * l2_penalty(net)

    compiled = torch.compile(masked_loss) if loss_compiled else None
    opt_step = torch.compile(optimizer.step) if adam_compiled else optimizer.step

    def step(xb: torch.Tensor, yb: torch.Tensor) -> None:
        loss = compiled(xb, yb, dropout_masks(net, xb)) if compiled else eager_loss(xb, yb)
        loss.item()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        opt_step()

    return step


def engine_steps(arch: str, k: int, loss_compiled: bool, adam_compiled: bool
                 ) -> Callable[[torch.Tensor, torch.Tensor], None]:
    """One training step of K members in the engine, as `ensemble.train_ensemble` runs it."""
    net = EnsembleCNN([model(arch, m) for m in range(k)]).train()
    net.generators = [torch.Generator().manual_seed(m) for m in range(k)]
    params = dict(net.named_parameters())
    optimizer = MemberAdam(params, net.grad_masks())
    lr, active = torch.full((k,), 1e-3, dtype=torch.float64), torch.ones(k, dtype=torch.bool)

    def losses(xb: torch.Tensor, yb: torch.Tensor, masks: list[torch.Tensor] | None) -> torch.Tensor:
        per = F.binary_cross_entropy_with_logits(net(xb, masks=masks), yb, reduction="none").mean(dim=0)
        return per + L2 * _l2_members(net)

    compiled = torch.compile(losses) if loss_compiled else None
    opt_step = torch.compile(optimizer.step) if adam_compiled else optimizer.step

    def step(xb: torch.Tensor, yb: torch.Tensor) -> None:
        xk, yk = replicate(xb, k), yb.expand(-1, k)
        per = compiled(xk, yk, net.draw_masks(xk)) if compiled else losses(xk, yk, None)
        per.detach().cpu()
        for p in params.values():
            p.grad = None
        per.sum().backward()
        opt_step(lr, active)

    return step


def time_steps(step: Callable, data: list) -> float:
    start = time.perf_counter()
    for xb, yb in data:
        step(xb, yb)
    return time.perf_counter() - start


def mask_costs(arch: str, data: list, rounds: int) -> tuple[float, float]:
    """Seconds per step of drawing one step's dropout masks (single model): float bernoulli_ (before), bool (now)."""
    net = model(arch, 0)
    xb = data[0][0]
    shapes: list[tuple[torch.Size, float]] = []
    handles = [layer.register_forward_pre_hook(lambda mod, args: shapes.append((args[0].shape, mod.p)))
               for layer in net if isinstance(layer, nn.Dropout)]
    net(xb)
    for handle in handles:
        handle.remove()

    def floats() -> None:
        for shape, p in shapes:
            torch.empty(shape).bernoulli_(1 - p).div_(1 - p)

    def bools() -> None:
        for shape, p in shapes:
            torch.empty(shape, dtype=torch.bool).bernoulli_(1 - p)

    times: dict[str, list[float]] = {"float": [], "bool": []}
    for _ in range(rounds):
        for name, draw in (("float", floats), ("bool", bools)):
            start = time.perf_counter()
            for _ in range(len(data)):
                draw()
            times[name].append((time.perf_counter() - start) / len(data))
    return statistics.median(times["float"]), statistics.median(times["bool"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--archs", nargs="+", default=["cnn_shallow", "cnn_deep"])
    parser.add_argument("--members", type=int, nargs="+", default=[3, 10])
    parser.add_argument("--batch", type=int, default=100, help="the workflow's training batch size")
    parser.add_argument("--steps", type=int, default=6, help="steps timed per round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    data = batches(args.steps, args.batch, 0)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, batch {args.batch}, {args.steps} steps "
          f"a round, medians of {args.rounds} rounds\n")
    print("| model | eager ms/step | loss compiled, Adam eager | Adam compiled, loss eager | both compiled | "
          "loss compile (s) | both, after the loss (s) |")
    print("|---|---|---|---|---|---|---|")
    eager_single: dict[str, float] = {}
    for arch in args.archs:
        for k in [1, *args.members]:
            make = (lambda lc, ac: single_steps(arch, lc, ac)) if k == 1 else \
                (lambda lc, ac: engine_steps(arch, k, lc, ac))
            variants = {"eager": make(False, False), "loss": make(True, False), "adam": make(False, True),
                        "both": make(True, True)}
            first = {}
            for name, step in variants.items():  # warm-up: compiles, and the first eager steps
                first[name] = time_steps(step, data[:2])
            times: dict[str, list[float]] = {name: [] for name in variants}
            for _ in range(args.rounds):
                for name, step in variants.items():
                    times[name].append(time_steps(step, data) / len(data))
            med = {name: statistics.median(v) for name, v in times.items()}
            if k == 1:
                eager_single[arch] = med["eager"]
            compile_loss = first["loss"] - 2 * med["loss"]  # the first compiled variant: no cache warmed by another
            compile_both = first["both"] - 2 * med["both"]  # its loss graph partly cached by then
            label = f"{arch}, single" if k == 1 else f"{arch}, engine K={k}"
            print(f"| {label} | {med['eager'] * 1e3:.0f} | {med['eager'] / med['loss']:.2f}x | "
                  f"{med['eager'] / med['adam']:.2f}x | {med['eager'] / med['both']:.2f}x | {compile_loss:.0f} | "
                  f"{compile_both:.0f} |", flush=True)
    print("\n| model | float masks (before) ms/step | bool masks (now) ms/step | before, share of the eager step | "
          "now / before |")
    print("|---|---|---|---|---|")
    for arch in args.archs:
        before, now = mask_costs(arch, data, args.rounds)
        print(f"| {arch}, single | {before * 1e3:.1f} | {now * 1e3:.1f} | {before / eager_single[arch]:.0%} | "
              f"{now / before:.2f} |", flush=True)


if __name__ == "__main__":
    main()
