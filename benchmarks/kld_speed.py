"""Speed of gradcorr's consistency KLDs against the same computations written as the authors' code runs
them: Python loops over sequences, intervals, k-mers and points (crajesh6/acme, method 1 and method 2).

Usage:
    PYTHONPATH=src python benchmarks/kld_speed.py [--n N] [--length L] [--repeats R]

Inputs: N random one-hot sequences of length L and maps with a planted motif direction (as a model that
learned one would give). Rows: the k-mer KLD (k = 6, 90th percentile, buffer 2: the loop merges
intervals and counts k-mer strings), and the published k-attr-mean KLD (window 3, top 10% of vectors,
31 x 31 bins, prior range 3: the loop histograms one point at a time and sums the KL bin by bin). Both
sides get the same arrays; the table checks that they give the same number, then times them side by
side, interleaved, `--repeats` times, and gives the medians and their ratio. Compare the two sides of
a row (measured together), not rows of different runs.
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
from collections import Counter
from collections.abc import Callable

import numpy as np

from gradcorr.kld import kmer_counts, kmer_kld, published_attr_mean_kld


def loop_kmer_kld(attr: np.ndarray, letters: list[str], prior: Counter, k: int = 6, percentile: float = 90.0,
                  buffer: int = 2) -> float:
    """Method 1 the authors' way: per sequence, runs of positions above the percentile as closed
    intervals, extended on the 3' end, merged when they share a position; k-mer strings counted."""
    found: Counter = Counter()
    for a, seq in zip(attr, letters):
        a = a - a.mean(axis=0)
        norm = np.sqrt((a ** 2).sum(axis=0))
        cut = np.quantile(norm, percentile / 100)
        intervals: list[list[int]] = []
        for i in np.flatnonzero(norm > cut):
            if intervals and intervals[-1][1] == i - 1:
                intervals[-1][1] = i
            else:
                intervals.append([i, i])
        merged: list[list[int]] = []
        for start, end in intervals:
            end = min(end + buffer, len(seq) - 1)
            if merged and start <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], end)
            else:
                merged.append([start, end])
        for start, end in merged:
            block = seq[start:end + 1]
            found.update(block[i:i + k] for i in range(len(block) - k + 1))
    n, m = sum(found.values()), sum(prior.values())
    return sum(c / n * math.log((c / n) / (prior[s] / m)) for s, c in found.items())


def loop_published_kld(attr: np.ndarray, top_fraction: float = 0.1, bin_width: float = 0.1,
                       prior_range: int = 3) -> float:
    """Method 2 the authors' way: one point at a time into the histogram, then the KL bin by bin."""
    pi = 3.1416
    a = attr - attr.mean(axis=1, keepdims=True)
    a = a / np.sqrt((a ** 2).sum(axis=1)).sum(axis=1)[:, None, None]
    v = a + np.roll(a, -1, axis=2) + np.roll(a, -2, axis=2)
    e1 = (-v[:, 0] + v[:, 1]) / math.sqrt(2)
    e2 = math.sqrt(2 / 3) * (-v[:, 0] / 2 - v[:, 1] / 2)
    e3 = math.sqrt(3 / 4) * (-(v[:, 0] + v[:, 1] + v[:, 2]) / 3 + v[:, 3])
    r = np.sqrt(e1 ** 2 + e2 ** 2 + e3 ** 2).ravel()
    cutoff = np.sort(r)[-int(top_fraction * r.size)]
    n = int(pi / bin_width)
    hist = np.zeros((n, n))
    for z, x, y, radius in zip(e1.ravel(), e2.ravel(), e3.ravel(), r):
        if radius <= cutoff:
            continue
        phi = pi / 2 if x == 0 else math.atan(y / x) + (0 if x > 0 else (pi if y >= 0 else -pi))
        theta = math.acos(max(-1.0, min(1.0, z / radius)))
        hist[min(int((phi / 2 + pi / 2) / bin_width), n - 1), min(int(theta / bin_width), n - 1)] += radius ** 2
    p = hist / hist.sum()
    kl = 0.0
    for i in range(1, n - 1):
        for j in range(1, n - 1):
            if p[i, j] > 0:
                window = [p[i + di, j + dj] for di in range(-prior_range, prior_range)
                          for dj in range(-prior_range, prior_range) if 0 < i + di < n and 0 < j + dj < n]
                kl += p[i, j] * math.log(p[i, j] / (sum(window) / len(window)))
    return kl


def seconds(fn: Callable[[], float]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000, help="sequences (the paper's test positives: about 2,000)")
    parser.add_argument("--length", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    codes = rng.integers(0, 4, (args.n, args.length))
    x = np.eye(4)[codes].transpose(0, 2, 1)
    attr = rng.normal(size=x.shape)
    middle = slice(args.length // 2 - 5, args.length // 2 + 5)
    attr[:, :, middle] += 4 * x[:, :, middle]  # a motif the map attributes
    letters = ["".join("ACGT"[c] for c in row) for row in codes]
    prior_strings = Counter(s[i:i + 6] for s in letters for i in range(len(s) - 5))
    prior = kmer_counts(x, 6)
    rows = [("k-mer KLD (k = 6)", lambda: kmer_kld(attr, x, prior=prior),
             lambda: loop_kmer_kld(attr, letters, prior_strings)),
            ("k-attr-mean KLD, published", lambda: published_attr_mean_kld(attr), lambda: loop_published_kld(attr))]
    print(f"{args.n} sequences of length {args.length}; medians of {args.repeats} interleaved runs\n")
    print("| KLD | gradcorr (s) | loops as published (s) | ratio | same value |")
    print("|---|---|---|---|---|")
    for name, ours, loops in rows:
        same = math.isclose(ours(), loops(), rel_tol=1e-9)
        times = [(seconds(ours), seconds(loops)) for _ in range(args.repeats)]
        a, b = statistics.median(t[0] for t in times), statistics.median(t[1] for t in times)
        print(f"| {name} | {a:.3f} | {b:.3f} | {b / a:.1f}x | {same} |")


if __name__ == "__main__":
    main()
