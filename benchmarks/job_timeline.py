"""How busy a run kept the cores: from Snakemake's log, the threads its jobs held second by second.

Usage: python benchmarks/job_timeline.py LOG [LOG ...] [--cores 2]

LOG is what `snakemake --cores N` wrote to stderr (or .snakemake/log/*.snakemake.log). Each job starts at the
time stamp above its `rule`/`localrule` block and holds its `threads:` (1 where the block names none) until
the time stamp above its `Finished jobid` line. Prints, per log: the wall time from the first job's start to
the last job's end; the share of that time with every core held; the core-seconds left idle while jobs ran
(cores minus threads held, summed); and the longest stretch with a core idle, with the rules running through
it (a job running alone at the end of a run shows up there).
"""

from __future__ import annotations

import argparse
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

STAMP = re.compile(r"^\[(\w{3} \w{3} +\d+ \d\d:\d\d:\d\d \d{4})\]$")
RULE = re.compile(r"^(?:local)?(?:checkpoint|rule) (\w+):$")
JOBID = re.compile(r"^\s+jobid: (\d+)$")
THREADS = re.compile(r"^\s+threads: (\d+)$")
FINISHED = re.compile(r"^Finished jobid: (\d+)")


@dataclass
class Job:
    rule: str
    start: float
    threads: int = 1
    end: float | None = None


def read_jobs(log: Path) -> dict[int, Job]:
    """Each job of a Snakemake log: its rule, start and end (seconds since the epoch) and threads."""
    jobs: dict[int, Job] = {}
    stamp, rule, current = None, None, None
    for line in log.read_text().splitlines():
        if m := STAMP.match(line):
            stamp, rule, current = datetime.strptime(m.group(1), "%a %b %d %H:%M:%S %Y").timestamp(), None, None
        elif (m := RULE.match(line)) and stamp is not None:
            rule = m.group(1)
        elif (m := JOBID.match(line)) and rule is not None:
            current = jobs.setdefault(int(m.group(1)), Job(rule, stamp))
        elif (m := THREADS.match(line)) and current is not None:
            current.threads = int(m.group(1))
        elif (m := FINISHED.match(line)) and int(m.group(1)) in jobs:
            jobs[int(m.group(1))].end = stamp
    return {i: j for i, j in jobs.items() if j.end is not None}


def summary(jobs: dict[int, Job], cores: int) -> dict[str, object]:
    """Wall seconds, the share of them with every core held, idle core-seconds and the longest idle stretch."""
    if not jobs:
        raise ValueError("no finished jobs in the log")
    first, last = min(j.start for j in jobs.values()), max(j.end for j in jobs.values())
    seconds = int(last - first)
    held = [0] * seconds
    for job in jobs.values():
        for t in range(int(job.start - first), int(job.end - first)):
            held[t] += job.threads
    idle = [max(0, cores - h) for h in held]
    longest, run, end = 0, 0, 0
    for t, free in enumerate(idle):
        run = run + 1 if free else 0
        if run > longest:
            longest, end = run, t + 1
    start = end - longest
    rules = sorted({j.rule for j in jobs.values() if j.start - first < end and j.end - first > start})
    return {"wall": seconds, "full": sum(not i for i in idle) / max(seconds, 1), "idle": sum(idle),
            "longest": longest, "at": start, "rules": rules}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("logs", nargs="+", type=Path)
    parser.add_argument("--cores", type=int, default=2)
    args = parser.parse_args()
    print(f"{'log':<32} {'jobs':>5} {'wall':>7} {'all cores':>10} {'idle core-s':>12} "
          f"{'longest idle stretch (start, rules running)'}")
    for log in args.logs:
        jobs = read_jobs(log)
        s = summary(jobs, args.cores)
        print(f"{str(log)[-32:]:<32} {len(jobs):>5} {s['wall']:>6}s {s['full']:>10.0%} {s['idle']:>12} "
              f"{s['longest']} s (from {s['at']} s: {', '.join(s['rules']) or 'none'})")


if __name__ == "__main__":
    main()
