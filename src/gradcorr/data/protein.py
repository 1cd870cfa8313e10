"""Synthetic protein property tasks with known signal, noise and distractor positions (Adebayo et al., section 4).

Three binary tasks, one per secondary-structure property, each defined by a set of residues:
helix (V, I, Y, F, W, L), turn (N, P, G, S) and sheet (E, M, A, L). A sequence is positive ("high
fraction") iff it holds a run of at least ``min_run`` consecutive residues of the task's set; the
labelling function is :func:`longest_set_run` ``>= min_run``. Every position of a sequence is one of:

- signal: in positives only, one run of r set residues, r uniform on {min_run, ..., max_run}, each
  residue uniform over the set, at a random start;
- distractor: in every sequence (positive or negative), ``distractor_length`` residues alternating
  set / non-set (set at even offsets), at a random start;
- noise: every other position, a residue uniform over the alphabet's non-set residues (never the gap).

Choices the paper leaves open, made here:

- the run length: the paper says "6 or greater" (and once "greater than 6"); the label here is a run of
  ``>= min_run`` (default 6) and the signal run is 6 to 10 residues long by default (no upper bound is given);
- the distractor is one fixed pattern per dataset: its letters are drawn once (set letters uniform over
  the set, non-set letters uniform over the non-set residues) and are the same in every sequence; only its
  start changes, drawn uniformly over the sequence for every sequence, so its position carries no label
  information whenever ``2 * max_run + distractor_length < length`` (the defaults). In shorter sequences
  a positive whose signal does not fit beside the distractor redraws the distractor's start;
- the signal and the distractor never overlap and at least one noise residue separates them, so no run
  of set residues other than the signal reaches ``min_run`` (the distractor's runs have length 1);
- the signal start is uniform over the starts that respect that separation;
- the classes: exactly round(positive_fraction * n) positives, shuffled into train/valid/test as the
  billboard data are (``data.synthetic.split_sizes``);
- the alphabet: the 20 standard amino acids (the paper counts 22 with the rare U and O); the
  ``protein_gap`` alphabet adds the alignment gap "-" as a 21st letter (section 7), which the tasks never
  emit, so that models for aligned sequences can be checked on the same data.

Arrays follow the package's layout (``data.io.read_xy``): for each split, ``x_{split}`` (N, A, L) float32
one-hot with rows in alphabet order, ``y_{split}`` (N, 1) float32, ``signal_{split}`` and
``distractor_{split}`` (N, L) bool masks. All randomness comes from one ``numpy.random.Generator`` seeded
once, so one seed always gives the same arrays (and, through :func:`write_protein_task`, the same bytes).
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from gradcorr.data.io import read_split, write_arrays
from gradcorr.data.synthetic import split_shuffled, split_sizes

__all__ = ["AMINO_ACIDS", "GAP", "PROTEIN_ALPHABETS", "PROTEIN_TASKS", "ablate_distractor", "decode_protein",
           "encode_protein", "generate_protein_task", "longest_set_run", "protein_task_attrs", "read_protein_task",
           "write_protein_task"]

AMINO_ACIDS = "ACDEFGHIKLMNPQRSTVWY"
GAP = "-"
PROTEIN_ALPHABETS: dict[str, str] = {"protein": AMINO_ACIDS, "protein_gap": AMINO_ACIDS + GAP}
PROTEIN_TASKS: dict[str, str] = {"helix": "VIYFWL", "turn": "NPGS", "sheet": "EMAL"}

_EMPTY = "."  # what decode_protein writes for an all-zero position
_SETTINGS: dict[str, Any] = {"length": 40, "min_run": 6, "max_run": 10, "positive_fraction": 0.5,
                             "distractor_length": 6, "alphabet": AMINO_ACIDS, "split": (0.7, 0.1, 0.2), "seed": 0}


# --------------------------------------------------------------------------- alphabets and encoding


def _check_alphabet(alphabet: str) -> str:
    """`alphabet` if it is a string of distinct letters, none of them '.'; ValueError otherwise."""
    if not isinstance(alphabet, str) or not alphabet:
        raise ValueError(f"alphabet must be a non-empty string of letters, got {alphabet!r}")
    if len(set(alphabet)) != len(alphabet):
        repeated = sorted({c for c in alphabet if alphabet.count(c) > 1})
        raise ValueError(f"alphabet {alphabet!r} repeats {''.join(repeated)!r}")
    if _EMPTY in alphabet:
        raise ValueError(f"alphabet {alphabet!r} must not hold {_EMPTY!r} (it marks empty positions)")
    return alphabet


def _task_codes(task: str, alphabet: str) -> tuple[np.ndarray, np.ndarray]:
    """Indices into `alphabet` of the task's set residues and of the noise (non-set, non-gap) residues."""
    if task not in PROTEIN_TASKS:
        raise ValueError(f"unknown task {task!r}; choose one of {sorted(PROTEIN_TASKS)}")
    alphabet = _check_alphabet(alphabet)
    residues = PROTEIN_TASKS[task]
    missing = [c for c in residues if c not in alphabet]
    if missing:
        raise ValueError(f"alphabet {alphabet!r} lacks {''.join(missing)!r} of the {task} residues {residues!r}")
    noise = [i for i, c in enumerate(alphabet) if c not in residues and c != GAP]
    if not noise:
        raise ValueError(f"alphabet {alphabet!r} holds no residue outside the {task} residues {residues!r} "
                         "(and the gap) to use as noise")
    return np.array([alphabet.index(c) for c in residues]), np.array(noise)


