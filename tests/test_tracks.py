"""Genome tracks: contribution scores against a hand loop, bigWigs read back with pyBigWig, the overlap
mean against a per-base brute force, input checks and atomic writes, and chromosome-size files."""

import math
from collections import defaultdict

import numpy as np
import pyBigWig
import pytest

from gradcorr.tracks import contribution_scores, coverage_mean, read_chrom_sizes, write_bigwig

SIZES = {"chr1": 100, "chr2": 50, "chrM": 20}


def random_one_hot(rng: np.random.Generator, n: int, a: int, length: int) -> np.ndarray:
    x = np.zeros((n, a, length))
    x[np.arange(n)[:, None], rng.integers(0, a, (n, length)), np.arange(length)] = 1.0
    return x


def test_contribution_scores_is_the_map_at_the_observed_base():
    rng = np.random.default_rng(0)
    x = random_one_hot(rng, 3, 4, 7)
    maps = rng.normal(size=x.shape)
    got = contribution_scores(maps, x)
    assert got.shape == (3, 7)
    for i in range(3):
        for j in range(7):
            observed = int(np.argmax(x[i, :, j]))
            assert got[i, j] == maps[i, observed, j]
            assert got[i, j] == sum(maps[i, a, j] * x[i, a, j] for a in range(4))


def test_contribution_scores_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="shape"):
        contribution_scores(np.zeros((2, 4, 5)), np.zeros((2, 4, 6)))


def three_windows() -> tuple[np.ndarray, list[str], list[int]]:
    """Two windows on chr1 overlapping on [13, 15), one on chr2; window length 5."""
    values = np.array([[1.0, 2.0, 3.0, 4.0, 5.0],
                       [10.0, 20.0, 30.0, 40.0, 50.0],
                       [-1.5, -2.5, 0.0, 0.25, 7.0]])
    return values, ["chr1", "chr1", "chr2"], [10, 13, 40]


def test_bigwig_read_back(tmp_path):
    values, chrom, start = three_windows()
    path = tmp_path / "track.bw"
    write_bigwig(path, values, chrom, start, SIZES)
    with pyBigWig.open(str(path)) as bw:
        assert bw.isBigWig()
        assert bw.chroms() == SIZES
        assert list(bw.chroms()) == list(SIZES)
        # chr1: window 0 alone on [10, 13), both on [13, 15), window 1 alone on [15, 18)
        assert bw.values("chr1", 10, 13) == [1.0, 2.0, 3.0]
        assert bw.values("chr1", 13, 15) == [(4.0 + 10.0) / 2, (5.0 + 20.0) / 2]
        assert bw.values("chr1", 15, 18) == [30.0, 40.0, 50.0]
        for a, b in [(0, 10), (18, 100)]:
            assert all(math.isnan(v) for v in bw.values("chr1", a, b))
        assert bw.values("chr2", 40, 45) == [-1.5, -2.5, 0.0, 0.25, 7.0]
        assert all(math.isnan(v) for v in bw.values("chr2", 0, 40) + bw.values("chr2", 45, 50))
        assert [s for s, _, _ in bw.intervals("chr1")] == list(range(10, 18))
        assert all(e == s + 1 for s, e, _ in bw.intervals("chr1"))
        assert [s for s, _, _ in bw.intervals("chr2")] == list(range(40, 45))
        assert bw.intervals("chrM") is None


def test_bigwig_without_windows_has_header_only(tmp_path):
    path = tmp_path / "empty.bw"
    write_bigwig(path, np.zeros((0, 5)), [], [], SIZES)
    with pyBigWig.open(str(path)) as bw:
        assert bw.chroms() == SIZES
        assert all(bw.intervals(c) is None for c in SIZES)


def brute_force_means(values, chrom, start):
    """{(chrom, position): mean} by walking every base of every window."""
    covering = defaultdict(list)
    for row, c, s in zip(values, chrom, start):
        for offset, v in enumerate(row):
            covering[c, s + offset].append(v)
    return {key: sum(vs) / len(vs) for key, vs in covering.items()}


@pytest.mark.parametrize("seed", range(5))
def test_coverage_mean_matches_brute_force(seed):
    rng = np.random.default_rng(seed)
    length, n = 6, 40
    names = list(SIZES)
    chrom = [names[k] for k in rng.integers(0, 2, n)]  # chrM left without windows
    start = [int(rng.integers(0, SIZES[c] - length + 1)) for c in chrom]
    values = rng.normal(size=(n, length))
    got = coverage_mean(values, chrom, np.array(start), SIZES)
    expected = brute_force_means(values, chrom, start)
    assert list(got) == [c for c in names if c in chrom]
    flat = {}
    for c, (positions, means) in got.items():
        assert np.all(np.diff(positions) > 0)
        flat.update({(c, int(p)): m for p, m in zip(positions, means)})
    assert flat.keys() == expected.keys()
    for key, mean in expected.items():
        assert flat[key] == pytest.approx(mean, rel=1e-12, abs=1e-12)


