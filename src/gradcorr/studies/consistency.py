"""The consistency paper's model grid (Majdandzic, Rajesh & Koo): its Appendix B CNN trained with each
regularizer, BatchNorm on or off, relu or exp first layer and a dropout rate, on the synthetic dataset;
then per model and attribution method the test AUROC, the attribution SNR (ground truth) and the two
consistency KLDs (no ground truth), and how they relate (Table 1, Figs. 2, 4, 5, 6).

One function per workflow stage, as in `studies.synthetic`; the figures are in `consistency_plots`. The
stages that train or run models import torch inside, so the table and figure jobs start without it.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gradcorr.correction import correct
from gradcorr.data.io import attribution_arrays, read_attributions, read_attrs, read_tsv, write_arrays, write_tsv
from gradcorr.data.synthetic import positive_indices, read_dataset
from gradcorr.kld import attr_mean_kld, kmer_counts, kmer_kld, published_attr_mean_kld
from gradcorr.metrics import attribution_snr, classification_scores, pearson
from gradcorr.workflow.runtime import derive_seed

log = logging.getLogger(__name__)

GROUP = ["regularizer", "batchnorm", "activation", "dropout"]
# Table 1's averaged columns: ours -> the paper's column in resources/consistency_table1.tsv
TABLE_COLUMNS = {"kld_kmer": "kld_kmer", "kld_kmer_union": "kld_kmer", "kld_attr_mean": "kld_attr_mean",
                 "kld_attr_mean_published": "kld_attr_mean", "test_auroc": "auroc", "snr": "snr"}
KLD_COLUMNS = ("kld_kmer", "kld_kmer_union", "kld_attr_mean", "kld_attr_mean_published")
PAPER_PEARSON = {"kld_kmer": 0.618, "kld_attr_mean_published": 0.875}  # SNR vs KLD over 327 models, saliency (Sec. 3)


def train_consistency_models(data: str | Path, outputs: list[tuple[str | Path, str | Path]], *, name: str,
                             regularizer: str, batchnorm: bool, activation: str, dropout: float, trials: list[int],
                             width: int, training: dict[str, Any], regularizer_settings: dict[str, Any], seed: int,
                             engine: str = "vectorized", group: int = 10, device: str = "auto",
                             threads: int = 1) -> None:
    """Train trials of one combination of the grid (called `name`, e.g. mixup_bn_exp_d0.1); `outputs[i]`
    receives trial `trials[i]`.

    `width` is the CNN's width factor, `training` the training settings and `regularizer_settings` those
    of the regularizer other than its name (the paper's where absent).
    """
    from gradcorr.studies.model_runs import train_members

    kwargs = {"activation": activation, "batchnorm": batchnorm, "dropout": dropout, "width": width}
    reg = {**regularizer_settings, "name": regularizer}
    meta = {"config": name, "regularizer": regularizer, "batchnorm": batchnorm, "activation": activation,
            "dropout": dropout}
    train_members(data, outputs, arch="cnn_consistency", model_kwargs=[kwargs] * len(trials),
                  model_ids=[f"{name}_{t}" for t in trials],
                  seeds=[derive_seed(seed, "consistency-model", name, t) for t in trials],
                  metas=[{**meta, "trial": t} for t in trials],
                  training={**training, "regularizer": reg}, engine=engine,
                  group=group, device=device, threads=threads)


def consistency_scores(raw: np.ndarray, x: np.ndarray, ground_truth: np.ndarray, prior: dict[int, np.ndarray], *,
                       settings: dict[str, Any]) -> tuple[dict[str, float], pd.DataFrame]:
    """Attribution SNR and consistency KLDs of one model's raw maps (N, 4, L) of the sequences x, at the
    config's settings (`settings` = consistency section); and the KLDs over the sensitivity sweep
    (one row per parameter and value, the others held at their settings).

    `prior[k]` holds the k-mer counts of all test sequences for every k used. SNR is taken on the raw
    map (`snr`, as the authors) and the corrected one (`snr_corrected`); the k-mer KLD with the authors'
    merge of attributed runs (`kld_kmer`) and with touching runs joined (`kld_kmer_union`); the
    k-attr-mean KLD ours (`kld_attr_mean`, orthonormal basis, per-sequence threshold) and as the authors'
    code computes it (`kld_attr_mean_published`).
    """
    km, am = settings["kmer"], settings["attr_mean"]
    corrected = correct(raw)  # for snr_corrected; the KLDs take either map (they correct it themselves)
    ours = {key: am[key] for key in ("window", "percentile", "bin_width", "prior_width")}

    def kmer(**over: Any) -> float:
        opts = {**km, **over}
        return kmer_kld(corrected, x, prior=prior[opts["k"]], **opts)

    def attr(**over: Any) -> float:
        return attr_mean_kld(corrected, **{**ours, **over})

    row = {"snr": float(attribution_snr(raw, x, ground_truth).mean()),
           "snr_corrected": float(attribution_snr(corrected, x, ground_truth).mean()),
           "kld_kmer": kmer(), "kld_kmer_union": kmer(merge="union"), "kld_attr_mean": attr(),
           "kld_attr_mean_published": published_attr_mean_kld(corrected, am["window"], am["top_fraction"],
                                                              am["bin_width"], am["prior_range"])}
    sweep = settings["sensitivity"]
    rows = ([{"metric": "kld_kmer", "parameter": "k", "value": v, "kld": kmer(k=v)} for v in sweep["k"]]
            + [{"metric": "kld_kmer", "parameter": "percentile", "value": v, "kld": kmer(percentile=v)}
               for v in sweep["percentile"]]
            + [{"metric": "kld_attr_mean", "parameter": "window", "value": v, "kld": attr(window=v)}
               for v in sweep["window"] if v <= raw.shape[2]])
    return row, pd.DataFrame(rows)


def evaluate_consistency_models(data: str | Path, model_paths: list[str | Path], outs: list[dict[str, str | Path]],
                                *, method: str, settings: dict[str, Any], evaluation: dict[str, Any],
                                options: dict[str, Any], seed: int, engine: str = "vectorized",
                                device: str = "auto", threads: int = 1) -> None:
    """Attribute the first `settings["n_positive"]` positive test sequences with each model of one
    combination; score classification, SNR and consistency (`consistency_scores`).

    Writes, for model i, `outs[i]["attributions"]` (raw maps, inputs, ground truth), `outs[i]["metrics"]`
    (one row) and `outs[i]["sensitivity"]` (the KLDs over the sweep). Random draws of the method are
    seeded from `seed`, the combination and the method, the same for every trial.
    """
    from gradcorr.attribution import OPTIONS
    from gradcorr.studies.model_runs import load_models, model_maps

    loaded = load_models(model_paths, device, threads)
    name = loaded[0][1]["meta"]["config"]
    if "seed" in OPTIONS[method]:
        options = {**options, "seed": derive_seed(seed, "consistency-attribution", name, method)}
    x, y, ground_truth = read_dataset(data, "test")
    idx = positive_indices(y, settings["n_positive"])
    ks = {settings["kmer"]["k"], *settings["sensitivity"]["k"]}
    prior = {k: kmer_counts(x, k) for k in ks}  # the k-mers of all test sequences
    kwargs = {"output": evaluation["output"], "batch_size": evaluation["batch_size"], **options}
    scratch = Path(outs[0]["attributions"]).with_suffix(".members.tmp.h5")
    for (p, raw), (_, saved), out in zip(model_maps([m for m, _ in loaded], x, idx, method, engine, scratch, **kwargs),
                                         loaded, outs):
        meta = saved["meta"]
        history = [h for h in saved["history"] if "val_auroc" in h]
        scores, sweep = consistency_scores(raw, x[idx], ground_truth[idx], prior, settings=settings)
        row = {"model": meta["model_id"], "config": name, **{k: meta[k] for k in GROUP}, "trial": meta["trial"],
               "method": method, "epochs": len(history),
               **{f"test_{k}": v for k, v in classification_scores(y, p).items()}, **scores,
               "n_sequences": len(idx)}
        log.info("%s %s: test AUROC %.4f, SNR %.3f, KLD k-mer %.3f, k-attr-mean %.3f (published method %.3f)",
                 meta["model_id"], method, row["test_auroc"], row["snr"], row["kld_kmer"], row["kld_attr_mean"],
                 row["kld_attr_mean_published"])
        write_arrays(out["attributions"], attribution_arrays(idx, x[idx], method, raw, ground_truth=ground_truth[idx]),
                     {"model": meta["model_id"], "method": method, "output": evaluation["output"]})
        write_tsv(pd.DataFrame([row]), out["metrics"])
        write_tsv(sweep.assign(model=meta["model_id"], method=method), out["sensitivity"])


def read_paper_table(path: str | Path) -> pd.DataFrame:
    """The paper's Table 1 (resources/consistency_table1.tsv), columns prefixed paper_."""
    paper = pd.read_csv(path, sep="\t", comment="#")
    missing = {"regularizer", "batchnorm", "activation", "trials", *TABLE_COLUMNS.values()} - set(paper.columns)
    if missing:
        raise ValueError(f"{path}: missing column(s) {sorted(missing)}")
    paper["batchnorm"] = paper["batchnorm"].astype(str).str.lower() == "true"
    return paper.rename(columns={c: f"paper_{c}" for c in ["trials", *set(TABLE_COLUMNS.values())]})


def consistency_table(models: pd.DataFrame, paper: pd.DataFrame | None = None, paper_dropout: float = 0.1
                      ) -> pd.DataFrame:
    """Table 1: per combination, the trials passing the filter (column `passed`) and their mean KLDs,
    AUROC and SNR (NaN where none pass), beside the paper's row when `paper` is given (only for
    dropout `paper_dropout`, the paper's)."""
    rows = []
    for key, group in models.groupby(GROUP, sort=False):
        kept = group[group["passed"]]
        rows.append({**dict(zip(GROUP, key)), "trials": len(kept), "trained": len(group),
                     **{c: kept[c].mean() if len(kept) else np.nan for c in TABLE_COLUMNS}})
    table = pd.DataFrame(rows)
    if paper is None:
        return table
    table = table.merge(paper, on=["regularizer", "batchnorm", "activation"], how="left")
    other = ~np.isclose(table["dropout"], paper_dropout)
    table.loc[other, [c for c in table.columns if c.startswith("paper_")]] = np.nan
    return table


def correlations(models: pd.DataFrame, method: str) -> pd.DataFrame:
    """Pearson r of the attribution SNR with each KLD over the models passing the filter, beside the
    paper's (saliency)."""
    kept = models[models["passed"]]
    return pd.DataFrame([{"method": method, "kld": kld, "models": int(kept[kld].notna().sum()),
                          "pearson_r": pearson(kept, "snr", kld),
                          "paper_pearson_r": PAPER_PEARSON.get(kld, np.nan) if method == "saliency" else np.nan}
                         for kld in KLD_COLUMNS])


def consistency_tables(metrics: list[str | Path], out: dict[str, str | Path], *, method: str, auroc_min: float,
                       paper_table: str | Path) -> None:
    """Stack the per-model rows of one method (`out["models"]`, with `passed` = test AUROC >= auroc_min)
    and write Table 1 (`out["table"]`; the paper's values beside ours for saliency) and the SNR-KLD
    correlations (`out["correlations"]`)."""
    models = pd.concat([read_tsv(m) for m in metrics], ignore_index=True)
    models["passed"] = models["test_auroc"] >= auroc_min
    log.info("%s: %d of %d models pass test AUROC >= %g", method, models["passed"].sum(), len(models), auroc_min)
    write_tsv(models, out["models"])
    paper = read_paper_table(paper_table) if method == "saliency" else None
    write_tsv(consistency_table(models, paper), out["table"])
    write_tsv(correlations(models, method), out["correlations"])


def highlighted(models: pd.DataFrame) -> tuple[str, str]:
    """Model 1 and Model 2 of the paper's Fig. 2: of the models passing the filter (all models when
    fewer than two pass), the highest and the lowest attribution SNR."""
    pool = models[models["passed"]] if models["passed"].sum() >= 2 else models
    ranked = pool.sort_values(["snr", "model"], ascending=[False, True])
    return str(ranked["model"].iloc[0]), str(ranked["model"].iloc[-1])


def consistency_figures(tables: dict[str, str | Path], attributions: list[str | Path], sensitivity: list[str | Path],
                        data: str | Path, out: dict[str, str | Path], *, methods: list[str],
                        settings: dict[str, Any]) -> None:
    """Fig. 2 a-f and 2g (first method; its Model 1 and Model 2 maps read from `attributions`, 2g their
    logos on the first 3 attributed sequences), Fig. 4 (AUPR vs SNR, first method), Fig. 5 (the other
    methods, when there are any) and Fig. 6 (sensitivity of the first method's KLDs), each as PDF, PNG and a TSV
    of the numbers drawn."""
    from gradcorr.studies import consistency_plots, plotting  # matplotlib only in the jobs that draw

    first = methods[0]
    models = {m: read_tsv(tables[m]) for m in methods}
    for frame in models.values():
        frame["passed"] = frame["passed"].astype(bool)
    best, worst = highlighted(models[first])
    maps = {read_attrs(path)["model"]: path for path in attributions}
    x_test, _, _ = read_dataset(data, "test")
    chosen = {name: read_attributions(maps[name], first) for name in (best, worst)}
    fig, numbers = consistency_plots.fig_snr_kld(models[first], chosen, x_test, method=first, settings=settings)
    plotting.save_figure(fig, out["fig2_pdf"], out["fig2"])
    write_tsv(numbers, out["fig2_tsv"])
    fig, numbers = consistency_plots.fig_saliency_logos(chosen, method=first)
    plotting.save_figure(fig, out["fig2g_pdf"], out["fig2g"])
    write_tsv(numbers, out["fig2g_tsv"])
    fig, numbers = consistency_plots.fig_aupr_snr(models[first], (best, worst), method=first)
    plotting.save_figure(fig, out["fig4_pdf"], out["fig4"])
    write_tsv(numbers, out["fig4_tsv"])
    if methods[1:]:
        fig = consistency_plots.fig_snr_kld_methods({m: models[m] for m in methods[1:]}, (best, worst))
        plotting.save_figure(fig, out["fig5_pdf"], out["fig5"])
        write_tsv(pd.concat([models[m][["model", "method", "snr", *consistency_plots.KLD_NAMES, "passed"]]
                             for m in methods[1:]]), out["fig5_tsv"])
    sweep = pd.concat([read_tsv(p) for p in sensitivity], ignore_index=True)
    sweep = sweep.merge(models[first][["model", *GROUP, "passed"]], on="model")
    fig, numbers = consistency_plots.fig_sensitivity(sweep, method=first)
    plotting.save_figure(fig, out["fig6_pdf"], out["fig6"])
    write_tsv(numbers, out["fig6_tsv"])
