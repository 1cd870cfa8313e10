"""How close saliency and a training step come to the machine's dense float32 matmul rate.

Usage:
    PYTHONPATH=src python benchmarks/saliency_flops.py [--device cpu|cuda] [--threads T] [--n N] [--repeats R]

Per model (CNN-shallow and CNN-deep: exp activation, 24 filters of width 19, length 200, eval mode):
- the multiply-adds (MACs) of one forward pass of one sequence, counted analytically from the layer
  shapes: Conv1d L_out * C_out * (C_in / groups) * k, Linear in * out (BatchNorm, activations and
  pooling are left out: a few percent at most, and not matmul work);
- saliency's cost, taken as 2x the forward MACs: the forward pass plus one backward pass that only
  needs gradients w.r.t. the layers' inputs (a transposed convolution or matmul of the same size per
  layer). Parameters need no gradient (`attribute` switches that off, and autograd.grad w.r.t. the
  input skips weight gradients anyway), so the third matmul of training, the weight gradient, is
  not done; counting it (3x) would overstate the work;
- the achieved saliency rate at the best of a few batch sizes (2 FLOPs per MAC), the forward-only
  rate (no grad) for reference, the measured rate of torch.mm on two square float32 matrices (median
  of the repeats), and the fraction of that rate saliency reaches. On a shared machine the matmul is
  timed again right after each model's saliency timings, and the fraction uses the median of all its
  timings so far ("matmul" column), so that a busy spell does not favour one side;
- a training step (`models.training.train`'s: train mode, dropout, BCE, backward, Adam) on batches of
  TRAIN_BATCH, taken as 3x the forward MACs (forward, input gradients, weight gradients), as a fraction of
  the same matmul rate.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from collections.abc import Callable

import torch
from torch import nn

from gradcorr.attribution import attribute
from gradcorr.models.architectures import build_model
from gradcorr.models.training import make_optimizer

SALIENCY_FACTOR = 2  # forward + input-gradient backward, each one matmul-sized pass per layer
TRAINING_FACTOR = 3  # forward + input-gradient and weight-gradient backward
TRAIN_BATCH = 100  # the workflow's training batch size (config/schema.yaml)
BATCH_SIZES = (64, 256, 1024)
TARGETS = {"cnn_shallow": 0.4, "cnn_deep": 0.6}  # issue 25: fraction of the matmul rate saliency should reach


def machine_header(device: str) -> str:
    """torch version, device, threads and CPU model, for the top of a benchmark's output."""
    cpu = platform.processor() or "unknown"
    if os.path.exists("/proc/cpuinfo"):
        with open("/proc/cpuinfo") as f:
            names = [line.split(":", 1)[1].strip() for line in f if line.startswith("model name")]
        cpu = names[0] if names else cpu
    name = torch.cuda.get_device_name() if device == "cuda" else "cpu"
    return (f"torch {torch.__version__}, device {device} ({name}), {torch.get_num_threads()} threads, "
            f"CPU {cpu} ({os.cpu_count()} cores)")


