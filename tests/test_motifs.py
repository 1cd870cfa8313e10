"""gradcorr.motifs: modisco-lite inputs and runs, TOMTOM matches with q-values, and motif recovery scored against
the synthetic data's embedded motifs."""

import numpy as np
import pandas as pd
import pytest

from gradcorr import motifs
from gradcorr.data.synthetic import CORE_MOTIF_IDS, dataset_attrs, generate_billboard


@pytest.fixture(scope="module")
def billboard():
    """300 positive billboard sequences (modisco-lite's time grows with them; enough for the properties below), their
    sequence models and ground-truth maps (log-odds of each sequence model against uniform, with noise), plus the
    same maps with a large off-simplex component (the same value added to all four nucleotides of a position, as a
    CNN's unconstrained gradient has)."""
    data = generate_billboard(n_positive=300, n_negative=300, seed=3, split=(0.0, 0.5, 0.5))
    x = np.concatenate([data["x_valid"], data["x_test"]])
    y = np.concatenate([data["y_valid"], data["y_test"]])[:, 0]
    model = np.concatenate([data["model_valid"], data["model_test"]])
    x, model = x[y == 1], model[y == 1]
    rng = np.random.default_rng(0)
    truth = np.log2(np.maximum(model, 1e-3) / 0.25)
    on_simplex = truth + rng.normal(0, 0.3, truth.shape)
    off_simplex = on_simplex + rng.normal(0, 1.0, (len(x), 1, x.shape[2]))
    return {"x": x, "model": model, "attrs": dataset_attrs(seed=3),
            "raw": off_simplex.astype(np.float32), "corrected": (off_simplex - off_simplex.mean(1, keepdims=True))}


@pytest.fixture(scope="module")
def discovered(billboard, tmp_path_factory):
    """modisco-lite on the raw (off-simplex) and corrected maps, each results file with its patterns and their
    matches against the dataset's own motif pool."""
    folder = tmp_path_factory.mktemp("modisco")
    attrs = billboard["attrs"]
    pool = motifs.jaspar_motifs(attrs["release"], ids=attrs["core_ids"] + attrs["background_ids"])
    out = {}
    for kind in ("raw", "corrected"):
        path = folder / f"{kind}.h5"
        note = motifs.discover_motifs(billboard["x"], billboard[kind], path)
        patterns = motifs.read_patterns(path)
        out[kind] = {"path": path, "note": note, "patterns": patterns,
                     "matches": motifs.match_patterns(patterns, pool) if patterns else pd.DataFrame()}
    return out


def test_modisco_arrays_round_trip_and_modisco_reads_them(tmp_path):
    from modiscolite.cli import _load_input

    x = np.random.default_rng(1).normal(size=(3, 4, 25)).astype(np.float32)
    motifs.write_modisco_array(tmp_path / "a.npz", x)
    assert np.array_equal(motifs.read_modisco_array(tmp_path / "a.npz"), x)
    assert np.array_equal(_load_input(tmp_path / "a.npz"), x)  # modisco-lite's own reader (its command line)
    assert [p.name for p in tmp_path.iterdir()] == ["a.npz"]  # no temporary left behind
    with pytest.raises(ValueError, match=r"b.npz.*\(N, 4, L\)"):
        motifs.write_modisco_array(tmp_path / "b.npz", x[:, :3])
    assert not (tmp_path / "b.npz").exists()


def test_benjamini_hochberg_matches_the_definition():
    p = np.random.default_rng(2).uniform(size=(3, 40)) ** 3
    q = motifs.benjamini_hochberg(p)
    m = p.shape[1]
    for row, qrow in zip(p, q):
        ranks = np.argsort(np.argsort(row)) + 1
        # q_i = min over p_j >= p_i of p_j m / rank_j, capped at 1
        expected = [min(1.0, min(row[j] * m / ranks[j] for j in range(m) if row[j] >= row[i])) for i in range(m)]
        assert np.allclose(qrow, expected)


