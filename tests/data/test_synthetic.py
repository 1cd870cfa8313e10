"""Tests for gradcorr.data.synthetic: the billboard dataset generator."""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

import h5py
import numpy as np
import pytest
from pyjaspar import jaspardb

from gradcorr.data import synthetic as syn

N_POS, N_NEG, LENGTH, SEED = 300, 300, 200, 1


@pytest.fixture(scope="module")
def data() -> dict[str, np.ndarray]:
    return syn.generate_billboard(n_positive=N_POS, n_negative=N_NEG, length=LENGTH, seed=SEED)


@pytest.fixture(scope="module")
def toy_pool() -> list[np.ndarray]:
    """Distinguishable synthetic PWMs of widths 5..12, with no entry equal to 0.25."""
    rng = np.random.default_rng(123)
    pool = []
    for w in range(5, 13):
        p = rng.uniform(0.3, 1.0, size=(4, w))
        pool.append(p / p.sum(axis=0))
    assert not any(np.any(p == 0.25) for p in pool)
    return pool


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# ----------------------------------------------------------------- dataset layout


def test_class_balance_and_split_sizes(data):
    """Exact 300/300 labels over all splits; 0.7/0.1/0.2 split sizes; shapes and dtypes."""
    n = N_POS + N_NEG
    sizes = {"train": 420, "valid": 60, "test": 120}
    y_all = np.concatenate([data[f"y_{s}"] for s in syn.SPLITS])
    assert y_all.shape == (n, 1)
    assert set(np.unique(y_all)) == {0.0, 1.0}
    assert int((y_all == 1).sum()) == N_POS and int((y_all == 0).sum()) == N_NEG
    for s, size in sizes.items():
        assert data[f"x_{s}"].shape == (size, 4, LENGTH) and data[f"x_{s}"].dtype == np.float32
        assert data[f"model_{s}"].shape == (size, 4, LENGTH)
        assert data[f"model_{s}"].dtype == np.float32
        assert data[f"y_{s}"].shape == (size, 1) and data[f"y_{s}"].dtype == np.float32
    # the shuffle mixes the classes into every split
    assert 0 < data["y_test"].sum() < sizes["test"]


def test_split_sizes_floor_of_cumulative_fractions():
    """Default split of 20,000 is 14,000/2,000/4,000; float cumsum (0.7 + 0.1 = 0.7999...) must
    not floor 8 to 7 for 10 sequences."""
    assert syn.split_sizes(20000, (0.7, 0.1, 0.2)) == (14000, 2000, 4000)
    assert syn.split_sizes(10, (0.7, 0.1, 0.2)) == (7, 1, 2)
    assert syn.split_sizes(10, (0.55, 0.25, 0.2)) == (5, 3, 2)
    with pytest.raises(ValueError, match="split"):
        syn.split_sizes(10, (0.7, 0.1, 0.1))


def test_labels_follow_motif_pools(data):
    """Positive models use only core PWM columns; negative models only negative-pool columns."""
    rng = np.random.default_rng(SEED)  # generate_billboard draws the background motifs first
    pos_pool, neg_pool, _ = syn.load_motif_pools(rng=rng)

    def columns(pool):
        return {tuple(c) for p in pool for c in p.astype(np.float32).T}

    pos_cols, neg_cols = columns(pos_pool), columns(neg_pool)
    uniform = (np.float32(0.25),) * 4
    only_negative = 0
    for s in syn.SPLITS:
        for m, y in zip(data[f"model_{s}"], data[f"y_{s}"][:, 0]):
            cols = {tuple(c) for c in m.T} - {uniform}
            assert cols <= (pos_cols if y == 1 else neg_cols)
            only_negative += bool(cols - pos_cols)
    assert only_negative > 0  # background motifs really are used in negatives


# ----------------------------------------------------------------- motif placement


def test_motif_count_follows_distribution(toy_pool):
    """Number of placed motifs is always in MOTIF_COUNTS; frequencies match probs within 0.03."""
    rng = np.random.default_rng(7)
    n_draws = 4000
    ns = np.array([len(syn._place_motifs(toy_pool, LENGTH, rng)[1]) for _ in range(n_draws)])
    assert set(ns) <= set(syn.MOTIF_COUNTS)
    freq = np.array([(ns == c).mean() for c in syn.MOTIF_COUNTS])
    np.testing.assert_allclose(freq, syn.MOTIF_COUNT_PROBS, atol=0.03)
    # a custom distribution is honoured too
    ns = [len(syn._place_motifs(toy_pool, LENGTH, rng, counts=(1, 2), probs=(0.0, 1.0))[1])
          for _ in range(50)]
    assert set(ns) == {2}


