"""Per-rule wall time and peak memory of a finished workflow run, from Snakemake's benchmark files.

Usage (from the directory the workflow ran in):
    python benchmarks/rule_breakdown.py [benchmarks/out]

The heavy rules (training and attribution) write benchmarks/out/<rule>/[<tf>/]<job>.tsv through
Snakemake's `benchmark:` directive. Prints one row per rule: jobs, total and mean seconds, the largest
peak RSS, and each rule's share of the summed job time.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd


def breakdown(root: Path) -> pd.DataFrame:
    """One row per rule directory under `root`, summarising its jobs' benchmark files."""
    rows = []
    for rule_dir in sorted(p for p in root.iterdir() if p.is_dir()):
        jobs = [pd.read_csv(f, sep="\t") for f in sorted(rule_dir.rglob("*.tsv"))]
        if not jobs:
            continue
        frame = pd.concat(jobs, ignore_index=True)
        rows.append({"rule": rule_dir.name, "jobs": len(jobs), "total_s": frame["s"].sum(),
                     "mean_s": frame["s"].mean(), "max_rss_mb": frame["max_rss"].max()})
    table = pd.DataFrame(rows)
    table["share"] = table["total_s"] / table["total_s"].sum()
    return table


if __name__ == "__main__":
    root = Path(sys.argv[1] if len(sys.argv) > 1 else "benchmarks/out")
    if not root.is_dir():
        sys.exit(f"{root}: no benchmark files; run the workflow first")
    print(breakdown(root).to_string(index=False, float_format=lambda v: f"{v:.2f}"))
