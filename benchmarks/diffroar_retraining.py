"""DiffROAR's retrainings: one unmasked dataset's models trained together in the ensemble engine against one after
another, side by side.

Usage:
    PYTHONPATH=src python benchmarks/diffroar_retraining.py [--n 3500] [--retrainings 5] [--epochs 2] [--repeats 3]
        [--threads 1] [--quick]

Per architecture (CNN-shallow and CNN-deep, relu; DNA, L = 200): --n random one-hot sequences with labels from a
planted motif, unmasked to their top 30% by a random score (zeros fill, `gradcorr.unmasking.unmask`), split 0.8 /
0.2 into train and valid; `--retrainings` models built from their DiffROAR seeds are trained for `--epochs` epochs
(no early stop) by `studies.model_runs.fit_members` with engine "vectorized" (the study's default: one grouped
model) and "sequential" (one model at a time). The two run interleaved, `--repeats` times; the table gives the
median seconds per retraining group and the ratio sequential / vectorized (above 1: the engine is faster), and the
largest difference of the members' last validation AUROC between the engines (the same models up to float
rounding). Ratios hold on a shared machine; absolute seconds do not. --quick: 200 sequences, 1 epoch, 1 repeat.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch
from attribution_speed import machine_header  # benchmarks/ is on the path when this script runs

from gradcorr.models.architectures import build_model
from gradcorr.models.training import TrainConfig
from gradcorr.studies.model_runs import fit_members
from gradcorr.unmasking import random_scores, unmask
from gradcorr.workflow.runtime import derive_seed

ENGINES = ("vectorized", "sequential")


def planted_data(n: int, length: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """n one-hot sequences; the positives hold ACGTACGTAC at a random place."""
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, 4, (n, length))
    y = (rng.random(n) < 0.5).astype(np.float32)
    motif = np.array([0, 1, 2, 3, 0, 1, 2, 3, 0, 1])
    for i in np.flatnonzero(y):
        start = rng.integers(0, length - len(motif))
        idx[i, start:start + len(motif)] = motif
    return np.eye(4, dtype=np.float32)[idx].transpose(0, 2, 1), y[:, None]


def retrain(arch: str, splits: tuple[torch.Tensor, ...], retrainings: int, epochs: int, engine: str
            ) -> tuple[float, list[float]]:
    """Seconds to train one retraining group, and each member's last validation AUROC."""
    seeds = [derive_seed(0, "diffroar-retrain", arch, r) for r in range(retrainings)]
    members = []
    for s in seeds:
        torch.manual_seed(s)
        members.append(build_model(arch, activation="relu", input_length=splits[0].shape[2]))
    configs = [TrainConfig.from_dict({"max_epochs": epochs, "early_stopping_patience": None, "seed": s,
                                      "log_every": 0}) for s in seeds]
    start = time.perf_counter()
    _, histories = fit_members(members, splits, configs, torch.device("cpu"), [str(r) for r in range(retrainings)],
                               engine=engine)[:2]
    return time.perf_counter() - start, [h[-1]["val_auroc"] for h in histories]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=3500)
    parser.add_argument("--retrainings", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.n, args.epochs, args.repeats = 200, 1, 1
    torch.set_num_threads(args.threads)
    print(machine_header())
    print(f"{args.n} sequences (L 200, top 30% unmasked), {args.retrainings} retrainings, {args.epochs} epoch(s), "
          f"median of {args.repeats}\n")
    x, y = planted_data(args.n, 200, seed=1)
    x = unmask(x, random_scores(len(x), 200, seed=2), 0.3, keep="top", fill="zeros", seed=3)
    cut = int(0.8 * args.n)
    splits = tuple(torch.as_tensor(a) for a in (x[:cut], y[:cut], x[cut:], y[cut:]))
    print("| architecture | vectorized (s) | sequential (s) | sequential / vectorized | max AUROC difference |")
    print("|---|---|---|---|---|")
    for arch in ("cnn_shallow", "cnn_deep"):
        times: dict[str, list[float]] = {e: [] for e in ENGINES}
        aurocs: dict[str, list[float]] = {}
        for _ in range(args.repeats):
            for engine in ENGINES:
                elapsed, aurocs[engine] = retrain(arch, splits, args.retrainings, args.epochs, engine)
                times[engine].append(elapsed)
        fast, slow = statistics.median(times["vectorized"]), statistics.median(times["sequential"])
        gap = max(abs(a - b) for a, b in zip(aurocs["vectorized"], aurocs["sequential"]))
        print(f"| {arch} | {fast:.2f} | {slow:.2f} | {slow / fast:.2f}x | {gap:.1e} |")


if __name__ == "__main__":
    main()
