"""Multi-task billboard dataset: several binary tasks (cell types) over one set of sequences, with a known
ground truth per task, for a Basset-style multi-task study.

A task is a tuple of JASPAR IDs, its motif set; tasks may share motifs, so one sequence can be positive for
several tasks. The core pool is the union of the tasks' motifs, in order of first appearance. Each sequence
is built as in the billboard (``synthetic``):

- a motif count drawn from ``counts`` / ``probs`` (default ``synthetic.MOTIF_COUNTS`` /
  ``MOTIF_COUNT_PROBS``), redrawn with its motifs while their total width does not fit ``length``;
- each motif slot is, with probability ``core_probability``, a core motif (uniform over the core pool,
  either strand with probability 1/2), and otherwise a background motif: uniform over ``n_background``
  CORE vertebrate JASPAR motifs (drawn with ``synthetic.load_motif_pools``, so never a core motif in any
  version) and their reverse complements;
- the motifs sit left to right without overlap, the gaps between them drawn as in the billboard;
- the sequence model M (4, L) holds each motif's PWM in its columns and 0.25 elsewhere; x is sampled
  from M with ``synthetic.sample_one_hot``.

Label y[i, t] = 1 iff sequence i holds at least one motif of task t's set (either strand). ``motif[i, j]`` is
the core-pool index of the core motif covering position j (-1 under a background motif or uniform
background), so the ground truth of task t is ``task_model(model, motif, task_motifs[t])``: M with every
column outside task t's motifs set to 0.25, which ``metrics.interpretability_auc`` then scores against
task t's motifs only.

Sequences are i.i.d., so the splits are cut in order of drawing (no shuffle). All randomness comes from
one ``numpy.random.default_rng(seed)``, so one seed always gives the same arrays (and, through
:func:`gradcorr.data.io.write_arrays`, the same bytes).
"""

from __future__ import annotations

import json
import numbers
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from gradcorr.data.io import SPLITS, read_attrs, read_split
from gradcorr.data.leakage import _check_whole
from gradcorr.data.synthetic import (
    CORE_MOTIF_IDS,
    MOTIF_COUNT_PROBS,
    MOTIF_COUNTS,
    _count_cdf,
    _motif_pwm,
    background_ids,
    load_motif_pools,
    sample_one_hot,
    split_sizes,
)

__all__ = ["DEFAULT_TASKS", "MULTITASK_KEYS", "core_pool", "generate_multitask", "multitask_attrs",
           "read_multitask", "read_tasks", "task_model"]

# One task per core motif of the billboard, plus two tasks of pairs that share CEBPB (MA0466.2) with each
# other and their motifs with the single-motif tasks.
DEFAULT_TASKS: tuple[tuple[str, ...], ...] = (*((m,) for m in CORE_MOTIF_IDS), ("MA0079.3", "MA0466.2"),
                                              ("MA0466.2", "MA0058.3"))
MULTITASK_KEYS: tuple[str, ...] = ("x", "y", "model", "motif")

_MULTITASK_SETTINGS: dict[str, Any] = {
    "n": 20000, "length": 200, "tasks": DEFAULT_TASKS, "core_probability": 0.35, "n_background": 50,
    "release": "JASPAR2016", "counts": MOTIF_COUNTS, "probs": MOTIF_COUNT_PROBS, "split": (0.7, 0.1, 0.2),
    "seed": 0}


# --------------------------------------------------------------------------- tasks


