"""What scoring every epoch costs: the regularization study's CNN trained with and without its epoch hooks
(gradcorr.monitor: the test set's classification and saliency scores, the validation set's KLDs and angle SD),
side by side in one process, on the sequential trainer and the ensemble engine; and the hook's cost by score.

Usage (a GPU is used when present, as the workflow's `device: auto` does):
    PYTHONPATH=src python benchmarks/epoch_hooks.py [--n 10000] [--epochs 3] [--trials 3] [--positives 1000]
"""

from __future__ import annotations

import argparse
import copy
import time

import numpy as np
import torch

from gradcorr.data.synthetic import generate_billboard
from gradcorr.models.architectures import build_model
from gradcorr.models.ensemble import train_ensemble
from gradcorr.models.training import TrainConfig, train
from gradcorr.monitor import GROUND_TRUTH_FREE, MONITOR_SCORES, epoch_hook
from gradcorr.workflow.runtime import pick_device


def timed(fn, *args, **kwargs) -> tuple[object, float]:
    start = time.perf_counter()
    result = fn(*args, **kwargs)
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return result, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10000, help="positive and negative sequences each")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--trials", type=int, default=3, help="members trained together by the engine")
    parser.add_argument("--positives", type=int, default=1000, help="positive test sequences scored per epoch")
    parser.add_argument("--width", type=int, default=1)
    args = parser.parse_args()
    device = pick_device("auto")
    data = generate_billboard(n_positive=args.n, n_negative=args.n, seed=0)
    tensors = [torch.as_tensor(data[k]) for k in ("x_train", "y_train", "x_valid", "y_valid")]
    hooks = [epoch_hook(data["x_test"], data["y_test"], data["model_test"], n_positive=args.positives,
                        prefix="test_"),
             epoch_hook(data["x_valid"], data["y_valid"], scores=GROUND_TRUTH_FREE, n_positive=args.positives // 2,
                        prefix="valid_")]
    config = TrainConfig(max_epochs=args.epochs, batch_size=128, lr_schedule="constant", early_stopping_patience=None,
                         l2=0, log_every=0)
    members = []
    for seed in range(args.trials):
        torch.manual_seed(seed)
        members.append(build_model("cnn_consistency", dropout=0.1, width=args.width))
    configs = [TrainConfig(**{**config.__dict__, "seed": seed}) for seed in range(args.trials)]
    print(f"device {device}, {len(data['x_train'])} training sequences, {args.epochs} epochs, width {args.width}")
    print(f"{'trainer':<28}{'without hooks (s)':>18}{'with hooks (s)':>16}{'ratio':>8}")
    for name, run in (
        ("sequential, 1 model", lambda h: train(copy.deepcopy(members[0]), *tensors, config, device, h)),
        (f"engine, {args.trials} members",
         lambda h: train_ensemble([copy.deepcopy(m) for m in members], *tensors, configs, device, hooks=h)),
    ):
        run([])  # warm-up: the device's kernels, torch's caches
        _, plain = timed(run, [])
        _, hooked = timed(run, hooks)
        print(f"{name:<28}{plain:>18.1f}{hooked:>16.1f}{hooked / plain:>8.2f}")

    model = members[0].to(device)
    print(f"\none call of the test hook by score ({args.positives} positive sequences; a score's cost beside auroc's)")
    costs = {}
    for score in MONITOR_SCORES:
        hook = epoch_hook(data["x_test"], data["y_test"], data["model_test"], scores=[score],
                          n_positive=args.positives)
        hook(model, 1)
        costs[score] = float(np.median([timed(hook, model, 1)[1] for _ in range(3)]))
    for score, seconds in costs.items():
        print(f"{score:<28}{seconds:>8.3f} s{seconds / costs['auroc']:>8.1f}x")


if __name__ == "__main__":
    main()
