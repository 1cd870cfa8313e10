"""Multi-task (Basset-style) accessibility datasets from the DNase-seq / ATAC-seq peaks of several cell types.

Each cell type is one task. Every peak becomes a window about its summit; the windows of all cell types are
pooled and merged (:func:`merge_summits`), and merged window ``w`` is labelled positive for cell type ``c``
when ``c`` has a peak summit inside it (:func:`summit_labels`). Windows are then filtered like the in vivo
ChIP-seq windows (:func:`gradcorr.data.chipseq.filter_windows`) and split by chromosome hold-out.

The HDF5 file :func:`build_multitask_dataset` writes holds, per split in ``train``, ``valid``, ``test``:
``x_{split}`` float32 one-hot (N, 4, width) in ACGT order, ``y_{split}`` int8 (N, T) 0/1 labels in task
order, and the windows' ``chrom_{split}`` (bytes), ``start_{split}`` and ``end_{split}`` (int64, 0-based,
half-open); its root attributes name the tasks (``cell_types``), the rules and the counts of every stage.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gradcorr.data.chipseq import (
    _check_chromosomes,
    _fasta,
    _log_summit_fallbacks,
    _require_file,
    filter_windows,
    one_hot,
    peak_windows,
    read_peaks,
    split_by_chromosome,
)
from gradcorr.data.encode import ACCESSION_RE, common_assembly, read_encode_metadata
from gradcorr.data.io import open_hdf5, read_split, write_arrays

__all__ = ["DEFAULT_TEST_CHROMS", "DEFAULT_VALID_CHROMS", "build_multitask_dataset", "merge_summits",
           "peak_assembly", "primary_chromosomes", "read_accessibility", "summit_labels"]

log = logging.getLogger(__name__)

# DeepSEA's hold-out (chr7 for validation, chr8 and chr9 for test): whole chromosomes, so no window of a
# held-out split shares bases with a training window.
DEFAULT_VALID_CHROMS: tuple[str, ...] = ("chr7",)
DEFAULT_TEST_CHROMS: tuple[str, ...] = ("chr8", "chr9")
_MITOCHONDRIAL = frozenset({"chrm", "chrmt", "m", "mt"})
_PEAK_FILE_FORMAT = "bed"  # what the in vivo builder accepts: ENCODE's bed narrowPeak, not bigBed
_MERGE_RULE = ("pool the summits of all cell types; per chromosome, in coordinate order, a group starts at a summit "
               "and takes every later summit less than merge_distance past that first one; each group becomes one "
               "window of `width` bases centred on the midpoint of its first and last summits")
_LABEL_RULE = "y[w, c] = 1 when cell type c has a peak summit (midpoint when it has none) in [start_w, end_w)"


# --------------------------------------------------------------------------- inputs


def peak_assembly(metadata_paths: Sequence[str | Path]) -> str:
    """The one assembly of the tasks' peak files, from their ENCODE metadata JSONs; each must describe a bed file.

    Checks each record's ``file_format`` (``bed``, as the in vivo builder accepts: bigBed and others are not
    read here), then defers to :func:`gradcorr.data.encode.common_assembly`.

    Parameters
    ----------
    metadata_paths : saved ENCODE file-metadata records (``/files/<accession>/?format=json``), one per task.

    Returns
    -------
    The assembly (e.g. ``GRCh38``) they all share.

    Raises
    ------
    ValueError when there are no paths, a record is invalid (naming its file), a record is not of a ``bed``
    file (naming its file), or the records name more than one assembly (listing the files of each).
    """
    for path in metadata_paths:
        record = read_encode_metadata(path)
        if record["file_format"] != _PEAK_FILE_FORMAT:
            raise ValueError(f"{path}: {record['accession']} is a {record['file_format']} file, not "
                             f"{_PEAK_FILE_FORMAT} peaks")
    return common_assembly(metadata_paths)


def primary_chromosomes(names: Sequence[str]) -> list[str]:
    """The contigs of ``names`` a dataset keeps by default: no mitochondrial genome (chrM, MT) and no contig
    whose name has an underscore (``*_random``, ``chrUn_*``, ``*_alt``, ``*_fix``), in the order given.

    Parameters
    ----------
    names : contig names, e.g. a genome FASTA's.

    Returns
    -------
    The primary chromosomes among them.
    """
    return [n for n in names if "_" not in n and n.lower() not in _MITOCHONDRIAL]


# --------------------------------------------------------------------------- merging and labels


def merge_summits(chroms: np.ndarray, summits: np.ndarray, width: int, merge_distance: int) -> pd.DataFrame:
    """Merged windows of pooled summits: greedy groups by coordinate, one window of ``width`` bases per group.

    Per chromosome, in coordinate order, a group starts at the first summit not yet grouped and takes every
    later summit less than ``merge_distance`` past it. The group's window is centred on ``c = (first + last)
    // 2`` and spans ``[c - width // 2, c - width // 2 + width)``. So a lone summit is the centre of its
    window; every summit of a group lies within ``merge_distance / 2`` of the centre, inside the window (as
    ``merge_distance < width``); and the centres of consecutive windows are at least ``merge_distance -
    (merge_distance - 1) // 2`` apart, which bounds how much two windows can overlap.

    Parameters
    ----------
    chroms : (P,) chromosome of each summit.
    summits : (P,) 0-based summit positions.
    width : window length in bases.
    merge_distance : summits closer than this to a group's first summit join the group; 1 <= it < width.

    Returns
    -------
    Windows sorted by chromosome name and start: ``chrom``, ``start``, ``end`` and ``summits`` (how many
    pooled summits the group took), so the order does not depend on the order of the peak files' lines.
    """
    if not 1 <= merge_distance < width:
        raise ValueError(f"merge_distance must be in [1, width), got {merge_distance} with width {width}")
    chroms = np.asarray(chroms).astype(str)
    summits = np.asarray(summits, dtype=np.int64)
    out_chrom: list[str] = []
    centres: list[int] = []
    sizes: list[int] = []
    for chrom in np.unique(chroms):
        positions = np.sort(summits[chroms == chrom]).tolist()
        i = 0
        while i < len(positions):
            first, j = positions[i], i
            while j + 1 < len(positions) and positions[j + 1] - first < merge_distance:
                j += 1
            out_chrom.append(chrom)
            centres.append((first + positions[j]) // 2)
            sizes.append(j - i + 1)
            i = j + 1
    start = np.array(centres, dtype=np.int64) - width // 2
    return pd.DataFrame({"chrom": pd.Series(out_chrom, dtype=object), "start": start, "end": start + width,
                         "summits": np.array(sizes, dtype=np.int64)})


def summit_labels(windows: pd.DataFrame, task_summits: Sequence[pd.DataFrame]) -> np.ndarray:
    """(N, T) int8 labels: 1 where task ``t`` has a summit in window ``n`` (``start <= summit < end``).

    Labels do not depend on which group a summit was merged into: where windows overlap, a summit inside
    two windows labels both.

    Parameters
    ----------
    windows : N windows with ``chrom``, ``start``, ``end``.
    task_summits : per task, its summits as ``chrom`` and ``summit`` (0-based position) columns.

    Returns
    -------
    The label matrix, rows in the order of ``windows``, columns in task order.
    """
    labels = np.zeros((len(windows), len(task_summits)), dtype=np.int8)
    chrom = windows["chrom"].astype(str).to_numpy()
    starts, ends = windows["start"].to_numpy(np.int64), windows["end"].to_numpy(np.int64)
    for t, frame in enumerate(task_summits):
        task_chrom = frame["chrom"].astype(str).to_numpy()
        positions = frame["summit"].to_numpy(np.int64)
        for name in np.unique(chrom):
            rows = np.flatnonzero(chrom == name)
            sorted_positions = np.sort(positions[task_chrom == name])
            inside = (np.searchsorted(sorted_positions, ends[rows], side="left")
                      - np.searchsorted(sorted_positions, starts[rows], side="left"))
            labels[rows, t] = inside > 0
    return labels


def _task_summits(peaks: pd.DataFrame, width: int, center: str) -> pd.DataFrame:
    """``chrom`` and ``summit`` of each peak: the centre :func:`peak_windows` puts its window on."""
    windows = peak_windows(peaks, width, center)
    return pd.DataFrame({"chrom": windows["chrom"].astype(str).to_numpy(),
                         "summit": windows["start"].to_numpy(np.int64) + width // 2})




def _uncovered(windows: pd.DataFrame, summits: pd.DataFrame) -> int:
    """How many of ``summits`` (``chrom``, ``summit``) lie in none of ``windows`` (``chrom``, ``start``, ``end``)."""
    window_chrom = windows["chrom"].astype(str).to_numpy()
    chrom = summits["chrom"].astype(str).to_numpy()
    lost = 0
    for name in np.unique(chrom):
        positions = summits["summit"].to_numpy(np.int64)[chrom == name]
        rows = window_chrom == name
        order = np.argsort(windows["start"].to_numpy(np.int64)[rows], kind="stable")
        starts = windows["start"].to_numpy(np.int64)[rows][order]
        if not len(starts):
            lost += len(positions)
            continue
        reach = np.maximum.accumulate(windows["end"].to_numpy(np.int64)[rows][order])
        k = np.searchsorted(starts, positions, side="right") - 1  # the last window starting at or before each
        lost += int(((k < 0) | (reach[np.maximum(k, 0)] <= positions)).sum())
    return lost


# --------------------------------------------------------------------------- dataset


def _check_tasks(peak_files: Sequence[str | Path], cell_types: Sequence[str],
                 accessions: Sequence[str] | None) -> list[Path]:
    """The peak files as Paths after checking one per cell type, unique non-empty cell types and accessions."""
    if len(peak_files) != len(cell_types):
        raise ValueError(f"{len(peak_files)} peak files for {len(cell_types)} cell types; give one per cell type")
    if not cell_types:
        raise ValueError("no cell types given")
    if any(not isinstance(c, str) or not c.strip() for c in cell_types):
        raise ValueError(f"cell types must be non-empty strings, got {list(cell_types)}")
    repeated = sorted({c for c in cell_types if list(cell_types).count(c) > 1})
    if repeated:
        raise ValueError(f"cell types repeat: {repeated}")
    if accessions is not None:
        if len(accessions) != len(cell_types):
            raise ValueError(f"{len(accessions)} accessions for {len(cell_types)} cell types")
        bad = [a for a in accessions if not isinstance(a, str) or not ACCESSION_RE.match(a)]
        if bad:
            raise ValueError(f"not ENCODE file accessions (like ENCFF710VEH): {bad}")
    return [_require_file(p, "peak") for p in peak_files]


def _check_holdout(valid_chroms: Sequence[str], test_chroms: Sequence[str], allowed: Sequence[str],
                   genome: Path) -> None:
    """ValueError unless the hold-out chromosomes are disjoint and among the chromosomes kept."""
    both = sorted(set(valid_chroms) & set(test_chroms))
    if both:
        raise ValueError(f"chromosomes held out for both valid and test: {both}")
    if not valid_chroms or not test_chroms:
        raise ValueError(f"valid_chroms and test_chroms must each name a chromosome, got {list(valid_chroms)} "
                         f"and {list(test_chroms)}")
    outside = sorted((set(valid_chroms) | set(test_chroms)) - set(allowed))
    if outside:
        raise ValueError(f"{genome}: hold-out chromosomes {outside} are not among the chromosomes kept "
                         f"({', '.join(allowed)})")


def _split_rows(kept: pd.DataFrame, valid_chroms: Sequence[str], test_chroms: Sequence[str],
                rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Row indices of each split by chromosome hold-out, each split's rows in a seeded random order."""
    parts = split_by_chromosome(kept["chrom"].to_numpy(), valid_chroms, test_chroms)
    return {name: idx[rng.permutation(len(idx))] for name, idx in parts.items()}


