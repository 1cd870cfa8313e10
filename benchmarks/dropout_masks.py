"""Dropout masks: our "bits" generator against torch's bernoulli_, drawn alone and in training, as ratios.

Usage: python benchmarks/dropout_masks.py [--n 1000] [--epochs 2] [--members 10] [--threads N] [--device cpu]

Same process, same data and models as benchmarks/ensemble_training.py (length 200, 24 first-layer filters,
batches of 100). Rows per architecture, each the best of --repeats timings with the two generators
alternating, and the speed-up bernoulli / bits:
- draw: one epoch's dropout masks of one model (`dropout.dropout_mask` for each batch and dropout layer);
- single: one model trained alone (`training.train`, eager) for --epochs;
- engine: --members models trained together (`ensemble.train_ensemble`, groups of --group).
Last, the engine with bits masks against the sequential loop with torch's (per member-epoch): the engine
target of issue 25 with both levers it has on a CPU.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import torch
from attribution_speed import machine_header  # benchmarks/ is on the path when this script runs
from ensemble_training import data, members

from gradcorr.models.dropout import dropout_mask, dropout_masks
from gradcorr.models.ensemble import train_ensemble
from gradcorr.models.training import TrainConfig, train

METHODS = ("bernoulli", "bits")


def best_of(runs: dict[str, Callable[[], object]], repeats: int) -> dict[str, float]:
    """The shortest of `repeats` timings of each run, the runs alternating within each repeat."""
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(repeats):
        for name, run in runs.items():
            start = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - start)
    return {name: min(t) for name, t in times.items()}


def epoch_draws(model: torch.nn.Sequential, x: torch.Tensor, batch: int, method: str) -> Callable[[], object]:
    """Draw the dropout masks of one epoch of `model` on `x` (shapes found once, outside the timing)."""
    layers = [(m.shape[1:], p) for m, p in zip(dropout_masks(model, x[:batch]),
                                              [d.p for d in model if isinstance(d, torch.nn.Dropout) and d.p > 0])]
    sizes = [len(x[i:i + batch]) for i in range(0, len(x), batch)]
    return lambda: [dropout_mask((b, *shape), p, method) for b in sizes for shape, p in layers]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000, help="training sequences")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--members", type=int, default=10)
    parser.add_argument("--group", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--arch", nargs="+", default=["cnn_shallow", "cnn_deep"])
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    print(machine_header(str(device)))
    print(f"{args.n} sequences, batches of 100, {args.epochs} epochs, engine K = {args.members} "
          f"(groups of {args.group}); best of {args.repeats}")
    x, y = data(args.n, 0)
    xv, yv = data(max(args.n // 5, 100), 1)
    cfg = {"max_epochs": args.epochs, "batch_size": 100, "log_every": 0, "early_stopping_patience": 100}
    k = args.members
    print(f"{'arch':<12} {'run':<8} {'bernoulli s':>12} {'bits s':>9} {'speed-up':>9}")
    for arch in args.arch:
        model = members(arch, 1)[0].train()
        rows = {
            "draw": {m: epoch_draws(model, x, 100, m) for m in METHODS},
            "single": {m: (lambda m=m: train(members(arch, 1)[0], x, y, xv, yv,
                                             TrainConfig(dropout_masks=m, **cfg), device)) for m in METHODS},
            "engine": {m: (lambda m=m: train_ensemble(members(arch, k), x, y, xv, yv,
                                                      [TrainConfig(seed=s, dropout_masks=m, **cfg) for s in range(k)],
                                                      device, group=args.group)) for m in METHODS},
        }
        for run in ("single", "engine"):  # one-time kernel set-up is not counted
            rows[run]["bernoulli"]()
        timed = {}
        for run, pair in rows.items():
            timed[run] = best_of(pair, args.repeats)
            t = timed[run]
            print(f"{arch:<12} {run:<8} {t['bernoulli']:>12.3f} {t['bits']:>9.3f} "
                  f"{t['bernoulli'] / t['bits']:>8.2f}x", flush=True)
        sequential = timed["single"]["bernoulli"] * k  # the sequential loop's time for K models, torch's masks
        print(f"{arch:<12} engine (bits, K = {k}) against the sequential loop (bernoulli): "
              f"{sequential / timed['engine']['bits']:.2f}x")


if __name__ == "__main__":
    main()
