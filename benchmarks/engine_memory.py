"""Peak memory of the ensemble engine: training and attribution, as K and the number of sequences grow.

Usage: python benchmarks/engine_memory.py [--members 10 50] [--n 1000 4000] [--arch cnn_deep] [--group 10]

Each measurement runs in a fresh subprocess that reports its own peak resident set size (ru_maxrss),
so one measurement cannot inflate the next; "before" is the peak after imports, data and model building.
Training: one epoch of `train_ensemble` on n sequences, members in groups of --group (the workflow's
`engine_group`). Attribution: the workflow's path (`model_stages.model_maps`, vectorized): all members'
maps of n sequences in one batched pass (batch_size 512 member-inputs), streamed to a scratch HDF5
file in blocks of `attribution.STREAM_BLOCK` sequences, then read back one member at a time.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

WORK = r'''
import json, resource, sys, time, torch
from gradcorr.models.ensemble import train_ensemble
from gradcorr.models.architectures import build_model
from gradcorr.models.training import TrainConfig
what, arch, k, n, group = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
torch.set_num_threads(2)
g = torch.Generator().manual_seed(0)
x = torch.nn.functional.one_hot(torch.randint(0, 4, (n, 200), generator=g), 4).float().transpose(1, 2)
y = torch.randint(0, 2, (n, 1), generator=g).float()
members = []
for m in range(k):
    torch.manual_seed(m)
    members.append(build_model(arch, activation="exp", n_filters=24, kernel_size=19, input_length=200, alphabet=4))
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
start = time.perf_counter()
if what == "train":
    train_ensemble(members, x, y, x[:200], y[:200], [TrainConfig(max_epochs=1, seed=m, log_every=0) for m in range(k)],
                   group=group)
else:
    import os, tempfile
    from gradcorr.studies.model_runs import model_maps
    scratch = os.path.join(tempfile.mkdtemp(), "maps.h5")
    for probs, maps in model_maps([m.eval() for m in members], x.numpy(), torch.arange(n).numpy(), what,
                                  "vectorized", scratch, batch_size=512):
        assert maps.shape == (n, 4, 200)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"baseline_mb": before / 1024, "peak_mb": peak / 1024, "seconds": time.perf_counter() - start}))
'''


def measure(what: str, arch: str, k: int, n: int, group: int) -> dict:
    run = subprocess.run([sys.executable, "-c", WORK, what, arch, str(k), str(n), str(group)], capture_output=True,
                         text=True)
    if run.returncode:
        raise RuntimeError(f"{what} K={k} n={n} failed:\n{run.stderr[-2000:]}")
    return json.loads(run.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, nargs="+", default=[10, 50])
    parser.add_argument("--n", type=int, nargs="+", default=[1000, 4000])
    parser.add_argument("--arch", default="cnn_deep")
    parser.add_argument("--group", type=int, default=10)
    parser.add_argument("--what", nargs="+", default=["train", "saliency"])
    args = parser.parse_args()
    print(f"{'what':<20} {'arch':<12} {'K':>4} {'n':>6} {'before MB':>10} {'peak MB':>9} {'seconds':>8}")
    for what in args.what:
        for k in args.members:
            for n in args.n:
                r = measure(what, args.arch, k, n, args.group)
                print(f"{what:<20} {args.arch:<12} {k:>4} {n:>6} {r['baseline_mb']:>10.0f} {r['peak_mb']:>9.0f} "
                      f"{r['seconds']:>8.1f}", flush=True)


if __name__ == "__main__":
    main()
