"""Tests for gradcorr.data.accessibility: multi-task (Basset-style) datasets from several cell types' peaks."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest
from genome_fixture import CHROM_SIZES, N_RUN, write_genome, write_peaks

from gradcorr.data import accessibility as acc
from gradcorr.data.io import SPLITS, read_split, write_arrays

WIDTH = 200
MERGE = WIDTH // 2  # the default merge distance
HOLDOUT = {"valid_chroms": ("chr2",), "test_chroms": ("chr3",)}
CELL_TYPES = ["K562", "HepG2", "GM12878"]
ACCESSIONS = ["ENCFF000AAA", "ENCFF000BBB", "ENCFF000CCC"]
# One peak per drop reason (chrom, start, end, summit), each in the first cell type's file.
EDGE_PEAKS = {
    ("chr1", 0, 60, 30): "off_chromosome_end",  # window starts at 30 - 100 < 0
    ("chr3", N_RUN[1] + 20, N_RUN[1] + 80, 30): "non_acgt",  # window covers the N run
    ("chrM", 100, 300, 100): "unknown_contig",  # not in the genome
    ("chrUn_xyz", 900, 1100, 100): "excluded_chromosome",  # not a primary chromosome
}


def _random_peaks(seed: int = 11) -> list[list[tuple[str, int, int, int]]]:
    """Peaks of three cell types: shared sites (jittered summits) and private ones, clear of the N run and the
    chromosome ends, so the edge peaks are the only ones dropped. Every fourth peak has no summit (-1)."""
    rng = np.random.default_rng(seed)
    sites = []
    for chrom in ("chr1", "chr2", "chr3"):
        for _ in range(CHROM_SIZES[chrom] // 400):
            pos = int(rng.integers(400, CHROM_SIZES[chrom] - 400))
            if chrom == N_RUN[0] and N_RUN[1] - 300 < pos < N_RUN[2] + 300:
                continue
            sites.append((chrom, pos))
    tasks = []
    for t in range(len(CELL_TYPES)):
        rows = []
        for i, (chrom, pos) in enumerate(sites):
            if rng.random() < 0.5 - 0.1 * t:
                summit = pos + int(rng.integers(-40, 41))
                start = summit - int(rng.integers(10, 80))
                end = summit + int(rng.integers(10, 80))
                rows.append((chrom, start, end, summit - start if (i + t) % 4 else -1))
        tasks.append(rows)
    tasks[0] += list(EDGE_PEAKS)
    return tasks


def _summit(start: int, end: int, summit: int) -> int:
    return start + summit if summit >= 0 else (start + end) // 2


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> dict:
    d = tmp_path_factory.mktemp("accessibility")
    fasta, genome = write_genome(d, seed=0)
    rows = _random_peaks()
    files = [write_peaks(d / f"{a}.bed.gz", r, gzip=True, header=["track name=peaks"])
             for a, r in zip(ACCESSIONS, rows)]
    return {"dir": d, "fasta": fasta, "genome": genome, "rows": rows, "files": files}


def _build(inputs: dict, out: Path, **kwargs) -> dict:
    kwargs = {"width": WIDTH, "seed": 5, "accessions": ACCESSIONS, **HOLDOUT, **kwargs}
    return acc.build_multitask_dataset(inputs["files"], CELL_TYPES, inputs["fasta"], out, **kwargs)


@pytest.fixture(scope="module")
def built(inputs) -> tuple[Path, dict]:
    out = inputs["dir"] / "dataset.h5"
    return out, _build(inputs, out)


def _split_rows(path: Path) -> dict[str, dict[str, np.ndarray]]:
    return {s: read_split(path, s, ("x", "y", "chrom", "start", "end")) for s in SPLITS}


def _windows(path: Path) -> list[tuple[str, int, int]]:
    return [(c.decode(), int(s), int(e)) for part in _split_rows(path).values()
            for c, s, e in zip(part["chrom"], part["start"], part["end"])]


# ----------------------------------------------------------------- merging and labels


def test_merge_summits_greedy_groups_exactly():
    chroms = np.array(["chr2", "chr1", "chr1", "chr1", "chr1", "chr1", "chr1"])
    summits = np.array([700, 1099, 1000, 1500, 1040, 1100, 1100])
    windows = acc.merge_summits(chroms, summits, width=200, merge_distance=100)
    # chr1: {1000, 1040, 1099} (1100 is 100 past 1000), {1100, 1100}, {1500}; chr2: {700}
    assert windows[["chrom", "start", "end", "summits"]].values.tolist() == [
        ["chr1", 1049 - 100, 1049 + 100, 3], ["chr1", 1000, 1200, 2], ["chr1", 1400, 1600, 1], ["chr2", 600, 800, 1]]
    with pytest.raises(ValueError, match="merge_distance"):
        acc.merge_summits(chroms, summits, width=200, merge_distance=200)


def test_summit_labels_count_summits_in_half_open_windows():
    windows = pd.DataFrame({"chrom": ["chr1", "chr1", "chr2"], "start": [100, 250, 100], "end": [300, 450, 300]})
    tasks = [pd.DataFrame({"chrom": ["chr1"], "summit": [299]}),  # in the first window only
             pd.DataFrame({"chrom": ["chr1", "chr2"], "summit": [300, 99]}),  # end and start - 1: the second only
             pd.DataFrame({"chrom": ["chr3"], "summit": [200]})]
    assert acc.summit_labels(windows, tasks).tolist() == [[1, 0, 0], [1, 1, 0], [0, 0, 0]]
    assert acc.summit_labels(windows, tasks).dtype == np.int8


def test_uncovered_counts_summits_outside_every_window():
    windows = pd.DataFrame({"chrom": ["chr1", "chr1", "chr2"], "start": [100, 150, 0], "end": [400, 200, 50]})
    summits = pd.DataFrame({"chrom": ["chr1"] * 5 + ["chr2", "chr3"], "summit": [99, 100, 399, 400, 250, 50, 1]})
    # 99 and 400 lie just outside [100, 400); 250 is covered by the long window, not the nested one; chr2 50 is
    # at an end; chr3 has no window
    assert acc._uncovered(windows, summits) == 4


def test_labels_equal_brute_force_over_peaks_and_windows(inputs, built):
    path, _ = built
    for split, part in _split_rows(path).items():
        expected = np.array([[any(c == chrom and s <= _summit(*p) < e for chrom, *p in rows)
                              for rows in inputs["rows"]]
                             for c, s, e in zip(part["chrom"].astype(str), part["start"], part["end"])], dtype=np.int8)
        assert part["y"].dtype == np.int8
        np.testing.assert_array_equal(part["y"], expected, err_msg=split)
        assert (part["y"].sum(axis=1) >= 1).all()  # every window holds the summits of its own group


def test_merged_windows_overlap_no_more_than_the_rule_allows(built):
    path, stats = built
    windows = _windows(path)
    assert all(e - s == WIDTH for _, s, e in windows)
    for chrom in {c for c, _, _ in windows}:
        centres = np.sort([s + WIDTH // 2 for c, s, _ in windows if c == chrom])
        assert (np.diff(centres) >= MERGE - (MERGE - 1) // 2).all(), chrom
    assert stats["windows_after_merge"] < stats["windows_before_merge"]  # shared sites were merged


def test_every_summit_is_covered_unless_its_window_is_dropped(inputs, built):
    path, stats = built
    windows = _windows(path)
    for cell_type, rows in zip(CELL_TYPES, inputs["rows"]):
        lost = [(c, *p) for c, *p in rows if not any(c == w[0] and w[1] <= _summit(*p) < w[2] for w in windows)]
        assert set(lost) <= set(EDGE_PEAKS), cell_type
        assert stats["peaks_lost"][cell_type] == len(lost)
    assert stats["peaks_lost"][CELL_TYPES[0]] == len(EDGE_PEAKS)
    expected = {reason: 0 for reason in ("unknown_contig", "excluded_chromosome", "off_chromosome_end",
                                         "duplicate", "non_acgt")}
    for reason in EDGE_PEAKS.values():
        expected[reason] += 1
    assert stats["dropped"] == expected
    assert stats["windows_after_merge"] == stats["windows_kept"] + sum(expected.values())


# ----------------------------------------------------------------- the file


def test_chromosome_holdout_and_counts(inputs, built):
    path, stats = built
    rows = _split_rows(path)
    assert {s: set(rows[s]["chrom"].astype(str)) for s in SPLITS} == {"train": {"chr1"}, "valid": {"chr2"},
                                                                       "test": {"chr3"}}
    assert stats["split"] == {s: len(rows[s]["y"]) for s in SPLITS}
    assert sum(stats["split"].values()) == stats["windows_kept"]
    assert stats["positives"] == {s: dict(zip(CELL_TYPES, rows[s]["y"].sum(axis=0).tolist())) for s in SPLITS}
    assert stats["peaks"] == dict(zip(CELL_TYPES, map(len, inputs["rows"])))
    assert stats["windows_before_merge"] == sum(map(len, inputs["rows"]))
    assert stats["summit_fallbacks"] == {c: sum(p[3] < 0 for p in r) for c, r in zip(CELL_TYPES, inputs["rows"])}


def test_x_is_the_one_hot_genome_of_each_window(inputs, built):
    path, _ = built
    for part in _split_rows(path).values():
        assert part["x"].dtype == np.float32 and part["x"].shape[1:] == (4, WIDTH)
        for x, c, s, e in zip(part["x"], part["chrom"].astype(str), part["start"], part["end"]):
            seq = inputs["genome"][c][s:e].upper()
            assert "".join("ACGT"[i] for i in x.argmax(axis=0)) == seq
            assert (x.sum(axis=0) == 1).all()


def test_attributes_describe_the_dataset(built):
    path, stats = built
    with h5py.File(path, "r") as f:
        attrs = dict(f.attrs)
    assert json.loads(attrs["cell_types"]) == CELL_TYPES
    assert json.loads(attrs["accessions"]) == ACCESSIONS
    assert attrs["width"] == WIDTH and attrs["merge_distance"] == MERGE and attrs["center"] == "summit"
    assert json.loads(attrs["valid_chroms"]) == ["chr2"] and json.loads(attrs["test_chroms"]) == ["chr3"]
    assert json.loads(attrs["chromosomes"]) == ["chr1", "chr2", "chr3"]  # chrUn_xyz is not primary
    assert "merge_distance" in attrs["merge_rule"] and "summit" in attrs["label_rule"]
    assert json.loads(attrs["counts"]) == json.loads(json.dumps(stats))
    assert json.loads(attrs["peak_files"]) == [f"{a}.bed.gz" for a in ACCESSIONS]


def test_read_accessibility(built):
    path, stats = built
    x, y, cell_types = acc.read_accessibility(path, "valid")
    assert cell_types == CELL_TYPES
    assert x.dtype == np.float32 and y.dtype == np.float32
    assert x.shape == (stats["split"]["valid"], 4, WIDTH) and y.shape == (stats["split"]["valid"], 3)
    np.testing.assert_array_equal(y, read_split(path, "valid", ("y",))["y"])


def test_read_accessibility_names_the_file(tmp_path):
    x, y = np.zeros((2, 4, 10), np.float32), np.zeros((2, 2), np.int8)
    arrays = {f"{k}_{s}": v for s in SPLITS for k, v in (("x", x), ("y", y))}
    path = tmp_path / "wrong_tasks.h5"
    write_arrays(path, arrays, {"cell_types": ["a", "b", "c"]})
    with pytest.raises(ValueError, match=f"{path}.*'y_test' must have shape \\(N, 3\\)"):
        acc.read_accessibility(path, "test")
    path = tmp_path / "no_names.h5"
    write_arrays(path, arrays)
    with pytest.raises(ValueError, match=f"{path}: no 'cell_types'"):
        acc.read_accessibility(path, "train")
    path = tmp_path / "no_y.h5"
    write_arrays(path, {"x_train": x}, {"cell_types": ["a", "b"]})
    with pytest.raises(KeyError, match=f"{path}: missing dataset 'y_train'"):
        acc.read_accessibility(path, "train")


def test_same_seed_same_bytes_other_seed_other_order(inputs, built, tmp_path):
    path, _ = built
    again, other = tmp_path / "again.h5", tmp_path / "other.h5"
    _build(inputs, again)
    _build(inputs, other, seed=6)
    digest = [hashlib.sha256(p.read_bytes()).hexdigest() for p in (path, again, other)]
    assert digest[0] == digest[1] != digest[2]
    assert sorted(_windows(path)) == sorted(_windows(other))  # the seed orders the rows, nothing else
    assert _windows(path) != _windows(other)
    train = _split_rows(path)["train"]["start"]
    assert not (np.diff(train) >= 0).all()  # shuffled, not in coordinate order


def test_max_windows_keeps_a_sample(inputs, built, tmp_path):
    path, stats = built
    n = stats["windows_kept"] - 5
    sample = _build(inputs, tmp_path / "sample.h5", max_windows=n)
    assert sum(sample["split"].values()) == n and sample["subsampled"] == 5
    assert set(_windows(tmp_path / "sample.h5")) < set(_windows(path))


def test_default_width_and_midpoint_centres(inputs, tmp_path):
    stats = _build(inputs, tmp_path / "wide.h5", width=600, center="midpoint", merge_distance=599)
    x, _, _ = acc.read_accessibility(tmp_path / "wide.h5", "train")
    assert x.shape[2] == 600 and stats["summit_fallbacks"] == dict.fromkeys(CELL_TYPES, 0)


# ----------------------------------------------------------------- errors


def test_malformed_peak_line_names_the_file(inputs, tmp_path):
    bad = write_peaks(tmp_path / "bad.bed.gz", [("chr1", 500, 700, 100), ("chr1", 900, 800, 10)], gzip=True)
    files = [inputs["files"][0], bad]
    with pytest.raises(ValueError, match=f"{bad}: line 2: end must be > start"):
        acc.build_multitask_dataset(files, CELL_TYPES[:2], inputs["fasta"], tmp_path / "o.h5", width=WIDTH,
                                    **HOLDOUT)


def test_task_without_train_positives_is_named(inputs, tmp_path):
    held_out_only = write_peaks(tmp_path / "late.bed.gz", [("chr2", 4000, 4100, 50), ("chr3", 4000, 4100, 50)],
                                gzip=True)
    with pytest.raises(ValueError, match=r"cell type\(s\) \['late'\] have no positive window in the train split"):
        acc.build_multitask_dataset([inputs["files"][0], held_out_only], ["K562", "late"], inputs["fasta"],
                                    tmp_path / "o.h5", width=WIDTH, **HOLDOUT)
    assert not (tmp_path / "o.h5").exists()


@pytest.mark.parametrize("rows, kwargs, problem", [
    ([("chr1", 4000, 4100, 50), ("chr3", 4000, 4100, 50)], HOLDOUT, "leaves the valid split empty"),
    ([("chrM", 10, 100, 5), ("chr1", 0, 50, 5)], HOLDOUT, "no usable windows left"),
    ([("chr1", 4000, 4100, 50)], {"valid_chroms": ("chr2",), "test_chroms": ("chrUn_xyz",)},
     r"hold-out chromosomes \['chrUn_xyz'\] are not among the chromosomes kept"),
    ([("chr1", 4000, 4100, 50)], {"valid_chroms": ("chr2",), "test_chroms": ("chr2",)}, "both valid and test"),
    ([("chr1", 4000, 4100, 50)], {**HOLDOUT, "merge_distance": WIDTH}, "merge_distance"),
    ([("chr1", 4000, 4100, 50)], {**HOLDOUT, "chromosomes": ["chr1", "chr9"]}, "chromosomes not in the genome"),
])
def test_build_errors(inputs, tmp_path, rows, kwargs, problem):
    peaks = write_peaks(tmp_path / "p.bed.gz", rows, gzip=True)
    with pytest.raises(ValueError, match=problem):
        acc.build_multitask_dataset([peaks], ["only"], inputs["fasta"], tmp_path / "o.h5", width=WIDTH, **kwargs)


def test_build_argument_errors(inputs, tmp_path):
    files, fasta, out = inputs["files"], inputs["fasta"], tmp_path / "o.h5"
    with pytest.raises(ValueError, match="3 peak files for 2 cell types"):
        acc.build_multitask_dataset(files, CELL_TYPES[:2], fasta, out, **HOLDOUT)
    with pytest.raises(ValueError, match=r"cell types repeat: \['a'\]"):
        acc.build_multitask_dataset(files, ["a", "b", "a"], fasta, out, **HOLDOUT)
    with pytest.raises(ValueError, match="not ENCODE file accessions"):
        acc.build_multitask_dataset(files, CELL_TYPES, fasta, out, accessions=["x", "y", "z"], **HOLDOUT)
    with pytest.raises(FileNotFoundError, match="genome FASTA file not found"):
        acc.build_multitask_dataset(files, CELL_TYPES, tmp_path / "none.fa", out, **HOLDOUT)


# ----------------------------------------------------------------- metadata


def _metadata(directory: Path, accession: str, assembly: str, file_format: str = "bed") -> Path:
    record = {"accession": accession, "assembly": assembly, "md5sum": "0" * 32, "file_format": file_format,
              "file_type": f"{file_format} narrowPeak", "href": f"/files/{accession}/@@download/{accession}.bed.gz"}
    path = directory / f"{accession}.json"
    path.write_text(json.dumps(record))
    return path


def test_peak_assembly(tmp_path):
    same = [_metadata(tmp_path, a, "GRCh38") for a in ACCESSIONS[:2]]
    assert acc.peak_assembly(same) == "GRCh38"
    mixed = [*same, _metadata(tmp_path, ACCESSIONS[2], "hg19")]
    with pytest.raises(ValueError, match="different assemblies") as err:
        acc.peak_assembly(mixed)
    assert all(a in str(err.value) for a in ACCESSIONS) and "hg19" in str(err.value)
    big = _metadata(tmp_path, "ENCFF000DDD", "GRCh38", file_format="bigBed")
    with pytest.raises(ValueError, match=f"{big}: ENCFF000DDD is a bigBed file, not bed peaks"):
        acc.peak_assembly([*same, big])
    with pytest.raises(ValueError):
        acc.peak_assembly([])


def test_primary_chromosomes():
    names = ["chr1", "chrM", "chr1_KI270706v1_random", "chrUn_GL000195v1", "chrX", "MT", "chr6_GL000250v2_alt", "2"]
    assert acc.primary_chromosomes(names) == ["chr1", "chrX", "2"]