def encode_protein(sequences: Sequence[str], alphabet: str = AMINO_ACIDS) -> np.ndarray:
    """One-hot encode equal-length sequences, rows in alphabet order.

    Letters must be in `alphabet` exactly as written (upper case for the amino acids; no lower-case
    insertions).

    Parameters
    ----------
    sequences : sequence of str, N of them, all of length L
    alphabet : str, default AMINO_ACIDS
        The A letters, one per row.

    Returns
    -------
    numpy.ndarray of float32, shape (N, A, L)

    Raises
    ------
    ValueError
        For a single string (not a sequence of them), sequences of different lengths, or a letter not in
        `alphabet` (naming the sequence's index, the position and the letter).
    """
    alphabet = _check_alphabet(alphabet)
    if isinstance(sequences, str):
        raise ValueError("sequences must be a sequence of strings, not one string")
    sequences = list(sequences)
    if not sequences:
        return np.zeros((0, len(alphabet), 0), dtype=np.float32)
    length = len(sequences[0])
    for i, s in enumerate(sequences):
        if not isinstance(s, str):
            raise ValueError(f"sequence {i} is not a string: {s!r}")
        if len(s) != length:
            raise ValueError(f"sequences must all have the same length: sequence {i} has {len(s)}, "
                             f"sequence 0 has {length}")
    points = np.frombuffer("".join(sequences).encode("utf-32-le"), dtype="<u4").reshape(len(sequences), length)
    letters = np.array([ord(c) for c in alphabet], dtype=np.uint32)
    order = np.argsort(letters)
    pos = np.minimum(np.searchsorted(letters[order], points), len(letters) - 1)
    codes = order[pos]
    bad = np.argwhere(letters[codes] != points)
    if len(bad):
        i, j = bad[0]
        raise ValueError(f"sequence {i} has {sequences[i][j]!r} at position {j}, which is not in the "
                         f"alphabet {alphabet!r}")
    return (codes[:, None, :] == np.arange(len(alphabet))[None, :, None]).astype(np.float32)


def decode_protein(x: np.ndarray, alphabet: str = AMINO_ACIDS) -> list[str]:
    """Sequences of (N, A, L) one-hot (or score) arrays: the letter of the largest row at each position.

    A position whose A entries are all zero decodes to '.'.

    Parameters
    ----------
    x : numpy.ndarray, shape (N, A, L)
    alphabet : str, default AMINO_ACIDS
        The A letters, one per row.

    Returns
    -------
    list of str, N strings of length L
    """
    alphabet = _check_alphabet(alphabet)
    x = np.asarray(x)
    if x.ndim != 3 or x.shape[1] != len(alphabet):
        raise ValueError(f"x must have shape (N, {len(alphabet)}, L) for the alphabet {alphabet!r}, got {x.shape}")
    codes = np.where(np.any(x != 0, axis=1), np.argmax(x, axis=1), len(alphabet))
    letters = np.array(list(alphabet + _EMPTY))
    return ["".join(row) for row in letters[codes]]


