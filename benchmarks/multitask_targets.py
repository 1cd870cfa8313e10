"""Maps of many outputs of one multi-task model: `attribute(target=[0, ..., T-1])` against T single-target calls and
against captum's `target` (one call per task), side by side.

Usage:
    PYTHONPATH=src python benchmarks/multitask_targets.py [--n 256] [--tasks 7] [--repeats 3] [--threads 2] [--quick]

Model: the multi-task demo's Basset-style model (128/96/96 filters, dense 512, 200 nt, `--tasks` outputs; random
weights, eval mode); --n random one-hot sequences. Methods: saliency, and integrated gradients (20 steps, a zeros
reference so captum's baseline is the same; captum's maps divided out to gradients). Columns: the median seconds
of each side over `--repeats` interleaved runs, and the ratios (above 1: the list target is faster), with the
largest difference between the list's maps and the single calls' (the same maps, float rounding). Ratios hold on
a shared machine; absolute seconds do not. --quick: 32 sequences, 3 tasks, 1 repeat.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch
from attribution_speed import machine_header  # benchmarks/ is on the path when this script runs
from captum.attr import IntegratedGradients, Saliency

from gradcorr import attribute
from gradcorr.models.architectures import build_model

OPTIONS = {"saliency": {}, "integrated_gradients": {"steps": 20, "reference": "zeros",
                                                     "rule": "riemann_right"}}


def sides(model: torch.nn.Module, x: torch.Tensor, method: str, tasks: int) -> dict:
    """Each side's call: the list target, T single calls, captum per task."""
    opts = OPTIONS[method]
    score = lambda u: model(u)  # noqa: E731 (logits; captum picks the column by `target`)

    def ours_list() -> np.ndarray:
        return attribute(model, x, method, output="logit", target=list(range(tasks)), **opts).numpy()

    def ours_single() -> np.ndarray:
        return np.stack([attribute(model, x, method, output="logit", target=t, **opts).numpy()
                         for t in range(tasks)], 1)

    def captum() -> np.ndarray:
        if method == "saliency":
            explain = Saliency(score)
            return np.stack([explain.attribute(x, target=t, abs=False).numpy() for t in range(tasks)], 1)
        explain = IntegratedGradients(score, multiply_by_inputs=False)
        return np.stack([explain.attribute(x, target=t, n_steps=opts["steps"], method="riemann_right",
                                           internal_batch_size=256).numpy() for t in range(tasks)], 1)

    return {"list": ours_list, "single": ours_single, "captum": captum}


def timed(call) -> tuple[float, np.ndarray]:
    start = time.perf_counter()
    out = call()
    return time.perf_counter() - start, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=256)
    parser.add_argument("--tasks", type=int, default=7)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.n, args.tasks, args.repeats = 32, 3, 1
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = build_model("basset", activation="exp", n_tasks=args.tasks, input_length=200, filters=(128, 96, 96),
                        dense=(512, 512)).eval()
    rng = np.random.default_rng(0)
    x = torch.as_tensor(np.eye(4, dtype=np.float32)[rng.integers(0, 4, (args.n, 200))].transpose(0, 2, 1).copy())
    print(machine_header())
    print(f"{args.n} sequences, {args.tasks} tasks, median of {args.repeats}")
    print(f"{'method':<22}{'list s':>9}{'single s':>10}{'captum s':>10}{'single/list':>13}{'captum/list':>13}"
          f"{'max |list - single|':>21}")
    for method in OPTIONS:
        calls = sides(model, x, method, args.tasks)
        runs: dict[str, list[float]] = {name: [] for name in calls}
        outputs = {}
        for r in range(args.repeats):
            for name in (list(calls) if r % 2 == 0 else list(reversed(calls))):
                seconds, outputs[name] = timed(calls[name])
                runs[name].append(seconds)
        med = {name: statistics.median(v) for name, v in runs.items()}
        gap = float(np.abs(outputs["list"] - outputs["single"]).max())
        print(f"{method:<22}{med['list']:>9.2f}{med['single']:>10.2f}{med['captum']:>10.2f}"
              f"{med['single'] / med['list']:>12.2f}x{med['captum'] / med['list']:>12.2f}x{gap:>21.1e}")


if __name__ == "__main__":
    main()
