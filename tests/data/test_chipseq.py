"""Tests for gradcorr.data.chipseq: balanced ChIP-seq datasets from peak files."""

from __future__ import annotations

import hashlib
import logging
import re
import tempfile
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest
from genome_fixture import CHROM_SIZES, N_RUN, SOFT_MASKED, write_genome, write_peaks
from pybedtools import BedTool
from shared_data import INVIVO

from gradcorr.data import chipseq as cs

WIDTH = 200
CHROMS = ["chr1", "chr2", "chr3"]
GABPA = INVIVO / "GABPA_200.h5"

# Regular ChIP peaks (chrom, start, end, summit); every third has no summit (-1 -> midpoint).
REGULAR_CHIP = [(c, 1000 * k + 300, 1000 * k + 300 + 150 + 10 * k, 40 + 5 * k if k % 3 else -1)
                for c in CHROMS for k in range(CHROM_SIZES[c] // 1000)]
# One peak per drop reason, with the reason it is dropped for.
EDGE_CHIP = {
    ("chr1", 10, 80, 20): "off_chromosome_end",  # window starts at -70
    ("chr2", 7950, 7990, 30): "off_chromosome_end",  # window ends at 8080 > 8000
    ("chr3", N_RUN[1] + 20, N_RUN[1] + 80, 30): "non_acgt",  # window covers the N run
    ("chrUn_xyz", 900, 1100, 100): "excluded_chromosome",
    ("chrMissing", 100, 300, 100): "unknown_contig",
    ("chr1", 5000, 5200, 100): "duplicate",  # same window as the next peak
    ("chr1", 5050, 5150, 50): None,
}
CHIP_ROWS = REGULAR_CHIP + list(EDGE_CHIP)


def _window(start: int, end: int, summit: int, width: int = WIDTH) -> tuple[int, int]:
    """Reference window: summit when known, else the midpoint."""
    c = start + summit if summit >= 0 else (start + end) // 2
    return c - width // 2, c - width // 2 + width


def _overlaps(a: tuple[str, int, int], intervals: list[tuple[str, int, int]]) -> bool:
    """Half-open interval overlap by plain arithmetic."""
    return any(a[0] == b[0] and a[1] < b[2] and b[1] < a[2] for b in intervals)


def _usable(chrom: str, lo: int, hi: int, genome: dict[str, str]) -> bool:
    return (chrom in CHROMS and lo >= 0 and hi <= len(genome[chrom])
            and set(genome[chrom][lo:hi].upper()) <= set("ACGT"))


def _dnase_rows(seed: int = 7, n: int = 260) -> list[tuple[str, int, int, int]]:
    """Random DNase peaks over all contigs, some with no summit."""
    rng = np.random.default_rng(seed)
    rows = []
    for _ in range(n):
        chrom = str(rng.choice(list(CHROM_SIZES)))
        length = int(rng.integers(40, 300))
        start = int(rng.integers(0, CHROM_SIZES[chrom] - length))
        summit = int(rng.integers(0, length)) if rng.random() < 0.8 else -1
        rows.append((chrom, start, start + length, summit))
    return rows


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> dict:
    d = tmp_path_factory.mktemp("chipseq")
    fasta, genome = write_genome(d, seed=0)
    dnase = _dnase_rows()
    return {"dir": d, "fasta": fasta, "genome": genome, "dnase_rows": dnase,
            "chip": write_peaks(d / "chip.narrowPeak", CHIP_ROWS),
            "dnase": write_peaks(d / "dnase.narrowPeak.gz", dnase, gzip=True)}


def _build(inputs: dict, out: Path, **kwargs) -> dict:
    kwargs.setdefault("chromosomes", CHROMS)
    kwargs.setdefault("seed", 3)
    return cs.build_dataset(inputs["chip"], inputs["dnase"], inputs["fasta"], out, **kwargs)


@pytest.fixture(scope="module")
def built(inputs) -> tuple[Path, dict]:
    out = inputs["dir"] / "data.h5"
    return out, _build(inputs, out)


def _rows(path: Path) -> dict[str, dict[str, np.ndarray]]:
    with h5py.File(path, "r") as f:
        return {s: {k: f[f"{k}_{s}"][()] for k in ("x", "y", "chrom", "start", "end")} for s in cs.SPLITS}


def _coords(split: dict[str, np.ndarray]) -> list[tuple[str, int, int]]:
    return [(c.decode(), int(s), int(e)) for c, s, e in zip(split["chrom"], split["start"], split["end"])]


def _expected_positives(genome: dict[str, str]) -> set[tuple[str, int, int]]:
    windows = {(c, *_window(s, e, m)) for c, s, e, m in CHIP_ROWS}
    return {w for w in windows if _usable(*w, genome)}


def _expected_negatives(genome: dict[str, str], dnase_rows: list) -> set[tuple[str, int, int]]:
    chip = [(c, s, e) for c, s, e, _ in CHIP_ROWS]
    positives = list(_expected_positives(genome))
    out = set()
    for c, s, e, m in dnase_rows:
        w = (c, *_window(s, e, m))
        if not _overlaps((c, s, e), chip) and not _overlaps(w, chip) and not _overlaps(w, positives) \
                and _usable(*w, genome):
            out.add(w)
    return out


# ----------------------------------------------------------------- peak files


def test_read_peaks_formats_headers_and_gzip(tmp_path):
    header = ["track name=chip", "browser position chr1:1-100", "# comment", ""]
    narrow = write_peaks(tmp_path / "a.narrowPeak.gz", [("chr1", 100, 300, 50), ("chr2", 5, 25)], gzip=True,
                         header=header)
    peaks = cs.read_peaks(narrow)
    assert peaks["chrom"].tolist() == ["chr1", "chr2"]
    assert peaks["start"].tolist() == [100, 5] and peaks["end"].tolist() == [300, 25]
    assert peaks["summit"].tolist() == [50, -1] and peaks["name"].tolist() == ["peak0", "peak1"]
    assert all(peaks[k].dtype == np.int64 for k in ("start", "end", "summit"))

    bed = tmp_path / "b.bed"  # gzip is detected by content, not by name
    bed.write_text("#chrom start end\nchr3\t10\t20\r\n\nchr1\t30\t40\tp\t0\t+\n")
    peaks = cs.read_peaks(bed)
    assert peaks[["chrom", "start", "end", "summit"]].values.tolist() == [["chr3", 10, 20, -1], ["chr1", 30, 40, -1]]
    assert peaks["name"].tolist() == [".", "p"]


@pytest.mark.parametrize("line, problem", [
    ("chr1\t100", "at least 3 fields"),
    ("chr1\tabc\t200", "integers"),
    ("chr1\t100\t2.5e2", "integers"),
    ("chr1\t-5\t200", "start must be >= 0"),
    ("chr1\t300\t200", "end must be > start"),
    ("chr1\t200\t200", "end must be > start"),
    ("chr1\t100\t200\tp\t0\t.\t1\t1\t1\tx", "summit"),
    ("chr1\t100\t200\tp\t0\t.\t1\t1\t1\t100", "outside"),
    ("chr1\t100\t200\tp\t0\t.\t1\t1\t1\t-2", "outside"),
    ("chr1 100 200", "fields must be tab-separated"),
    ("chr1 100 200 peak 0 . 1 1 1 50", "fields must be tab-separated"),
    ("chr 1\t100\t200", "'chr 1' contains whitespace; fields must be tab-separated"),
    ("\t100\t200", "chromosome name .* is empty"),
    ("chr\u00e91\t100\t200", "printable ASCII"),
    ("chr1\x07\t100\t200", "printable ASCII"),
])
def test_read_peaks_malformed_line_names_file_and_line(tmp_path, line, problem):
    path = tmp_path / "bad.bed"
    path.write_text(f"track name=x\nchr1\t1\t50\n{line}\nchr1\t60\t70\n")
    with pytest.raises(ValueError, match=problem) as err:
        cs.read_peaks(path)
    assert str(path) in str(err.value) and "line 3" in str(err.value)


def test_read_peaks_summit_with_spaced_name_and_extra_columns(tmp_path):
    path = tmp_path / "spaced.narrowPeak"
    path.write_text("chr1\t100\t300\tpeak one\t0\t.\t5\t10\t8\t50\n"  # a space in the name
                    "chr1\t400\t600\tp2\t0\t.\t5\t10\t8\t70\textra\n"  # an 11th column
                    "chr1\t700\t900\tp3\t0\t.\t5\t10\t8\t-1\n")
    peaks = cs.read_peaks(path)
    assert peaks["summit"].tolist() == [50, 70, -1]
    assert peaks["name"].tolist() == ["peak one", "p2", "p3"]
    assert cs.peak_windows(peaks)["start"].tolist() == [50, 370, 700]


def _truncate(data: bytes) -> bytes:
    return data[: len(data) // 2]


def _garble(data: bytes) -> bytes:
    return data[:30] + bytes(range(256)) * 4 + data[30 + 1024:]


def _bad_crc(data: bytes) -> bytes:
    return data[:-8] + bytes(8)


@pytest.mark.parametrize("damage", [_truncate, _garble, _bad_crc])
def test_read_peaks_damaged_gzip_names_file(tmp_path, damage):
    rows = [("chr1", 100 * i, 100 * i + 50, 10) for i in range(2000)]
    path = write_peaks(tmp_path / "peaks.narrowPeak.gz", rows, gzip=True)
    assert len(cs.read_peaks(path)) == 2000
    path.write_bytes(damage(path.read_bytes()))
    with pytest.raises(ValueError, match=re.escape(f"{path}: truncated or corrupt gzip file")):
        cs.read_peaks(path)


def test_read_peaks_empty_and_missing(tmp_path):
    path = tmp_path / "empty.bed"
    path.write_text("track name=nothing\n\n")
    with pytest.raises(ValueError, match="no peaks") as err:
        cs.read_peaks(path)
    assert str(path) in str(err.value)
    with pytest.raises(FileNotFoundError, match="absent.bed"):
        cs.read_peaks(tmp_path / "absent.bed")


# ----------------------------------------------------------------- windows


def test_peak_windows_summit_and_midpoint(tmp_path):
    narrow = cs.read_peaks(write_peaks(tmp_path / "p.narrowPeak", [("chr1", 1000, 1301, 37), ("chr1", 2000, 2301)]))
    bed3 = cs.read_peaks(write_peaks(tmp_path / "p.bed", [("chr1", 1000, 1301)], narrowpeak=False))

    w = cs.peak_windows(narrow, width=200, center="summit")
    assert w[["start", "end"]].values.tolist() == [[937, 1137], [2050, 2250]]  # summit 1037; midpoint 2150
    assert w["peak"].tolist() == [0, 1] and (w["end"] - w["start"] == 200).all()
    w = cs.peak_windows(narrow, width=200, center="midpoint")
    assert w[["start", "end"]].values.tolist() == [[1050, 1250], [2050, 2250]]
    w = cs.peak_windows(bed3, width=201, center="summit")  # odd width: the extra base goes right of centre
    assert w[["start", "end"]].values.tolist() == [[1050, 1251]]
    with pytest.raises(ValueError, match="center"):
        cs.peak_windows(narrow, center="peak")


def test_summit_fallbacks():
    peaks = pd.DataFrame({"chrom": ["chr1"] * 3, "start": [0, 10, 20], "end": [5, 15, 25], "summit": [2, -1, -1]})
    assert cs.summit_fallbacks(peaks) == 2
    assert cs.summit_fallbacks(peaks, center="midpoint") == 0
    assert cs.summit_fallbacks(peaks.drop(columns="summit")) == 3
    with pytest.raises(ValueError, match="center"):
        cs.summit_fallbacks(peaks, center="peak")


def test_filter_windows_drops_and_counts_each_reason(tmp_path):
    _, genome = write_genome(tmp_path, seed=1)
    windows = cs.peak_windows(cs.read_peaks(write_peaks(tmp_path / "w.bed", [
        ("chr1", 500, 700),  # kept
        ("chr1", 500, 700),  # duplicate
        (SOFT_MASKED[0], SOFT_MASKED[1], SOFT_MASKED[1] + 200),  # lowercase in the FASTA: kept, as uppercase
        ("chr1", 0, 100),  # window -50..150: off the start
        ("chr2", 7900, 8000),  # window 7850..8050: off the end
        ("chr1", 11800, 12000),  # window 11800..12000 ends exactly at the chromosome end: kept
        (N_RUN[0], N_RUN[1] - 150, N_RUN[1] + 50),  # N
        ("chrUn_xyz", 500, 700),  # excluded
        ("chrNope", 500, 700),  # unknown
    ], narrowpeak=False)), width=200)
    genome_r = {c: s[:2000] + "R" + s[2001:] if c == "chr2" else s for c, s in genome.items()}  # IUPAC R
    windows.loc[len(windows)] = ["chr2", 1900, 2100, 99]

    kept, counts = cs.filter_windows(windows, {c: len(s) for c, s in genome_r.items()}, CHROMS,
                                     lambda c, s, e: genome_r[c][s:e])
    assert counts == {"unknown_contig": 1, "excluded_chromosome": 1, "off_chromosome_end": 2, "duplicate": 1,
                      "non_acgt": 2}
    assert kept[["chrom", "start", "end"]].values.tolist() == [
        ["chr1", 500, 700], ["chr2", 3000, 3200], ["chr1", 11800, 12000]]
    for c, s, e, seq in kept[["chrom", "start", "end", "sequence"]].itertuples(index=False):
        assert seq == genome[c][s:e].upper() and len(seq) == 200

    # chromosomes=None keeps every genome contig; a requested chromosome absent from the genome is an error
    kept, counts = cs.filter_windows(windows, {c: len(s) for c, s in genome.items()}, None,
                                     lambda c, s, e: genome[c][s:e])
    assert counts["excluded_chromosome"] == 0 and "chrUn_xyz" in kept["chrom"].tolist()
    with pytest.raises(ValueError, match="chrX"):
        cs.filter_windows(windows, {c: len(s) for c, s in genome.items()}, ["chr1", "chrX"], lambda c, s, e: "")


def test_negative_windows_avoid_chip_and_positives_and_leave_no_temp_files(tmp_path):
    chip = cs.read_peaks(write_peaks(tmp_path / "c.bed", [("chr1", 1000, 1100), ("chr1", 3000, 3010)],
                                     narrowpeak=False))
    positives = cs.peak_windows(chip)  # 950..1150 and 2905..3105
    dnase = cs.read_peaks(write_peaks(tmp_path / "d.narrowPeak", [
        ("chr1", 1050, 1060, 5),  # overlaps a ChIP peak
        ("chr1", 1100, 1120, 10),  # touches the ChIP peak's end only (half-open): a candidate, but its
        #                            window 1010..1210 overlaps the peak -> window_overlaps_chip
        ("chr1", 2700, 2720, 10),  # window 2610..2810: clear of everything
        ("chr1", 2800, 2810, 5),  # window 2705..2905 touches the positive window 2905..3105: kept
        ("chr1", 2810, 2820, 0),  # window 2710..2910 overlaps the positive window only
        ("chr1", 10, 20, 5),  # window -85..115: kept here (filter_windows drops it later)
    ]))

    def temp_files():
        tmp = Path(tempfile.gettempdir())
        return len(BedTool.TEMPFILES), sorted([*tmp.glob("pybedtools.*.tmp"), *tmp.glob("gradcorr_chipseq_*")])

    before = temp_files()
    for _ in range(2):
        windows, counts = cs.negative_windows(dnase, chip, positives, width=200, center="summit")
    assert temp_files() == before
    assert counts == {"dnase_overlaps_chip": 1, "window_overlaps_chip": 1, "window_overlaps_positive": 1}
    assert windows[["start", "end", "peak"]].values.tolist() == [[2610, 2810, 2], [2705, 2905, 3], [-85, 115, 5]]


# ----------------------------------------------------------------- arrays and splits


def test_one_hot_matches_reference():
    rng = np.random.default_rng(0)
    seqs = ["".join(rng.choice(list("ACGTacgt"), 37)) for _ in range(25)]
    ref = np.zeros((25, 4, 37), dtype=np.float32)
    for i, s in enumerate(seqs):
        for j, base in enumerate(s):
            ref[i, "ACGT".index(base.upper()), j] = 1
    got = cs.one_hot(seqs)
    assert got.dtype == np.float32 and np.array_equal(got, ref)
    assert cs.one_hot([]).shape == (0, 4, 0)
    with pytest.raises(ValueError, match="'N' at position 2"):
        cs.one_hot(["ACGT", "ACNT"])
    with pytest.raises(ValueError, match="same length"):
        cs.one_hot(["ACGT", "ACG"])


@pytest.mark.parametrize("n, sizes", [
    (15746, (11022, 1574, 3150)),  # the authors' GABPA_200.h5 split sizes
    (12936, (9055, 1293, 2588)),  # REST_200.h5
    (7, (4, 1, 2)),
    (0, (0, 0, 0)),
])
def test_split_random_sizes_partition(n, sizes):
    parts = cs.split_random(n, (0.7, 0.1, 0.2), np.random.default_rng(0))
    assert tuple(len(parts[s]) for s in cs.SPLITS) == sizes
    assert np.array_equal(np.sort(np.concatenate(list(parts.values()))), np.arange(n))
    if n > 10:
        assert not np.array_equal(parts["train"], np.arange(sizes[0]))  # shuffled
    with pytest.raises(ValueError, match="split"):
        cs.split_random(n, (0.7, 0.2, 0.2), np.random.default_rng(0))


def test_split_by_chromosome():
    chroms = np.array(["chr1", "chr2", "chr3", "chr1", "chr3", "chrX"])
    parts = cs.split_by_chromosome(chroms, valid=["chr2"], test=["chr3", "chr9"])
    assert {k: v.tolist() for k, v in parts.items()} == {"train": [0, 3, 5], "valid": [1], "test": [2, 4]}
    with pytest.raises(ValueError, match="both valid and test.*chr2"):
        cs.split_by_chromosome(chroms, valid=["chr2"], test=["chr2", "chr3"])
    with pytest.raises(ValueError, match="valid split empty"):
        cs.split_by_chromosome(chroms, valid=["chr9"], test=["chr3"])
    with pytest.raises(ValueError, match="train split empty"):
        cs.split_by_chromosome(chroms[:3], valid=["chr2"], test=["chr1", "chr3"])


# ----------------------------------------------------------------- build_dataset


def test_windows_match_genome(built, inputs):
    path, _ = built
    genome = inputs["genome"]
    for split in _rows(path).values():
        assert split["x"].dtype == np.float32 and split["x"].shape[1:] == (4, WIDTH)
        assert split["y"].dtype == np.int8 and split["y"].shape == (len(split["x"]), 1)
        assert split["start"].dtype == np.int64 and split["end"].dtype == np.int64
        assert (split["end"] - split["start"] == WIDTH).all()
        decoded = np.array(list("ACGT"))[split["x"].argmax(axis=1)]
        assert (split["x"].sum(axis=1) == 1).all()
        for (c, s, e), bases in zip(_coords(split), decoded):
            assert "".join(bases) == genome[c][s:e].upper()


def test_classes_balanced_labelled_and_negatives_clear(built, inputs):
    path, stats = built
    genome = inputs["genome"]
    positives = _expected_positives(genome)
    candidates = _expected_negatives(genome, inputs["dnase_rows"])
    assert len(candidates) > len(positives)  # the fixture exercises down-sampling of the negatives
    chip = [(c, s, e) for c, s, e, _ in CHIP_ROWS]

    rows = _rows(path)
    y = np.concatenate([rows[s]["y"][:, 0] for s in cs.SPLITS])
    coords = [w for s in cs.SPLITS for w in _coords(rows[s])]
    assert len(set(coords)) == len(coords)
    assert (y == 1).sum() == (y == 0).sum() == len(positives)
    assert {w for w, label in zip(coords, y) if label == 1} == positives
    negatives = [w for w, label in zip(coords, y) if label == 0]
    assert set(negatives) <= candidates
    assert not any(_overlaps(w, chip) or _overlaps(w, list(positives)) for w in negatives)

    assert stats["positive_kept"] == stats["positives"] == stats["negatives"] == len(positives)
    assert stats["negative_kept"] == len(candidates) and stats["downsampled"] == "negatives"
    assert stats["chip_peaks"] == len(CHIP_ROWS) and stats["dnase_peaks"] == len(inputs["dnase_rows"])


def test_dropped_peaks_counted(built):
    _, stats = built
    expected = dict.fromkeys(cs.FILTER_REASONS, 0)
    for reason in EDGE_CHIP.values():
        if reason:
            expected[reason] += 1
    assert stats["positive_dropped"] == expected
    assert set(stats["negative_dropped"]) == {"dnase_overlaps_chip", "window_overlaps_chip",
                                              "window_overlaps_positive", *cs.FILTER_REASONS}
    assert stats["negative_dropped"]["dnase_overlaps_chip"] > 0


def test_split_sizes_and_attrs(built):
    path, stats = built
    n = 2 * stats["positives"]
    train, valid = int(np.floor(0.7 * n)), int(np.floor(0.8 * n)) - int(np.floor(0.7 * n))
    assert stats["split"] == {"train": train, "valid": valid, "test": n - train - valid}
    summary = cs.dataset_summary(path)
    assert summary["length"] == WIDTH
    for s in cs.SPLITS:
        assert summary[s]["n"] == stats["split"][s]
        assert summary[s]["positives"] == stats["split_positives"][s]
    assert 0 < summary["train"]["positives"] < summary["train"]["n"]  # shuffled: both classes in train
    with h5py.File(path, "r") as f:
        assert f.attrs["width"] == WIDTH and f.attrs["center"] == "summit" and f.attrs["seed"] == 3
        assert f.attrs["chip_file"] == "chip.narrowPeak"
        assert f["x_train"].compression == "gzip" and f["x_train"].chunks is not None


def test_seed_reproducible_and_changes_negatives(built, inputs, tmp_path):
    path, _ = built
    same = tmp_path / "same.h5"
    _build(inputs, same)
    assert hashlib.sha256(same.read_bytes()).digest() == hashlib.sha256(path.read_bytes()).digest()

    # the peak files' line order does not matter: candidates are sorted before the seeded draw
    reordered = tmp_path / "reordered"
    reordered.mkdir()
    shuffled = [inputs["dnase_rows"][i] for i in np.random.default_rng(5).permutation(len(inputs["dnase_rows"]))]
    dnase = write_peaks(reordered / inputs["dnase"].name, shuffled, gzip=True)
    chip = write_peaks(reordered / inputs["chip"].name, CHIP_ROWS[::-1])
    cs.build_dataset(chip, dnase, inputs["fasta"], reordered / "data.h5", chromosomes=CHROMS, seed=3)
    assert (reordered / "data.h5").read_bytes() == path.read_bytes()

    other = tmp_path / "other.h5"
    _build(inputs, other, seed=4)

    def negatives(p):
        rows = _rows(p)
        return {w for s in cs.SPLITS for w, label in zip(_coords(rows[s]), rows[s]["y"][:, 0]) if label == 0}
    assert negatives(other) != negatives(path)


def test_chromosome_holdout(inputs, tmp_path):
    out = tmp_path / "holdout.h5"
    stats = _build(inputs, out, holdout={"valid": ["chr2"], "test": ["chr3"]})
    rows = _rows(out)
    chroms = {s: {c for c, _, _ in _coords(rows[s])} for s in cs.SPLITS}
    assert chroms == {"train": {"chr1"}, "valid": {"chr2"}, "test": {"chr3"}}
    assert sum(stats["split"].values()) == 2 * stats["positives"]
    labels = rows["train"]["y"][:, 0]
    assert np.diff(labels).any() and not (np.diff(labels) <= 0).all()  # shuffled, not positives then negatives
    with h5py.File(out, "r") as f:
        assert f.attrs["split"] == "chromosome"


def test_fewer_negatives_downsamples_positives(inputs, tmp_path, caplog):
    dnase = write_peaks(tmp_path / "few.narrowPeak", [("chr1", 900, 950, 25), ("chr2", 950, 990, 20),
                                                      ("chr3", 2900, 2960, 30), ("chr1", 7900, 7950, -1),
                                                      ("chr2", 5900, 5950, 25), ("chr1", 3900, 3950, 25)])
    out = tmp_path / "few.h5"
    with caplog.at_level(logging.WARNING, logger="gradcorr.data.chipseq"):
        stats = cs.build_dataset(inputs["chip"], dnase, inputs["fasta"], out, chromosomes=CHROMS, seed=1)
    assert "fewer negatives" in caplog.text
    assert stats["downsampled"] == "positives" and stats["positives"] == stats["negatives"] == 6
    y = np.concatenate([v for k, v in cs.read_processed(out).items() if k.startswith("y_")])
    assert (y == 1).sum() == (y == 0).sum() == 6


def test_summit_fallbacks_logged_and_counted(inputs, tmp_path, caplog):
    with caplog.at_level(logging.INFO, logger="gradcorr.data.chipseq"):
        stats = _build(inputs, tmp_path / "fallbacks.h5")
    n_chip = sum(summit < 0 for *_, summit in CHIP_ROWS)
    n_dnase = sum(summit < 0 for *_, summit in inputs["dnase_rows"])
    assert 0 < n_chip < len(CHIP_ROWS) and 0 < n_dnase < len(inputs["dnase_rows"])
    assert stats["positive_summit_fallbacks"] == n_chip and stats["negative_summit_fallbacks"] == n_dnase
    assert (f"positives: {n_chip} of {len(CHIP_ROWS)} ChIP-seq peaks have no summit; centred on the midpoint"
            in caplog.text)
    assert f"negatives: {n_dnase} of {len(inputs['dnase_rows'])} DNase peaks have no summit" in caplog.text


def test_genome_problems_named_and_bad_split_refused_early(inputs, tmp_path, monkeypatch):
    with pytest.raises(ValueError, match=re.escape(f"{inputs['fasta']}: chromosomes not in the genome: ['chrX']")):
        _build(inputs, tmp_path / "x.h5", chromosomes=["chr1", "chrX"])
    ragged = tmp_path / "ragged.fa"
    ragged.write_text(">chr1\nACGTACGT\nACG\nACGTACGT\n")
    with pytest.raises(ValueError, match=re.escape(f"{ragged}: cannot read the genome FASTA")):
        cs.build_dataset(inputs["chip"], inputs["dnase"], ragged, tmp_path / "x.h5")

    def never(path):
        raise AssertionError("peak files read before the split fractions were checked")
    monkeypatch.setattr(cs, "read_peaks", never)
    with pytest.raises(ValueError, match="split must be 3 non-negative fractions"):
        _build(inputs, tmp_path / "x.h5", split=(0.7, 0.2, 0.2))
    assert not (tmp_path / "x.h5").exists()


def test_missing_inputs_named(inputs, tmp_path):
    for key in ("chip", "dnase"):
        paths = {"chip": inputs["chip"], "dnase": inputs["dnase"], key: tmp_path / f"no_{key}.bed"}
        with pytest.raises(FileNotFoundError, match=f"no_{key}.bed"):
            cs.build_dataset(paths["chip"], paths["dnase"], inputs["fasta"], tmp_path / "x.h5", seed=0)
    assert not (tmp_path / "x.h5").exists()


# ----------------------------------------------------------------- read_processed


def test_read_processed_round_trip(built):
    path, _ = built
    data = cs.read_processed(path)
    rows = _rows(path)
    for s in cs.SPLITS:
        assert data[f"x_{s}"].dtype == np.float32 and np.array_equal(data[f"x_{s}"], rows[s]["x"])
        assert data[f"y_{s}"].dtype == np.float32 and np.array_equal(data[f"y_{s}"], rows[s]["y"])


@pytest.mark.skipif(not GABPA.is_file(), reason="authors' GABPA_200.h5 not available")
def test_read_processed_accepts_authors_file():
    data = cs.read_processed(GABPA)
    assert {k: v.shape for k, v in data.items()} == {
        "x_train": (11022, 4, 200), "y_train": (11022, 1), "x_valid": (1574, 4, 200), "y_valid": (1574, 1),
        "x_test": (3150, 4, 200), "y_test": (3150, 1)}
    assert all(v.dtype == np.float32 for v in data.values())
    assert set(np.unique(data["y_train"])) == {0.0, 1.0}


def _good_arrays() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    out = {}
    for s, n in zip(cs.SPLITS, (6, 2, 3)):
        out[f"x_{s}"] = cs.one_hot(["".join(rng.choice(list("ACGT"), 10)) for _ in range(n)])
        out[f"y_{s}"] = (np.arange(n) % 2).astype(np.int8)[:, None]
    return out


def _not_one_hot(a):
    a["x_valid"][1, :, 4] = 0
    return "x_valid"


def _two_hot(a):
    a["x_test"][0, :, 0] = 1
    return "x_test"


def _soft(a):
    a["x_train"][2] = 0.25
    return "x_train"


def _five_letters(a):
    a["x_train"] = np.concatenate([a["x_train"], np.zeros((6, 1, 10), np.float32)], axis=1)
    return "x_train"


def _short_labels(a):
    a["y_test"] = a["y_test"][:2]
    return "x_test"


def _bad_label(a):
    a["y_train"][0] = 2
    return "y_train"


def _rank(a):
    a["x_valid"] = a["x_valid"][:, 0, :]
    return "x_valid"


def _flat_labels(a):
    a["y_valid"] = a["y_valid"][:, 0]
    return "y_valid"


def _missing(a):
    del a["y_valid"]
    return "y_valid"


def _shorter_valid(a):
    a["x_valid"] = a["x_valid"][:, :, :8]
    return "x_valid"


def _empty_test(a):
    a["x_test"], a["y_test"] = a["x_test"][:0], a["y_test"][:0]
    return "x_test"


def _zero_length(a):
    for s in cs.SPLITS:
        a[f"x_{s}"] = a[f"x_{s}"][:, :, :0]
    return "x_train"


def _string_x(a):
    a["x_train"] = np.full(a["x_train"].shape, b"A")
    return "x_train"


def _string_y(a):
    a["y_valid"] = np.array([[b"1"], [b"0"]])
    return "y_valid"


_LAYOUT_CORRUPTIONS = [_five_letters, _short_labels, _bad_label, _rank, _flat_labels, _missing, _shorter_valid,
                       _empty_test, _zero_length, _string_x, _string_y]


def _write_h5(path: Path, arrays: dict[str, np.ndarray], **kwargs) -> Path:
    with h5py.File(path, "w") as f:
        for k, v in arrays.items():
            f.create_dataset(k, data=v, **kwargs)
    return path


@pytest.mark.parametrize("corrupt", [_not_one_hot, _two_hot, _soft, *_LAYOUT_CORRUPTIONS])
def test_read_processed_rejects_bad_files(tmp_path, corrupt):
    arrays = _good_arrays()
    good = _write_h5(tmp_path / "good.h5", arrays)
    assert cs.read_processed(good)["x_train"].shape == (6, 4, 10)

    key = corrupt(arrays)
    bad = _write_h5(tmp_path / "bad.h5", arrays)
    with pytest.raises(ValueError, match=key) as err:
        cs.read_processed(bad)
    assert str(bad) in str(err.value)


@pytest.mark.parametrize("corrupt", _LAYOUT_CORRUPTIONS)
def test_dataset_summary_rejects_bad_layouts(tmp_path, corrupt):
    arrays = _good_arrays()
    assert cs.dataset_summary(_write_h5(tmp_path / "good.h5", arrays))["length"] == 10
    key = corrupt(arrays)
    bad = _write_h5(tmp_path / "bad.h5", arrays)
    with pytest.raises(ValueError, match=key) as err:
        cs.dataset_summary(bad)
    assert str(bad) in str(err.value)


def test_processed_split_problems_say_what_is_wrong(tmp_path):
    arrays = _good_arrays()
    _shorter_valid(arrays)
    bad = _write_h5(tmp_path / "lengths.h5", arrays)
    with pytest.raises(ValueError, match=re.escape(f"{bad}: 'x_valid' has sequences of length 8 but 'x_train' has 10")):
        cs.read_processed(bad)
    arrays = _good_arrays()
    _empty_test(arrays)
    bad = _write_h5(tmp_path / "empty.h5", arrays)
    with pytest.raises(ValueError, match=re.escape(f"{bad}: 'x_test' has no rows")):
        cs.read_processed(bad)
    arrays = _good_arrays()
    _string_x(arrays)
    bad = _write_h5(tmp_path / "strings.h5", arrays)
    with pytest.raises(ValueError, match=re.escape(f"{bad}: 'x_train' holds strings, not numbers")):
        cs.read_processed(bad)


@pytest.mark.parametrize("read", [cs.read_processed, cs.dataset_summary])
def test_unreadable_processed_files_named(tmp_path, read):
    truncated = _write_h5(tmp_path / "truncated.h5", _good_arrays())
    truncated.write_bytes(truncated.read_bytes()[:-500])
    text = tmp_path / "text.h5"
    text.write_text("x_train,y_train\n")
    for path in (truncated, text):
        with pytest.raises(ValueError, match=re.escape(f"{path}: not a readable HDF5 file (truncated or not HDF5?)")):
            read(path)


@pytest.mark.parametrize("read, key", [(cs.read_processed, "x_valid"), (cs.dataset_summary, "y_train")])
def test_corrupt_chunk_named(tmp_path, read, key):
    path = _write_h5(tmp_path / "chunks.h5", _good_arrays(), compression="gzip")
    with h5py.File(path, "r") as f:
        chunk = f[key].id.get_chunk_info(0)
    with open(path, "r+b") as fh:  # overwrite the chunk's deflate stream: reading it fails in the filter
        fh.seek(chunk.byte_offset)
        fh.write(b"\xff" * chunk.size)
    with pytest.raises(ValueError, match=re.escape(f"{path}: cannot read {key!r}")):
        read(path)
