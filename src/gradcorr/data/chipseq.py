"""Balanced in vivo ChIP-seq datasets from peak files, as in the gradient-correction paper.

Positives are fixed-width windows about each TF ChIP-seq peak; negatives are windows about DNase I
peaks of the same cell line that overlap no ChIP-seq peak (``bedtools intersect -v``), down-sampled
at random to the number of positives. The output HDF5 follows the authors' layout: ``x_{split}``
float32 one-hot (N, 4, L) in ACGT order and ``y_{split}`` int8 (N, 1), plus the coordinates of
every window (``chrom_{split}``, ``start_{split}``, ``end_{split}``).
"""

from __future__ import annotations

import gzip
import logging
import re
import tempfile
import zlib
from collections.abc import Callable, Collection, Iterable, Sequence
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pandas as pd
from pybedtools import BedTool
from pyfaidx import Fasta, FastaIndexingError

from gradcorr.data.io import open_hdf5, write_arrays
from gradcorr.data.synthetic import SPLITS, split_sizes

log = logging.getLogger(__name__)

CENTERS: tuple[str, ...] = ("summit", "midpoint")
FILTER_REASONS: tuple[str, ...] = (
    "unknown_contig", "excluded_chromosome", "off_chromosome_end", "duplicate", "non_acgt")
_HEADER_PREFIXES = ("track", "browser", "#")
_NARROWPEAK_FIELDS = 10
_GZIP_ERRORS = (EOFError, gzip.BadGzipFile, zlib.error)  # truncated, bad header or CRC, corrupt deflate stream
_NOT_PRINTABLE_ASCII = re.compile(r"[^\x21-\x7e]")  # chromosome names: printable ASCII, no whitespace
_NUMERIC_KINDS = "biuf"  # numpy dtype kinds a processed dataset's x and y may have
_COORDS = ["chrom", "start", "end"]
_DELETE_ACGT = str.maketrans("", "", "ACGT")  # str.translate with it leaves only non-ACGT characters

# byte -> ACGT index (0..3), -1 for anything else; lowercase maps like uppercase
_BASE_INDEX = np.full(256, -1, dtype=np.int8)
for _i, _b in enumerate("ACGT"):
    _BASE_INDEX[ord(_b)] = _BASE_INDEX[ord(_b.lower())] = _i


# --------------------------------------------------------------------------- peaks


def _open_text(path: Path):
    """Open a plain or gzip text file (gzip detected by its magic bytes, not the name)."""
    with open(path, "rb") as fh:
        magic = fh.read(2)
    if magic == b"\x1f\x8b":
        return gzip.open(path, "rt", encoding="utf-8")
    return open(path, encoding="utf-8")


def _split_fields(line: str) -> list[str]:
    """Tab-separated fields of a BED line, without its newline; ValueError for a line separated by spaces."""
    fields = line.rstrip("\r\n").split("\t")
    if len(fields) == 1 and len(fields[0].split()) > 1:
        raise ValueError("fields must be tab-separated (BED), found spaces only")
    return fields


def _check_chrom(chrom: str) -> None:
    """ValueError unless ``chrom`` is a non-empty name of printable ASCII without whitespace."""
    if not chrom:
        raise ValueError("chromosome name (column 1) is empty")
    bad = _NOT_PRINTABLE_ASCII.search(chrom)
    if bad and bad.group().isspace():
        raise ValueError(f"chromosome name {chrom!r} contains whitespace; fields must be tab-separated")
    if bad:
        raise ValueError(f"chromosome name {chrom!r} has {bad.group()!r}; names must be printable ASCII")


def _parse_interval(fields: list[str]) -> tuple[int, int]:
    """(start, end) of a BED line's columns 2 and 3, checking 0 <= start < end."""
    try:
        start, end = int(fields[1]), int(fields[2])
    except ValueError:
        raise ValueError(f"start and end must be integers, got {fields[1]!r} and {fields[2]!r}") from None
    if start < 0:
        raise ValueError(f"start must be >= 0, got {start}")
    if end == start:
        raise ValueError(f"end must be > start, got start == end == {start} (a zero-length interval has no bases)")
    if end < start:
        raise ValueError(f"end must be > start, got start {start} and end {end}")
    return start, end


