"""Genome tracks of attribution maps: per-base contribution scores written as bigWig files.

An attribution map is (N, A, L) over N windows of the genome. `contribution_scores` reduces it to one
number per base (the map at the observed base), and `write_bigwig` lays the windows onto their
chromosomes so a genome browser can show them beside other tracks. Where windows overlap, a base gets
the mean over all windows covering it, each window weighted equally (`coverage_mean`); bases that no
window covers get no entry, so browsers show them as missing rather than as zero.

Coordinates are 0-based and half-open, as in BED and bigWig: window i covers [start[i], start[i] + L).
pyBigWig is imported only when a file is written, so the rest works without it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from gradcorr.data.io import atomic_path

__all__ = ["contribution_scores", "coverage_mean", "read_chrom_sizes", "write_bigwig"]


def contribution_scores(maps: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Per-base contribution: the map at the observed base (grad-times-input summed over the alphabet).

    This is the one number per base that a genome track shows. A position with no observed base (an
    all-zero column of x, e.g. N or padding) scores 0.

    Parameters
    ----------
    maps : numpy.ndarray, shape (N, A, L)
        Attribution maps of N windows, A letters, L positions.
    x : numpy.ndarray, shape (N, A, L)
        One-hot input sequences, of the same shape as maps.

    Returns
    -------
    numpy.ndarray, shape (N, L)
        Contribution score of each base of each window.

    Raises
    ------
    ValueError
        If maps is not 3-D or x does not have the same shape as maps.
    """
    maps = np.asarray(maps)
    x = np.asarray(x)
    if maps.ndim != 3 or maps.shape != x.shape:
        raise ValueError(f"maps and x must both be (N, A, L) of one shape, got {maps.shape} and {x.shape}")
    return (maps * x).sum(axis=1)


def read_chrom_sizes(path: str | Path) -> dict[str, int]:
    """Chromosome sizes from a FASTA index (.fai) or a two-column chrom.sizes file, in file order.

    Both are tab-separated with the name and length in the first two columns (a .fai has more columns
    after them, which are ignored). Blank lines are skipped.

    Parameters
    ----------
    path : str or pathlib.Path
        The .fai or chrom.sizes file.

    Returns
    -------
    dict of str to int
        Length of each chromosome by name, in the order of the file.

    Raises
    ------
    ValueError
        Naming the file and line, for a malformed line (fewer than two columns, an empty name, a length
        that is not a positive integer) or a repeated name.
    """
    sizes: dict[str, int] = {}
    with open(path) as f:
        for lineno, line in enumerate(f, start=1):
            line = line.rstrip("\r\n")
            if not line.strip():
                continue
            fields = line.split("\t")
            where = f"{path}, line {lineno}"
            if len(fields) < 2 or not fields[0]:
                raise ValueError(f"{where}: expected 'name<TAB>length[<TAB>...]', got {line!r}")
            name, length = fields[0], fields[1].strip()
            if not length.isdigit() or int(length) <= 0:
                raise ValueError(f"{where}: length of {name!r} must be a positive integer, got {fields[1]!r}")
            if name in sizes:
                raise ValueError(f"{where}: chromosome {name!r} repeated")
            sizes[name] = int(length)
    return sizes


