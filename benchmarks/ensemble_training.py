"""Training throughput: the ensemble engine against the sequential loop, in member-epochs per second.

Usage: python benchmarks/ensemble_training.py [--n 1000] [--members 5 10 50] [--threads N] [--device cpu]
       [--angle-lambda 0.001] [--dropout-masks bits] [--profile]

Same process, same data (random one-hot sequences of length 200 with a planted motif), the published
protocol (batch 100, Adam, BatchNorm, dropout). The sequential loop trains members one after another
with `training.train`; its rate per member-epoch does not depend on K, so it is measured on
min(K, --sequential) members and set beside the engine's rate at each K, for the engine training all
K at once and in groups of --group (the workflow's `engine_group`). Prints one row per architecture,
K and group size with both rates and their ratio. With --angle-lambda both train with the angle penalty
(double backpropagation), the study angle_training's penalty arms. With --profile, where the time of one
engine epoch of --group members goes (torch.profiler, the ops with the largest share of self CPU time).
--dropout-masks picks the mask generator of both sides (`models.dropout.dropout_mask`; benchmarks/dropout_masks.py
compares the two).
"""

from __future__ import annotations

import argparse
import platform
import time

import torch

from gradcorr.models.architectures import build_model
from gradcorr.models.dropout import DROPOUT_MASKS
from gradcorr.models.ensemble import train_ensemble
from gradcorr.models.regularizers import RegularizerConfig
from gradcorr.models.training import TrainConfig, train


def data(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    x = torch.nn.functional.one_hot(torch.randint(0, 4, (n, 200), generator=g), 4).float().transpose(1, 2)
    y = torch.randint(0, 2, (n, 1), generator=g).float()
    x[y[:, 0] == 1, :, 90:96] = torch.nn.functional.one_hot(torch.tensor([2, 0, 3, 0, 2, 2]), 4).float().T
    return x, y


def members(arch: str, k: int) -> list[torch.nn.Sequential]:
    out = []
    for m in range(k):
        torch.manual_seed(m)
        out.append(build_model(arch, activation="exp", n_filters=24, kernel_size=19, input_length=200, alphabet=4))
    return out


def cpu_name() -> str:
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000, help="training sequences")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--members", type=int, nargs="+", default=[5, 10, 50])
    parser.add_argument("--sequential", type=int, default=3, help="members timed in the sequential loop")
    parser.add_argument("--group", type=int, default=10, help="also time the engine in groups of this many")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--arch", nargs="+", default=["cnn_shallow", "cnn_deep"])
    parser.add_argument("--angle-lambda", type=float, default=None, help="train with the angle penalty")
    parser.add_argument("--profile", action="store_true", help="also profile one engine epoch of --group members")
    parser.add_argument("--dropout-masks", choices=DROPOUT_MASKS, default="bernoulli")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else cpu_name()
    print(f"torch {torch.__version__}, device {device} ({name}), {args.threads} threads, "
          f"{args.n} sequences, {args.epochs} epochs per run")
    x, y = data(args.n, 0)
    xv, yv = data(max(args.n // 5, 100), 1)
    cfg = {"max_epochs": args.epochs, "batch_size": 100, "log_every": 0, "early_stopping_patience": 100,
           "dropout_masks": args.dropout_masks}
    print(f"dropout masks: {args.dropout_masks}")
    if args.angle_lambda is not None:
        cfg["regularizer"] = RegularizerConfig("angle", angle_lambda=args.angle_lambda)
        print(f"angle penalty, lambda {args.angle_lambda:g}")
    print(f"{'arch':<12} {'K':>4} {'group':>6} {'sequential m-ep/s':>18} {'engine m-ep/s':>14} {'ratio':>7}")
    for arch in args.arch:
        n_seq = args.sequential
        warm = {**cfg, "max_epochs": 1}  # one-time kernel set-up is not counted on either side
        train(members(arch, 1)[0], x, y, xv, yv, TrainConfig(**warm), device)
        train_ensemble(members(arch, 2), x, y, xv, yv, [TrainConfig(seed=m, **warm) for m in range(2)], device)
        start = time.perf_counter()
        for m, model in enumerate(members(arch, n_seq)):
            train(model, x, y, xv, yv, TrainConfig(seed=m, **cfg), device)
        sequential = n_seq * args.epochs / (time.perf_counter() - start)
        for k in args.members:
            for group in sorted({k, min(k, args.group)}):
                start = time.perf_counter()
                train_ensemble(members(arch, k), x, y, xv, yv, [TrainConfig(seed=m, **cfg) for m in range(k)], device,
                               group=group)
                engine = k * args.epochs / (time.perf_counter() - start)
                print(f"{arch:<12} {k:>4} {group:>6} {sequential:>18.2f} {engine:>14.2f} {engine / sequential:>7.2f}",
                      flush=True)
        if args.profile:
            profile_epoch(arch, args.group, x, y, xv, yv, {**cfg, "max_epochs": 1}, device)


def profile_epoch(arch: str, k: int, x: torch.Tensor, y: torch.Tensor, xv: torch.Tensor, yv: torch.Tensor,
                  cfg: dict, device: torch.device, top: int = 12) -> None:
    """The ops with the largest share of self CPU time in one engine epoch of k members."""
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
        train_ensemble(members(arch, k), x, y, xv, yv, [TrainConfig(seed=m, **cfg) for m in range(k)], device)
    events = sorted(prof.key_averages(), key=lambda e: e.self_cpu_time_total, reverse=True)
    total = sum(e.self_cpu_time_total for e in events)
    print(f"{arch}, engine epoch of {k} members: share of self CPU time")
    for e in events[:top]:
        print(f"  {e.key:<40} {e.self_cpu_time_total / total:6.1%}")


if __name__ == "__main__":
    main()
