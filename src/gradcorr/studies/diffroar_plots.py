"""The DiffROAR study's figures (`studies.diffroar`): DiffROAR against the unmasked fraction per model and method,
raw and corrected beside the baselines, and the feature-leakage bars. Each function takes a table of the study and
returns a matplotlib Figure and the numbers it draws."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from gradcorr.studies.diffroar import ANY_REGIME, INPUT_AGNOSTIC, KINDS, RANDOM, TRAINING_REGIMES  # noqa: E402
from gradcorr.studies.plotting import KIND_COLORS, METHOD_NAMES, message_figure, model_type_label  # noqa: E402

CURVE_COLUMNS = ["panel", "method", "kind", "fraction", "diffroar", "sd"]
BAR_COLUMNS = ["panel", "regime", "method", "kind", "null_share", "sd"]
BASELINE_STYLES = {RANDOM: {"color": "0.6", "ls": "--"}, INPUT_AGNOSTIC: {"color": "black", "ls": ":"}}


def _curve(ax: plt.Axes, rows: pd.DataFrame, label: str, metric: str, **style) -> list[dict]:
    """One DiffROAR curve (mean +- SD over retrainings) against the fraction; returns the points drawn."""
    rows = rows.sort_values("fraction")
    x, y, sd = rows["fraction"].to_numpy(), rows[f"diffroar_{metric}"].to_numpy(), rows[f"diffroar_sd_{metric}"]
    ax.errorbar(x, y, yerr=np.nan_to_num(sd.to_numpy()), label=label, marker="o", ms=3, lw=1.2, capsize=2, **style)
    return [{"fraction": f, "diffroar": v, "sd": s} for f, v, s in zip(x, y, sd)]


def fig_diffroar(table: pd.DataFrame, fill: str, metric: str = "auroc") -> tuple[plt.Figure, pd.DataFrame]:
    """One row of panels per model (model type and regime), one column per method: DiffROAR (by `metric`) against
    the unmasked fraction of the raw (grey) and the corrected (blue) maps, the input-agnostic (dotted) and random
    (dashed) baselines, and zero (above: the largest attributions are the discriminative positions)."""
    maps = table[table["kind"].isin(KINDS)]
    if maps.empty:
        return message_figure(f"no DiffROAR numbers for fill {fill!r}"), pd.DataFrame(columns=CURVE_COLUMNS)
    order = {r: i for i, r in enumerate(TRAINING_REGIMES)}
    units = sorted(set(zip(maps["model_type"], maps["regime"])), key=lambda u: (u[0], order.get(u[1], 99)))
    methods = list(dict.fromkeys(maps["method"]))
    fig, axes = plt.subplots(len(units), len(methods), figsize=(3.4 * len(methods), 2.6 * len(units)),
                             squeeze=False, sharex=True)
    numbers = []
    for r, (model_type, regime) in enumerate(units):
        unit = table[table["model_type"] == model_type]
        for c, method in enumerate(methods):
            ax, panel = axes[r, c], f"{model_type}/{regime}/{method}"
            ax.axhline(0, color="black", lw=0.6)
            for kind in KINDS:
                rows = unit[(unit["regime"] == regime) & (unit["method"] == method) & (unit["kind"] == kind)]
                drawn = _curve(ax, rows, kind, metric, color=KIND_COLORS[kind])
                numbers += [{"panel": panel, "method": method, "kind": kind, **d} for d in drawn]
            for baseline, style in BASELINE_STYLES.items():
                rows = unit[(unit["method"] == baseline) & unit["regime"].isin([regime, ANY_REGIME])]
                if len(rows):
                    drawn = _curve(ax, rows, baseline.replace("_", "-"), metric, **style)
                    numbers += [{"panel": panel, "method": baseline, "kind": "baseline", **d} for d in drawn]
            ax.set_title(f"{model_type_label(model_type)}, {regime}: {METHOD_NAMES.get(method, method)}", fontsize=8)
            if c == 0:
                ax.set_ylabel(f"DiffROAR ({metric})", fontsize=8)
            if r == len(units) - 1:
                ax.set_xlabel("unmasked fraction k", fontsize=8)
    axes[0, -1].legend(fontsize=7)
    gap = "\n" if len(methods) == 1 else " "  # one column: the title on two lines
    fig.suptitle(f"Top-k minus bottom-k predictive power,{gap}masked positions = {fill}", fontsize=9)
    fig.tight_layout()
    return fig, pd.DataFrame(numbers, columns=CURVE_COLUMNS)


def fig_leakage(table: pd.DataFrame) -> tuple[plt.Figure, pd.DataFrame]:
    """One panel per model type and placement: the share of each map's mass in the null block per regime, each
    method raw (grey) and corrected (blue), with the SD over models; 0.5 would be no preference for the signal
    block."""
    if table.empty:
        return message_figure("no leakage numbers in this run (diffroar.leakage)"), pd.DataFrame(columns=BAR_COLUMNS)
    panels = list(dict.fromkeys(zip(table["model_type"], table["placement"])))
    methods = list(dict.fromkeys(table["method"]))
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.2), squeeze=False, sharey=True)
    numbers, width = [], 0.8 / (2 * len(methods))
    for ax, (model_type, placement) in zip(axes[0], panels):
        part = table[(table["model_type"] == model_type) & (table["placement"] == placement)]
        regimes = [r for r in TRAINING_REGIMES if r in set(part["regime"])]
        for g, regime in enumerate(regimes):
            for m, method in enumerate(methods):
                for k, kind in enumerate(KINDS):
                    row = part[(part["regime"] == regime) & (part["method"] == method) & (part["kind"] == kind)]
                    if row.empty:
                        continue
                    value, sd = float(row["null_share"].iloc[0]), float(row["null_share_sd"].iloc[0])
                    ax.bar(g - 0.4 + width * (2 * m + k + 0.5), value, width, yerr=np.nan_to_num(sd),
                           color=KIND_COLORS[kind], alpha=0.4 + 0.6 * (m + 1) / len(methods), error_kw={"lw": 0.5})
                    numbers.append({"panel": f"{model_type}/{placement}", "regime": regime, "method": method,
                                    "kind": kind, "null_share": value, "sd": sd})
        ax.axhline(0.5, color="black", lw=0.6, ls=":")
        ax.set_xticks(range(len(regimes)), regimes, fontsize=8)
        ax.set_title(f"{model_type_label(model_type)}, signal block {placement}", fontsize=9)
    axes[0, 0].set_ylabel("share of attribution in the null block", fontsize=8)
    handles = [plt.Rectangle((0, 0), 1, 1, color=KIND_COLORS[k]) for k in KINDS]
    fig.legend(handles, list(KINDS), loc="upper right", fontsize=8)
    fig.suptitle("Feature leakage; methods left to right: " + ", ".join(METHOD_NAMES.get(m, m) for m in methods),
                 fontsize=9)
    fig.tight_layout()
    return fig, pd.DataFrame(numbers, columns=BAR_COLUMNS)
