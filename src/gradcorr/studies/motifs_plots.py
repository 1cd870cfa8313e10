"""Figures of the TF-MoDISco stage: per pattern, its CWM and PWM logos beside the JASPAR motif TOMTOM matched.

`fig_pattern_logos` returns a matplotlib Figure; the stage saves it with `plotting.save_figure`.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import logomaker  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from gradcorr.motifs import trim_bounds  # noqa: E402
from gradcorr.studies.plotting import information_matrix, logo  # noqa: E402

ROW_HEIGHT = 2.2  # inches per pattern
FIG_WIDTH = 12.0


def _match_label(pattern: dict) -> str:
    """'GABPA (MA0062.4), q = 0.0012', or 'no match'."""
    if pattern.get("match_name") is None:
        return "no match"
    label = str(pattern["match_name"])
    if pattern.get("match_id"):
        label += f" ({pattern['match_id']})"
    if pattern.get("match_q") is not None:
        label += f", q = {float(pattern['match_q']):.2g}"
    return label


def fig_pattern_logos(patterns: list[dict], title: str) -> plt.Figure:
    """One row per pattern: its CWM logo, its PWM (information) logo, and the matched JASPAR motif's information
    logo (or the words "no match" when it has none), trimmed with trim_bounds; the row label says the pattern
    name, its seqlet count and the match's name and q-value. An empty list gives a one-panel figure that says no
    pattern was found (the stage must not fail when modisco finds nothing)."""
    if not patterns:
        fig, ax = plt.subplots(figsize=(FIG_WIDTH, ROW_HEIGHT), constrained_layout=True)
        ax.text(0.5, 0.5, "no pattern found by TF-MoDISco", ha="center", va="center", fontsize=11,
                transform=ax.transAxes)
        ax.axis("off")
        fig.suptitle(title, fontsize=10)
        return fig
    fig, axes = plt.subplots(len(patterns), 3, figsize=(FIG_WIDTH, ROW_HEIGHT * len(patterns)), squeeze=False,
                             constrained_layout=True)
    for row, pattern in zip(axes, patterns):
        cwm = np.asarray(pattern["cwm"], dtype=float)
        lo, hi = trim_bounds(cwm)
        logo(row[0], cwm[lo:hi].T, lo)
        row[0].set_title(f"{pattern['pattern']} ({pattern['n_seqlets']} seqlets)\nmatch: {_match_label(pattern)}",
                         loc="left", fontsize=8)
        row[0].set_ylabel("CWM", fontsize=8)
        pwm = information_matrix(np.asarray(pattern["ppm"], dtype=float)[lo:hi])
        pwm.index = np.arange(lo, hi)
        logomaker.Logo(pwm, ax=row[1], color_scheme="classic")
        row[1].set(ylim=(0, 2))
        row[1].set_ylabel("bits", fontsize=8)
        row[1].set_title(f"PWM, positions {lo}-{hi - 1}", loc="left", fontsize=8)
        for ax in row[:2]:
            ax.set_xlim(lo - 0.5, hi - 0.5)
        if pattern.get("match_ppm") is None or pattern.get("match_name") is None:
            row[2].text(0.5, 0.5, "no match", ha="center", va="center", fontsize=10, transform=row[2].transAxes)
            row[2].axis("off")
        else:
            logomaker.Logo(information_matrix(np.asarray(pattern["match_ppm"], dtype=float)), ax=row[2],
                           color_scheme="classic")
            row[2].set(ylim=(0, 2))
            row[2].set_ylabel("bits", fontsize=8)
            row[2].set_title(f"JASPAR {_match_label(pattern)}", loc="left", fontsize=8)
        for ax in row:
            ax.tick_params(labelsize=7)
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    fig.suptitle(title, fontsize=10)
    return fig