def test_trim_bounds_keeps_first_to_last_position_above_threshold():
    cwm = np.array([0.1, 0.5, 1.0, 0.2, 0.35, 0.05])[:, None] * np.array([[1, 0, 0, 0]])
    assert motifs.trim_bounds(cwm, 0.3) == (1, 5)  # 0.2 inside the span stays; 0.1 and 0.05 at the ends go
    assert motifs.trim_bounds(cwm, 0.6) == (2, 3)
    assert motifs.trim_bounds(-cwm, 0.3) == (1, 5)  # signs do not matter
    assert motifs.trim_bounds(np.zeros((7, 4))) == (0, 7)


def test_a_jaspar_motif_matches_itself_and_its_own_rank_is_reported():
    db = motifs.jaspar_motifs("JASPAR2024")
    gabpa = db[db["id"].str.startswith("MA0062")].iloc[0]
    ppm = gabpa["pwm"].T
    cwm = ppm - 0.25
    random_ppm = np.random.default_rng(0).dirichlet([0.3] * 4, 12)
    patterns = [{"pattern": "pos_patterns.pattern_0", "sign": 1, "n_seqlets": 50, "cwm": cwm, "ppm": ppm},
                {"pattern": "pos_patterns.pattern_1", "sign": 1, "n_seqlets": 30, "cwm": np.ones((12, 4)),
                 "ppm": random_ppm}]
    table = motifs.match_patterns(patterns, db, own_ids=["MA0062.2"])  # any version of the TF's matrix counts
    assert table.at[0, "match_id"] == gabpa["id"] and table.at[0, "matched"]
    assert table.at[0, "own_rank"] == 1 and table.at[0, "own_q"] == table.at[0, "match_q"]
    # the reverse complement of a piece of the motif aligns with the motif's other strand
    piece = {"pattern": "pos_patterns.pattern_2", "sign": 1, "n_seqlets": 20, "cwm": cwm[2:12][::-1, ::-1],
             "ppm": ppm[2:12][::-1, ::-1]}
    flipped = motifs.match_patterns([patterns[0], piece], db)
    assert list(flipped["match_strand"]) == ["+", "-"] and flipped.at[1, "match_id"] == gabpa["id"]
    assert not table.at[1, "matched"] and table.at[1, "match_q"] > 0.05  # a random matrix matches nothing
    assert table.at[0, "information"] == pytest.approx(motifs.pattern_information(ppm.T))
    assert (table["n_targets"] == len(db)).all()


def test_embedded_positions_and_seqlet_precision():
    model = np.full((2, 4, 20), 0.25)
    model[0, :, 5:9] = np.eye(4)  # a motif at 5..8 of sequence 0
    embedded = motifs.embedded_positions(model)
    assert embedded.sum() == 4 and embedded[0, 5:9].all()
    seqlets = pd.DataFrame({"example_idx": [0, 0, 1], "start": [3, 1, 3], "end": [13, 11, 13],
                            "is_revcomp": [False, True, False]})
    # span 2..6 of each 10-wide seqlet: forward at 3 + 2 = 5..8 on sequence 0; the reverse complement seqlet
    # (1..11) has it mirrored, 11 - 6 = 5..8; sequence 1 has no motif
    assert np.allclose(motifs.seqlet_precision(seqlets, (2, 6), embedded), [1.0, 1.0, 0.0])
    # span 0..4: forward 3..6 (5, 6 on the motif); mirrored 11 - 4 = 7..10 (7, 8 on it)
    assert np.allclose(motifs.seqlet_precision(seqlets, (0, 4), embedded), [0.5, 0.5, 0.0])


def test_pattern_information():
    assert motifs.pattern_information(np.full((4, 5), 0.25)) == pytest.approx(0.0, abs=1e-9)  # metrics' eps
    assert motifs.pattern_information(np.eye(4)) == pytest.approx(2.0)
    assert motifs.pattern_information(np.array([[0.5], [0.5], [0.0], [0.0]])) == pytest.approx(1.0)