def core_pool(tasks: Sequence[Sequence[str]]) -> tuple[tuple[str, ...], tuple[tuple[int, ...], ...]]:
    """The core pool of ``tasks`` and each task's motifs as indices into it.

    Parameters
    ----------
    tasks : sequence of sequences of str
        Each task's JASPAR IDs, e.g. ``(("MA0079.3",), ("MA0079.3", "MA0466.2"))``.

    Returns
    -------
    core_ids : tuple of str
        The union of the tasks' IDs, in order of first appearance (the index ``motif`` arrays hold).
    task_motifs : tuple of tuples of int
        Per task, the core-pool indices of its motifs, in the task's order.

    Raises
    ------
    ValueError
        For no tasks, a task that is a bare string, empty or names a motif twice, two tasks with the same
        motif set (their labels would be identical), or more than 127 core motifs (``motif`` is int8).
    """
    if isinstance(tasks, str) or not isinstance(tasks, Sequence) or len(tasks) == 0:
        raise ValueError(f"tasks must be a non-empty sequence of tasks, each a tuple of JASPAR IDs, got {tasks!r}")
    ids: list[str] = []
    index: dict[str, int] = {}
    first: dict[frozenset[str], int] = {}
    task_motifs = []
    for t, task in enumerate(tasks):
        if isinstance(task, str) or not isinstance(task, Sequence):
            raise ValueError(f"task {t} must be a tuple of JASPAR IDs, got {task!r} (one motif: ({task!r},))")
        if len(task) == 0:
            raise ValueError(f"task {t} is empty: every task needs at least one JASPAR ID")
        if not all(isinstance(m, str) and m for m in task):
            raise ValueError(f"task {t} must hold JASPAR IDs as non-empty strings, got {task!r}")
        if len(set(task)) != len(task):
            raise ValueError(f"task {t} ({'+'.join(task)}) names a motif twice")
        key = frozenset(task)
        if key in first:
            raise ValueError(f"tasks {first[key]} and {t} have the same motif set ({'+'.join(task)}), so the same "
                             f"labels: drop one")
        first[key] = t
        for m in task:
            if m not in index:
                index[m] = len(ids)
                ids.append(m)
        task_motifs.append(tuple(index[m] for m in task))
    if len(ids) > 127:
        raise ValueError(f"the tasks name {len(ids)} distinct motifs; at most 127 fit the int8 motif array")
    return tuple(ids), tuple(task_motifs)


def _check_multitask_billboard(n: int, length: int, tasks: Sequence[Sequence[str]], core_probability: float,
                     n_background: int, release: str, counts: Sequence[int], probs: Sequence[float],
                     split: Sequence[float]) -> tuple[tuple[str, ...], tuple[tuple[int, ...], ...]]:
    """ValueError naming the first bad argument of generate_multitask; ``core_pool(tasks)`` otherwise."""
    _check_whole("n", n, 1)
    _check_whole("length", length, 1)
    _check_whole("n_background", n_background, 0)
    if isinstance(core_probability, bool) or not isinstance(core_probability, numbers.Real) \
            or not 0 < core_probability <= 1:
        raise ValueError(f"core_probability must be in (0, 1], got {core_probability!r}")
    if core_probability < 1 and n_background == 0:
        raise ValueError(f"core_probability {core_probability} < 1 draws background motifs: set n_background > 0 "
                         f"or core_probability = 1")
    _count_cdf(counts, probs)
    split_sizes(n, split)
    core_ids, task_motifs = core_pool(tasks)
    for t, task in enumerate(tasks):
        for m in task:
            try:
                _motif_pwm(release, m)
            except ValueError as err:
                raise ValueError(f"task {t} ({'+'.join(task)}): {err}") from None
    return core_ids, task_motifs


# --------------------------------------------------------------------------- sampling


