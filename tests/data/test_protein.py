"""Tests for gradcorr.data.protein: the synthetic protein tasks of Adebayo et al. (section 4)."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from gradcorr.data import protein as pr
from gradcorr.data.io import read_xy
from gradcorr.data.synthetic import SPLITS

N, SEED = 600, 3
TASKS = sorted(pr.PROTEIN_TASKS)


@pytest.fixture(scope="module", params=TASKS)
def task_data(request) -> tuple[str, dict[str, np.ndarray]]:
    return request.param, pr.generate_protein_task(request.param, N, seed=SEED)


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """(start, length) of each run of True in a 1-D bool array."""
    padded = np.concatenate([[False], mask, [False]]).astype(np.int8)
    edges = np.flatnonzero(np.diff(padded))
    return [(int(a), int(b - a)) for a, b in zip(edges[::2], edges[1::2])]


def _letters(x: np.ndarray, alphabet: str) -> np.ndarray:
    """(N, L) array of one-letter strings."""
    return np.array([list(s) for s in pr.decode_protein(x, alphabet)])


def check_invariants(data: dict[str, np.ndarray], task: str, *, min_run: int = 6, max_run: int = 10,
                     distractor_length: int = 6, alphabet: str = pr.AMINO_ACIDS) -> None:
    """Every property of the design, on every split."""
    residues = set(pr.PROTEIN_TASKS[task])
    pattern = None
    for split in SPLITS:
        x, y = data[f"x_{split}"], data[f"y_{split}"][:, 0]
        signal, distractor = data[f"signal_{split}"], data[f"distractor_{split}"]
        np.testing.assert_array_equal(x.sum(axis=1), 1.0)  # one-hot
        letters = _letters(x, alphabet)
        is_set = np.isin(letters, list(residues))
        # the label is the labelling function
        np.testing.assert_array_equal(y, (pr.longest_set_run(x, task, alphabet) >= min_run).astype(np.float32))
        for i in range(len(x)):
            runs = _runs(signal[i])
            if y[i] == 1:
                assert len(runs) == 1 and min_run <= runs[0][1] <= max_run
                assert is_set[i, signal[i]].all()
                # the signal run is a maximal run of set residues, and the only one reaching min_run
                set_runs = _runs(is_set[i])
                assert runs[0] in set_runs
                assert [r for r in set_runs if r[1] >= min_run] == runs
            else:
                assert runs == []
            d_runs = _runs(distractor[i])
            assert len(d_runs) == 1 and d_runs[0][1] == distractor_length
            start = d_runs[0][0]
            word = "".join(letters[i, start:start + distractor_length])
            pattern = word if pattern is None else pattern
            assert word == pattern  # the same letters in every sequence
            # never overlapping the signal, nor adjacent to it
            near_signal = signal[i].copy()
            near_signal[1:] |= signal[i][:-1]
            near_signal[:-1] |= signal[i][1:]
            assert not (near_signal & distractor[i]).any()
        noise = ~signal & ~distractor
        assert not is_set[noise].any()
        assert not (letters[noise] == pr.GAP).any()
    assert all((c in residues) == (k % 2 == 0) for k, c in enumerate(pattern))  # alternating, set first


# ----------------------------------------------------------------- design


def test_layout(task_data):
    """Exactly the published keys; shapes, dtypes, split sizes, class balance."""
    _, data = task_data
    assert set(data) == {f"{k}_{s}" for k in ("x", "y", "signal", "distractor") for s in SPLITS}
    for s, size in {"train": 420, "valid": 60, "test": 120}.items():
        assert data[f"x_{s}"].shape == (size, 20, 40) and data[f"x_{s}"].dtype == np.float32
        assert data[f"y_{s}"].shape == (size, 1) and data[f"y_{s}"].dtype == np.float32
        assert data[f"signal_{s}"].shape == data[f"distractor_{s}"].shape == (size, 40)
        assert data[f"signal_{s}"].dtype == data[f"distractor_{s}"].dtype == np.bool_
        assert 0 < data[f"y_{s}"].sum() < size
    assert sum(int(data[f"y_{s}"].sum()) for s in SPLITS) == N // 2


def test_design_invariants(task_data):
    task, data = task_data
    check_invariants(data, task)


def test_signal_lengths_cover_the_range(task_data):
    """Run lengths are drawn over all of min_run..max_run."""
    _, data = task_data
    lengths = np.concatenate([data[f"signal_{s}"].sum(1) for s in SPLITS])
    assert set(lengths[lengths > 0]) == set(range(6, 11))


@pytest.mark.parametrize("settings", [
    {"length": 18, "max_run": 10, "distractor_length": 6},  # tight: positives redraw the distractor start
    {"length": 30, "min_run": 3, "max_run": 3, "distractor_length": 5, "positive_fraction": 0.3},
    {"length": 20, "min_run": 4, "max_run": 8, "distractor_length": 1},
])
def test_design_invariants_other_settings(settings):
    data = pr.generate_protein_task("turn", 300, seed=5, **settings)
    check_invariants(data, "turn", min_run=settings.get("min_run", 6), max_run=settings["max_run"],
                     distractor_length=settings["distractor_length"])


def test_distractor_start_is_uniform_in_both_classes():
    """With the defaults the distractor start is uniform over 0..L-D in positives as in negatives (its position
    carries no label information): a chi-square test per class."""
    data = pr.generate_protein_task("helix", 7000, seed=11)
    d = np.concatenate([data[f"distractor_{s}"] for s in SPLITS])
    y = np.concatenate([data[f"y_{s}"][:, 0] for s in SPLITS])
    starts = d.argmax(axis=1)
    for label in (0, 1):
        counts = np.bincount(starts[y == label], minlength=35)
        assert len(counts) == 35
        expected = counts.sum() / 35
        chi2 = ((counts - expected) ** 2 / expected).sum()
        assert chi2 < 70  # 34 degrees of freedom: P(chi2 > 70) < 1e-3


def test_same_seed_same_bytes_other_seed_differs(tmp_path):
    a = pr.generate_protein_task("sheet", 200, seed=1)
    b = pr.generate_protein_task("sheet", 200, seed=1)
    c = pr.generate_protein_task("sheet", 200, seed=2)
    for key in a:
        np.testing.assert_array_equal(a[key], b[key])
    assert any(not np.array_equal(a[key], c[key]) for key in a)
    attrs = pr.protein_task_attrs("sheet", n=200, seed=1)
    pr.write_protein_task(tmp_path / "a.h5", a, attrs)
    pr.write_protein_task(tmp_path / "b.h5", b, attrs)
    assert (tmp_path / "a.h5").read_bytes() == (tmp_path / "b.h5").read_bytes()


def test_attrs_name_the_distractor_drawn():
    """The attributes replay the seed: their distractor letters are those in the data."""
    for seed in (0, 7):
        data = pr.generate_protein_task("helix", 100, seed=seed, distractor_length=5)
        attrs = pr.protein_task_attrs("helix", n=100, seed=seed, distractor_length=5)
        x, d = data["x_test"][0], data["distractor_test"][0]
        assert "".join(_letters(x[None], pr.AMINO_ACIDS)[0][d]) == attrs["distractor"]
        assert attrs["task"] == "helix" and attrs["residues"] == "VIYFWL"
        assert attrs["alphabet"] == pr.AMINO_ACIDS and attrs["noise_residues"] == "ACDEGHKMNPQRST"
        assert attrs["min_run"] == 6 and attrs["length"] == 40 and attrs["seed"] == seed
    with pytest.raises(ValueError, match="'lenght'"):
        pr.protein_task_attrs("helix", lenght=30)


def test_gap_alphabet_never_emits_the_gap(tmp_path):
    alphabet = pr.PROTEIN_ALPHABETS["protein_gap"]
    assert len(alphabet) == 21 and alphabet[-1] == pr.GAP and len(pr.AMINO_ACIDS) == 20
    data = pr.generate_protein_task("helix", 300, alphabet=alphabet, seed=4)
    for s in SPLITS:
        assert data[f"x_{s}"].shape[1] == 21
        assert not data[f"x_{s}"][:, 20, :].any()
    check_invariants(data, "helix", alphabet=alphabet)
    attrs = pr.protein_task_attrs("helix", n=300, alphabet=alphabet, seed=4)
    assert pr.GAP not in attrs["noise_residues"] + attrs["distractor"]
    path = tmp_path / "gap.h5"
    pr.write_protein_task(path, data, attrs)
    x, y = read_xy(path, "valid")
    np.testing.assert_array_equal(x, data["x_valid"])
    np.testing.assert_array_equal(y, data["y_valid"])


# ----------------------------------------------------------------- arguments


@pytest.mark.parametrize("settings, message", [
    ({"task": "coil"}, "unknown task 'coil'"),
    ({"min_run": 8, "max_run": 7}, r"min_run \(8\) must be <= max_run \(7\)"),
    ({"min_run": 1}, "min_run must be an integer >= 2"),
    ({"length": 17}, "exceeds length 17"),
    ({"max_run": 33}, "exceeds length 40"),
    ({"distractor_length": 0}, "distractor_length must be"),
    ({"positive_fraction": 0.0}, r"positive_fraction must be in \(0, 1\)"),
    ({"positive_fraction": 1.0}, r"positive_fraction must be in \(0, 1\)"),
    ({"n": -1}, "n must be an integer >= 0"),
    ({"n": 10.0}, "n must be an integer"),
    ({"alphabet": "ACDEFGHIKLMNPQRSTVW"}, "lacks 'Y'"),
    ({"alphabet": "VIYFWL-"}, "no residue outside"),
    ({"alphabet": "VIYFWLAA"}, "repeats 'A'"),
    ({"split": (0.5, 0.5, 0.5)}, "split must be 3"),
])
def test_bad_arguments(settings, message):
    kwargs = {"task": "helix", "n": 100, **settings}
    with pytest.raises(ValueError, match=message):
        pr.generate_protein_task(kwargs.pop("task"), kwargs.pop("n"), **kwargs)


def test_a_split_without_both_classes_is_refused():
    with pytest.raises(ValueError, match="the valid split of 6 sequences holds 0, 0 of them positive"):
        pr.generate_protein_task("helix", 6, seed=0)


# ----------------------------------------------------------------- encoding


def test_encode_decode_round_trip():
    seqs = ["ACDEFGHIKLMNPQRSTVWY", "YWVTSRQPNMLKIHGFEDCA", "AAAAAAAAAAAAAAAAAAAA"]
    x = pr.encode_protein(seqs)
    assert x.shape == (3, 20, 20) and x.dtype == np.float32
    np.testing.assert_array_equal(x[0], np.eye(20, dtype=np.float32))  # rows in alphabet order
    assert pr.decode_protein(x) == seqs
    gap = pr.PROTEIN_ALPHABETS["protein_gap"]
    x = pr.encode_protein(["AC-Y", "--WW"], gap)
    assert x.shape == (2, 21, 4) and x[0, 20, 2] == 1 and x[1, 20, :2].all()
    assert pr.decode_protein(x, gap) == ["AC-Y", "--WW"]
    x[0, :, 1] = 0
    assert pr.decode_protein(x, gap) == ["A.-Y", "--WW"]
    assert pr.encode_protein([]).shape == (0, 20, 0)


def test_encode_errors_name_sequence_and_letter():
    with pytest.raises(ValueError, match=r"sequence 1 has 'X' at position 2"):
        pr.encode_protein(["ACDE", "ACXE"])
    with pytest.raises(ValueError, match=r"sequence 0 has 'a' at position 0"):
        pr.encode_protein(["aCDE"])
    with pytest.raises(ValueError, match=r"sequence 0 has '-' at position 1"):
        pr.encode_protein(["A-DE"])  # the gap is not in the 20-letter alphabet
    with pytest.raises(ValueError, match="sequence 2 has 3, sequence 0 has 4"):
        pr.encode_protein(["ACDE", "ACDE", "ACD"])
    with pytest.raises(ValueError, match="not one string"):
        pr.encode_protein("ACDE")
    with pytest.raises(ValueError, match="shape"):
        pr.decode_protein(np.zeros((1, 21, 4)))


def test_longest_set_run_by_hand():
    seqs = ["AVVVVVVAAA", "VIYFWLVIYF", "AAAAAAAAAA", "VAVAVAVAVA", "AAAVVAVVVV"]
    np.testing.assert_array_equal(pr.longest_set_run(pr.encode_protein(seqs), "helix"), [6, 10, 0, 1, 4])
    np.testing.assert_array_equal(pr.longest_set_run(pr.encode_protein(["NPGSNAGG"]), "turn"), [5])
    # L belongs to helix and sheet
    np.testing.assert_array_equal(pr.longest_set_run(pr.encode_protein(["EMALLLD"]), "sheet"), [6])


# ----------------------------------------------------------------- ablation


def test_ablate_distractor(task_data):
    task, data = task_data
    x, d, s = data["x_test"], data["distractor_test"], data["signal_test"]
    out = pr.ablate_distractor(x, d, task, seed=9)
    assert out.shape == x.shape and out.dtype == x.dtype and out is not x
    np.testing.assert_array_equal(out.sum(axis=1), 1.0)
    # non-distractor positions unchanged, distractor positions only non-set residues
    np.testing.assert_array_equal(out.transpose(0, 2, 1)[~d], x.transpose(0, 2, 1)[~d])
    letters = _letters(out, pr.AMINO_ACIDS)
    assert not np.isin(letters[d], list(pr.PROTEIN_TASKS[task]) + [pr.GAP]).any()
    # the set residues of the distractor are gone, so something changed; labels and signals are kept
    assert not np.array_equal(out, x)
    np.testing.assert_array_equal(pr.longest_set_run(out, task) >= 6, data["y_test"][:, 0] == 1)
    np.testing.assert_array_equal(pr.longest_set_run(out, task), s.sum(axis=1))
    np.testing.assert_array_equal(out, pr.ablate_distractor(x, d, task, seed=9))
    assert not np.array_equal(out, pr.ablate_distractor(x, d, task, seed=10))
    np.testing.assert_array_equal(x, data["x_test"])  # input untouched
    with pytest.raises(ValueError, match="distractor must have shape"):
        pr.ablate_distractor(x, d[:, :-1], task)


# ----------------------------------------------------------------- files


def test_write_read_round_trip(tmp_path, task_data):
    task, data = task_data
    path = tmp_path / "task.h5"
    attrs = pr.protein_task_attrs(task, n=N, seed=SEED)
    pr.write_protein_task(path, data, attrs)
    for s in SPLITS:
        got = pr.read_protein_task(path, s)
        assert set(got) == {"x", "y", "signal", "distractor"}
        for k, v in got.items():
            np.testing.assert_array_equal(v, data[f"{k}_{s}"])
            assert v.dtype == data[f"{k}_{s}"].dtype
    with h5py.File(path, "r") as f:
        assert f.attrs["task"] == task and f.attrs["distractor"] == attrs["distractor"]
        assert f.attrs["residues"] == pr.PROTEIN_TASKS[task] and f.attrs["seed"] == SEED
    x, y = read_xy(path, "train")
    np.testing.assert_array_equal(x, data["x_train"])


def test_read_errors(tmp_path):
    path = tmp_path / "partial.h5"
    pr.write_protein_task(path, {"x_train": np.zeros((1, 20, 3), np.float32), "y_train": np.zeros((1, 1), np.float32),
                                 "signal_train": np.zeros((1, 3), bool)})
    with pytest.raises(KeyError) as err:
        pr.read_protein_task(path, "train")
    assert "partial.h5" in str(err.value) and "distractor_train" in str(err.value)
    with pytest.raises(FileNotFoundError, match="absent.h5"):
        pr.read_protein_task(tmp_path / "absent.h5", "train")
    with pytest.raises(ValueError, match="split"):
        pr.read_protein_task(path, "validation")
