"""The motif stage on maps computed on this machine's device: a model trained on the billboard data, its
saliency on CUDA beside the CPU (agreement and speed ratio), modisco-lite with every core beside one (numba
threads; speed ratio), and motif recovery against the embedded motifs, raw against corrected maps.

Usage (a GPU is used when present, as the workflow's `device: auto` does):
    PYTHONPATH=src python benchmarks/motif_stage.py [--n 10000] [--epochs 15] [--positives 500]
"""

from __future__ import annotations

import argparse
import time

import numba
import numpy as np
import torch

from gradcorr import attribute, correct, motifs
from gradcorr.data.synthetic import dataset_attrs, generate_billboard, positive_indices
from gradcorr.models.architectures import build_model
from gradcorr.models.training import TrainConfig, train
from gradcorr.workflow.runtime import pick_device


def timed(fn, *args, **kwargs):
    """(result, seconds) of one call."""
    start = time.perf_counter()
    result = fn(*args, **kwargs)
    return result, time.perf_counter() - start


def saliency_on(model: torch.nn.Module, x: np.ndarray, device: torch.device) -> tuple[np.ndarray, float]:
    """Saliency of `x` with the model on `device`: the map and the median seconds of 3 runs after a warm-up."""
    model = model.to(device)
    attribute(model, x[:64], "saliency")
    runs = [timed(attribute, model, x, "saliency") for _ in range(3)]
    if device.type == "cuda":
        torch.cuda.synchronize()
    return np.asarray(runs[0][0]), float(np.median([s for _, s in runs]))


def recovery(path: str, embedded: np.ndarray, pool, core_ids) -> dict:
    """Patterns, seqlets, core motifs recovered and seqlet precision of one modisco-lite results file."""
    patterns = motifs.read_patterns(path)
    if not patterns:
        return {"patterns": 0, "seqlets": 0, "core recovered": 0, "seqlet precision": float("nan")}
    matches = motifs.match_patterns(patterns, pool)
    core = matches[motifs.ground_truth_classes(matches, core_ids) == "core"]
    precision = np.concatenate([motifs.seqlet_precision(p["seqlets"], motifs.trim_bounds(p["cwm"]), embedded)
                                for p in patterns])
    return {"patterns": len(patterns), "seqlets": int(sum(p["n_seqlets"] for p in patterns)),
            "core recovered": core["match_id"].map(motifs.base_id).nunique(),
            "seqlet precision": round(float(precision.mean()), 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10000, help="positive and negative sequences each")
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--positives", type=int, default=500, help="positive test sequences attributed")
    parser.add_argument("--out", default="/tmp/motif_stage", help="prefix of the modisco-lite results files")
    args = parser.parse_args()

    device = pick_device("auto")
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    print(f"device: {device} ({name}); numba threads: {numba.config.NUMBA_NUM_THREADS}")
    data = generate_billboard(n_positive=args.n, n_negative=args.n, seed=2022)
    tensors = {k: torch.from_numpy(v) for k, v in data.items() if k[0] in "xy"}
    model = build_model("cnn_deep", activation="exp")
    (model, history), seconds = timed(train, model, tensors["x_train"], tensors["y_train"], tensors["x_valid"],
                                      tensors["y_valid"], TrainConfig(max_epochs=args.epochs, seed=0, log_every=0),
                                      device)
    print(f"trained CNN-deep-exp on {device}: {len(history)} epochs in {seconds:.1f} s, "
          f"best validation AUROC {max(h['val_auroc'] for h in history):.3f}")

    index = positive_indices(data["y_test"], args.positives)
    x, truth = data["x_test"][index], data["model_test"][index]
    on_cpu, cpu_s = saliency_on(model, x, torch.device("cpu"))
    scale = np.abs(on_cpu).max()
    print(f"\nsaliency of {len(x)} sequences, cpu: {cpu_s:.4f} s")
    tf32 = (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32)
    settings = [(False, False), tf32] if device.type == "cuda" and tf32 != (False, False) else [tf32]
    for matmul, cudnn in settings:  # the last, as the backend is set, gives the maps below
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = matmul, cudnn
        on_device, device_s = saliency_on(model, x, device)
        print(f"  {device} (TF32 matmul {matmul}, cuDNN {cudnn}): {device_s:.4f} s, ratio cpu/{device.type} "
              f"{cpu_s / device_s:.1f}x; largest difference from the cpu "
              f"{np.abs(on_device - on_cpu).max() / scale:.1e} of the largest value")

    cores = numba.config.NUMBA_NUM_THREADS
    motifs.discover_motifs(x, correct(on_device), f"{args.out}.warmup.h5")  # numba compiles (or loads) kernels
    times = {}
    for threads in (cores, 1):
        numba.set_num_threads(threads)
        times[threads] = timed(motifs.discover_motifs, x, correct(on_device), f"{args.out}.t{threads}.h5")[1]
    numba.set_num_threads(cores)
    print(f"modisco-lite on the corrected maps: {cores} threads {times[cores]:.1f} s, 1 thread {times[1]:.1f} s, "
          f"ratio {times[1] / times[cores]:.2f}x")

    attrs = dataset_attrs(seed=2022)
    pool = motifs.jaspar_motifs(attrs["release"], ids=attrs["core_ids"] + attrs["background_ids"])
    embedded = motifs.embedded_positions(truth)
    print(f"\nground truth: 5 core motifs, {embedded.mean():.3f} of positions on motifs (chance precision)")
    print(f"{'maps':<10} {'patterns':>8} {'seqlets':>8} {'core recovered':>15} {'seqlet precision':>17}")
    for kind, maps in (("raw", on_device), ("corrected", correct(on_device))):
        path = f"{args.out}.{kind}.h5"
        motifs.discover_motifs(x, maps, path)
        row = recovery(path, embedded, pool, attrs["core_ids"])
        print(f"{kind:<10} {row['patterns']:>8} {row['seqlets']:>8} {row['core recovered']:>15} "
              f"{row['seqlet precision']:>17}")


if __name__ == "__main__":
    main()
