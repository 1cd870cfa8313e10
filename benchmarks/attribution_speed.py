"""Throughput of our attribution methods against captum's, on the same model, inputs and settings.

Usage:
    PYTHONPATH=src python benchmarks/attribution_speed.py [--threads T] [--n N] [--repeats R] [--compile]

Methods (the paper's settings): saliency; integrated gradients, 20 steps (trapezoid rule, a random
permutation of the positions as reference); SmoothGrad, 25 samples, sd 0.1; expected gradients, 10
references x 20 steps. captum's counterparts: Saliency; IntegratedGradients with the same rule, steps
and a permuted baseline (drawn before timing, while ours draws its own inside); NoiseTunnel(Saliency)
smoothgrad; GradientShap with n_samples = 200 and stdevs 0 on permuted baselines (same number of
gradients per sequence; captum has no batch option there, so it runs on chunks of sequences). Models:
CNN-shallow and CNN-deep (exp activation, 24 filters of width 19, length 200), eval mode, untrained.

Saliency runs on --n sequences, the other methods (20 to 200 model inputs per sequence) on the first
--n-multi of them, to keep the run short. Each side tries several batch settings once (a tuning pass,
also a warm-up); then the best setting of each side runs interleaved with the other's, `--repeats`
times, and the table gives the medians. A timing repeats its call until it has run at least
MIN_SECONDS, so that fast methods are timed over many calls. The machine may be shared: compare the
two sides of a row (measured side by side), not rows of different runs. The last column says whether
a row meets issue 25's target (saliency >= 1.3x captum's Saliency, the others >= 2.5x captum's best).

With --compile, a second table compares `attribute(..., compile=True)` with eager on the same setting:
the first call's seconds (compiling included), then the steady rate of both, interleaved (medians).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
import warnings
from collections.abc import Callable

import torch
from captum.attr import GradientShap, IntegratedGradients, NoiseTunnel, Saliency
from torch import nn

from gradcorr.attribution import attribute
from gradcorr.baselines import permute_positions
from gradcorr.models.architectures import build_model

MIN_SECONDS = 0.25
OUR_BATCH_SIZES = (128, 512, 2048)
SETTINGS = {"integrated_gradients": {"steps": 20}, "smoothgrad": {"n_samples": 25, "noise_sd": 0.1},
            "expected_gradients": {"n_references": 10, "steps": 20}}
TARGETS = {"saliency": 1.3, "integrated_gradients": 2.5, "smoothgrad": 2.5, "expected_gradients": 2.5}


def machine_header(device: str = "cpu") -> str:
    """torch version, device, threads and CPU model, for the top of a benchmark's output."""
    cpu = platform.processor() or "unknown"
    if os.path.exists("/proc/cpuinfo"):
        with open("/proc/cpuinfo") as f:
            names = [line.split(":", 1)[1].strip() for line in f if line.startswith("model name")]
        cpu = names[0] if names else cpu
    return (f"torch {torch.__version__}, device {device}, {torch.get_num_threads()} threads, "
            f"CPU {cpu} ({os.cpu_count()} cores)")


def throughput(fn: Callable[[], object], n_seq: int) -> float:
    """Sequences per second of fn (which attributes n_seq sequences), over at least MIN_SECONDS of calls."""
    calls, start = 0, time.perf_counter()
    while True:
        fn()
        calls += 1
        elapsed = time.perf_counter() - start
        if elapsed >= MIN_SECONDS:
            return calls * n_seq / elapsed


def candidates(model: nn.Module, x: torch.Tensor, method: str) -> dict[str, dict[str, Callable[[], object]]]:
    """The settings each side tries for `method`: {"ours": {label: call}, "captum": {label: call}}."""
    score = lambda u: torch.sigmoid(model(u))[:, 0]  # noqa: E731 (captum's view: one scalar per sequence)
    n = len(x)
    gen = torch.Generator().manual_seed(1)
    ours = {f"batch_size={b}": (lambda b=b: attribute(model, x, method, batch_size=b, **SETTINGS.get(method, {})))
            for b in OUR_BATCH_SIZES}
    if method == "saliency":
        theirs = {"one pass": lambda: Saliency(score).attribute(x, abs=False)}
    elif method == "integrated_gradients":
        baseline = permute_positions(x, 1, gen)[:, 0]
        ig = IntegratedGradients(score)
        theirs = {f"internal_batch_size={b}": (lambda b=b: ig.attribute(
            x, baselines=baseline, n_steps=20, method="riemann_trapezoid", internal_batch_size=b))
            for b in (32, 128, 512, None)}
    elif method == "smoothgrad":
        nt = NoiseTunnel(Saliency(score))
        theirs = {f"nt_samples_batch_size={b}": (lambda b=b: nt.attribute(
            x, nt_type="smoothgrad", nt_samples=25, nt_samples_batch_size=b, stdevs=0.1, abs=False))
            for b in (1, 5, None)}
    else:
        baselines = permute_positions(x, 1, gen)[:, 0]
        shap = GradientShap(score)

        def gradient_shap(chunk: int) -> None:
            for i in range(0, n, chunk):
                shap.attribute(x[i:i + chunk], baselines=baselines, n_samples=200, stdevs=0.0)

        theirs = {f"{c} seq x 200 per call": (lambda c=c: gradient_shap(c)) for c in (4, n)}
    return {"ours": ours, "captum": theirs}