def longest_set_run(x: np.ndarray, task: str, alphabet: str = AMINO_ACIDS) -> np.ndarray:
    """The longest run of consecutive residues of the task's set in each one-hot sequence.

    The labelling function of the tasks is ``longest_set_run(x, task) >= min_run``.

    Parameters
    ----------
    x : numpy.ndarray, shape (N, A, L)
        One-hot sequences, rows in alphabet order.
    task : {"helix", "turn", "sheet"}
    alphabet : str, default AMINO_ACIDS

    Returns
    -------
    numpy.ndarray of int64, shape (N,)
    """
    is_set = _set_positions(x, task, alphabet)
    run = np.zeros(len(is_set), dtype=np.int64)
    best = run.copy()
    for column in is_set.T:
        run = np.where(column, run + 1, 0)
        np.maximum(best, run, out=best)
    return best


def _set_positions(x: np.ndarray, task: str, alphabet: str) -> np.ndarray:
    """(N, L) bool: where the one-hot `x` holds one of the task's set residues."""
    set_codes, _ = _task_codes(task, alphabet)
    x = np.asarray(x)
    if x.ndim != 3 or x.shape[1] != len(alphabet):
        raise ValueError(f"x must have shape (N, {len(alphabet)}, L) for the alphabet {alphabet!r}, got {x.shape}")
    return x[:, set_codes, :].sum(axis=1) > 0.5


# --------------------------------------------------------------------------- dataset