def forward_macs(model: nn.Module, length: int, alphabet: int, device: str) -> int:
    """MACs of one forward pass of one sequence: Conv1d and Linear layers, from their input/output shapes."""
    total = 0

    def count(module: nn.Module, args: tuple[torch.Tensor, ...], out: torch.Tensor) -> None:
        nonlocal total
        if isinstance(module, nn.Conv1d):
            total += out.shape[-1] * module.out_channels * (module.in_channels // module.groups) * module.kernel_size[0]
        else:
            total += module.in_features * module.out_features

    hooks = [m.register_forward_hook(count) for m in model.modules() if isinstance(m, (nn.Conv1d, nn.Linear))]
    try:
        with torch.no_grad():
            model(torch.zeros(1, alphabet, length, device=device))
    finally:
        for hook in hooks:
            hook.remove()
    return total


def median_seconds(fn: Callable[[], object], repeats: int, device: str) -> float:
    """Median wall time of fn over `repeats` calls (after one warm-up call), synchronising a GPU."""
    times = []
    for _ in range(repeats + 1):
        if device == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        fn()
        if device == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return statistics.median(times[1:])


def matmul_rate(size: int, repeats: int, device: str) -> float:
    """FLOP/s of torch.mm on two size x size float32 matrices (2 size^3 FLOPs)."""
    a, b = (torch.randn(size, size, device=device) for _ in range(2))
    return 2 * size**3 / median_seconds(lambda: torch.mm(a, b), repeats, device)


def training_rate(model: nn.Module, x: torch.Tensor, repeats: int, device: str) -> float:
    """Sequences per second of training steps on batches of TRAIN_BATCH (random labels)."""
    model.train()
    optimizer = make_optimizer(model.parameters(), 1e-3)
    y = torch.randint(0, 2, (len(x), 1), generator=torch.Generator().manual_seed(1)).float().to(device)

    def epoch() -> None:
        for i in range(0, len(x), TRAIN_BATCH):
            optimizer.zero_grad()
            nn.functional.binary_cross_entropy_with_logits(model(x[i:i + TRAIN_BATCH]), y[i:i + TRAIN_BATCH]).backward()
            optimizer.step()

    rate = len(x) / median_seconds(epoch, repeats, device)
    model.eval()
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--threads", type=int, default=os.cpu_count(), help="torch threads (default: all cores)")
    parser.add_argument("--n", type=int, default=None, help="sequences per timing (default 1024 on cpu, 16384 on cuda)")
    parser.add_argument("--repeats", type=int, default=3, help="timings per setting (median)")
    parser.add_argument("--mm-size", type=int, default=None, help="matmul size (default 2048 on cpu, 8192 on cuda)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = args.device
    n = args.n or (16384 if device == "cuda" else 1024)
    mm_size = args.mm_size or (8192 if device == "cuda" else 2048)
    print(machine_header(device))
    if device == "cuda":
        print(f"TF32 allowed: matmul {torch.backends.cuda.matmul.allow_tf32}, "
              f"cuDNN convolutions {torch.backends.cudnn.allow_tf32}")
    peaks = [matmul_rate(mm_size, max(args.repeats, 5), device)]
    peak = peaks[0]
    print(f"dense float32 matmul ({mm_size}x{mm_size}): {peak / 1e9:.1f} GFLOP/s (median of {max(args.repeats, 5)})")
    print(f"saliency = {SALIENCY_FACTOR} x forward MACs (forward + input-gradient backward; no weight gradients); "
          f"{n} random sequences of length 200; 2 FLOPs per MAC")
    header = (f"{'model':12s} {'fwd MMAC/seq':>12s} {'sal MFLOP/seq':>13s} {'batch':>6s} {'sal seq/s':>10s} "
              f"{'sal GFLOP/s':>11s} {'fwd GFLOP/s':>11s} {'matmul':>7s} {'of matmul':>9s}  target      "
              f"{'train seq/s':>11s} {'train GFLOP/s':>13s} {'of matmul':>9s}")
    print(header)
    print("-" * len(header))
    gen = torch.Generator().manual_seed(0)
    x = torch.eye(4)[torch.randint(0, 4, (n, 200), generator=gen)].transpose(1, 2).contiguous().to(device)
    for arch in ("cnn_shallow", "cnn_deep"):
        torch.manual_seed(0)
        model = build_model(arch, activation="exp", n_filters=24, kernel_size=19, input_length=200, alphabet=4)
        model = model.to(device).eval()
        macs = forward_macs(model, 200, 4, device)
        flops = 2 * SALIENCY_FACTOR * macs  # per sequence
        rates = {b: n / median_seconds(lambda b=b: attribute(model, x, batch_size=b), args.repeats, device)
                 for b in BATCH_SIZES}
        best = max(rates, key=rates.get)
        with torch.no_grad():
            fwd = n / min(median_seconds(lambda b=b: [model(x[i:i + b]) for i in range(0, n, b)], args.repeats, device)
                          for b in BATCH_SIZES)
        achieved = rates[best] * flops
        train_rate = training_rate(model, x, args.repeats, device)
        train = train_rate * 2 * TRAINING_FACTOR * macs
        peaks.append(matmul_rate(mm_size, max(args.repeats, 5), device))
        peak = statistics.median(peaks)
        print(f"{arch:12s} {macs / 1e6:12.2f} {flops / 1e6:13.2f} {best:6d} {rates[best]:10.0f} {achieved / 1e9:11.1f} "
              f"{fwd * 2 * macs / 1e9:11.1f} {peak / 1e9:7.1f} {achieved / peak:9.1%}  >={TARGETS[arch]:.0%} "
              f"{'met' if achieved / peak >= TARGETS[arch] else 'NOT met':7s} {train_rate:11.0f} "
              f"{train / 1e9:13.1f} {train / peak:9.1%}", flush=True)


if __name__ == "__main__":
    main()
