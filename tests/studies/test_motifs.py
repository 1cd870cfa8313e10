"""gradcorr.studies.motifs: the motif stage's functions on small files: exports of each map kind, pattern tables
against JASPAR and the synthetic truth, the summary, logos and bigWig tracks."""

import numpy as np
import pandas as pd
import pytest

from gradcorr import motifs
from gradcorr.data.io import attribution_arrays, read_tsv, write_arrays
from gradcorr.data.synthetic import dataset_attrs, generate_billboard, write_dataset
from gradcorr.studies import motifs as study


@pytest.fixture(scope="module")
def synthetic_files(tmp_path_factory):
    """A billboard dataset file and an attribution file whose map is the ground truth's log-odds with noise and an
    off-simplex component (what a model's raw saliency looks like), for 400 positive sequences."""
    folder = tmp_path_factory.mktemp("synthetic")
    data = generate_billboard(n_positive=400, n_negative=400, seed=5, split=(0.0, 0.0, 1.0))
    dataset = folder / "billboard.h5"
    write_dataset(dataset, data, dataset_attrs(seed=5))
    positive = np.flatnonzero(data["y_test"][:, 0] == 1)
    x, truth = data["x_test"][positive], data["model_test"][positive]
    rng = np.random.default_rng(1)
    raw = np.log2(np.maximum(truth, 1e-3) / 0.25) + rng.normal(0, 0.3, truth.shape)
    raw = raw + rng.normal(0, 1.0, (len(x), 1, x.shape[2]))
    attributions = folder / "model.saliency.h5"
    write_arrays(attributions, attribution_arrays(positive, x, "saliency", raw, truth),
                 {"model": "cnn_deep_exp_0", "method": "saliency"})
    return {"dataset": dataset, "attributions": attributions, "folder": folder, "raw": raw, "x": x, "truth": truth}


@pytest.fixture(scope="module")
def corrected_run(synthetic_files):
    """The corrected kind exported and run through modisco-lite, as the workflow does."""
    folder = synthetic_files["folder"]
    out = {"ohe": folder / "m.ohe.npz", "raw": folder / "m.raw.npz", "corrected": folder / "m.corrected.npz"}
    study.export_maps(synthetic_files["attributions"], out)
    study.run_modisco(out["ohe"], out["corrected"], folder / "m.corrected.h5", {})
    return folder / "m.corrected.h5"


def test_export_of_a_model_file_holds_the_raw_and_corrected_maps(synthetic_files, tmp_path):
    out = {"ohe": tmp_path / "a.ohe.npz", "raw": tmp_path / "a.raw.npz", "corrected": tmp_path / "a.corrected.npz"}
    study.export_maps(synthetic_files["attributions"], out)
    raw = synthetic_files["raw"].astype(np.float32)
    assert np.array_equal(motifs.read_modisco_array(out["ohe"]), synthetic_files["x"])
    assert np.array_equal(motifs.read_modisco_array(out["raw"]), raw)
    np.testing.assert_allclose(motifs.read_modisco_array(out["corrected"]), raw - raw.mean(1, keepdims=True),
                               atol=1e-6)
    with pytest.raises(ValueError, match=r"model.saliency.h5: holds no ensemble_raw map"):
        study.export_maps(synthetic_files["attributions"], {**out, "ensemble_raw": tmp_path / "e.npz"})


def test_the_stage_finds_what_the_modisco_command_line_finds_on_its_exports(synthetic_files, corrected_run, tmp_path):
    """The exports are modisco-lite's input format and the stage runs it with its command line's defaults: the
    command line on the exported files gives the same patterns."""
    import subprocess
    import sys
    from pathlib import Path

    folder = synthetic_files["folder"]
    modisco = Path(sys.executable).parent / "modisco"  # installed beside this Python by modisco-lite
    assert modisco.is_file()
    run = subprocess.run([modisco, "motifs", "-s", str(folder / "m.ohe.npz"), "-a", str(folder / "m.corrected.npz"),
                          "-n", "20000", "-w", "200", "-o", str(tmp_path / "cli.h5")], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-2000:]
    ours, theirs = motifs.read_patterns(corrected_run), motifs.read_patterns(tmp_path / "cli.h5")
    assert [p["n_seqlets"] for p in ours] == [p["n_seqlets"] for p in theirs] and len(ours) >= 3
    assert all(np.allclose(a["cwm"], b["cwm"]) for a, b in zip(ours, theirs))