def _check_count(name: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _check_settings(task: str, n: int, length: int, min_run: int, max_run: int, positive_fraction: float,
                    distractor_length: int, alphabet: str) -> tuple[np.ndarray, np.ndarray]:
    """ValueError for any bad argument of generate_protein_task; the set and noise codes otherwise."""
    set_codes, noise_codes = _task_codes(task, alphabet)
    _check_count("n", n, 0)
    _check_count("length", length, 1)
    # a run of 1 is in every distractor, so min_run = 1 would make every sequence positive
    _check_count("min_run", min_run, 2)
    _check_count("max_run", max_run, 2)
    _check_count("distractor_length", distractor_length, 1)
    if min_run > max_run:
        raise ValueError(f"min_run ({min_run}) must be <= max_run ({max_run})")
    if max_run + distractor_length + 2 > length:
        raise ValueError(f"max_run + distractor_length + 2 = {max_run + distractor_length + 2} exceeds length "
                         f"{length}: the longest signal, the distractor and the noise between them do not fit")
    if not (isinstance(positive_fraction, numbers.Real) and 0 < positive_fraction < 1):
        raise ValueError(f"positive_fraction must be in (0, 1), got {positive_fraction!r}")
    return set_codes, noise_codes


def _distractor_pattern(rng: np.random.Generator, set_codes: np.ndarray, noise_codes: np.ndarray,
                        distractor_length: int) -> np.ndarray:
    """The dataset's distractor, alphabet indices (distractor_length,): set residues at even offsets,
    non-set residues at odd ones, each uniform over its group. The first draw of the dataset's rng."""
    set_draw = set_codes[rng.integers(0, len(set_codes), size=distractor_length)]
    noise_draw = noise_codes[rng.integers(0, len(noise_codes), size=distractor_length)]
    return np.where(np.arange(distractor_length) % 2 == 0, set_draw, noise_draw)


def _signal_starts(rng: np.random.Generator, starts: np.ndarray, runs: np.ndarray, length: int,
                   distractor_length: int) -> tuple[np.ndarray, np.ndarray]:
    """Signal starts, uniform over those that leave >= 1 residue between the signal and the distractor,
    for distractors at `starts` (redrawn, uniformly, where no signal of that run fits): (signal, distractor)."""
    starts = starts.copy()
    while True:
        left = np.maximum(starts - runs, 0)  # s + run + 1 <= d
        right = np.maximum(length - runs - starts - distractor_length, 0)  # d + D + 1 <= s <= length - run
        stuck = left + right == 0
        if not stuck.any():
            break
        starts[stuck] = rng.integers(0, length - distractor_length + 1, size=int(stuck.sum()))
    u = rng.integers(0, left + right)
    return np.where(u < left, u, starts + distractor_length + 1 + u - left), starts


def generate_protein_task(
    task: str,
    n: int,
    *,
    length: int = 40,
    min_run: int = 6,
    max_run: int = 10,
    positive_fraction: float = 0.5,
    distractor_length: int = 6,
    alphabet: str = AMINO_ACIDS,
    split: Sequence[float] = (0.7, 0.1, 0.2),
    seed: int = 0,
) -> dict[str, np.ndarray]:
    """Generate one protein task (see the module docstring), shuffled and split into train/valid/test.

    Order of random draws: the distractor pattern, noise residues (N, L), distractor starts (N,), the
    positives' run lengths, their signal starts (after any distractor redraws), their signal residues
    (N_pos, L), the shuffle.

    Parameters
    ----------
    task : {"helix", "turn", "sheet"}
    n : int
        Sequences in all; round(positive_fraction * n) of them positive.
    length : int, default 40
    min_run, max_run : int, default 6, 10
        A sequence is positive iff it holds >= min_run consecutive set residues; the signal run's length is
        uniform on {min_run, ..., max_run}. min_run >= 2 (the distractor holds runs of 1).
    positive_fraction : float, default 0.5
        In (0, 1).
    distractor_length : int, default 6
        max_run + distractor_length + 2 <= length.
    alphabet : str, default AMINO_ACIDS
        The rows of x; must hold the task's set and at least one other residue besides the gap.
    split : 3 floats, default (0.7, 0.1, 0.2)
        Train/valid/test fractions (``data.synthetic.split_sizes``).
    seed : int, default 0

    Returns
    -------
    dict of str to numpy.ndarray
        For * in train, valid, test: x_* (N, A, L) float32 one-hot, y_* (N, 1) float32 (1 positive),
        signal_* (N, L) bool, distractor_* (N, L) bool.

    Raises
    ------
    ValueError
        For a bad argument, or when a split given a share (or any sequences) holds no positives or no
        negatives.
    """
    set_codes, noise_codes = _check_settings(task, n, length, min_run, max_run, positive_fraction,
                                             distractor_length, alphabet)
    split_sizes(n, split)  # a bad split fails before any draw
    n_pos = int(np.floor(positive_fraction * n + 0.5))

    rng = np.random.default_rng(seed)
    pattern = _distractor_pattern(rng, set_codes, noise_codes, distractor_length)
    tokens = noise_codes[rng.integers(0, len(noise_codes), size=(n, length))]
    d_start = rng.integers(0, length - distractor_length + 1, size=n)
    runs = rng.integers(min_run, max_run + 1, size=n_pos)
    s_start, d_start[:n_pos] = _signal_starts(rng, d_start[:n_pos], runs, length, distractor_length)

    cols = np.arange(length)[None, :]
    signal = np.zeros((n, length), dtype=bool)
    signal[:n_pos] = (cols >= s_start[:, None]) & (cols < (s_start + runs)[:, None])
    signal_residues = set_codes[rng.integers(0, len(set_codes), size=(n_pos, length))]
    tokens[:n_pos] = np.where(signal[:n_pos], signal_residues, tokens[:n_pos])
    offset = cols - d_start[:, None]
    distractor = (offset >= 0) & (offset < distractor_length)
    tokens[distractor] = pattern[offset[distractor]]

    x = (tokens[:, None, :] == np.arange(len(alphabet))[None, :, None]).astype(np.float32)
    y = (np.arange(n) < n_pos).astype(np.float32)[:, None]

    return split_shuffled({"x": x, "y": y, "signal": signal, "distractor": distractor}, rng.permutation(n), split,
                          f"raise n, or change positive_fraction {positive_fraction} or split {tuple(split)}")


def protein_task_attrs(task: str, **settings: Any) -> dict[str, Any]:
    """Root attributes for write_protein_task: what the file holds and how it was made.

    Parameters
    ----------
    task : {"helix", "turn", "sheet"}
    **settings
        The keyword arguments given to generate_protein_task (n and any of length, min_run, max_run,
        positive_fraction, distractor_length, alphabet, split, seed); the others take its defaults.

    Returns
    -------
    dict
        task, residues (the task's set), alphabet, noise_residues, distractor (the dataset's distractor
        letters, replayed from the seed as generate_protein_task draws them), layout (a line on the keys),
        and every setting.
    """
    unknown = sorted(set(settings) - set(_SETTINGS) - {"n"})
    if unknown:
        raise ValueError(f"unknown setting(s) {', '.join(map(repr, unknown))}; generate_protein_task takes "
                         f"n and {sorted(_SETTINGS)}")
    config = {**_SETTINGS, **settings}
    alphabet = config["alphabet"]
    set_codes, noise_codes = _task_codes(task, alphabet)
    _check_count("distractor_length", config["distractor_length"], 1)
    pattern = _distractor_pattern(np.random.default_rng(config["seed"]), set_codes, noise_codes,
                                  config["distractor_length"])
    layout = ("x_{split} (N, A, L) float32 one-hot, rows in alphabet order; y_{split} (N, 1) float32, 1 when "
              "the sequence holds >= min_run consecutive task residues; signal_{split}, distractor_{split} "
              "(N, L) bool masks; split in train, valid, test")
    return {"task": task, "residues": PROTEIN_TASKS[task], "alphabet": alphabet,
            "noise_residues": "".join(alphabet[i] for i in noise_codes),
            "distractor": "".join(alphabet[i] for i in pattern), "layout": layout,
            **{k: (list(v) if k == "split" else v) for k, v in config.items() if k != "alphabet"}}


def write_protein_task(path: str | Path, data: dict[str, np.ndarray], attrs: dict[str, Any] | None = None) -> None:
    """Write a protein task (one array per key, `attrs` as root attributes) atomically and deterministically."""
    write_arrays(path, data, attrs)


def read_protein_task(path: str | Path, split: str) -> dict[str, np.ndarray]:
    """Arrays x, y, signal, distractor of one split ('train' | 'valid' | 'test') from a write_protein_task file."""
    return read_split(path, split, ("x", "y", "signal", "distractor"))


# --------------------------------------------------------------------------- model verification


def ablate_distractor(x: np.ndarray, distractor: np.ndarray, task: str, alphabet: str = AMINO_ACIDS,
                      seed: int = 0) -> np.ndarray:
    """A copy of `x` with every distractor position replaced by a fresh noise residue.

    For the paper's model verification: a model that relies on the signal alone keeps its accuracy when
    the distractor is ablated. Each replaced residue is uniform over the non-set residues of `alphabet`
    (never the gap), so it may by chance equal the letter it replaces at the distractor's non-set offsets.

    Parameters
    ----------
    x : numpy.ndarray, shape (N, A, L)
        One-hot sequences.
    distractor : numpy.ndarray of bool, shape (N, L)
        The distractor mask (``distractor_{split}``).
    task : {"helix", "turn", "sheet"}
    alphabet : str, default AMINO_ACIDS
    seed : int, default 0

    Returns
    -------
    numpy.ndarray, shape (N, A, L), of x's dtype
    """
    _, noise_codes = _task_codes(task, alphabet)
    x = np.asarray(x)
    if x.ndim != 3 or x.shape[1] != len(alphabet):
        raise ValueError(f"x must have shape (N, {len(alphabet)}, L) for the alphabet {alphabet!r}, got {x.shape}")
    mask = np.asarray(distractor)
    if mask.shape != (x.shape[0], x.shape[2]):
        raise ValueError(f"distractor must have shape (N, L) = {(x.shape[0], x.shape[2])}, got {mask.shape}")
    rows, cols = np.nonzero(mask.astype(bool))
    out = x.copy()
    out[rows, :, cols] = 0
    out[rows, noise_codes[np.random.default_rng(seed).integers(0, len(noise_codes), size=len(rows))], cols] = 1
    return out