def test_motifs_placed_where_model_says(toy_pool):
    """Motif columns equal their PWM, all other columns are 0.25, no overlaps, gaps fill the rest."""
    rng = np.random.default_rng(11)
    widths = [p.shape[1] for p in toy_pool]
    touching = 0
    for _ in range(500):
        m, placements = syn._place_motifs(toy_pool, LENGTH, rng)
        assert m.shape == (4, LENGTH)
        covered = np.zeros(LENGTH, dtype=bool)
        ends = []
        for start, j in placements:
            w = widths[j]
            assert 0 <= start and start + w <= LENGTH
            np.testing.assert_array_equal(m[:, start:start + w], toy_pool[j])
            assert not covered[start:start + w].any()  # no overlap
            covered[start:start + w] = True
            ends.append(start + w)
        assert np.all(m[:, ~covered] == 0.25)
        starts = [s for s, _ in placements]
        gaps = [starts[0]] + [s - e for s, e in zip(starts[1:], ends[:-1])] + [LENGTH - ends[-1]]
        assert min(gaps) >= 0
        assert sum(gaps) == LENGTH - sum(widths[j] for _, j in placements)
        touching += sum(g == 0 for g in gaps[1:-1])
    assert touching > 0  # motifs may touch


def test_model_redraws_until_motifs_fit():
    """Motif sets too wide for the sequence are redrawn; impossible pools raise instead of hanging."""
    pool = [np.full((4, 6), 0.25), np.full((4, 40), 0.25)]
    rng = np.random.default_rng(3)
    for _ in range(200):
        _, placements = syn._place_motifs(pool, 50, rng, counts=(2,), probs=(1.0,))
        assert sum(pool[j].shape[1] for _, j in placements) < 50
    with pytest.raises(ValueError, match="never fit"):
        syn.sample_sequence_model([np.full((4, 30), 0.25)], 50, rng, counts=(2,), probs=(1.0,))


def test_count_distribution_validation(toy_pool):
    """probs must be non-negative and sum to 1; counts and probs must match in length."""
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="sum to 1"):
        syn.sample_sequence_model(toy_pool, LENGTH, rng, counts=(3, 4), probs=(0.5, 0.4))
    with pytest.raises(ValueError, match="non-negative"):
        syn.sample_sequence_model(toy_pool, LENGTH, rng, counts=(3, 4), probs=(1.5, -0.5))
    with pytest.raises(ValueError, match="equal length"):
        syn.sample_sequence_model(toy_pool, LENGTH, rng, counts=(3, 4, 5), probs=(0.5, 0.5))
    with pytest.raises(ValueError, match="sum to 1"):
        syn.generate_billboard(n_positive=2, n_negative=2, counts=(3,), probs=(0.9,))


# ----------------------------------------------------------------- sampling


def test_model_and_one_hot_columns_sum_to_one(data):
    """Every column of M sums to 1 (atol 1e-6); every one-hot column sums to exactly 1."""
    for s in syn.SPLITS:
        np.testing.assert_allclose(data[f"model_{s}"].sum(axis=1), 1.0, atol=1e-6)
        x = data[f"x_{s}"]
        assert set(np.unique(x)) == {0.0, 1.0}
        assert np.all(x.sum(axis=1) == 1.0)
        # a base with probability 0 in M is never sampled
        assert not np.any((x == 1) & (data[f"model_{s}"] == 0))


def test_sampling_deterministic_columns():
    """A column with a 1.0 entry always yields that base."""
    rng = np.random.default_rng(5)
    bases = rng.integers(0, 4, size=(50, 30))
    models = (bases[:, None, :] == np.arange(4)[None, :, None]).astype(np.float32)
    for _ in range(5):
        np.testing.assert_array_equal(syn.sample_one_hot(models, rng), models)


def test_sampling_frequencies_match_column():
    """Empirical base frequencies of a fixed column match it; a column summing to slightly
    below 1 still gives valid one-hot (index clipped to T)."""
    rng = np.random.default_rng(9)
    p = np.array([0.1, 0.2, 0.3, 0.4])
    models = np.broadcast_to(p[None, :, None], (20000, 4, 5))
    x = syn.sample_one_hot(models, rng)
    np.testing.assert_allclose(x.mean(axis=(0, 2)), p, atol=0.01)

    short = np.broadcast_to(np.array([0.0, 0.0, 0.0, 0.99])[None, :, None], (20000, 4, 5))
    x = syn.sample_one_hot(short, rng)
    assert np.all(x.sum(axis=1) == 1) and np.all(x[:, 3] == 1)


