"""Scores of a model as it trains: an epoch hook for `gradcorr.models.training` (and the ensemble engine) that
scores every member on a fixed evaluation set after each epoch.

The regularization-saliency paper (Labelson, Tripathy & Koo) tracks classification AUROC and the
interpretability AUROC of grad-times-input saliency through training (its Fig. 1b-c); `epoch_hook`
adds, per member and epoch, the same with the gradient-corrected map, the attribution SNR, both
consistency KLDs and the spread of the simplex angles, so that the ground-truth-free scores can be
followed against the ground-truth ones epoch by epoch. Saliency is the gradient of the sigmoid output
in inference mode, as the studies attribute trained models.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from gradcorr.attribution import attribute_members
from gradcorr.correction import correct, simplex_angle
from gradcorr.kld import attr_mean_kld, kmer_counts, kmer_kld
from gradcorr.metrics import attribution_snr, classification_scores, interpretability_scores
from gradcorr.models.ensemble import predict_members

__all__ = ["GROUND_TRUTH_FREE", "MONITOR_SCORES", "angle_spread", "epoch_hook", "map_scores"]

# Every score `epoch_hook` can take, and the ones that need no ground truth (the candidates for model selection)
MONITOR_SCORES = ("auroc", "aupr", "cosine_raw", "cosine_corrected", "interp_auroc_raw", "interp_auroc_corrected",
                  "interp_aupr_raw", "interp_aupr_corrected", "snr_raw", "snr_corrected", "kld_kmer",
                  "kld_attr_mean", "angle_sd")
GROUND_TRUTH_FREE = ("kld_kmer", "kld_attr_mean", "angle_sd")


def angle_spread(raw: np.ndarray) -> float:
    """Standard deviation (degrees) of the simplex angles of every position of raw maps.

    Parameters
    ----------
    raw : numpy.ndarray, shape (N, A, L)
        Raw (uncorrected) gradient maps.

    Returns
    -------
    float
        SD over all positions with a nonzero gradient; NaN when there is none.
    """
    angles = simplex_angle(np.asarray(raw, dtype=np.float64))
    angles = angles[np.isfinite(angles)]
    return float(angles.std()) if angles.size else float("nan")


def map_scores(raw: np.ndarray, x: np.ndarray, ground_truth: np.ndarray | None = None, *,
               scores: Sequence[str] = MONITOR_SCORES, prior: dict[int, np.ndarray] | None = None,
               kmer: dict[str, Any] | None = None, attr_mean: dict[str, Any] | None = None, threshold: float = 0.1,
               snr_top_k: int = 20) -> dict[str, float]:
    """Scores of one model's raw saliency maps: those of `scores` that maps can give (all but auroc and aupr).

    Parameters
    ----------
    raw : numpy.ndarray, shape (N, A, L)
        Raw saliency maps of the sequences x.
    x : numpy.ndarray, shape (N, A, L)
        One-hot sequences.
    ground_truth : numpy.ndarray, shape (N, A, L), optional
        Sequence models; needed for the interpretability scores and the SNR.
    scores : sequence of str
        Names from `MONITOR_SCORES`.
    prior : dict, optional
        k -> k-mer counts of the whole evaluation set (`kld.kmer_counts`), for the k-mer KLD; default the
        k-mers of x.
    kmer, attr_mean : dict, optional
        Settings of `kld.kmer_kld` and `kld.attr_mean_kld` (the consistency study's).
    threshold : float, default 0.1
        Information (bits) above which a ground-truth position is a motif position.
    snr_top_k : int, default 20
        Background scores averaged into the SNR's noise (20 in the regularization-saliency code).

    Returns
    -------
    dict
        Score name -> value.
    """
    wanted = set(scores)
    needs_truth = wanted & {s for s in MONITOR_SCORES if s.split("_")[0] in ("cosine", "interp", "snr")}
    if needs_truth and ground_truth is None:
        raise ValueError(f"scores {sorted(needs_truth)} need the ground truth")
    corrected = correct(raw)
    out: dict[str, float] = {}
    for kind, maps in (("raw", raw), ("corrected", corrected)):
        if wanted & {f"cosine_{kind}", f"interp_auroc_{kind}", f"interp_aupr_{kind}"}:
            interp = interpretability_scores(maps, x, ground_truth, threshold)
            out.update({f"cosine_{kind}": interp["cosine"], f"interp_auroc_{kind}": interp["auroc"],
                        f"interp_aupr_{kind}": interp["aupr"]})
        if f"snr_{kind}" in wanted:
            out[f"snr_{kind}"] = float(attribution_snr(maps, x, ground_truth, threshold, snr_top_k).mean())
    if "kld_kmer" in wanted:
        opts = {"k": 6, **(kmer or {})}
        counts = (prior or {}).get(opts["k"])
        out["kld_kmer"] = kmer_kld(corrected, x, prior=counts if counts is not None else kmer_counts(x, opts["k"]),
                                   **opts)
    if "kld_attr_mean" in wanted:
        opts = {key: value for key, value in (attr_mean or {}).items()
                if key in ("window", "percentile", "bin_width", "prior_width")}
        out["kld_attr_mean"] = attr_mean_kld(corrected, **opts)
    if "angle_sd" in wanted:
        out["angle_sd"] = angle_spread(raw)
    return {name: value for name, value in out.items() if name in wanted}


def epoch_hook(x: np.ndarray, y: np.ndarray | None = None, ground_truth: np.ndarray | None = None, *,
               scores: Sequence[str] = MONITOR_SCORES, n_positive: int | None = None, prefix: str = "",
               kmer: dict[str, Any] | None = None, attr_mean: dict[str, Any] | None = None,
               threshold: float = 0.1, snr_top_k: int = 20, batch_size: int = 256
               ) -> Callable[[nn.Module, int], list[dict[str, float]]]:
    """An epoch hook (`models.training.EpochHook`) scoring every member on a fixed set of sequences.

    Classification scores (auroc, aupr) are taken on all of x against y; the map scores (`map_scores`) on the
    saliency maps of the first `n_positive` positive sequences (y = 1; all of x when y is None). Each score
    is stored as `prefix + name`.

    Parameters
    ----------
    x : numpy.ndarray, shape (N, A, L)
        One-hot sequences.
    y : numpy.ndarray, shape (N,) or (N, 1), optional
        Labels; needed for auroc and aupr.
    ground_truth : numpy.ndarray, shape (N, A, L), optional
        Sequence models of x; needed for the interpretability scores and the SNR.
    scores : sequence of str
        Names from `MONITOR_SCORES`.
    n_positive : int, optional
        How many positive sequences to attribute (default all).
    prefix : str, default ""
        Prepended to every score name (e.g. "test_", "valid_").
    kmer, attr_mean, threshold, snr_top_k
        As in `map_scores`.
    batch_size : int, default 256
        Model inputs per attribution pass.

    Returns
    -------
    callable
        hook(model, members) -> one dict of scores per member.
    """
    unknown = sorted(set(scores) - set(MONITOR_SCORES))
    if unknown:
        raise ValueError(f"unknown monitor score(s) {unknown}; choose from {MONITOR_SCORES}")
    x = np.asarray(x, dtype=np.float32)
    labels = None if y is None else np.asarray(y).reshape(-1)
    if {"auroc", "aupr"} & set(scores) and labels is None:
        raise ValueError("auroc and aupr need the labels y")
    idx = np.arange(len(x)) if labels is None else np.flatnonzero(labels == 1)
    idx = idx[:n_positive] if n_positive is not None else idx
    x_pos = x[idx]
    truth = None if ground_truth is None else np.asarray(ground_truth)[idx]
    map_names = [s for s in scores if s not in ("auroc", "aupr")]
    k = (kmer or {}).get("k", 6)
    prior = {k: kmer_counts(x, k)} if "kld_kmer" in map_names else None
    x_all = torch.as_tensor(x)

    def hook(model: nn.Module, members: int) -> list[dict[str, float]]:
        rows: list[dict[str, float]] = [{} for _ in range(members)]
        if {"auroc", "aupr"} & set(scores):
            probs = predict_members(model, x_all, batch_size, members).float().numpy()
            for m in range(members):
                found = classification_scores(labels, probs[:, m])
                rows[m].update({name: found[name] for name in ("auroc", "aupr") if name in scores})
        if map_names and len(x_pos):
            dtype = next(model.parameters()).dtype  # the model's: float32 in the studies, any in tests
            maps = attribute_members(model, torch.as_tensor(x_pos, dtype=dtype), "saliency", members=members,
                                     batch_size=batch_size).cpu().numpy()
            for m in range(members):
                rows[m].update(map_scores(maps[:, m], x_pos, truth, scores=map_names, prior=prior, kmer=kmer,
                                          attr_mean=attr_mean, threshold=threshold, snr_top_k=snr_top_k))
        return [{f"{prefix}{name}": value for name, value in row.items()} for row in rows]

    return hook