def _check_windows(values: np.ndarray, chrom: Sequence[str], start: Sequence[int],
                   chrom_sizes: dict[str, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """values as float64, each window's chromosome as an index into chrom_sizes, and the starts as int64,
    after checking that every window lies on a known chromosome and every value is finite."""
    values = np.asarray(values)
    if values.ndim != 2:
        raise ValueError(f"values must be 2-D (N windows, L bases), got shape {values.shape}")
    n, length = values.shape
    if isinstance(chrom, str):
        raise ValueError("chrom must be a sequence of chromosome names, one per window, not a single string")
    if len(chrom) != n or len(start) != n:
        raise ValueError(f"chrom ({len(chrom)}) and start ({len(start)}) must have one entry per window ({n})")
    starts = np.asarray(start)
    if n and (starts.ndim != 1 or not np.issubdtype(starts.dtype, np.integer)):  # [] comes as float64
        raise ValueError(f"start must be a 1-D sequence of integers, got dtype {starts.dtype}")
    starts = starts.astype(np.int64)
    for name, size in chrom_sizes.items():
        if not isinstance(size, (int, np.integer)) or size <= 0:
            raise ValueError(f"chrom_sizes[{name!r}] must be a positive integer, got {size!r}")

    order = {name: k for k, name in enumerate(chrom_sizes)}
    index = np.array([order.get(c, -1) for c in chrom], dtype=np.int64)
    if (index < 0).any():
        i = int(np.flatnonzero(index < 0)[0])
        raise ValueError(f"window {i}: chromosome {chrom[i]!r} is not in chrom_sizes")
    ends = np.array(list(chrom_sizes.values()), dtype=np.int64)[index]
    bad = (starts < 0) | (starts + length > ends)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"window {i} ({chrom[i]}:{starts[i]}-{starts[i] + length}) lies outside "
                         f"{chrom[i]} (length {chrom_sizes[chrom[i]]})")
    # bigWig stores float32, so a float64 beyond its range would come out as inf
    with np.errstate(over="ignore", invalid="ignore"):
        finite = np.isfinite(values.astype(np.float32))
    if not finite.all():
        i = int(np.flatnonzero(~finite.all(axis=1))[0])
        raise ValueError(f"window {i}: values must be finite (and within float32 range), "
                         f"found {values[i][~finite[i]][0]}")
    return values.astype(np.float64), index, starts


def _chrom_mean(values: np.ndarray, starts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(positions, means) of the bases covered by windows of one chromosome, all of length L.

    Sums and counts are accumulated over the covered bases only, numbered consecutively, not over the
    chromosome: windows scattered along a 200 Mb chromosome need memory in proportion to their own
    size. Sorted by start, windows of equal length form clusters that each cover one unbroken stretch.
    """
    length = values.shape[1]
    if length == 0:
        return np.empty(0, np.int64), np.empty(0, np.float64)
    order = np.argsort(starts, kind="stable")
    starts, values = starts[order], values[order]
    first = np.ones(len(starts), dtype=bool)
    first[1:] = starts[1:] >= starts[:-1] + length  # begins a cluster: no overlap with the window before
    cluster = np.cumsum(first) - 1
    lo = starts[first]
    hi = starts[np.append(np.flatnonzero(first)[1:] - 1, len(starts) - 1)] + length
    offset = np.concatenate([[0], np.cumsum(hi - lo)[:-1]])
    total = int((hi - lo).sum())
    base = offset[cluster] + starts - lo[cluster]  # each window's first base, in covered-base numbering
    sums = np.bincount((base[:, None] + np.arange(length)).ravel(), weights=values.ravel(), minlength=total)
    steps = np.bincount(base, minlength=total + 1) - np.bincount(base + length, minlength=total + 1)
    counts = np.cumsum(steps)[:total]
    positions = np.repeat(lo - offset, hi - lo) + np.arange(total)
    return positions, sums / counts


def coverage_mean(values: np.ndarray, chrom: Sequence[str], start: Sequence[int],
                  chrom_sizes: dict[str, int]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per-base mean of windows laid onto their chromosomes, over the bases some window covers.

    Where windows overlap they are averaged, each window weighted equally. Bases no window covers get no
    entry, so they read as missing rather than as zero. Window i covers [start[i], start[i] + L),
    0-based and half-open.

    Parameters
    ----------
    values : numpy.ndarray, shape (N, L)
        One value per base of each of N windows of length L.
    chrom : sequence of str, length N
        Chromosome of each window (a sequence of names, not a single string).
    start : sequence of int, length N
        0-based start of each window on its chromosome.
    chrom_sizes : dict of str to int
        Length of each chromosome (e.g. from `read_chrom_sizes`); its order sets the order of the result.

    Returns
    -------
    dict of str to tuple of (numpy.ndarray, numpy.ndarray)
        For each chromosome with windows, in chrom_sizes order: (positions, means), both shape (M,) for
        the M covered bases of that chromosome. positions (int64) are sorted and 0-based; means (float64)
        is the mean over all windows covering that base.

    Raises
    ------
    ValueError
        For a malformed input, a chromosome not in chrom_sizes, a window outside its chromosome, or a
        non-finite value (or one beyond float32 range), naming the window.
    """
    values, index, starts = _check_windows(values, chrom, start, chrom_sizes)
    out = {}
    for k, name in enumerate(chrom_sizes):
        sel = index == k
        if sel.any():
            out[name] = _chrom_mean(values[sel], starts[sel])
    return out


def write_bigwig(path: str | Path, values: np.ndarray, chrom: Sequence[str], start: Sequence[int],
                 chrom_sizes: dict[str, int]) -> None:
    """Write the `coverage_mean` track of values as a bigWig file, atomically.

    The header lists every chromosome of chrom_sizes in its order, so tracks of one genome line up in a
    browser whichever windows they hold. Where windows overlap, a base gets their mean, each window
    weighted equally. Each run of consecutive covered bases is one block of single-base entries; bases
    no window covers get no entry. With no windows (N == 0) the file holds the header only. Inputs are
    checked before anything is written; on any error an existing file at `path` is left untouched and
    no partial file remains. pyBigWig is imported only here.

    Parameters
    ----------
    path : str or pathlib.Path
        The bigWig file to write (replaced if it exists).
    values : numpy.ndarray, shape (N, L)
        One value per base of each of N windows of length L (e.g. from `contribution_scores`).
    chrom : sequence of str, length N
        Chromosome of each window.
    start : sequence of int, length N
        0-based start of each window on its chromosome; window i covers [start[i], start[i] + L).
    chrom_sizes : dict of str to int
        Length of each chromosome, all written to the header in this order; must not be empty.

    Returns
    -------
    None
        The track is written to `path`: a temporary file renamed into place once complete.

    Raises
    ------
    ValueError
        If chrom_sizes is empty, or for any input `coverage_mean` rejects.
    OSError
        If pyBigWig cannot open the temporary file for writing.
    """
    if not chrom_sizes:
        raise ValueError("chrom_sizes is empty: a bigWig needs at least one chromosome in its header")
    tracks = coverage_mean(values, chrom, start, chrom_sizes)
    import pyBigWig

    with atomic_path(path) as tmp:
        bw = pyBigWig.open(str(tmp), "w")
        if bw is None:
            raise OSError(f"pyBigWig cannot open {tmp} for writing")
        try:
            bw.addHeader([(name, int(size)) for name, size in chrom_sizes.items()])
            for name, (positions, means) in tracks.items():
                bounds = np.concatenate([[0], np.flatnonzero(np.diff(positions) != 1) + 1, [len(positions)]])
                for a, b in zip(bounds[:-1], bounds[1:]):
                    if b > a:
                        run = np.ascontiguousarray(means[a:b], dtype=np.float64)
                        bw.addEntries(name, int(positions[a]), values=run, span=1, step=1)
        finally:
            bw.close()