# ----------------------------------------------------------------- JASPAR motifs


def test_jaspar_pwms_match_database():
    """jaspar_pwm equals counts / column sum from JASPAR2016, incl. SP1's hand-checked column 0."""
    db = jaspardb(release="JASPAR2016")
    for mid in syn.CORE_MOTIF_IDS:
        motif = db.fetch_motif_by_id(mid)
        counts = np.array([list(motif.counts[b]) for b in "ACGT"], dtype=float)
        expected = counts / counts.sum(axis=0, keepdims=True)
        pwm = syn.jaspar_pwm(motif)
        assert pwm.shape == (4, counts.shape[1]) and pwm.dtype == np.float64
        np.testing.assert_allclose(pwm, expected, rtol=0, atol=1e-12)
    sp1 = syn.jaspar_pwm(db.fetch_motif_by_id("MA0079.3"))
    np.testing.assert_allclose(sp1[:, 0], np.array([857, 1786, 4271, 1820]) / 8734, atol=1e-12)


def test_reverse_complement_hand_example():
    """Reverse complement of a hand-made ACGT matrix; applying it twice gives the input back."""
    m = np.array([[0.7, 0.1, 0.0],   # A
                  [0.1, 0.2, 0.0],   # C
                  [0.1, 0.3, 1.0],   # G
                  [0.1, 0.4, 0.0]])  # T
    expected = np.array([[0.0, 0.4, 0.1],   # A = reversed T
                         [1.0, 0.3, 0.1],   # C = reversed G
                         [0.0, 0.2, 0.1],   # G = reversed C
                         [0.0, 0.1, 0.7]])  # T = reversed A
    np.testing.assert_array_equal(syn.reverse_complement(m), expected)
    np.testing.assert_array_equal(syn.reverse_complement(syn.reverse_complement(m)), m)


def test_motif_pools():
    """10 core PWMs (+ rc) in both pools, 110 negatives, no core ID in the background, seeded draw."""
    pos, neg, names = syn.load_motif_pools(rng=np.random.default_rng(0))
    assert len(pos) == 10 and len(neg) == 110 and len(names) == 110
    db = jaspardb(release="JASPAR2016")
    for i, mid in enumerate(syn.CORE_MOTIF_IDS):
        fwd = syn.jaspar_pwm(db.fetch_motif_by_id(mid))
        np.testing.assert_array_equal(pos[2 * i], fwd)
        np.testing.assert_array_equal(pos[2 * i + 1], syn.reverse_complement(fwd))
        assert names[2 * i: 2 * i + 2] == [mid, f"{mid}_rc"]
    for a, b in zip(pos, neg[:10]):
        np.testing.assert_array_equal(a, b)
    bg = syn.background_ids(names, len(syn.CORE_MOTIF_IDS))
    assert len(bg) == 50 == len(set(bg))
    core_bases = {m.split(".")[0] for m in syn.CORE_MOTIF_IDS}
    assert not core_bases & {m.split(".")[0] for m in bg}
    for k, mid in enumerate(bg):
        fwd = syn.jaspar_pwm(db.fetch_motif_by_id(mid))
        np.testing.assert_array_equal(neg[10 + 2 * k], fwd)
        np.testing.assert_array_equal(neg[11 + 2 * k], syn.reverse_complement(fwd))

    _, _, same = syn.load_motif_pools(rng=np.random.default_rng(0))
    _, _, other = syn.load_motif_pools(rng=np.random.default_rng(1))
    assert same == names and other != names
    assert syn.dataset_attrs(seed=0)["background_ids"] == bg


def test_background_never_core():
    """Even drawing every eligible background motif never yields a core motif (any version)."""
    n_eligible = 519 - len(syn.CORE_MOTIF_IDS)  # JASPAR2016 CORE vertebrates, latest versions
    _, neg, names = syn.load_motif_pools(n_background=n_eligible, rng=np.random.default_rng(0))
    bg = syn.background_ids(names, len(syn.CORE_MOTIF_IDS))
    assert len(bg) == len(set(bg)) == n_eligible and len(neg) == 10 + 2 * n_eligible
    core_bases = {m.split(".")[0] for m in syn.CORE_MOTIF_IDS}
    assert not core_bases & {m.split(".")[0] for m in bg}
    with pytest.raises(ValueError, match="n_background"):
        syn.load_motif_pools(n_background=n_eligible + 1)


