"""Figures of the multi-task study: Fig. 11 (angle histograms of the top class and of the first tasks' positives, for
exponential and ReLU first layers), the per-task angles and the per-task interpretability raw and corrected. Each
function returns the figure and a table of the numbers it draws."""

from __future__ import annotations

from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from gradcorr.studies.plotting import KIND_COLORS, METHOD_NAMES, message_figure  # noqa: E402

ACTIVATION_LABELS = {"exp": "exponential", "relu": "ReLU"}
HISTOGRAM_COLUMNS = ["activation", "trial", "panel", "task", "task_name", "angle", "density"]


def _shares(hist: np.ndarray) -> np.ndarray:
    total = hist.sum()
    return hist / total if total else np.zeros(len(hist))


def fig11(histograms: list[tuple[dict[str, Any], dict[str, np.ndarray]]], method: str,
          ) -> tuple[plt.Figure, pd.DataFrame]:
    """Fig. 11 for one method: a row per model (activation, trial); left, the histogram of the angles of the
    top class's maps of the test sequences; right, one histogram per shown task over its positives (one colour
    each). Histograms are shares of positions per one-degree bin."""
    if not histograms:
        return message_figure("no models in this run"), pd.DataFrame(columns=HISTOGRAM_COLUMNS)
    order = sorted(histograms, key=lambda h: (str(h[0]["activation"]) != "exp", int(h[0]["trial"])))
    fig, axes = plt.subplots(len(order), 2, figsize=(8, 2.6 * len(order)), squeeze=False, sharex=True)
    numbers = []
    for (attrs, arrays), (left, right) in zip(order, axes):
        edges = arrays["edges"]
        centres = (edges[:-1] + edges[1:]) / 2
        names = [str(n) for n in np.atleast_1d(attrs["task_names"])]
        activation, trial, top = str(attrs["activation"]), int(attrs["trial"]), int(arrays["top_class"])
        label = f"{ACTIVATION_LABELS.get(activation, activation)} first layer, trial {trial}"
        density = _shares(arrays["hist_top_class"])
        left.fill_between(centres, density, step="mid", color="tab:gray", alpha=0.7)
        left.set_title(f"{label}: top class ({names[top]})", fontsize=8)
        numbers += [{"activation": activation, "trial": trial, "panel": "top_class", "task": top,
                     "task_name": names[top], "angle": c, "density": d} for c, d in zip(centres, density)]
        colours = plt.get_cmap("tab10")
        for t, hist in enumerate(arrays["hist_task"]):
            density = _shares(hist)
            right.step(centres, density, where="mid", color=colours(t % 10), lw=0.8, label=names[t])
            numbers += [{"activation": activation, "trial": trial, "panel": "tasks", "task": t, "task_name": names[t],
                         "angle": c, "density": d} for c, d in zip(centres, density)]
        right.set_title(f"{label}: positives of the first {len(arrays['hist_task'])} tasks", fontsize=8)
        right.legend(fontsize=5, ncol=2, frameon=False, loc="upper left")
        left.set_ylabel("share of positions", fontsize=8)
    for ax in axes[-1]:
        ax.set_xlabel("angle between the gradient and the simplex (degrees)", fontsize=8)
    fig.suptitle(f"Gradient angles of a multi-task model, {METHOD_NAMES.get(method, method)}", fontsize=9)
    fig.tight_layout()
    return fig, pd.DataFrame(numbers, columns=HISTOGRAM_COLUMNS)


