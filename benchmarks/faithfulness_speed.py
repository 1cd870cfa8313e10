"""Speed of our Gradient SHAP, feature ablation and occlusion against captum's, on the same models and inputs.

Usage:
    PYTHONPATH=src python benchmarks/faithfulness_speed.py [--repeats 5] [--threads 1] [--quick] [--no-occlusion]

Measured on CPU (torch threads from --threads, default 1), for three untrained models in eval mode:
CNN-shallow and CNN-deep (`build_model` defaults: DNA, A = 4, L = 200) on --n-dna random one-hot sequences
(default 100), and SeqCNN (protein, A = 20, L = 40) on --n-protein (default 50); inputs float32.

- gradient_shap: `attribute(model, x, "gradient_shap", n_samples=25, reference="zeros", noise_sd=0.0)`
  against captum's `GradientShap(forward, multiply_by_inputs=False).attribute(x, baselines=zeros(1, A, L),
  n_samples=25, stdevs=0.0)`, forward = sigmoid of the logit. captum 0.9's GradientShap has no
  internal_batch_size (nor any batch) option: it runs all N x 25 inputs in one pass, its only setting. The
  random draws differ (captum's come from torch's global generator), so only the timing is compared.
- feature_ablation: `faithfulness.feature_ablation(model, x, ablation="zeros", output="logit")` against
  captum's `FeatureAblation(forward).attribute(x, baselines=0, feature_mask=M, perturbations_per_eval=P)`,
  forward = the logit, M (1, A, L) mapping every letter of position j to feature j (a whole position ablated
  at once, as ours), P the fastest of (1, 16, 64). Checked once per model: |captum's change| (the same on
  every letter of a position: its [:, 0, :]) equals ours up to float32 rounding.
- occlusion: `faithfulness.occlusion(model, x, window=3)` against captum's `Occlusion(forward).attribute(x,
  sliding_window_shapes=(A, 3), strides=(A, 1), baselines=0, perturbations_per_eval=P)`, P as above. Timing
  only: ours gives a position the mean |change| over the windows that cover it, captum the mean signed
  change, so the values differ by design (ours also scores the sigmoid by default, captum's forward here
  is the logit; the number of forward passes is the same).

Ours runs with its default batch sizes. captum's settings (P) are each timed once (a tuning pass, also
the warm-up; ours gets one warm-up call); then the two sides run interleaved, `--repeats` times, and the
table gives the medians in seconds per call and the ratio captum / ours (above 1: ours is faster). A
timing repeats its call until it has run at least MIN_SECONDS, so fast calls are timed over many. The
machine may be shared: compare the two sides of a row (measured side by side), not rows of different runs.
The default sizes (those above, not reduced) should take about two minutes on one core (estimated from the
smoke run); --quick (3 sequences, 1 repeat) is a smoke test of a few seconds.
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings
from collections.abc import Callable

import numpy as np
import torch
from attribution_speed import machine_header  # benchmarks/ is on the path when this script runs
from captum.attr import FeatureAblation, GradientShap, Occlusion
from torch import nn

from gradcorr.attribution import attribute
from gradcorr.faithfulness import feature_ablation, occlusion
from gradcorr.models.architectures import build_model

MIN_SECONDS = 0.25
PERTURBATIONS_PER_EVAL = (1, 16, 64)
N_SAMPLES = 25
WINDOW = 3
WHATS = ("gradient_shap", "feature_ablation", "occlusion")


def seconds(fn: Callable[[], object]) -> tuple[float, object]:
    """Seconds per call of fn, over at least MIN_SECONDS of calls; and the last call's result."""
    calls, start = 0, time.perf_counter()
    while True:
        result = fn()
        calls += 1
        elapsed = time.perf_counter() - start
        if elapsed >= MIN_SECONDS:
            return elapsed / calls, result


def one_hot(n: int, alphabet: int, length: int, seed: int) -> torch.Tensor:
    """n random one-hot sequences (n, alphabet, length), float32."""
    idx = torch.randint(0, alphabet, (n, length), generator=torch.Generator().manual_seed(seed))
    return torch.eye(alphabet)[idx].transpose(1, 2).contiguous()


def candidates(model: nn.Module, x: torch.Tensor, what: str) -> dict[str, dict[str, Callable[[], object]]]:
    """The calls each side tries for `what`: {"ours": {label: call}, "captum": {label: call}}."""
    _, alphabet, length = x.shape
    logit = lambda u: model(u)[:, 0]  # noqa: E731 (captum's view: one scalar per sequence)
    if what == "gradient_shap":
        score = lambda u: torch.sigmoid(model(u))[:, 0]  # noqa: E731
        shap = GradientShap(score, multiply_by_inputs=False)
        baselines = torch.zeros(1, alphabet, length)
        ours = {"default": lambda: attribute(model, x, "gradient_shap", n_samples=N_SAMPLES, reference="zeros",
                                             noise_sd=0.0)}
        theirs = {"default": lambda: shap.attribute(x, baselines=baselines, n_samples=N_SAMPLES, stdevs=0.0)}
    elif what == "feature_ablation":
        mask = torch.arange(length).expand(1, alphabet, length)  # every letter of position j -> feature j
        ablation = FeatureAblation(logit)
        ours = {"default": lambda: feature_ablation(model, x, ablation="zeros", output="logit")}
        theirs = {f"P={p}": (lambda p=p: ablation.attribute(x, baselines=0, feature_mask=mask,
                                                            perturbations_per_eval=p))
                  for p in PERTURBATIONS_PER_EVAL}
    elif what == "occlusion":
        occ = Occlusion(logit)
        ours = {"default": lambda: occlusion(model, x, window=WINDOW)}
        theirs = {f"P={p}": (lambda p=p: occ.attribute(x, sliding_window_shapes=(alphabet, WINDOW),
                                                       strides=(alphabet, 1), baselines=0, perturbations_per_eval=p))
                  for p in PERTURBATIONS_PER_EVAL}
    else:
        raise ValueError(f"unknown comparison {what!r}; choose one of {WHATS}")
    return {"ours": ours, "captum": theirs}