def test_unknown_motif_id_and_release():
    """An unknown motif ID or release raises ValueError naming it."""
    with pytest.raises(ValueError, match=r"MA9999\.1.*JASPAR2016"):
        syn.load_motif_pools(core_ids=("MA0079.3", "MA9999.1"))
    with pytest.raises(ValueError, match="JASPAR1999"):
        syn.load_motif_pools(release="JASPAR1999")


# ----------------------------------------------------------------- determinism and I/O


def test_determinism_arrays_and_files(data, tmp_path):
    """Same seed -> identical arrays and file bytes; different seed -> different arrays."""
    again = syn.generate_billboard(n_positive=N_POS, n_negative=N_NEG, length=LENGTH, seed=SEED)
    other = syn.generate_billboard(n_positive=N_POS, n_negative=N_NEG, length=LENGTH, seed=SEED + 1)
    assert again.keys() == data.keys()
    for k in data:
        np.testing.assert_array_equal(again[k], data[k])
    assert not np.array_equal(other["x_train"], data["x_train"])
    assert not np.array_equal(other["model_train"], data["model_train"])

    attrs = syn.dataset_attrs(seed=SEED, n_positive=N_POS, split=[0.7, 0.1, 0.2])
    a, b = tmp_path / "a.h5", tmp_path / "b.h5"
    syn.write_dataset(a, data, attrs)
    time.sleep(1.1)  # HDF5 timestamps have 1 s resolution: stored times would now differ
    syn.write_dataset(b, again, attrs)
    assert _sha256(a) == _sha256(b)
    syn.write_dataset(b, other, attrs)
    assert _sha256(a) != _sha256(b)

    for s in syn.SPLITS:
        x, y, m = syn.read_dataset(a, s)
        np.testing.assert_array_equal(x, data[f"x_{s}"])
        np.testing.assert_array_equal(y, data[f"y_{s}"])
        np.testing.assert_array_equal(m, data[f"model_{s}"])
    with h5py.File(a, "r") as f:
        assert f["x_train"].compression == "gzip"
        assert f.attrs["seed"] == SEED and f.attrs["release"] == "JASPAR2016"
        assert json.loads(f.attrs["background_ids"]) == attrs["background_ids"]
        assert json.loads(f.attrs["split"]) == [0.7, 0.1, 0.2]


def test_write_dataset_is_atomic(tmp_path):
    """A write that fails midway leaves the old file's bytes and no temp file behind."""
    path = tmp_path / "d.h5"
    good = {"x_train": np.arange(12, dtype=np.float32).reshape(1, 3, 4)}
    syn.write_dataset(path, good, {"seed": 0})
    before = path.read_bytes()
    bad = {"x_train": np.zeros((2, 4, 5), dtype=np.float32),
           "y_train": np.array([{"a": 1}], dtype=object)}  # h5py cannot store Python objects
    with pytest.raises(TypeError):
        syn.write_dataset(path, bad)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.h5"]

    fresh = tmp_path / "new.h5"
    with pytest.raises(TypeError):
        syn.write_dataset(fresh, bad)
    assert not fresh.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.h5"]


def test_read_dataset_errors(tmp_path):
    """Missing key or file -> error naming the file and the key; bad split name -> ValueError."""
    path = tmp_path / "partial.h5"
    syn.write_dataset(path, {"x_train": np.zeros((1, 4, 3), np.float32),
                             "y_train": np.zeros((1, 1), np.float32)})
    with pytest.raises(KeyError) as err:
        syn.read_dataset(path, "train")
    assert "partial.h5" in str(err.value) and "model_train" in str(err.value)
    with pytest.raises(FileNotFoundError, match="absent.h5"):
        syn.read_dataset(tmp_path / "absent.h5", "train")
    with pytest.raises(ValueError, match="split"):
        syn.read_dataset(path, "validation")


def test_a_split_without_both_classes_is_refused():
    """Six sequences split 0.7/0.1/0.2 leave the valid split empty; training would fail late without a file name."""
    with pytest.raises(ValueError, match="the valid split of 6 sequences holds 0, 0 of them positive"):
        syn.generate_billboard(3, 3, length=100, n_background=2, seed=0)