def fig_task_angles(table: pd.DataFrame) -> tuple[plt.Figure, pd.DataFrame]:
    """Each shown task's mean per-sequence |angle| (SD over its sequences as error bars), a panel per method, one
    bar group per task, one bar per model; the Kruskal-Wallis p per model in the legend."""
    columns = ["method", "model", "task", "task_name", "mean_abs_angle", "sd_abs_angle", "kruskal_p"]
    if table.empty:
        return message_figure("no task angles in this run"), pd.DataFrame(columns=columns)
    methods = list(dict.fromkeys(table["method"]))
    fig, axes = plt.subplots(1, len(methods), figsize=(max(5, 0.6 * table["task"].nunique() + 3) * len(methods), 3),
                             squeeze=False)
    numbers = []
    for ax, method in zip(axes[0], methods):
        part = table[table["method"] == method]
        models = list(dict.fromkeys(zip(part["activation"], part["trial"])))
        width = 0.8 / len(models)
        for m, (activation, trial) in enumerate(models):
            rows = part[(part["activation"] == activation) & (part["trial"] == trial)].sort_values("task")
            p = float(rows["kruskal_p"].iloc[0])
            label = f"{ACTIVATION_LABELS.get(activation, activation)} {trial} (Kruskal-Wallis p = {p:.2g})"
            ax.bar(rows["task"] - 0.4 + width * (m + 0.5), rows["mean_abs_angle"], width,
                   yerr=np.nan_to_num(rows["sd_abs_angle"]), label=label, error_kw={"lw": 0.5})
            numbers += [{"method": method, "model": f"{activation}_{trial}", "task": r.task, "task_name": r.task_name,
                         "mean_abs_angle": r.mean_abs_angle, "sd_abs_angle": r.sd_abs_angle, "kruskal_p": p}
                        for r in rows.itertuples()]
        tasks = part.drop_duplicates("task").sort_values("task")
        ax.set_xticks(tasks["task"], tasks["task_name"], rotation=45, ha="right", fontsize=6)
        ax.set_ylabel("mean |angle| per sequence (degrees)", fontsize=8)
        ax.set_title(METHOD_NAMES.get(method, method), fontsize=9)
        ax.legend(fontsize=6, frameon=False)
    fig.tight_layout()
    return fig, pd.DataFrame(numbers, columns=columns)


def fig_task_interpretability(table: pd.DataFrame) -> tuple[plt.Figure, pd.DataFrame]:
    """Each task's interpretability AUROC against its own motifs, raw (grey) and corrected (blue), a panel per model
    and method (billboard only: ENCODE peaks have no ground truth)."""
    columns = ["panel", "task", "task_name", "kind", "auroc"]
    if table.empty:
        return message_figure("no ground truth in this run's dataset (the billboard has one)"), \
            pd.DataFrame(columns=columns)
    panels = list(dict.fromkeys(zip(table["activation"], table["trial"], table["method"])))
    fig, axes = plt.subplots(1, len(panels), figsize=(0.5 * table["task"].nunique() + 2.5, 3) if len(panels) == 1
                             else (3.5 * len(panels), 3), squeeze=False, sharey=True)
    numbers = []
    for ax, (activation, trial, method) in zip(axes[0], panels):
        rows = table[(table["activation"] == activation) & (table["trial"] == trial)
                     & (table["method"] == method)].sort_values("task")
        for k, kind in enumerate(("raw", "corrected")):
            ax.bar(rows["task"] - 0.2 + 0.4 * k, rows[f"auroc_{kind}"], 0.4, color=KIND_COLORS[kind], label=kind)
            numbers += [{"panel": f"{activation}_{trial}/{method}", "task": r.task, "task_name": r.task_name,
                         "kind": kind, "auroc": getattr(r, f"auroc_{kind}")} for r in rows.itertuples()]
        ax.set_xticks(rows["task"], rows["task_name"], rotation=45, ha="right", fontsize=6)
        ax.set_ylim(0.5, 1.0)
        ax.set_title(f"{ACTIVATION_LABELS.get(activation, activation)} {trial}, {METHOD_NAMES.get(method, method)}",
                     fontsize=8)
    axes[0, 0].set_ylabel("interpretability AUROC (task's motifs)", fontsize=8)
    axes[0, -1].legend(fontsize=7, frameon=False)
    fig.tight_layout()
    return fig, pd.DataFrame(numbers, columns=columns)