def _parse_summit(fields: list[str], length: int) -> int:
    """narrowPeak summit offset (column 10) of a line of 10 or more fields, -1 when there is no column 10."""
    if len(fields) < _NARROWPEAK_FIELDS:
        return -1
    try:
        summit = int(fields[9])
    except ValueError:
        raise ValueError(f"narrowPeak summit (column 10) must be an integer, got {fields[9]!r}") from None
    if not -1 <= summit < length:
        raise ValueError(f"narrowPeak summit offset {summit} outside [-1, {length})")
    return summit


def _parse_peak_line(fields: list[str]) -> tuple[str, int, int, int, str]:
    """(chrom, start, end, summit, name) of one BED3+/narrowPeak line; ValueError saying what is wrong."""
    if len(fields) < 3:
        raise ValueError(f"expected at least 3 fields (chrom, start, end; tab-separated), got {len(fields)}")
    _check_chrom(fields[0])
    start, end = _parse_interval(fields)
    name = fields[3] if len(fields) > 3 and fields[3] else "."
    return fields[0], start, end, _parse_summit(fields, end - start), name


def _peak_rows(lines: Iterable[str], path: Path) -> list[tuple[str, int, int, int, str]]:
    """Parsed peak lines, skipping blank and header lines; ValueError naming the file and line."""
    rows = []
    for lineno, line in enumerate(lines, start=1):
        if not line.strip() or line.startswith(_HEADER_PREFIXES):
            continue
        try:
            rows.append(_parse_peak_line(_split_fields(line)))
        except ValueError as err:
            raise ValueError(f"{path}: line {lineno}: {err}") from None
    return rows


