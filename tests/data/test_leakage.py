"""Tests for gradcorr.data.leakage: the DNA analogue of BlockMNIST (a signal block and a null block)."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest

from gradcorr.data import leakage as lk
from gradcorr.data import synthetic as syn
from gradcorr.data.io import read_xy

N, SEED, BLOCK = 400, 2, 100
IDS = tuple(syn.CORE_MOTIF_IDS[:4])
PWMS = [np.asarray(syn._motif_pwm("JASPAR2016", m), dtype=np.float32) for m in IDS]
WIDTHS = [p.shape[1] for p in PWMS]
PAIRS = {(0, 1), (2, 3)}  # a then b (label 1), c then d (label 0)


@pytest.fixture(scope="module", params=lk.PLACEMENTS)
def placed(request) -> tuple[str, dict[str, np.ndarray]]:
    return request.param, lk.generate_leakage(n=N, placement=request.param, seed=SEED)


@pytest.fixture(scope="module")
def large() -> dict[str, np.ndarray]:
    """Enough sequences for frequency checks, all splits joined."""
    data = lk.generate_leakage(n=4000, seed=11)
    return {k: np.concatenate([data[f"{k}_{s}"] for s in syn.SPLITS]) for k in lk.LEAKAGE_KEYS}


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """(start, length) of each run of True in a 1-D bool array."""
    padded = np.concatenate([[False], mask, [False]]).astype(np.int8)
    edges = np.flatnonzero(np.diff(padded))
    return [(int(a), int(b - a)) for a, b in zip(edges[::2], edges[1::2])]


def _decode(model: np.ndarray, motifs: np.ndarray) -> list[tuple[int, int]]:
    """(start, motif index) of each motif in a block, left to right, read off the model columns of each run of
    the motifs mask: every run must be tiled exactly by PWMs of a, b, c, d."""
    found = []
    for start, length in _runs(motifs):
        pos, end = start, start + length
        while pos < end:
            hits = [k for k, p in enumerate(PWMS) if pos + WIDTHS[k] <= end
                    and np.array_equal(model[:, pos:pos + WIDTHS[k]], p)]
            assert len(hits) == 1, f"no single motif at {pos}"
            found.append((pos, hits[0]))
            pos += WIDTHS[hits[0]]
    return found


def _blocks(model: np.ndarray, motifs: np.ndarray, side: int, block_length: int) -> tuple[list, list]:
    """Decoded motifs of the signal block and of the null block of one sequence."""
    sig = slice(side * block_length, (side + 1) * block_length)
    nul = slice((1 - side) * block_length, (2 - side) * block_length)
    return _decode(model[:, sig], motifs[sig]), _decode(model[:, nul], motifs[nul])


def check_invariants(data: dict[str, np.ndarray], *, n: int = N, block_length: int = BLOCK, spacing: int = 5,
                     n_null: int = 2, placement: str = "random", positive_fraction: float = 0.5) -> None:
    """Every property of the design, on every split."""
    length = 2 * block_length
    cols = np.arange(length)
    assert set(data) == {f"{k}_{s}" for k in lk.LEAKAGE_KEYS for s in syn.SPLITS}
    sizes = dict(zip(syn.SPLITS, syn.split_sizes(n, (0.7, 0.1, 0.2))))
    positives = 0
    for split in syn.SPLITS:
        x, y, model = data[f"x_{split}"], data[f"y_{split}"], data[f"model_{split}"]
        signal, null, motifs, side = (data[f"{k}_{split}"] for k in ("signal", "null", "motifs", "side"))
        size = sizes[split]
        assert x.shape == model.shape == (size, 4, length) and x.dtype == model.dtype == np.float32
        assert y.shape == (size, 1) and y.dtype == np.float32 and set(np.unique(y)) <= {0.0, 1.0}
        assert signal.shape == null.shape == motifs.shape == (size, length)
        assert signal.dtype == null.dtype == motifs.dtype == np.bool_
        assert side.shape == (size,) and side.dtype == np.int8 and set(np.unique(side)) <= {0, 1}
        positives += int(y.sum())
        # one-hot, never a letter the model gives probability 0
        assert set(np.unique(x)) == {0.0, 1.0} and np.all(x.sum(axis=1) == 1)
        assert not np.any((x == 1) & (model == 0))
        np.testing.assert_allclose(model.sum(axis=1), 1.0, atol=1e-6)
        # two blocks of block_length, the signal left or right as side says
        np.testing.assert_array_equal(null, ~signal)
        np.testing.assert_array_equal(signal, np.where(side[:, None] == 0, cols < block_length, cols >= block_length))
        if placement == "fixed":
            assert not side.any()
        # motif columns are exactly those differing from uniform (no PWM column is uniform: see test_pwms)
        np.testing.assert_array_equal(motifs, (model != np.float32(0.25)).any(axis=1))
        for i in range(size):
            sig, nul = _blocks(model[i], motifs[i], int(side[i]), block_length)
            # the signal block holds exactly the label's pair at the spacing
            assert [m for _, m in sig] == ([0, 1] if y[i, 0] == 1 else [2, 3])
            (s0, m0), (s1, m1) = sig
            assert s1 - (s0 + WIDTHS[m0]) == spacing
            if spacing > 0:  # two runs of the motif widths, spacing apart
                block = motifs[i, int(side[i]) * block_length:][:block_length]
                assert _runs(block) == [(s0, WIDTHS[m0]), (s1, WIDTHS[m1])]
            # the null block holds n_null motifs, each its own run, no two of them a pair at the spacing
            assert len(nul) == n_null
            block = motifs[i, (1 - int(side[i])) * block_length:][:block_length]
            assert _runs(block) == [(s, WIDTHS[m]) for s, m in nul]
            for p, (sp, mp) in enumerate(nul):
                for sq, mq in nul[p + 1:]:
                    assert (mp, mq) not in PAIRS or sq - (sp + WIDTHS[mp]) != spacing
    assert positives == int(np.floor(n * positive_fraction + 0.5))


# ----------------------------------------------------------------- design


def test_pwms_have_no_uniform_column():
    """The motifs mask test compares model columns with 0.25: no PWM column may be uniform."""
    assert WIDTHS == [11, 11, 10, 10]
    assert not any(np.all(p == np.float32(0.25), axis=0).any() for p in PWMS)


def test_design_invariants(placed):
    placement, data = placed
    check_invariants(data, placement=placement)


def test_sides(placed):
    """fixed: always left; random: both sides, about half each."""
    placement, data = placed
    side = np.concatenate([data[f"side_{s}"] for s in syn.SPLITS])
    if placement == "fixed":
        assert not side.any()
    else:
        assert 0.4 < side.mean() < 0.6


@pytest.mark.parametrize("settings", [
    {"block_length": 23, "spacing": 1},  # tight: pair and null blocks just fit, null redraws are frequent
    {"block_length": 30, "spacing": 0, "n_null": 1, "positive_fraction": 0.3},  # the pair touches: one run
    {"block_length": 40, "spacing": 12, "n_null": 0},
    {"block_length": 80, "spacing": 2, "n_null": 5, "placement": "fixed"},
])
def test_design_invariants_other_settings(settings):
    data = lk.generate_leakage(n=300, seed=5, **settings)
    check_invariants(data, n=300, **settings)


def test_null_block_is_label_independent(large):
    """Null motif identities and places, and the side, have the same distribution in both classes; the pair's
    start covers every place it fits."""
    y = large["y"][:, 0]
    ids, starts = {0: [], 1: []}, {0: [], 1: []}
    pair_starts = {0: set(), 1: set()}
    for i in range(len(y)):
        sig, nul = _blocks(large["model"][i], large["motifs"][i], int(large["side"][i]), BLOCK)
        ids[int(y[i])] += [m for _, m in nul]
        starts[int(y[i])] += [s for s, _ in nul]
        pair_starts[int(y[i])].add(sig[0][0])
    freq = {c: np.bincount(ids[c], minlength=4) / len(ids[c]) for c in (0, 1)}
    assert np.all((freq[0] > 0.15) & (freq[0] < 0.35))
    np.testing.assert_allclose(freq[1], freq[0], atol=0.04)  # ~4 standard errors
    assert abs(np.mean(starts[1]) - np.mean(starts[0])) < 3
    for label in (0, 1):
        assert 0.45 < large["side"][y == label].mean() < 0.55
    assert pair_starts[1] == set(range(BLOCK - 27 + 1)) and pair_starts[0] == set(range(BLOCK - 25 + 1))


def test_placements_pair_up():
    """With one seed the fixed and random datasets hold the same sequences, only the blocks swapped."""
    fixed = lk.generate_leakage(n=200, placement="fixed", seed=4)
    rand = lk.generate_leakage(n=200, placement="random", seed=4)
    for s in syn.SPLITS:
        right = rand[f"side_{s}"] == 1
        assert right.any() and not right.all()
        np.testing.assert_array_equal(rand[f"y_{s}"], fixed[f"y_{s}"])
        for key in ("x", "model", "motifs", "signal"):
            back = rand[f"{key}_{s}"].copy()
            back[right] = np.roll(back[right], BLOCK, axis=-1)
            np.testing.assert_array_equal(back, fixed[f"{key}_{s}"])


def test_same_seed_same_bytes_other_seed_differs(tmp_path):
    a = lk.generate_leakage(n=200, seed=1)
    b = lk.generate_leakage(n=200, seed=1)
    c = lk.generate_leakage(n=200, seed=2)
    assert list(a) == list(b)
    for key in a:
        np.testing.assert_array_equal(a[key], b[key])
        assert a[key].dtype == b[key].dtype
    assert all(not np.array_equal(a[key], c[key]) for key in a if key.startswith(("x_", "model_")))
    attrs = lk.leakage_attrs(n=200, seed=1)
    lk.write_leakage(tmp_path / "a.h5", a, attrs)
    lk.write_leakage(tmp_path / "b.h5", b, attrs)
    assert (tmp_path / "a.h5").read_bytes() == (tmp_path / "b.h5").read_bytes()


# ----------------------------------------------------------------- arguments


@pytest.mark.parametrize("settings, message", [
    ({"placement": "top"}, r"placement must be one of \('random', 'fixed'\), got 'top'"),
    ({"n": 1}, "n must be an integer >= 2, got 1"),
    ({"n": 10.0}, "n must be an integer >= 2, got 10.0"),
    ({"block_length": 0}, "block_length must be an integer >= 1, got 0"),
    ({"block_length": 26}, "block_length 26 is too short for the grammar pair"),
    ({"block_length": 22, "spacing": 0}, "block_length 22 is too short for n_null=2 motifs"),
    ({"block_length": 40, "n_null": 4}, "block_length 40 is too short for n_null=4 motifs"),
    ({"spacing": -1}, "spacing must be an integer >= 0, got -1"),
    ({"n_null": -1}, "n_null must be an integer >= 0, got -1"),
    ({"positive_fraction": 0.0}, r"positive_fraction must be in \(0, 1\), got 0.0"),
    ({"positive_fraction": 1.0}, r"positive_fraction must be in \(0, 1\), got 1.0"),
    ({"positive_fraction": 1.5}, r"positive_fraction must be in \(0, 1\), got 1.5"),
    ({"motif_ids": IDS[:3]}, "motif_ids must name exactly 4 motifs"),
    ({"motif_ids": IDS[:3] + IDS[:1]}, "motif_ids must be 4 distinct motifs"),
    ({"release": "JASPAR1999"}, "unknown JASPAR release 'JASPAR1999'"),
    ({"split": (0.5, 0.5, 0.5)}, "split must be 3"),
])
def test_bad_arguments(settings, message):
    with pytest.raises(ValueError, match=message):
        lk.generate_leakage(**{"n": 100, **settings})
    with pytest.raises(ValueError, match=message):
        lk.leakage_attrs(**{"n": 100, **settings})


def test_a_split_without_both_classes_is_refused():
    with pytest.raises(ValueError, match="the valid split of 6 sequences holds 0, 0 of them positive"):
        lk.generate_leakage(n=6, seed=0)


# ----------------------------------------------------------------- files


def test_attrs():
    attrs = lk.leakage_attrs(n=N, seed=SEED, spacing=3)
    assert attrs["motif_ids"] == list(IDS) and attrs["motif_widths"] == WIDTHS
    assert attrs["motif_roles"] == dict(zip("abcd", IDS))
    assert attrs["n"] == N and attrs["seed"] == SEED and attrs["spacing"] == 3 and attrs["n_null"] == 2
    assert attrs["block_length"] == BLOCK and attrs["length"] == 2 * BLOCK and attrs["placement"] == "random"
    assert attrs["release"] == "JASPAR2016" and attrs["split"] == [0.7, 0.1, 0.2]
    assert f"{IDS[0]} then {IDS[1]}" in attrs["grammar"] and "3 bp" in attrs["grammar"]
    with pytest.raises(ValueError, match="'lenght'"):
        lk.leakage_attrs(lenght=30)


def test_write_read_round_trip(tmp_path, placed):
    placement, data = placed
    path = tmp_path / "leakage.h5"
    lk.write_leakage(path, data, lk.leakage_attrs(n=N, placement=placement, seed=SEED))
    for s in syn.SPLITS:
        got = lk.read_leakage(path, s)
        assert list(got) == list(lk.LEAKAGE_KEYS)
        for k, v in got.items():
            np.testing.assert_array_equal(v, data[f"{k}_{s}"])
            assert v.dtype == data[f"{k}_{s}"].dtype
    with h5py.File(path, "r") as f:
        assert f.attrs["placement"] == placement and f.attrs["seed"] == SEED
        assert json.loads(f.attrs["motif_ids"]) == list(IDS)
        assert json.loads(f.attrs["motif_roles"]) == dict(zip("abcd", IDS))
    x, y = read_xy(path, "test")
    np.testing.assert_array_equal(x, data["x_test"])
    np.testing.assert_array_equal(y, data["y_test"])
    x, y, model = syn.read_dataset(path, "valid")
    np.testing.assert_array_equal(model, data["model_valid"])


def test_read_errors(tmp_path):
    path = tmp_path / "partial.h5"
    lk.write_leakage(path, {"x_train": np.zeros((1, 4, 2), np.float32), "y_train": np.zeros((1, 1), np.float32),
                            "model_train": np.full((1, 4, 2), 0.25, np.float32)})
    with pytest.raises(KeyError) as err:
        lk.read_leakage(path, "train")
    assert "partial.h5" in str(err.value) and "signal_train" in str(err.value)
    with pytest.raises(FileNotFoundError, match="absent.h5"):
        lk.read_leakage(tmp_path / "absent.h5", "train")
    with pytest.raises(ValueError, match="split"):
        lk.read_leakage(path, "validation")


# ----------------------------------------------------------------- null share


def test_null_share_by_hand():
    scores = np.array([[1.0, 2.0, 3.0, 4.0], [0.0, 0.0, 0.0, 0.0], [0.0, 5.0, 0.0, 0.0], [2.0, 0.0, 0.0, 2.0]])
    null = np.array([[False, False, True, True], [True, True, False, False], [True, False, True, False],
                     [False, False, True, True]])
    share = lk.null_share(scores, null)
    assert share.shape == (4,) and share.dtype == np.float64
    np.testing.assert_allclose(share[[0, 2, 3]], [0.7, 0.0, 0.5])
    assert np.isnan(share[1])


def test_null_share_on_the_masks(placed):
    """Scores on the signal block alone leak nothing; scores on the null block alone leak everything."""
    _, data = placed
    signal, null = data["signal_test"], data["null_test"]
    np.testing.assert_array_equal(lk.null_share(signal.astype(float), null), 0.0)
    np.testing.assert_array_equal(lk.null_share(null.astype(np.float32), null), 1.0)
    np.testing.assert_allclose(lk.null_share(np.ones(null.shape), null), 0.5)


def test_null_share_errors():
    with pytest.raises(ValueError, match="shape"):
        lk.null_share(np.ones((2, 4)), np.ones((2, 3), bool))
    with pytest.raises(ValueError, match="shape"):
        lk.null_share(np.ones(4), np.ones(4, bool))
    with pytest.raises(ValueError, match="nonnegative"):
        lk.null_share(-np.ones((2, 4)), np.ones((2, 4), bool))
    with pytest.raises(ValueError, match="bool"):
        lk.null_share(np.ones((2, 4)), np.ones((2, 4)))
