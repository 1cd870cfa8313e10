"""The regularization study's Tables 1 and 2 at the paper's scale on one machine, without Snakemake: every
combination of the chosen blocks trained in parallel worker processes (one per core, sharing the GPU when there
is one), manifold-mixup combinations one trial per worker (they train one model at a time), then the study's
tables from whatever finished inside the time limit. Also checks the device: a model trained there, its
checkpoint scored again on the CPU, against the history's scores.

Usage (the blocks' settings are the schema's defaults, the paper's):
    PYTHONPATH=src python benchmarks/regularization_scale.py --out /tmp/reg --blocks table1 table2 \
        [--trials 5] [--epochs 40] [--n 10000] [--workers 16] [--limit 540] [--mode paper] [--only NAME ...]
"""

from __future__ import annotations

import argparse
import logging
import multiprocessing as mp
import time
from pathlib import Path

from snakemake.utils import validate

ROOT = Path(__file__).resolve().parents[1]


def train_job(args: dict) -> tuple[str, list[int], float]:
    """One worker's job: some trials of one combination (imports here: each worker starts its own torch)."""
    import torch

    from gradcorr.studies.regularization import train_regularization_models

    torch.set_num_threads(1)
    start = time.perf_counter()
    models = Path(args["out"]) / "models"
    outputs = [(models / f"{args['name']}_{t}.pt", models / f"{args['name']}_{t}.last.pt",
                models / f"{args['name']}_{t}.history.tsv") for t in args["trials"]]
    train_regularization_models(args["data"], outputs, name=args["name"], combination=args["combination"],
                                trials=args["trials"], training=args["training"], monitor=args["monitor"],
                                kld=args["kld"], first_phase=args["first_phase"], mode=args["mode"], seed=2022,
                                device="auto")
    return args["name"], args["trials"], time.perf_counter() - start


def device_check(out: Path, name: str, n_positive: int) -> None:
    """The first finished model's early-stopping checkpoint scored again on the CPU beside its history row."""
    import numpy as np
    import pandas as pd

    from gradcorr.data.synthetic import read_dataset
    from gradcorr.models.checkpoint import load_model
    from gradcorr.monitor import epoch_hook

    model, saved = load_model(out / "models" / f"{name}.pt")
    history = pd.DataFrame(saved["history"]).set_index("epoch")
    trained = history[history.index >= 1]
    row = trained.loc[trained["val_auroc"].idxmax()]
    x, y, truth = read_dataset(out / "billboard.h5", "test")
    scores = epoch_hook(x, y, truth, n_positive=n_positive, prefix="test_")(model, 1)[0]
    diffs = {k: abs(scores[k] - row[k]) for k in scores if k in row and np.isfinite(row[k])}
    print(f"device check {name} (trained on {saved['meta']['device']}): largest |history - CPU rescoring| "
          f"{max(diffs.values()):.2e} ({max(diffs, key=diffs.get)})", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--blocks", nargs="+", default=["table1", "table2"])
    parser.add_argument("--widths", nargs="+", type=int, default=[1, 4, 8])
    parser.add_argument("--trials", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--n", type=int, default=10000, help="positive and negative sequences each")
    parser.add_argument("--n-positive", type=int, default=2000, help="positive test sequences scored per epoch")
    parser.add_argument("--workers", type=int, default=mp.cpu_count())
    parser.add_argument("--limit", type=float, default=540, help="seconds; unfinished jobs are stopped then")
    parser.add_argument("--mode", default="paper", choices=["paper", "authors_code"])
    parser.add_argument("--only", nargs="+", help="train only these combinations of the blocks")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    import sys

    sys.path.insert(0, str(ROOT / "src"))
    from gradcorr.data.synthetic import generate_billboard, write_dataset
    from gradcorr.studies.regularization import regularization_tables
    from gradcorr.workflow.config_checks import regularization_grid

    start = time.perf_counter()
    config: dict = {}  # the schema's defaults (the paper's), filled in as the workflow fills them
    validate(config, str(ROOT / "config" / "schema.yaml"), set_default=True)
    section = {**config["regularization"], "widths": args.widths,
               "blocks": {b: config["regularization"]["blocks"][b] for b in args.blocks}}
    combinations, blocks = regularization_grid(section)
    if args.only:
        combinations = {n: c for n, c in combinations.items() if n in args.only}
        blocks = {b: [n for n in names if n in combinations] for b, names in blocks.items()}
    (args.out / "models").mkdir(parents=True, exist_ok=True)
    data = args.out / "billboard.h5"
    write_dataset(data, generate_billboard(n_positive=args.n, n_negative=args.n, seed=2022))
    training = {**config["training"], **section["training"], "max_epochs": args.epochs, "log_every": 0}
    common = {"data": str(data), "out": str(args.out), "training": training, "mode": args.mode,
              "monitor": {"n_positive": args.n_positive, "valid_positive": args.n_positive // 2, "snr_top_k": 20,
                          "batch_size": 512},  # 16 processes share one GPU
              "kld": {k: config["consistency"][k] for k in ("kmer", "attr_mean")},
              "first_phase": section["first_phase"]}
    jobs = []  # mixup one trial per job; the engine trains the other combinations' trials together
    for name, combination in combinations.items():
        split = combination["regularizer"] != "none"
        for trials in ([[t] for t in range(args.trials)] if split else [list(range(args.trials))]):
            jobs.append({**common, "name": name, "combination": combination, "trials": trials})
    jobs.sort(key=lambda j: -j["combination"]["width"] ** 2 * 128 / j["combination"]["batch_size"])  # longest first
    print(f"{len(combinations)} combinations, {len(jobs)} jobs on {args.workers} workers; dataset ready after "
          f"{time.perf_counter() - start:.0f} s", flush=True)
    done: list[tuple[str, list[int]]] = []
    pool = mp.get_context("spawn").Pool(args.workers, maxtasksperchild=1)
    results = [pool.apply_async(train_job, (job,)) for job in jobs]
    while results and time.perf_counter() - start < args.limit:
        time.sleep(2)
        for result in [r for r in results if r.ready()]:
            results.remove(result)
            try:
                name, trials, seconds = result.get()
            except Exception as err:  # a failed job is reported; the others go on
                print(f"a job failed: {type(err).__name__}: {err}", flush=True)
                continue
            done.append((name, trials))
            print(f"{time.perf_counter() - start:6.0f} s  {name} trials {trials}: {seconds:.0f} s", flush=True)
    if results:
        print(f"time limit: {len(results)} jobs left unfinished", flush=True)
    pool.terminate()
    trials_done: dict[str, set[int]] = {}
    for name, trials in done:
        trials_done.setdefault(name, set()).update(trials)
    complete = {n for n, t in trials_done.items() if len(t) == args.trials}
    if complete:
        device_check(args.out, f"{sorted(complete)[0]}_0", args.n_positive)
    histories = [args.out / "models" / f"{n}_{t}.history.tsv" for n in sorted(complete) for t in range(args.trials)]
    out = {k: args.out / "tables" / f"{k}.tsv" for k in ("epochs", "models", "table1", "table2", "grid", "tracking",
                                                          "tracking_summary", "stopping", "correction")}
    (args.out / "tables").mkdir(exist_ok=True)
    regularization_tables(histories, out, combinations={n: combinations[n] for n in complete},
                          blocks={b: [n for n in names if n in complete] for b, names in blocks.items()},
                          paper_tables=ROOT / "resources" / "regularization_tables.tsv", tolerance=section["tolerance"])
    print(f"{len(complete)} of {len(combinations)} combinations complete; tables in {args.out / 'tables'} "
          f"({time.perf_counter() - start:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