def read_peaks(path: str | Path) -> pd.DataFrame:
    """Peaks of a BED3+, BED6 or narrowPeak file (plain or gzip) as chrom, start, end, summit, name.

    Fields are tab-separated (names may hold spaces). A line of 10 or more fields is narrowPeak:
    ``summit`` is column 10 (offset from start), and -1 when absent. Blank lines and
    ``track``/``browser``/``#`` lines are skipped; a malformed line raises ValueError naming the file
    and line number, and so do a file without peaks and a truncated or corrupt gzip file.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"peak file not found: {path}")
    try:
        with _open_text(path) as fh:
            rows = _peak_rows(fh, path)
    except UnicodeDecodeError as err:
        raise ValueError(f"{path}: not a text peak file: {err}") from None
    except _GZIP_ERRORS as err:
        raise ValueError(f"{path}: truncated or corrupt gzip file: {err}") from None
    if not rows:
        raise ValueError(f"{path}: no peaks found")
    chrom, start, end, summit, name = zip(*rows)
    return pd.DataFrame({
        "chrom": pd.Series(chrom, dtype=object),
        "start": np.array(start, dtype=np.int64),
        "end": np.array(end, dtype=np.int64),
        "summit": np.array(summit, dtype=np.int64),
        "name": pd.Series(name, dtype=object),
    })


# --------------------------------------------------------------------------- windows


def _check_center(center: str) -> None:
    """ValueError unless ``center`` is one of :data:`CENTERS`."""
    if center not in CENTERS:
        raise ValueError(f"center must be one of {CENTERS}, got {center!r}")


def peak_windows(peaks: pd.DataFrame, width: int = 200, center: str = "summit") -> pd.DataFrame:
    """Windows [c - width//2, c - width//2 + width) about each peak, with ``peak`` = the peak's index.

    ``center="summit"`` puts c at start + summit where the summit is known (>= 0) and at the midpoint
    (start + end) // 2 otherwise; ``center="midpoint"`` always uses the midpoint. Windows may run off a
    chromosome; :func:`filter_windows` drops those.
    """
    _check_center(center)
    if int(width) != width or width < 1:
        raise ValueError(f"width must be a positive integer, got {width!r}")
    start = peaks["start"].to_numpy(np.int64)
    end = peaks["end"].to_numpy(np.int64)
    c = (start + end) // 2
    if center == "summit" and "summit" in peaks:
        summit = peaks["summit"].to_numpy(np.int64)
        c = np.where(summit >= 0, start + summit, c)
    lo = c - int(width) // 2
    return pd.DataFrame({"chrom": peaks["chrom"].to_numpy(object), "start": lo, "end": lo + int(width),
                         "peak": peaks.index.to_numpy()})


def summit_fallbacks(peaks: pd.DataFrame, center: str = "summit") -> int:
    """How many of ``peaks`` :func:`peak_windows` centres on the midpoint for want of a summit (-1 or no column).

    Always 0 with ``center="midpoint"``, where the midpoint is chosen rather than fallen back to.
    """
    _check_center(center)
    if center != "summit":
        return 0
    if "summit" not in peaks:
        return len(peaks)
    return int((peaks["summit"].to_numpy() < 0).sum())


def _log_summit_fallbacks(peaks: pd.DataFrame, center: str, label: str, what: str) -> int:
    """:func:`summit_fallbacks` of ``peaks``, logged when any (a BED3/BED6 file has no summits at all)."""
    n = summit_fallbacks(peaks, center)
    if n:
        log.info("%s: %d of %d %s peaks have no summit; centred on the midpoint", label, n, len(peaks), what)
    return n


def filter_windows(
    windows: pd.DataFrame,
    chrom_sizes: dict[str, int],
    chromosomes: Collection[str] | None,
    fetch: Callable[[str, int, int], str],
    label: str = "windows",
) -> tuple[pd.DataFrame, dict[str, int]]:
    """Keep usable windows and add their uppercase ``sequence``; also return the count dropped per reason.

    Reasons, checked in this order: ``unknown_contig`` (not in the genome), ``excluded_chromosome``
    (not in ``chromosomes``; None keeps every genome contig), ``off_chromosome_end``, ``duplicate``
    (same chrom/start/end as an earlier window) and ``non_acgt`` (any base but A/C/G/T in either
    case, e.g. N or IUPAC codes). ``fetch(chrom, start, end)`` returns the genome sequence;
    ``label`` names the windows in the log.
    """
    if chromosomes is not None:
        missing = sorted(set(chromosomes) - set(chrom_sizes))
        if missing:
            raise ValueError(f"chromosomes not in the genome: {missing}")
    counts = dict.fromkeys(FILTER_REASONS, 0)
    chrom = windows["chrom"].astype(str)
    keep = chrom.isin(list(chrom_sizes)).to_numpy()
    counts["unknown_contig"] = int((~keep).sum())

    if chromosomes is not None:
        wanted = chrom.isin(list(chromosomes)).to_numpy()
        counts["excluded_chromosome"] = int((keep & ~wanted).sum())
        keep = keep & wanted

    size = chrom.map(chrom_sizes).fillna(0).to_numpy(np.int64)
    inside = (windows["start"].to_numpy() >= 0) & (windows["end"].to_numpy() <= size)
    counts["off_chromosome_end"] = int((keep & ~inside).sum())
    keep = keep & inside

    kept = windows[keep]
    first = ~kept.duplicated(subset=_COORDS).to_numpy()
    counts["duplicate"] = int((~first).sum())
    kept = kept[first].copy()

    sequences = []
    for c, s, e in zip(kept["chrom"], kept["start"], kept["end"]):
        seq = str(fetch(str(c), int(s), int(e))).upper()
        if len(seq) != e - s:
            raise ValueError(f"genome returned {len(seq)} bases for {c}:{s}-{e}; does chrom_sizes match it?")
        sequences.append(seq)
    kept["sequence"] = pd.Series(sequences, index=kept.index, dtype=object)
    acgt = np.array([not s.translate(_DELETE_ACGT) for s in sequences], dtype=bool)
    counts["non_acgt"] = int((~acgt).sum())
    kept = kept[acgt].reset_index(drop=True)

    log.info("%s: %d of %d kept; dropped %s", label, len(kept), len(windows),
             ", ".join(f"{k} {v}" for k, v in counts.items()))
    return kept, counts


# --------------------------------------------------------------------------- negatives


def _bed_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """chrom, start, end of ``frame`` with starts clipped at 0 (bedtools rejects negative coordinates)."""
    return pd.DataFrame({"chrom": frame["chrom"].astype(str).to_numpy(),
                         "start": np.maximum(frame["start"].to_numpy(np.int64), 0),
                         "end": np.maximum(frame["end"].to_numpy(np.int64), 1)})


def _overlap_none(a: pd.DataFrame, b: pd.DataFrame, tmpdir: Path) -> np.ndarray:
    """Boolean mask of the rows of ``a`` that overlap no interval of ``b`` (bedtools intersect -v).

    Inputs and output are files in ``tmpdir``, so pybedtools registers no temp files of its own.
    """
    if len(a) == 0 or len(b) == 0:
        return np.ones(len(a), dtype=bool)
    a_bed = _bed_frame(a).assign(row=np.arange(len(a)))
    a_tool = BedTool.from_dataframe(a_bed, outfile=str(tmpdir / "a.bed"))
    b_tool = BedTool.from_dataframe(_bed_frame(b), outfile=str(tmpdir / "b.bed"))
    result = a_tool.intersect(b_tool, v=True, output=str(tmpdir / "a_not_b.bed"))
    keep = np.zeros(len(a), dtype=bool)
    if Path(result.fn).stat().st_size:
        keep[pd.read_csv(result.fn, sep="\t", header=None, usecols=[3])[3].to_numpy(np.int64)] = True
    return keep


def negative_windows(
    dnase_peaks: pd.DataFrame,
    chip_peaks: pd.DataFrame,
    positive_windows: pd.DataFrame,
    width: int = 200,
    center: str = "summit",
) -> tuple[pd.DataFrame, dict[str, int]]:
    """Candidate negative windows and the count dropped per reason.

    As in the paper, DNase peaks that overlap any ChIP-seq peak are dropped (``dnase_overlaps_chip``)
    and windows are taken about the rest. A window can reach past its DNase peak, so windows that
    overlap a ChIP-seq peak (``window_overlaps_chip``) or a positive window
    (``window_overlaps_positive``) are dropped as well: no negative shares a base with either.
    """
    counts = {}
    with tempfile.TemporaryDirectory(prefix="gradcorr_chipseq_") as tmp:
        tmpdir = Path(tmp)
        free = _overlap_none(dnase_peaks, chip_peaks, tmpdir)
        counts["dnase_overlaps_chip"] = int((~free).sum())
        windows = peak_windows(dnase_peaks[free], width, center)
        for reason, other in (("window_overlaps_chip", chip_peaks), ("window_overlaps_positive", positive_windows)):
            keep = _overlap_none(windows, other, tmpdir)
            counts[reason] = int((~keep).sum())
            windows = windows[keep].reset_index(drop=True)
    log.info("negatives: %d windows from %d DNase peaks; dropped %s", len(windows), len(dnase_peaks),
             ", ".join(f"{k} {v}" for k, v in counts.items()))
    return windows, counts


# --------------------------------------------------------------------------- arrays and splits


def one_hot(sequences: Sequence[str]) -> np.ndarray:
    """(N, 4, L) float32 one-hot of equal-length ACGT sequences (either case), rows in ACGT order."""
    sequences = list(sequences)
    if not sequences:
        return np.zeros((0, 4, 0), dtype=np.float32)
    length = len(sequences[0])
    if any(len(s) != length for s in sequences):
        raise ValueError("sequences must all have the same length")
    try:
        raw = "".join(sequences).encode("ascii")
    except UnicodeEncodeError:
        raise ValueError("sequences must be ASCII") from None
    codes = _BASE_INDEX[np.frombuffer(raw, dtype=np.uint8)].reshape(len(sequences), length)
    bad = np.argwhere(codes < 0)
    if len(bad):
        i, j = bad[0]
        raise ValueError(f"sequence {i} has {sequences[i][j]!r} at position {j}; only A, C, G, T are allowed")
    return (codes[:, None, :] == np.arange(4, dtype=np.int8)[None, :, None]).astype(np.float32)


def split_random(
    n: int, fractions: Sequence[float] = (0.7, 0.1, 0.2), rng: np.random.Generator | None = None,
) -> dict[str, np.ndarray]:
    """Random train/valid/test indices of ``range(n)``.

    Sizes are floor(0.7 n) and floor(0.8 n) - floor(0.7 n), the rest to test (the same rule as the
    synthetic data; it reproduces the split sizes of the authors' in vivo files).
    """
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    rng = np.random.default_rng(0) if rng is None else rng
    sizes = split_sizes(n, fractions)
    bounds = np.cumsum((0,) + sizes)
    order = rng.permutation(n)
    return {name: order[lo:hi] for name, lo, hi in zip(SPLITS, bounds[:-1], bounds[1:])}


def split_by_chromosome(chroms: np.ndarray, valid: Sequence[str], test: Sequence[str]) -> dict[str, np.ndarray]:
    """Chromosome hold-out indices: ``valid`` and ``test`` chromosomes go to those splits, all others to train.

    A chromosome named for both splits, or a split left empty, is a ValueError.
    """
    both = sorted(set(valid) & set(test))
    if both:
        raise ValueError(f"chromosomes held out for both valid and test: {both}")
    chroms = np.asarray(chroms).astype(str)
    absent = sorted((set(valid) | set(test)) - set(chroms.tolist()))
    if absent:
        log.warning("hold-out chromosomes without windows: %s", absent)
    in_valid, in_test = np.isin(chroms, list(valid)), np.isin(chroms, list(test))
    out = {"train": np.flatnonzero(~in_valid & ~in_test), "valid": np.flatnonzero(in_valid),
           "test": np.flatnonzero(in_test)}
    for name, idx in out.items():
        if len(idx) == 0:
            raise ValueError(f"chromosome hold-out leaves the {name} split empty "
                             f"(valid {list(valid)}, test {list(test)})")
    return out


# --------------------------------------------------------------------------- dataset


def _sort_by_coordinate(windows: pd.DataFrame) -> pd.DataFrame:
    """Windows in chrom, start, end order, so seeded draws do not depend on peak-file order."""
    return windows.sort_values(_COORDS, kind="stable").reset_index(drop=True)


def _downsample(windows: pd.DataFrame, n: int, rng: np.random.Generator) -> pd.DataFrame:
    """``n`` windows drawn without replacement from coordinate-sorted ``windows``, in that order."""
    chosen = np.sort(rng.choice(len(windows), size=n, replace=False))
    return windows.iloc[chosen].reset_index(drop=True)


def _fasta(genome: Path) -> Fasta:
    """The genome as a pyfaidx.Fasta returning uppercase strings (builds the .fai when missing).

    pyfaidx's errors (ragged lines, duplicate names, plain gzip, no sequence) mostly do not name the
    file: they become a ValueError that does.
    """
    try:
        return Fasta(str(genome), as_raw=True, sequence_always_upper=True)
    except (FastaIndexingError, ValueError, OSError) as err:
        raise ValueError(f"{genome}: cannot read the genome FASTA: {err}") from None


def _check_chromosomes(chromosomes: Sequence[str] | None, sizes: dict[str, int], genome: Path) -> None:
    """ValueError naming the FASTA when a requested chromosome is not in it."""
    missing = sorted(set(chromosomes or ()) - set(sizes))
    if missing:
        first = ", ".join(list(sizes)[:5]) + (", ..." if len(sizes) > 5 else "")
        raise ValueError(f"{genome}: chromosomes not in the genome: {missing} (its contigs: {first})")


def _require_file(path: str | Path, what: str) -> Path:
    """``path`` as a Path; FileNotFoundError naming it when it is not a file."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{what} file not found: {path}")
    return path


def build_dataset(
    chip: str | Path,
    dnase: str | Path,
    genome: str | Path,
    out: str | Path,
    *,
    width: int = 200,
    center: str = "summit",
    chromosomes: Sequence[str] | None = None,
    split: Sequence[float] = (0.7, 0.1, 0.2),
    holdout: dict[str, Sequence[str]] | None = None,
    seed: int = 0,
    attrs: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Build a balanced ChIP-seq dataset and write it to ``out`` (HDF5, atomically); return its statistics.

    Positives are windows about the ChIP-seq peaks, negatives windows about DNase peaks clear of them
    (:func:`negative_windows`), both filtered by :func:`filter_windows`. The larger class is
    down-sampled at random to the smaller (normally the negatives; a warning when the positives are),
    the union shuffled and split at random by ``split`` fractions or, with ``holdout={"valid": [...],
    "test": [...]}``, by chromosome. One ``np.random.default_rng(seed)`` drives every draw.
    ``positive_summit_fallbacks`` and ``negative_summit_fallbacks`` in the statistics count the ChIP-seq and
    DNase peaks without a summit, whose windows are centred on the midpoint (logged too).
    """
    chip, dnase, genome = (_require_file(p, w) for p, w in ((chip, "ChIP-seq peak"), (dnase, "DNase peak"),
                                                            (genome, "genome FASTA")))
    if holdout is not None and (set(holdout) - {"valid", "test"} or not holdout):
        raise ValueError(f"holdout must map 'valid' and/or 'test' to chromosome lists, got {holdout!r}")
    if holdout is None:
        split_sizes(0, split)  # bad fractions fail now, not after indexing the genome
    chip_peaks, dnase_peaks = read_peaks(chip), read_peaks(dnase)
    stats: dict[str, Any] = {
        "chip_peaks": len(chip_peaks), "dnase_peaks": len(dnase_peaks),
        "positive_summit_fallbacks": _log_summit_fallbacks(chip_peaks, center, "positives", "ChIP-seq"),
        "negative_summit_fallbacks": _log_summit_fallbacks(dnase_peaks, center, "negatives", "DNase"),
    }

    with _fasta(genome) as fasta:
        sizes = {name: len(fasta[name]) for name in fasta.keys()}
        _check_chromosomes(chromosomes, sizes, genome)

        def fetch(chrom: str, start: int, end: int) -> str:
            return fasta[chrom][start:end]

        windows = peak_windows(chip_peaks, width, center)
        positives, dropped = filter_windows(windows, sizes, chromosomes, fetch, label="positives")
        stats.update(positive_windows=len(windows), positive_dropped=dropped, positive_kept=len(positives))

        windows, overlap = negative_windows(dnase_peaks, chip_peaks, positives, width, center)
        negatives, dropped = filter_windows(windows, sizes, chromosomes, fetch, label="negatives")
        stats.update(negative_windows=len(windows), negative_dropped={**overlap, **dropped},
                     negative_kept=len(negatives))

    n = min(len(positives), len(negatives))
    if n == 0:
        kind, source = ("positive", chip) if len(positives) == 0 else ("negative", dnase)
        raise ValueError(f"{source}: no usable {kind} windows; dropped: {stats[f'{kind}_dropped']}")
    rng = np.random.default_rng(seed)
    positives, negatives = _sort_by_coordinate(positives), _sort_by_coordinate(negatives)  # file order is moot
    if len(negatives) < len(positives):
        log.warning("fewer negatives (%d) than positives (%d): down-sampling the positives",
                    len(negatives), len(positives))
        positives, stats["downsampled"] = _downsample(positives, n, rng), "positives"
    else:
        negatives, stats["downsampled"] = _downsample(negatives, n, rng), "negatives"
    stats.update(positives=n, negatives=n)

    labelled = pd.concat([positives.assign(label=1), negatives.assign(label=0)], ignore_index=True)
    labelled = labelled.iloc[rng.permutation(len(labelled))].reset_index(drop=True)
    if holdout is None:
        parts = split_random(len(labelled), split, rng)
    else:
        parts = split_by_chromosome(labelled["chrom"].to_numpy(), holdout.get("valid", []),
                                    holdout.get("test", []))
    for name, idx in parts.items():
        if len(idx) == 0:
            raise ValueError(f"the {name} split is empty ({2 * n} windows in all)")
    stats["split"] = {name: len(idx) for name, idx in parts.items()}
    stats["split_positives"] = {name: int(labelled["label"].to_numpy()[idx].sum()) for name, idx in parts.items()}

    write_arrays(out, _split_arrays(labelled, parts),
                 _dataset_attrs(stats, width, center, seed, split, holdout, (chip, dnase, genome), attrs))
    log.info("wrote %s: %d positives, %d negatives; splits %s", out, n, n, stats["split"])
    return stats


def _split_arrays(labelled: pd.DataFrame, parts: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """x, y and coordinates of each split, in the order of ``parts``' indices."""
    arrays: dict[str, np.ndarray] = {}
    for name, idx in parts.items():
        rows = labelled.iloc[idx]
        arrays[f"x_{name}"] = one_hot(rows["sequence"].tolist())
        arrays[f"y_{name}"] = rows["label"].to_numpy(np.int8)[:, None]
        arrays[f"chrom_{name}"] = np.array([c.encode("ascii") for c in rows["chrom"].astype(str)])
        arrays[f"start_{name}"] = rows["start"].to_numpy(np.int64)
        arrays[f"end_{name}"] = rows["end"].to_numpy(np.int64)
    return arrays


def _dataset_attrs(stats: dict[str, Any], width: int, center: str, seed: int, split: Sequence[float],
                   holdout: dict[str, Sequence[str]] | None, sources: tuple[Path, Path, Path],
                   extra: dict[str, Any] | None) -> dict[str, Any]:
    """Root attributes of a built dataset; ``extra`` may not reuse a built-in name."""
    attrs: dict[str, Any] = {
        "width": int(width), "center": center, "seed": int(seed), "counts": stats,
        "split": [float(f) for f in split] if holdout is None else "chromosome",
        "holdout": {k: list(v) for k, v in (holdout or {}).items()},
        "chip_file": sources[0].name, "dnase_file": sources[1].name, "genome_file": sources[2].name,
    }
    clash = sorted(set(extra or {}) & set(attrs))
    if clash:
        raise ValueError(f"attrs may not override built-in attributes: {clash}")
    return {**attrs, **(extra or {})}


# --------------------------------------------------------------------------- reading


def _read(ds: h5py.Dataset, path: Path, key: str) -> np.ndarray:
    """All of ``ds``; ValueError naming the file and key when its data cannot be read (e.g. a corrupt chunk)."""
    try:
        return ds[()]
    except OSError as err:
        raise ValueError(f"{path}: cannot read {key!r} (truncated or corrupt file?): {err}") from None


def _numeric_dataset(f: h5py.File, path: Path, key: str) -> h5py.Dataset:
    """Dataset ``key`` of ``f`` after checking it exists, has a dataspace and holds numbers (no data read)."""
    if key not in f:
        raise ValueError(f"{path}: missing dataset {key!r}")
    ds = f[key]
    if not isinstance(ds, h5py.Dataset):
        raise ValueError(f"{path}: {key!r} is a group, not a dataset")
    if ds.shape is None:
        raise ValueError(f"{path}: {key!r} is an empty (null) dataset")
    if ds.dtype.kind not in _NUMERIC_KINDS:
        what = "strings" if h5py.check_string_dtype(ds.dtype) or ds.dtype.kind in "SU" else f"{ds.dtype} values"
        raise ValueError(f"{path}: {key!r} holds {what}, not numbers")
    return ds


def _check_layout(f: h5py.File, path: Path, split: str) -> tuple[h5py.Dataset, h5py.Dataset]:
    """The x and y datasets of one split after checking their types and shapes (no data read)."""
    x_key, y_key = f"x_{split}", f"y_{split}"
    x, y = _numeric_dataset(f, path, x_key), _numeric_dataset(f, path, y_key)
    if x.ndim != 3:
        raise ValueError(f"{path}: {x_key!r} must have rank 3 (N, 4, L), got shape {x.shape}")
    if x.shape[1] != 4:
        raise ValueError(f"{path}: {x_key!r} must have 4 (ACGT) rows on axis 1, got shape {x.shape}")
    if y.ndim != 2 or y.shape[1] != 1:
        raise ValueError(f"{path}: {y_key!r} must have shape (N, 1), got {y.shape}")
    if len(x) != len(y):
        raise ValueError(f"{path}: {x_key!r} has {len(x)} rows but {y_key!r} has {len(y)}")
    if len(x) == 0:
        raise ValueError(f"{path}: {x_key!r} has no rows; every split needs at least one sequence")
    if x.shape[2] == 0:
        raise ValueError(f"{path}: {x_key!r} has sequences of length 0")
    return x, y


def _check_splits(f: h5py.File, path: Path) -> dict[str, tuple[h5py.Dataset, h5py.Dataset]]:
    """:func:`_check_layout` of every split, and one sequence length L across them (no data read)."""
    layouts = {split: _check_layout(f, path, split) for split in SPLITS}
    first = SPLITS[0]
    length = layouts[first][0].shape[2]
    for split, (x, _) in layouts.items():
        if x.shape[2] != length:
            raise ValueError(f"{path}: 'x_{split}' has sequences of length {x.shape[2]} "
                             f"but 'x_{first}' has {length}")
    return layouts


def _read_labels(y: h5py.Dataset, path: Path, key: str) -> np.ndarray:
    """Labels of ``y`` as float32 (N, 1); ValueError unless every label is 0 or 1."""
    labels = _read(y, path, key).astype(np.float32)
    if not np.isin(labels, (0.0, 1.0)).all():
        raise ValueError(f"{path}: {key!r} holds labels other than 0 and 1")
    return labels


def _read_one_hot(x: h5py.Dataset, path: Path, key: str) -> np.ndarray:
    """Sequences of ``x`` as float32 (N, 4, L); ValueError unless every position is a single 1."""
    values = _read(x, path, key).astype(np.float32, copy=False)
    if not (((values == 0) | (values == 1)).all() and (values.sum(axis=1) == 1).all()):
        raise ValueError(f"{path}: {key!r} is not one-hot (every position must be a single 1)")
    return values


def read_processed(path: str | Path) -> dict[str, np.ndarray]:
    """x_{split} (N, 4, L) and y_{split} (N, 1) float32 arrays of a processed dataset, after validating it.

    Checks every split's keys, numeric types, shapes (N >= 1, one L >= 1 for all splits), 0/1 labels and
    that every position of every row is one-hot; any violation, and a file HDF5 cannot read, is a
    ValueError naming the file and the key. Layouts are checked before any data is read.
    """
    path = _require_file(path, "processed dataset")
    data: dict[str, np.ndarray] = {}
    with open_hdf5(path) as f:
        for split, (x, y) in _check_splits(f, path).items():
            data[f"x_{split}"] = _read_one_hot(x, path, f"x_{split}")
            data[f"y_{split}"] = _read_labels(y, path, f"y_{split}")
    return data


def dataset_summary(path: str | Path) -> dict[str, Any]:
    """Sequence length and, per split, its size and class balance (reads labels and shapes only).

    Validates the layout as :func:`read_processed` does, but not that x is one-hot.
    """
    path = _require_file(path, "processed dataset")
    summary: dict[str, Any] = {}
    with open_hdf5(path) as f:
        for split, (x, y) in _check_splits(f, path).items():
            labels = _read_labels(y, path, f"y_{split}")
            positives = int(labels.sum())
            summary["length"] = int(x.shape[2])
            summary[split] = {"n": len(labels), "positives": positives, "negatives": len(labels) - positives,
                              "fraction_positive": positives / len(labels)}
    return summary