def check_ablation(model: nn.Module, x: torch.Tensor, ours: np.ndarray, theirs: torch.Tensor) -> str:
    """Whether |captum's feature ablation| equals ours up to float32 rounding; a line for the output."""
    theirs = theirs.detach()
    same_letters = bool((theirs == theirs[:, :1]).all())
    theirs_abs = theirs[:, 0, :].abs().double().numpy()
    with torch.no_grad():
        scale = max(1.0, float(model(x)[:, 0].abs().max()))
    tol = 1e-5 * scale
    diff = float(np.abs(ours - theirs_abs).max())
    ok = same_letters and diff <= tol
    return (f"    check: |captum| {'==' if ok else '!='} ours (max |difference| {diff:.1e}, tolerance {tol:.1e}"
            f"{'' if same_letters else ', captum not constant over letters'}){'' if ok else '  MISMATCH'}")


def compare(model: nn.Module, x: torch.Tensor, what: str, repeats: int) -> dict[str, object]:
    """Tune captum's setting (once each) and warm up ours, then time the two interleaved; medians."""
    sides = candidates(model, x, what)
    tuning, results = {}, {}
    for side, calls in sides.items():
        tuning[side], results[side] = {}, {}
        for label, fn in calls.items():
            tuning[side][label], results[side][label] = seconds(fn)
    best = {side: min(times, key=times.get) for side, times in tuning.items()}
    runs: dict[str, list[float]] = {"ours": [], "captum": []}
    for r in range(repeats):
        for side in (("ours", "captum") if r % 2 == 0 else ("captum", "ours")):
            runs[side].append(seconds(sides[side][best[side]])[0])
    ours, theirs = statistics.median(runs["ours"]), statistics.median(runs["captum"])
    row = {"what": what, "ours": ours, "captum": theirs, "captum_setting": best["captum"], "ratio": theirs / ours,
           "tuning": tuning, "check": None}
    if what == "feature_ablation":
        row["check"] = check_ablation(model, x, results["ours"]["default"], results["captum"][best["captum"]])
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=5, help="interleaved timings of each side (median)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    parser.add_argument("--n-dna", type=int, default=100, help="random DNA sequences (A 4, L 200)")
    parser.add_argument("--n-protein", type=int, default=50, help="random protein sequences (A 20, L 40)")
    parser.add_argument("--no-occlusion", action="store_true", help="skip the occlusion comparison")
    parser.add_argument("--quick", action="store_true", help="smoke test: 3 sequences, 1 repeat")
    parser.add_argument("--verbose", action="store_true", help="also print every setting's tuning time")
    args = parser.parse_args()
    if args.quick:
        args.n_dna = args.n_protein = 3
        args.repeats = 1
    torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore")  # captum: inputs that did not require grad
    whats = [w for w in WHATS if not (args.no_occlusion and w == "occlusion")]
    import captum

    print(f"{machine_header()}, captum {captum.__version__}")
    print(f"{args.n_dna} DNA sequences (A 4, L 200), {args.n_protein} protein sequences (A 20, L 40); "
          f"median of {args.repeats} interleaved repeats; seconds per call; ratio = captum / ours")
    header = f"{'model':12s} {'what':18s} {'ours_s':>9s} {'captum_s':>9s} {'ratio':>7s}  (captum setting)"
    print(header)
    print("-" * len(header))
    setups = (("cnn_shallow", {}, args.n_dna, 4, 200), ("cnn_deep", {}, args.n_dna, 4, 200),
              ("seq_cnn", {"alphabet": 20, "input_length": 40}, args.n_protein, 20, 40))
    for arch, kwargs, n, alphabet, length in setups:
        torch.manual_seed(0)
        model = build_model(arch, **kwargs).eval()
        x = one_hot(n, alphabet, length, seed=0)
        for what in whats:
            row = compare(model, x, what, args.repeats)
            print(f"{arch:12s} {what:18s} {row['ours']:9.3f} {row['captum']:9.3f} {row['ratio']:7.2f}  "
                  f"({row['captum_setting']})", flush=True)
            if row["check"] is not None:
                print(row["check"], flush=True)
            if args.verbose:
                for side, times in row["tuning"].items():
                    print("    tuning " + side + ": " + ", ".join(f"{k} {v:.3f} s" for k, v in times.items()))


if __name__ == "__main__":
    main()