def test_ground_truth_classes():
    matches = pd.DataFrame({"match_id": ["MA0079.3", "MA0079.3", "MA9999.1"], "matched": [True, False, True]})
    assert list(motifs.ground_truth_classes(matches, ["MA0079.5"])) == ["core", "none", "background"]


def test_motifs_of_ground_truth_maps_are_the_embedded_core_motifs(billboard, discovered):
    """On maps that follow the generative model, modisco-lite recovers core motifs, each pattern's best pool match
    is a core motif, and its seqlets sit on embedded motifs far above chance."""
    embedded = motifs.embedded_positions(billboard["model"])
    found = discovered["corrected"]
    assert found["note"] == "" and len(found["patterns"]) >= 3
    classes = motifs.ground_truth_classes(found["matches"], CORE_MOTIF_IDS)
    assert (classes == "core").all()
    assert found["matches"]["match_id"].nunique() >= 3
    precision = np.concatenate([motifs.seqlet_precision(p["seqlets"], motifs.trim_bounds(p["cwm"]), embedded)
                                for p in found["patterns"]])
    assert precision.mean() > 2.5 * embedded.mean()


def test_correction_finds_more_seqlets_than_off_simplex_maps(discovered):
    """The off-simplex component adds the same value to every nucleotide of a position: it moves the observed base's
    contribution at random, which hides motif instances; correcting the maps removes it."""
    seqlets = {kind: sum(p["n_seqlets"] for p in d["patterns"]) for kind, d in discovered.items()}
    assert seqlets["corrected"] > 2 * seqlets["raw"]


def test_runs_are_reproducible(billboard, discovered, tmp_path):
    motifs.discover_motifs(billboard["x"], billboard["corrected"], tmp_path / "again.h5")
    again = motifs.read_patterns(tmp_path / "again.h5")
    first = discovered["corrected"]["patterns"]
    assert [p["n_seqlets"] for p in again] == [p["n_seqlets"] for p in first]
    assert all(np.array_equal(a["cwm"], b["cwm"]) for a, b in zip(again, first))


@pytest.mark.parametrize("maps, reason", [("zeros", "every contribution score is the same"),
                                          ("noise", "fewer than 100 seqlets")])
def test_maps_without_motifs_give_an_empty_results_file_that_says_why(maps, reason, tmp_path):
    rng = np.random.default_rng(4)
    x = np.eye(4, dtype=np.float32)[rng.integers(0, 4, (30, 100))].transpose(0, 2, 1)
    hyp = np.zeros_like(x) if maps == "zeros" else rng.normal(size=x.shape).astype(np.float32)
    note = motifs.discover_motifs(x, hyp, tmp_path / "out.h5")
    assert reason in note and motifs.results_note(tmp_path / "out.h5") == note
    assert motifs.read_patterns(tmp_path / "out.h5") == []


def test_bad_maps_are_refused(tmp_path):
    x = np.zeros((2, 4, 50), dtype=np.float32)
    with pytest.raises(ValueError, match="NaN"):
        motifs.discover_motifs(x, np.full_like(x, np.nan), tmp_path / "out.h5")
    with pytest.raises(ValueError, match=r"\(N, 4, L\)"):
        motifs.discover_motifs(x, x[:, :, :10], tmp_path / "out.h5")
    assert not (tmp_path / "out.h5").exists()


def test_unknown_jaspar_ids_and_releases_are_named():
    with pytest.raises(ValueError, match="MA9999.9"):
        motifs.jaspar_motifs("JASPAR2024", ids=["MA0062.4", "MA9999.9"])
    with pytest.raises(ValueError, match="JASPAR1999"):
        motifs.jaspar_motifs("JASPAR1999")