def _draw_layout(rng: np.random.Generator, n: int, length: int, widths: np.ndarray, n_core: int,
                 core_probability: float, counts: np.ndarray, cdf: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(slots, starts), each (n, max count) int64: every sequence's pool indices left to right (-1 past its
    count) and their start positions, drawn for all sequences at once.

    Pool indices below ``n_core`` are core motifs (strands interleaved), the rest background. Rows whose
    motifs do not fit ``length`` are redrawn (count and motifs), then rows whose rounded gaps miss the free
    length are redrawn (gaps only), as the billboard's ``_place_motifs_checked`` does one sequence at a time.
    """
    width = int(counts.max())
    last = len(counts) - 1
    slots = np.full((n, width), -1, dtype=np.int64)
    todo = np.arange(n)
    while todo.size:
        m = todo.size
        k = counts[np.minimum(np.searchsorted(cdf, rng.random(m), side="right"), last)]
        core = rng.random((m, width)) < core_probability
        core_j = rng.integers(0, n_core, size=(m, width))
        back_j = rng.integers(n_core, len(widths), size=(m, width)) if len(widths) > n_core else core_j
        j = np.where(np.arange(width) < k[:, None], np.where(core, core_j, back_j), -1)
        fits = np.where(j >= 0, widths[j], 0).sum(axis=1) < length
        slots[todo[fits]] = j[fits]
        todo = todo[~fits]

    w = np.where(slots >= 0, widths[slots], 0)
    free = length - w.sum(axis=1)
    k = (slots >= 0).sum(axis=1)
    gaps = np.zeros((n, width + 1), dtype=np.int64)
    todo = np.arange(n)
    while todo.size:
        g = rng.uniform(0.0, 2.0, size=(todo.size, width + 1)) * (np.arange(width + 1) <= k[todo, None])
        gsum = g.sum(axis=1)
        scaled = np.rint(g * (free[todo] / np.where(gsum > 0, gsum, 1.0))[:, None]).astype(np.int64)
        done = (gsum > 0) & (scaled.sum(axis=1) == free[todo])
        gaps[todo[done]] = scaled[done]
        todo = todo[~done]
    starts = np.cumsum(gaps[:, :width], axis=1) + np.cumsum(w, axis=1) - w
    return slots, starts


def _fill_models(pool: Sequence[np.ndarray], widths: np.ndarray, slots: np.ndarray, starts: np.ndarray,
                 n_core: int, length: int) -> tuple[np.ndarray, np.ndarray]:
    """(model (n, 4, L) float32, motif (n, L) int8) from a layout: PWM columns and core-pool indices
    (pool index // 2, strands being interleaved) where the motifs sit, 0.25 and -1 elsewhere."""
    n = len(slots)
    span = int(widths.max())
    padded = np.full((len(pool), 4, span), 0.25, dtype=np.float32)
    for j, pwm in enumerate(pool):
        padded[j, :, :pwm.shape[1]] = pwm
    rows, cols = np.nonzero(slots >= 0)
    j, start = slots[rows, cols], starts[rows, cols]
    offset = np.arange(span)
    inside = offset[None, :] < widths[j][:, None]  # (motifs, span): the columns each motif covers
    row = np.broadcast_to(rows[:, None], inside.shape)[inside]
    pool_j = np.broadcast_to(j[:, None], inside.shape)[inside]
    col = np.broadcast_to(offset, inside.shape)[inside]
    pos = (start[:, None] + offset)[inside]

    model = np.full((n, 4, length), 0.25, dtype=np.float32)
    model[row, :, pos] = padded[pool_j, :, col]
    motif = np.full((n, length), -1, dtype=np.int8)
    core = pool_j < n_core
    motif[row[core], pos[core]] = pool_j[core] // 2
    return model, motif


def _split_by_task(arrays: dict[str, np.ndarray], split: Sequence[float], task_names: Sequence[str],
                   core_probability: float) -> dict[str, np.ndarray]:
    """``arrays`` cut in order into train/valid/test (keys f"{key}_{split}"); ValueError naming the task and
    the split when a split given a share (or any sequences) holds no positives or no negatives of a task."""
    n = len(arrays["y"])
    bounds = np.cumsum((0,) + split_sizes(n, split))
    data: dict[str, np.ndarray] = {}
    for name, fraction, lo, hi in zip(SPLITS, split, bounds[:-1], bounds[1:]):
        if fraction > 0 or hi > lo:
            positives = arrays["y"][lo:hi].sum(axis=0).astype(int)
            for t, p in enumerate(positives):
                if p == 0 or p == hi - lo:
                    lacks, change = ("positives", "raise") if p == 0 else ("negatives", "lower")
                    raise ValueError(
                        f"task {t} ({task_names[t]}) has no {lacks} in the {name} split ({hi - lo} sequences, {p} "
                        f"positive): every task needs both in every split; raise n, {change} core_probability "
                        f"{core_probability} or change split {tuple(split)}")
        data.update({f"{key}_{name}": values[lo:hi] for key, values in arrays.items()})
    return data


# --------------------------------------------------------------------------- dataset


def generate_multitask(
    n: int = 20000,
    length: int = 200,
    tasks: Sequence[Sequence[str]] = DEFAULT_TASKS,
    core_probability: float = 0.35,
    n_background: int = 50,
    release: str = "JASPAR2016",
    counts: Sequence[int] = MOTIF_COUNTS,
    probs: Sequence[float] = MOTIF_COUNT_PROBS,
    split: Sequence[float] = (0.7, 0.1, 0.2),
    seed: int = 0,
) -> dict[str, np.ndarray]:
    """Generate the multi-task billboard (see the module docstring), split into train/valid/test.

    Order of random draws: background motifs, motif counts and identities (with redraws), gaps (with
    redraws), one-hot letters. Vectorised over sequences: 15,000 of length 200 take about a second.

    Parameters
    ----------
    n : int, default 20000
        Sequences in all.
    length : int, default 200
        Sequence length L.
    tasks : sequence of sequences of str, default DEFAULT_TASKS
        Each task's motif set, as JASPAR IDs (``core_pool``).
    core_probability : float, default 0.35
        Chance that a motif slot holds a core motif, in (0, 1]. The default gives the single-motif default
        tasks about 24% positives and the pair tasks about 43%.
    n_background : int, default 50
        Background JASPAR motifs (each with its reverse complement); 0 only with core_probability 1.
    release : str, default "JASPAR2016"
        The pyjaspar release the PWMs come from.
    counts, probs : sequences, default synthetic.MOTIF_COUNTS, MOTIF_COUNT_PROBS
        Motifs per sequence and their probabilities.
    split : 3 floats, default (0.7, 0.1, 0.2)
        Train/valid/test fractions (``synthetic.split_sizes``).
    seed : int, default 0

    Returns
    -------
    dict of str to numpy.ndarray
        For * in train, valid, test: x_* (N, 4, L) float32 one-hot (rows ACGT), y_* (N, T) float32,
        model_* (N, 4, L) float32 sequence model, motif_* (N, L) int8 core-pool index (-1: no core motif).

    Raises
    ------
    ValueError
        For a bad argument, naming it (an unknown JASPAR ID names its task); when the motifs never fit
        ``length``; when a split given a share (or any sequences) lacks positives or negatives of a task.
    """
    core_ids, task_motifs = _check_multitask_billboard(n, length, tasks, core_probability, n_background, release,
                                                       counts, probs, split)
    c, cdf = _count_cdf(counts, probs)
    rng = np.random.default_rng(seed)
    _, pool, _ = load_motif_pools(core_ids, n_background, release, rng)
    n_core = 2 * len(core_ids)
    widths = np.array([p.shape[1] for p in pool])
    narrowest = int(widths.min() if core_probability < 1 else widths[:n_core].min())
    fewest = int(c[np.asarray(probs) > 0].min())
    if fewest * narrowest >= length:
        raise ValueError(f"length {length} is too short: {fewest} motifs (the fewest counts allows) of the "
                         f"narrowest width {narrowest} never fit; raise length")

    slots, starts = _draw_layout(rng, n, length, widths, n_core, core_probability, c, cdf)
    model, motif = _fill_models(pool, widths, slots, starts, n_core, length)
    x = sample_one_hot(model, rng)

    present = np.zeros((n, len(core_ids)), dtype=bool)
    rows, cols = np.nonzero((slots >= 0) & (slots < n_core))
    present[rows, slots[rows, cols] // 2] = True
    y = np.stack([present[:, list(idx)].any(axis=1) for idx in task_motifs], axis=1).astype(np.float32)
    names = ["+".join(task) for task in tasks]
    return _split_by_task({"x": x, "y": y, "model": model, "motif": motif}, split, names, core_probability)


def multitask_attrs(**settings: Any) -> dict[str, Any]:
    """Root attributes of a multi-task billboard file (`io.write_arrays`): every setting, the motifs drawn and
    what the file holds.

    Parameters
    ----------
    **settings
        The keyword arguments given to generate_multitask; the others take its defaults.

    Returns
    -------
    dict
        Every setting (tuples as lists; tasks as strings "ID+ID"), task_motifs (per task, its core-pool
        indices), core_ids, background_ids (the forward IDs generate_multitask draws with this seed) and
        layout (a line on the keys).

    Raises
    ------
    ValueError
        For an unknown setting or a bad value (as generate_multitask).
    """
    unknown = sorted(set(settings) - set(_MULTITASK_SETTINGS))
    if unknown:
        raise ValueError(f"unknown setting(s) {', '.join(map(repr, unknown))}; generate_multitask takes "
                         f"{sorted(_MULTITASK_SETTINGS)}")
    config = {**_MULTITASK_SETTINGS, **settings}
    core_ids, task_motifs = _check_multitask_billboard(
        *(config[k] for k in ("n", "length", "tasks", "core_probability", "n_background", "release", "counts",
                              "probs", "split")))
    _, _, names = load_motif_pools(core_ids, config["n_background"], config["release"],
                                   np.random.default_rng(config["seed"]))
    layout = ("x_{split} (N, 4, L) float32 one-hot, rows ACGT; y_{split} (N, T) float32, one column per task; "
              "model_{split} (N, 4, L) float32 sequence model; motif_{split} (N, L) int8 core-pool index of the "
              "core motif at each position, -1 for none; split in train, valid, test")
    return {**{k: list(v) if isinstance(v, tuple) else v for k, v in config.items()},
            "tasks": ["+".join(task) for task in config["tasks"]], "task_motifs": [list(i) for i in task_motifs],
            "core_ids": list(core_ids), "background_ids": background_ids(names, len(core_ids)), "layout": layout}


# --------------------------------------------------------------------------- ground truth


def task_model(model: np.ndarray, motif: np.ndarray, task_motifs: Sequence[int]) -> np.ndarray:
    """The ground-truth sequence model of one task: ``model`` with every column not covered by one of the
    task's motifs set to uniform 0.25, so that attribution metrics score a map against that task's motifs.

    Parameters
    ----------
    model : numpy.ndarray, shape (..., 4, L)
        Sequence models (``model_{split}``).
    motif : numpy.ndarray, shape (..., L)
        Core-pool indices (``motif_{split}``).
    task_motifs : sequence of int
        The task's core-pool indices (``core_pool(tasks)[1][t]`` or the ``task_motifs`` attribute).

    Returns
    -------
    numpy.ndarray, shape (..., 4, L), dtype of ``model``

    Raises
    ------
    ValueError
        When the shapes do not match or task_motifs is not a non-empty list of indices >= 0.
    """
    model = np.asarray(model)
    motif = np.asarray(motif)
    if model.ndim < 2 or model.shape[-2] != 4 or motif.shape != model.shape[:-2] + model.shape[-1:]:
        raise ValueError(f"model (..., 4, L) and motif (..., L) must match, got {model.shape} and {motif.shape}")
    idx = np.asarray(task_motifs)
    if idx.ndim != 1 or idx.size == 0 or not np.issubdtype(idx.dtype, np.integer) or (idx < 0).any():
        raise ValueError(f"task_motifs must be a non-empty list of core-pool indices >= 0, got {task_motifs!r}")
    keep = np.isin(motif, idx)
    return np.where(keep[..., None, :], model, np.asarray(0.25, dtype=model.dtype))


# --------------------------------------------------------------------------- files


def read_multitask(path: str | Path, split: str) -> dict[str, np.ndarray]:
    """The arrays of one split from a multi-task billboard file.

    Parameters
    ----------
    path : str or Path
    split : {"train", "valid", "test"}

    Returns
    -------
    dict of str to numpy.ndarray
        x, y, model, motif (see generate_multitask).

    Raises
    ------
    ValueError
        For an unknown split, or a file HDF5 cannot read.
    FileNotFoundError
        When ``path`` does not exist.
    KeyError
        Naming ``path`` and the first missing dataset.
    """
    return read_split(path, split, MULTITASK_KEYS)


def read_tasks(path: str | Path) -> tuple[list[str], list[tuple[int, ...]]]:
    """The task names and each task's core-pool indices stored in a multi-task billboard file's attributes.

    Parameters
    ----------
    path : str or Path
        A file written with ``multitask_attrs(...)`` as its attributes.

    Returns
    -------
    names : list of str
        Per task, its JASPAR IDs joined by "+" (the ``tasks`` attribute).
    task_motifs : list of tuples of int
        Per task, the indices ``motif`` arrays hold for its motifs (pass one to ``task_model``).

    Raises
    ------
    ValueError
        When the file lacks the ``tasks`` or ``task_motifs`` attribute, or they disagree in length.
    """
    attrs = read_attrs(path)
    missing = [k for k in ("tasks", "task_motifs") if k not in attrs]
    if missing:
        raise ValueError(f"{path}: no attribute {missing[0]!r}; not written with multitask_attrs")
    names, task_motifs = json.loads(attrs["tasks"]), json.loads(attrs["task_motifs"])
    if len(names) != len(task_motifs):
        raise ValueError(f"{path}: {len(names)} tasks but {len(task_motifs)} task_motifs")
    return [str(n) for n in names], [tuple(int(i) for i in idx) for idx in task_motifs]