def _multitask_arrays(kept: pd.DataFrame, labels: np.ndarray, parts: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """x, y and coordinates of each split in the order of its indices."""
    arrays: dict[str, np.ndarray] = {}
    for name, idx in parts.items():
        rows = kept.iloc[idx]
        arrays[f"x_{name}"] = one_hot(rows["sequence"].tolist())
        arrays[f"y_{name}"] = labels[idx]
        arrays[f"chrom_{name}"] = np.array([c.encode("ascii") for c in rows["chrom"].astype(str)], dtype=bytes)
        arrays[f"start_{name}"] = rows["start"].to_numpy(np.int64)
        arrays[f"end_{name}"] = rows["end"].to_numpy(np.int64)
    return arrays


def build_multitask_dataset(
    peak_files: Sequence[str | Path],
    cell_types: Sequence[str],
    genome: str | Path,
    out: str | Path,
    *,
    width: int = 600,
    center: str = "summit",
    merge_distance: int | None = None,
    valid_chroms: Sequence[str] = DEFAULT_VALID_CHROMS,
    test_chroms: Sequence[str] = DEFAULT_TEST_CHROMS,
    chromosomes: Sequence[str] | None = None,
    accessions: Sequence[str] | None = None,
    seed: int = 0,
    max_windows: int | None = None,
    attrs: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Build a multi-task accessibility dataset, one task per cell type, and write it to ``out`` (HDF5, atomically).

    Each peak's centre is its summit (``center="summit"``; the midpoint for a peak without one, or always with
    ``center="midpoint"``). The centres of all cell types are pooled and merged into windows of ``width``
    bases (:func:`merge_summits`) and labelled (:func:`summit_labels`); windows on unknown or excluded
    contigs, off a chromosome's end or with a base other than A/C/G/T are dropped
    (:func:`~gradcorr.data.chipseq.filter_windows`). ``valid_chroms`` and ``test_chroms`` are held out; train
    is the rest. ``y`` is stored as int8: labels are 0/1, and with hundreds of tasks float32 would take four
    times the space (:func:`read_accessibility` returns float32). x is built in memory, 9.6 kB a window at
    width 600 (about 10 GB for a million windows): ``max_windows`` bounds it.

    Parameters
    ----------
    peak_files : narrowPeak (or BED) file of each task, plain or gzip, in task order.
    cell_types : the task names, unique, in the same order.
    genome : genome FASTA (a .fai is built beside it when missing).
    out : the HDF5 file to write.
    width : window length; 600 as in Basset.
    center : ``"summit"`` or ``"midpoint"``.
    merge_distance : summits closer than this to a group's first summit share a window; default ``width // 2``,
        so every summit lies within ``width / 4`` of its window's centre, with context on both sides.
    valid_chroms, test_chroms : chromosomes of the validation and test splits; default chr7 and chr8, chr9
        (DeepSEA's hold-out).
    chromosomes : chromosomes to keep; default :func:`primary_chromosomes` of the genome (no chrM, no
        random, unplaced or alt contigs).
    accessions : ENCODE accession of each peak file, stored in the attributes.
    seed : seeds the draw of ``max_windows`` and the row order within each split (shuffled, so the first
        rows of a split are a random sample of it).
    max_windows : keep at most this many windows (drawn at random before splitting); None keeps all.
    attrs : extra root attributes; they may not reuse a built-in name.

    Returns
    -------
    Statistics, also stored as the ``counts`` attribute: ``cell_types``; per cell type ``peaks``,
    ``summit_fallbacks`` and ``peaks_lost`` (summits in no kept window); ``windows_before_merge`` (one per
    peak), ``windows_after_merge``, ``dropped`` per reason, ``windows_kept``, ``subsampled`` (dropped by
    ``max_windows``); ``split`` sizes and ``positives`` per split per cell type.

    Raises
    ------
    ValueError for inconsistent arguments, a malformed peak file (naming it and the line), a hold-out
    chromosome not kept, no window left, an empty split, or a cell type without positives in train (naming it).
    """
    peak_paths = _check_tasks(peak_files, cell_types, accessions)
    genome = _require_file(genome, "genome FASTA")
    if int(width) != width or width < 2:
        raise ValueError(f"width must be an integer >= 2, got {width!r}")
    width = int(width)
    merge_distance = width // 2 if merge_distance is None else merge_distance
    if int(merge_distance) != merge_distance or not 1 <= merge_distance < width:
        raise ValueError(f"merge_distance must be an integer in [1, width={width}), got {merge_distance!r}")
    if max_windows is not None and (int(max_windows) != max_windows or max_windows < 1):
        raise ValueError(f"max_windows must be a positive integer or None, got {max_windows!r}")
    cell_types = list(cell_types)

    task_summits = []
    stats: dict[str, Any] = {"cell_types": cell_types, "peaks": {}, "summit_fallbacks": {}}
    for cell_type, path in zip(cell_types, peak_paths):
        peaks = read_peaks(path)
        task_summits.append(_task_summits(peaks, width, center))
        stats["peaks"][cell_type] = len(peaks)
        stats["summit_fallbacks"][cell_type] = _log_summit_fallbacks(peaks, center, cell_type, "accessibility")
        log.info("%s: %d peaks from %s", cell_type, len(peaks), path)
    pooled = pd.concat(task_summits, ignore_index=True)
    windows = merge_summits(pooled["chrom"].to_numpy(), pooled["summit"].to_numpy(), width, int(merge_distance))
    stats.update(windows_before_merge=len(pooled), windows_after_merge=len(windows))
    log.info("merged %d peak windows of %d cell types into %d windows", len(pooled), len(cell_types), len(windows))

    with _fasta(genome) as fasta:
        sizes = {name: len(fasta[name]) for name in fasta.keys()}
        _check_chromosomes(chromosomes, sizes, genome)
        allowed = list(chromosomes) if chromosomes is not None else primary_chromosomes(list(sizes))
        _check_holdout(valid_chroms, test_chroms, allowed, genome)

        def fetch(chrom: str, start: int, end: int) -> str:
            return fasta[chrom][start:end]

        kept, dropped = filter_windows(windows, sizes, allowed, fetch, label="merged windows")
    stats.update(dropped=dropped, windows_kept=len(kept))
    if kept.empty:
        raise ValueError(f"no usable windows left from {', '.join(map(str, peak_paths))} on {genome}; "
                         f"dropped: {dropped}")
    stats["peaks_lost"] = {c: _uncovered(kept, s) for c, s in zip(cell_types, task_summits)}

    rng = np.random.default_rng(seed)
    stats["subsampled"] = 0
    if max_windows is not None and len(kept) > max_windows:
        stats["subsampled"] = len(kept) - int(max_windows)
        chosen = np.sort(rng.choice(len(kept), size=int(max_windows), replace=False))
        kept = kept.iloc[chosen].reset_index(drop=True)
        log.info("kept %d of %d windows at random (max_windows)", max_windows, max_windows + stats["subsampled"])
    labels = summit_labels(kept, task_summits)
    parts = _split_rows(kept, valid_chroms, test_chroms, rng)
    stats["split"] = {name: len(idx) for name, idx in parts.items()}
    stats["positives"] = {name: dict(zip(cell_types, labels[idx].sum(axis=0).astype(int).tolist()))
                          for name, idx in parts.items()}
    empty = [c for c in cell_types if stats["positives"]["train"][c] == 0]
    if empty:
        files = [str(p) for c, p in zip(cell_types, peak_paths) if c in empty]
        raise ValueError(f"cell type(s) {empty} have no positive window in the train split "
                         f"(peak files {files}); positives per split: {stats['positives']}")

    write_arrays(out, _multitask_arrays(kept, labels, parts),
                 _multitask_attrs(stats, peak_paths, genome, accessions, allowed, attrs,
                                  width=width, center=center, merge_distance=int(merge_distance),
                                  valid_chroms=list(valid_chroms), test_chroms=list(test_chroms), seed=int(seed),
                                  max_windows=max_windows))
    log.info("wrote %s: %d cell types; split sizes %s", out, len(cell_types), stats["split"])
    return stats


def _multitask_attrs(stats: dict[str, Any], peak_paths: list[Path], genome: Path, accessions: Sequence[str] | None,
                     allowed: Sequence[str], extra: dict[str, Any] | None, **settings: Any) -> dict[str, Any]:
    """Root attributes of a multi-task dataset; ``extra`` may not reuse a built-in name."""
    built: dict[str, Any] = {
        "cell_types": list(stats["cell_types"]), "accessions": list(accessions or []), **settings,
        "merge_rule": _MERGE_RULE, "label_rule": _LABEL_RULE, "chromosomes": list(allowed), "counts": stats,
        "peak_files": [p.name for p in peak_paths], "genome_file": genome.name,
    }
    clash = sorted(set(extra or {}) & set(built))
    if clash:
        raise ValueError(f"attrs may not override built-in attributes: {clash}")
    return {**built, **(extra or {})}


# --------------------------------------------------------------------------- reading


def read_accessibility(path: str | Path, split: str) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """One split of a file :func:`build_multitask_dataset` wrote: x, y and the cell types (the columns of y).

    Parameters
    ----------
    path : the HDF5 file.
    split : ``"train"``, ``"valid"`` or ``"test"``.

    Returns
    -------
    x (N, 4, L) float32 one-hot, y (N, T) float32 0/1 labels, and the T cell types in column order.
    Coordinates are ``read_split(path, split, ("chrom", "start", "end"))`` (:mod:`gradcorr.data.io`).

    Raises
    ------
    KeyError naming the file for a missing array; ValueError naming the file for a missing ``cell_types``
    attribute or shapes that do not fit together.
    """
    found = read_split(path, split, ("x", "y"))
    x, y = found["x"], found["y"]
    with open_hdf5(path) as f:
        raw = f.attrs.get("cell_types")
    try:
        cell_types = json.loads(raw)
    except (TypeError, json.JSONDecodeError):
        cell_types = None
    if not isinstance(cell_types, list) or not all(isinstance(c, str) for c in cell_types):
        raise ValueError(f"{path}: no 'cell_types' attribute (a JSON list of names); not a multi-task dataset?")
    if x.ndim != 3 or x.shape[1] != 4:
        raise ValueError(f"{path}: 'x_{split}' must have shape (N, 4, L), got {x.shape}")
    if y.ndim != 2 or y.shape[1] != len(cell_types):
        raise ValueError(f"{path}: 'y_{split}' must have shape (N, {len(cell_types)}) for the cell types "
                         f"{cell_types}, got {y.shape}")
    if len(x) != len(y):
        raise ValueError(f"{path}: 'x_{split}' has {len(x)} rows but 'y_{split}' has {len(y)}")
    return x.astype(np.float32, copy=False), y.astype(np.float32), cell_types
