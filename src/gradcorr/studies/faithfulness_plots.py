"""The faithfulness study's figures (`studies.faithfulness`): the paper's Table 1 as bars, raw and corrected beside
the paper's number, and the same measure on DNA. Each function takes a table of the study and returns a
matplotlib Figure and the numbers it draws."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from gradcorr.studies.faithfulness import SETTINGS, TABLE_REFERENCE, TABLE_SCORE, by_kind  # noqa: E402
from gradcorr.studies.plotting import KIND_COLORS, METHOD_NAMES, message_figure, model_type_label  # noqa: E402

NUMBER_COLUMNS = ["panel", "group", "method", "kind", "precision", "sd"]


def _nothing(message: str) -> tuple[plt.Figure, pd.DataFrame]:
    """A figure that says why there is nothing to draw, and no numbers."""
    return message_figure(message), pd.DataFrame(columns=NUMBER_COLUMNS)


def _bars(ax: plt.Axes, frame: pd.DataFrame, groups: list[str], methods: list[str], group_column: str,
          paper: pd.DataFrame | None = None) -> list[dict]:
    """Grouped bars: per group (x) and method (block), raw and corrected side by side; the paper's numbers as
    black ticks. Returns the numbers drawn."""
    numbers, width = [], 0.8 / (2 * len(methods))
    for g, group in enumerate(groups):
        for m, method in enumerate(methods):
            for c, kind in enumerate(("raw", "corrected")):
                row = frame[(frame[group_column] == group) & (frame["method"] == method)]
                if row.empty:
                    continue
                value, sd = float(row[f"precision_{kind}"].iloc[0]), float(row[f"precision_sd_{kind}"].iloc[0])
                x = g - 0.4 + width * (2 * m + c + 0.5)
                ax.bar(x, value, width, yerr=np.nan_to_num(sd), color=KIND_COLORS[kind],
                       alpha=0.4 + 0.6 * (m + 1) / len(methods), error_kw={"lw": 0.5})
                numbers.append({"group": group, "method": method, "kind": kind, "precision": value, "sd": sd})
            if paper is not None:
                theirs = paper[(paper[group_column] == group) & (paper["method"] == method)]["paper"].dropna()
                if len(theirs):
                    x = g - 0.4 + width * (2 * m + 1)
                    ax.plot([x - width, x + width], [theirs.iloc[0]] * 2, color="black", lw=1.5)
    ax.set_xticks(range(len(groups)), [g.replace("_", " ") for g in groups], rotation=30, ha="right", fontsize=7)
    ax.set(ylim=(0, 1.05))
    return numbers


def fig_table1(table: pd.DataFrame) -> tuple[plt.Figure, pd.DataFrame]:
    """One panel per architecture, output explained and task: Precision@k against the model's zeros ablation per
    setting, each method raw (grey) and corrected (blue), the paper's Table 1 as black ticks where it has a
    number."""
    if table.empty:
        return _nothing("no protein models in this run (faithfulness.tasks), or none passed verification")
    rows = list(dict.fromkeys(zip(table["net"], table["output"])))
    tasks, methods = list(dict.fromkeys(table["task"])), list(dict.fromkeys(table["method"]))
    fig, axes = plt.subplots(len(rows), len(tasks), figsize=(4.2 * len(tasks), 3.2 * len(rows)), squeeze=False)
    numbers = []
    for r, (net, output) in enumerate(rows):
        for c, task in enumerate(tasks):
            part = table[(table["net"] == net) & (table["output"] == output) & (table["task"] == task)]
            settings = [s for s in SETTINGS if s in set(part["setting"])]
            drawn = _bars(axes[r, c], part, settings, methods, "setting", part)
            numbers += [{"panel": f"{net}/{output}/{task}", **n} for n in drawn]
            axes[r, c].set_title(f"{net.replace('_', ' ')}, {output}, {task}", fontsize=9)
            if c == 0:
                axes[r, c].set_ylabel(f"Precision@k vs {TABLE_REFERENCE.replace('_', ' ')}\n({TABLE_SCORE} score)",
                                      fontsize=8)
    handles = [plt.Rectangle((0, 0), 1, 1, color=KIND_COLORS[k]) for k in KIND_COLORS]
    handles.append(plt.Line2D([], [], color="black"))
    fig.legend(handles, ["raw", "corrected", "paper (SeqCNN)"], loc="upper right", fontsize=8)
    fig.suptitle("Faithfulness by regularization; methods left to right: "
                 + ", ".join(METHOD_NAMES.get(m, m) for m in methods), fontsize=9)
    fig.tight_layout()
    return fig, pd.DataFrame(numbers, columns=NUMBER_COLUMNS)


def fig_dna(dna: pd.DataFrame) -> tuple[plt.Figure, pd.DataFrame]:
    """DNA: per synthetic model type, Precision@k of each method raw and corrected (maps of the logit, or of the
    only output scored) against the model's zeros ablation, its uniform ablation and the ground-truth motif
    positions (one panel each)."""
    references = [r for r in (TABLE_REFERENCE, "ablation_uniform", "signal") if r in set(dna.get("reference", []))]
    if dna.empty or not references:
        return _nothing("no DNA models in this run (faithfulness.dna)")
    outputs = list(dict.fromkeys(dna["output"].dropna()))
    output = "logit" if "logit" in outputs else outputs[0]
    chosen = dna[(dna["score"] == TABLE_SCORE) & dna["kind"].isin(KIND_COLORS) & (dna["output"] == output)]
    wide = by_kind(chosen, ["net", "method", "reference"], ["precision", "precision_sd"])
    nets, methods = list(dict.fromkeys(chosen["net"])), list(dict.fromkeys(chosen["method"]))
    fig, axes = plt.subplots(1, len(references), figsize=(4.2 * len(references), 3.2), squeeze=False)
    numbers = []
    for ax, reference in zip(axes[0], references):
        drawn = _bars(ax, wide[wide["reference"] == reference], nets, methods, "net")
        numbers += [{"panel": reference, **n} for n in drawn]
        ax.set_xticks(range(len(nets)), [model_type_label(n) for n in nets], rotation=30, ha="right", fontsize=7)
        ax.set_title(f"DNA ({output}), vs {reference.replace('_', ' ')}", fontsize=9)
    axes[0, 0].set_ylabel(f"Precision@k ({TABLE_SCORE} score)", fontsize=8)
    fig.tight_layout()
    return fig, pd.DataFrame(numbers, columns=NUMBER_COLUMNS)