def test_an_ensemble_file_has_four_kinds(tmp_path):
    rng = np.random.default_rng(0)
    x = np.eye(4, dtype=np.float32)[rng.integers(0, 4, (5, 30))].transpose(0, 2, 1)
    member0, ensemble = rng.normal(size=x.shape), rng.normal(size=x.shape)
    path = tmp_path / "ensemble.h5"
    write_arrays(path, {"x": x, "member0": member0, "ensemble": ensemble, "index": np.arange(5)},
                 {"tf": "TF", "model_type": "cnn_shallow_exp"})
    kinds = study.map_kinds(path)
    assert set(kinds) == {"x", *study.MAP_KINDS}
    np.testing.assert_allclose(kinds["ensemble_corrected"], ensemble - ensemble.mean(1, keepdims=True))
    np.testing.assert_allclose(kinds["corrected"].sum(axis=1), 0, atol=1e-12)
    write_arrays(tmp_path / "other.h5", {"x": x}, {"tf": "TF"})
    with pytest.raises(ValueError, match="other.h5: neither"):
        study.map_kinds(tmp_path / "other.h5")


def test_pattern_table_against_jaspar_and_the_truth(synthetic_files, corrected_run, tmp_path):
    out = tmp_path / "patterns.tsv"
    study.pattern_table(corrected_run, out, label={"model": "m", "kind": "corrected"}, release="JASPAR2024",
                        own_ids=["MA0079.5"], truth=synthetic_files["attributions"], dataset=synthetic_files["dataset"])
    table = read_tsv(out)
    assert list(table.columns[:3]) == ["model", "kind", "own_ids"] and len(table) >= 3
    assert (table["n_targets"] > 800).all()  # the whole CORE vertebrates collection
    # the truth's maps give the truth's motifs: every informative pattern is a core motif, 4 of the 5 at least,
    # its seqlets on embedded motifs (low-information patterns of noisy seqlets can match anything)
    informative = table[table["information"] > 1]
    assert (informative["truth"] == "core").all() and informative["pool_match_id"].nunique() >= 4
    chance = motifs.embedded_positions(synthetic_files["truth"]).mean()
    assert table["motif_fraction"].to_numpy() == pytest.approx(chance, rel=1e-5)  # as the TSV rounds it
    assert (informative["seqlet_precision"] > 0.9).all() and (table["seqlet_precision"] > 1.5 * chance).all()
    # SP1 (MA0079) is a core motif: the pattern matching it in the pool finds it in JASPAR 2024 too
    sp1 = table[table["pool_match_id"].str.startswith("MA0079")]
    assert len(sp1) and sp1["own_found"].all() and (sp1["own_rank"] <= 5).all()


def test_pattern_table_of_a_run_with_no_pattern_is_one_row_saying_why(synthetic_files, tmp_path):
    x = np.eye(4, dtype=np.float32)[np.random.default_rng(0).integers(0, 4, (10, 60))].transpose(0, 2, 1)
    motifs.discover_motifs(x, np.zeros_like(x), tmp_path / "empty.h5")
    study.pattern_table(tmp_path / "empty.h5", tmp_path / "p.tsv", label={"tf": "A", "kind": "raw"},
                        release="JASPAR2024", own_ids=["MA0062.4"])
    table = read_tsv(tmp_path / "p.tsv")
    assert len(table) == 1 and table.at[0, "n_seqlets"] == 0 and "same" in table.at[0, "note"]


