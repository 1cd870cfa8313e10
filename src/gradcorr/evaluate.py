"""Per-model evaluation on synthetic data: classification, then attributions before and after correction."""

from __future__ import annotations

import logging

import numpy as np
import torch
from torch import nn

from gradcorr.attribution import attribute
from gradcorr.consistency import attribution_snr, consistency_klds, kmer_counts
from gradcorr.correction import correct
from gradcorr.metrics import classification_scores, interpretability_scores
from gradcorr.training import predict

log = logging.getLogger(__name__)


def positive_indices(y: np.ndarray, n: int) -> np.ndarray:
    """Indices of the first `n` positive sequences (the published evaluation set)."""
    idx = np.flatnonzero(np.asarray(y).reshape(-1) == 1)[:n]
    if len(idx) == 0:
        raise ValueError("the test set holds no positive sequence to attribute")
    return idx


def evaluate_model(model: nn.Module, x: np.ndarray, y: np.ndarray, ground_truth: np.ndarray, *,
                   method: str = "saliency", n_positive: int = 500, threshold: float = 0.1,
                   negatives: str = "background", output: str = "sigmoid",
                   batch_size: int = 512, **options) -> tuple[dict, dict[str, np.ndarray]]:
    """Score one model: test AUROC/AUPR, and cosine/AUROC/AUPR of its maps against the ground truth.

    `options` go to the attribution method (steps, n_samples, seed, ...). Returns (a row of numbers,
    the arrays behind them: indices, inputs, ground truth, raw map); see `score_maps`. The k-mer
    prior of the consistency KLD is all of x.
    """
    p = predict(model, torch.as_tensor(x, dtype=torch.float32)).numpy()
    idx = positive_indices(y, n_positive)
    raw = attribute(model, x[idx], method, output=output, batch_size=batch_size, **options)
    return score_maps(p, y, idx, raw, x[idx], ground_truth[idx], method=method, threshold=threshold,
                      negatives=negatives, prior=kmer_counts(x))


def score_maps(p: np.ndarray, y: np.ndarray, idx: np.ndarray, raw: np.ndarray, x_pos: np.ndarray,
               m_pos: np.ndarray, *, method: str, threshold: float = 0.1, negatives: str = "background",
               prior: np.ndarray | None = None) -> tuple[dict, dict[str, np.ndarray]]:
    """A model's row of numbers from its test predictions `p` and its raw maps of the test rows `idx`.

    Metrics of the corrected map are suffixed `_corrected`, of the raw map `_raw`, and their
    difference `_improvement`; then the attribution SNR and the consistency KLDs (`prior`: the k-mer
    counts of the whole test set, as in `consistency.kmer_kld`). Also returns the arrays behind them
    (`attribution_arrays`).
    """
    row = {f"test_{k}": v for k, v in classification_scores(y, p).items()}
    scores = {"raw": interpretability_scores(raw, x_pos, m_pos, threshold, negatives),
              "corrected": interpretability_scores(correct(raw), x_pos, m_pos, threshold, negatives)}
    for metric in ("cosine", "auroc", "aupr"):
        row[f"{metric}_raw"] = scores["raw"][metric]
        row[f"{metric}_corrected"] = scores["corrected"][metric]
        row[f"{metric}_improvement"] = scores["corrected"][metric] - scores["raw"][metric]
    row["snr"] = float(attribution_snr(raw, x_pos, m_pos).mean())
    row.update(consistency_klds(raw, x_pos, prior))
    row["n_sequences"] = len(idx)
    log.info("%s: test AUROC %.4f; cosine %.4f -> %.4f, AUROC %.4f -> %.4f, AUPR %.4f -> %.4f",
             method, row["test_auroc"], row["cosine_raw"], row["cosine_corrected"],
             row["auroc_raw"], row["auroc_corrected"], row["aupr_raw"], row["aupr_corrected"])
    return row, attribution_arrays(idx, x_pos, m_pos, method, raw)


def attribution_arrays(idx: np.ndarray, x_pos: np.ndarray, m_pos: np.ndarray, method: str,
                       raw: np.ndarray) -> dict[str, np.ndarray]:
    """What an attribution file holds: test indices, inputs, ground truth, and the raw map under the
    method's name (float32)."""
    return {"index": idx, "x": x_pos.astype(np.float32), "ground_truth": m_pos.astype(np.float32),
            method: np.asarray(raw, dtype=np.float32)}