def test_bigwig_of_scattered_windows_matches_brute_force(tmp_path):
    """Windows with gaps between them: several runs per chromosome, each base read back as its float32 mean."""
    rng = np.random.default_rng(7)
    length, n = 5, 12
    chrom = [("chr1", "chr2")[k] for k in rng.integers(0, 2, n)]
    start = [int(rng.integers(0, SIZES[c] - length + 1)) for c in chrom]
    values = rng.normal(size=(n, length))
    expected = brute_force_means(values, chrom, start)
    path = tmp_path / "track.bw"
    write_bigwig(path, values, chrom, start, SIZES)
    with pyBigWig.open(str(path)) as bw:
        assert bw.intervals("chrM") is None
        for c in ("chr1", "chr2"):
            want = np.array([expected.get((c, p), np.nan) for p in range(SIZES[c])], dtype=np.float32)
            np.testing.assert_array_equal(np.array(bw.values(c, 0, SIZES[c])), want.astype(np.float64))
            covered = sorted(p for cc, p in expected if cc == c)
            assert [s for s, _, _ in bw.intervals(c)] == covered
            assert any(b - a > 1 for a, b in zip(covered, covered[1:]))  # a gap: more than one run


@pytest.mark.parametrize("change, message", [
    (lambda v, c, s: (v, ["chr1", "chrX", "chr2"], s), r"window 1: chromosome 'chrX' is not in chrom_sizes"),
    (lambda v, c, s: (v, c, [10, 13, 46]), r"window 2 \(chr2:46-51\) lies outside chr2 \(length 50\)"),
    (lambda v, c, s: (v, c, [-1, 13, 40]), r"window 0 .*lies outside chr1"),
    (lambda v, c, s: (np.where(np.arange(5) == 3, np.nan, v), c, s), r"window 0: values must be finite"),
    (lambda v, c, s: (v[:, :, None], c, s), r"values must be 2-D"),
    (lambda v, c, s: (v, c[:2], s), r"one entry per window"),
])
def test_bad_input_raises_and_leaves_no_file(tmp_path, change, message):
    values, chrom, start = change(*three_windows())
    with pytest.raises(ValueError, match=message):
        coverage_mean(values, chrom, start, SIZES)
    path = tmp_path / "track.bw"
    with pytest.raises(ValueError, match=message):
        write_bigwig(path, values, chrom, start, SIZES)
    assert list(tmp_path.iterdir()) == []
    path.write_bytes(b"previous track")
    with pytest.raises(ValueError, match=message):
        write_bigwig(path, values, chrom, start, SIZES)
    assert path.read_bytes() == b"previous track"
    assert list(tmp_path.iterdir()) == [path]


def test_failure_while_writing_leaves_existing_file(tmp_path, monkeypatch):
    """An error from pyBigWig after the temporary file exists: the old file survives, no temporary remains."""
    path = tmp_path / "track.bw"
    path.write_bytes(b"previous track")

    def fail(self, *args, **kwargs):
        raise RuntimeError("disk full")

    opened = pyBigWig.open

    class Failing:
        def __init__(self, bw):
            self.bw = bw

        def addHeader(self, *args, **kwargs):
            return self.bw.addHeader(*args, **kwargs)

        addEntries = fail

        def close(self):
            self.bw.close()

    monkeypatch.setattr(pyBigWig, "open", lambda p, mode="r": Failing(opened(p, mode)))
    with pytest.raises(RuntimeError, match="disk full"):
        write_bigwig(path, *three_windows(), SIZES)
    assert path.read_bytes() == b"previous track"
    assert list(tmp_path.iterdir()) == [path]


def test_read_chrom_sizes_fai_and_two_columns(tmp_path):
    fai = tmp_path / "genome.fa.fai"
    fai.write_text("chr2\t50\t6\t60\t61\nchr1\t100\t63\t60\t61\nchrM\t20\t170\t60\t61\n")
    assert list(read_chrom_sizes(fai).items()) == [("chr2", 50), ("chr1", 100), ("chrM", 20)]
    sizes = tmp_path / "genome.chrom.sizes"
    sizes.write_text("chr1\t100\nchr2\t50\n\n")
    assert list(read_chrom_sizes(str(sizes)).items()) == [("chr1", 100), ("chr2", 50)]


@pytest.mark.parametrize("text, line, problem", [
    ("chr1\t100\nchr2 50\n", 2, "expected"),
    ("chr1\t100\nchr2\tfifty\n", 2, "positive integer"),
    ("chr1\t0\n", 1, "positive integer"),
    ("chr1\t100\nchr2\t50\nchr1\t100\n", 3, "repeated"),
])
def test_read_chrom_sizes_malformed(tmp_path, text, line, problem):
    path = tmp_path / "bad.sizes"
    path.write_text(text)
    with pytest.raises(ValueError, match=rf"bad\.sizes, line {line}: .*{problem}"):
        read_chrom_sizes(path)