def test_summary_counts(tmp_path):
    """Hand-made pattern tables: the summary's numbers are what the patterns say."""
    base = {"model": "m", "kind": "raw", "own_ids": "MA0001.1"}
    patterns = pd.DataFrame([
        {**base, "pattern": "pos_patterns.pattern_0", "n_seqlets": 60, "matched": True, "match_name": "A",
         "own_found": False, "own_rank": 9, "pool_match_id": "MA0079.3", "truth": "core", "seqlet_precision": 0.9,
         "motif_fraction": 0.2, "note": ""},
        {**base, "pattern": "pos_patterns.pattern_1", "n_seqlets": 30, "matched": True, "match_name": "B",
         "own_found": True, "own_rank": 2, "pool_match_id": "MA0079.3", "truth": "core", "seqlet_precision": 0.6,
         "motif_fraction": 0.2, "note": ""},
        {**base, "pattern": "neg_patterns.pattern_0", "n_seqlets": 10, "matched": False, "match_name": "C",
         "own_found": False, "own_rank": 40, "pool_match_id": "MA0500.1", "truth": "none", "seqlet_precision": 0.1,
         "motif_fraction": 0.2, "note": "no JASPAR match"},
    ])
    empty = pd.DataFrame([{**base, "kind": "corrected", "own_ids": np.nan, "pattern": "", "n_seqlets": 0,
                           "matched": False, "own_found": False, "motif_fraction": 0.2, "note": "too few"}])
    paths = [tmp_path / "a.tsv", tmp_path / "b.tsv"]
    patterns.to_csv(paths[0], sep="\t", index=False)
    empty.to_csv(paths[1], sep="\t", index=False)
    summary = study.summary_table(paths, tmp_path / "summary.tsv", tmp_path / "all.tsv")
    first, second = summary.iloc[0], summary.iloc[1]
    assert (first["n_patterns"], first["n_seqlets"], first["n_matched"], first["top_match"]) == (3, 100, 2, "A")
    assert first["own_found"] and first["own_pattern"] == 2 and first["own_rank"] == 2
    assert (first["core_recovered"], first["patterns_core"], first["patterns_none"]) == (1, 2, 1)
    assert first["seqlet_precision"] == pytest.approx((60 * 0.9 + 30 * 0.6 + 10 * 0.1) / 100)
    assert second["n_patterns"] == 0 and second["note"] == "too few" and pd.isna(second["own_found"])
    assert len(read_tsv(tmp_path / "all.tsv")) == 4


def test_logos_of_the_top_patterns(synthetic_files, corrected_run, tmp_path):
    table = tmp_path / "patterns.tsv"
    study.pattern_table(corrected_run, table, label={"model": "m"}, release="JASPAR2024")
    out = {"png": tmp_path / "logos.png", "pdf": tmp_path / "logos.pdf"}
    study.plot_pattern_logos(corrected_run, table, out, release="JASPAR2024", top=2, title="test")
    assert out["png"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out["pdf"].stat().st_size > 0


def test_tracks_of_an_ensemble_file(tmp_path):
    """Two windows overlapping by 5 bases on chr1 and one on chr2: each kind's track holds the contribution at the
    observed base, the overlap averaged, at the coordinates the dataset gives the file's test rows."""
    import pyBigWig

    rng = np.random.default_rng(3)
    x = np.eye(4, dtype=np.float32)[rng.integers(0, 4, (3, 10))].transpose(0, 2, 1)
    member0, ensemble = rng.normal(size=x.shape), rng.normal(size=x.shape)
    ens = tmp_path / "ensemble.h5"
    write_arrays(ens, {"x": x, "member0": member0, "ensemble": ensemble, "index": np.array([0, 2, 3])},
                 {"tf": "TF", "model_type": "cnn_shallow_exp"})
    data = tmp_path / "data.h5"  # test rows 0, 2 and 3 are the file's windows; row 1 is not attributed
    write_arrays(data, {"chrom_test": np.array([b"chr1", b"chr2", b"chr1", b"chr2"]),
                        "start_test": np.array([100, 0, 105, 40])})
    fai = tmp_path / "genome.fa.fai"
    fai.write_text("chr1\t1000\t6\t60\t61\nchr2\t500\t1030\t60\t61\n")
    out = {kind: tmp_path / f"{kind}.bw" for kind in study.MAP_KINDS}
    study.write_tracks(ens, data, fai, out)
    corrected = ensemble - ensemble.mean(1, keepdims=True)
    contribution = (corrected * x).sum(axis=1)
    with pyBigWig.open(str(out["ensemble_corrected"])) as bw:
        assert bw.chroms() == {"chr1": 1000, "chr2": 500}
        values = bw.values("chr1", 100, 115)
        np.testing.assert_allclose(values[:5], contribution[0, :5], atol=1e-6)
        np.testing.assert_allclose(values[5:10], (contribution[0, 5:] + contribution[1, :5]) / 2, atol=1e-6)
        np.testing.assert_allclose(values[10:], contribution[1, 5:], atol=1e-6)
        np.testing.assert_allclose(bw.values("chr2", 40, 50), contribution[2], atol=1e-6)
        assert np.isnan(bw.values("chr2", 0, 10)).all()  # row 1's window: not attributed, no track