def compare(model: nn.Module, x: torch.Tensor, method: str, repeats: int) -> dict[str, object]:
    """Tune each side's setting once, then time the two best interleaved; medians of `repeats`."""
    sides = candidates(model, x, method)
    tuning = {side: {label: throughput(fn, len(x)) for label, fn in calls.items()} for side, calls in sides.items()}
    best = {side: max(rates, key=rates.get) for side, rates in tuning.items()}
    runs: dict[str, list[float]] = {"ours": [], "captum": []}
    for r in range(repeats):
        for side in (("ours", "captum") if r % 2 == 0 else ("captum", "ours")):
            runs[side].append(throughput(sides[side][best[side]], len(x)))
    ours, theirs = statistics.median(runs["ours"]), statistics.median(runs["captum"])
    return {"method": method, "ours": ours, "ours_setting": best["ours"], "captum": theirs,
            "captum_setting": best["captum"], "ratio": ours / theirs, "tuning": tuning}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=os.cpu_count(), help="torch threads (default: all cores)")
    parser.add_argument("--n", type=int, default=256, help="random one-hot sequences of length 200 (saliency)")
    parser.add_argument("--n-multi", type=int, default=16,
                        help="the first n-multi of them for the methods with 20-200 inputs per sequence")
    parser.add_argument("--repeats", type=int, default=3, help="interleaved timings of each side's best (median)")
    parser.add_argument("--archs", nargs="+", default=["cnn_shallow", "cnn_deep"])
    parser.add_argument("--methods", nargs="+", default=["saliency", *SETTINGS])
    parser.add_argument("--verbose", action="store_true", help="also print every setting's tuning throughput")
    parser.add_argument("--compile", action="store_true", help="also time compile=True against eager")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore")  # captum: inputs that did not require grad, small internal batches
    print(machine_header())
    print(f"{args.n} sequences of length 200 for saliency, {args.n_multi} for the other methods; "
          f"median of {args.repeats} interleaved repeats; seq/s")
    x = torch.eye(4)[torch.randint(0, 4, (args.n, 200), generator=torch.Generator().manual_seed(0))]
    x = x.transpose(1, 2).contiguous()
    header = (f"{'model':12s} {'method':22s} {'ours':>9s} {'(batch_size)':>18s} {'captum best':>12s}  "
              f"{'(setting)':30s} ratio  target")
    print(header)
    print("-" * len(header))
    best_batch: dict[tuple[str, str], int] = {}
    for arch in args.archs:
        torch.manual_seed(0)
        model = build_model(arch, activation="exp", n_filters=24, kernel_size=19, input_length=200, alphabet=4).eval()
        for method in args.methods:
            row = compare(model, x if method == "saliency" else x[:args.n_multi], method, args.repeats)
            target = TARGETS[method]
            met = "met" if row["ratio"] >= target else "NOT met"
            print(f"{arch:12s} {method:22s} {row['ours']:9.1f} {row['ours_setting']:>18s} {row['captum']:12.1f}  "
                  f"{row['captum_setting']:30s} {row['ratio']:5.2f}  >={target} {met}", flush=True)
            best_batch[arch, method] = int(str(row["ours_setting"]).split("=")[1])
            if args.verbose:
                for side, rates in row["tuning"].items():
                    print("    tuning " + side + ": " + ", ".join(f"{k} {v:.1f}" for k, v in rates.items()))
    if args.compile:
        compare_compiled(args, x, best_batch)


def compare_compiled(args: argparse.Namespace, x: torch.Tensor, best_batch: dict[tuple[str, str], int]) -> None:
    """compile=True against eager, at our best batch_size of the first table: the first compiled call's seconds
    (compiling included), then both steady rates, interleaved, medians of `repeats`."""
    print()
    header = (f"{'model':12s} {'method':22s} {'batch':>6s} {'1st call s':>10s} {'eager 1st s':>11s} "
              f"{'compiled':>9s} {'eager':>9s} ratio")
    print(header)
    print("-" * len(header))
    for arch in args.archs:
        torch.manual_seed(0)
        model = build_model(arch, activation="exp", n_filters=24, kernel_size=19, input_length=200, alphabet=4).eval()
        for method in args.methods:
            xs = x if method == "saliency" else x[:args.n_multi]
            b = best_batch[arch, method]
            calls = {flag: (lambda flag=flag: attribute(model, xs, method, batch_size=b, compile=flag,
                                                        **SETTINGS.get(method, {}))) for flag in (True, False)}
            first = {}
            for flag, fn in calls.items():
                start = time.perf_counter()
                fn()
                first[flag] = time.perf_counter() - start
            runs: dict[bool, list[float]] = {True: [], False: []}
            for r in range(args.repeats):
                for flag in ((True, False) if r % 2 == 0 else (False, True)):
                    runs[flag].append(throughput(calls[flag], len(xs)))
            comp, eager = statistics.median(runs[True]), statistics.median(runs[False])
            print(f"{arch:12s} {method:22s} {b:6d} {first[True]:10.1f} {first[False]:11.1f} {comp:9.1f} {eager:9.1f} "
                  f"{comp / eager:5.2f}", flush=True)


if __name__ == "__main__":
    main()
