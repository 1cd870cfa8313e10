"""In vivo stages without Snakemake: ensemble members, assembly pairing, imports, the ensemble analysis."""

import json

import h5py
import numpy as np
import pandas as pd
import pytest

from gradcorr import ensemble_difference
from gradcorr.angles import large_angle_percent
from gradcorr.correction import simplex_angle
from gradcorr.data.encode import paired_assembly
from gradcorr.data.io import read_arrays, read_attrs, write_arrays
from gradcorr.studies import invivo


def _meta(path, accession, assembly):
    path.write_text(json.dumps({"accession": accession, "assembly": assembly, "md5sum": "0" * 32,
                                "file_format": "bed", "href": f"/files/{accession}/@@download/{accession}.bed.gz"}))
    return path


def test_members_run_through_widths_seeds_each():
    widths = [invivo.member_width(m, [12, 14, 16], 2) for m in range(6)]
    assert widths == [12, 12, 14, 14, 16, 16]
    with pytest.raises(ValueError, match="out of range"):
        invivo.member_width(6, [12, 14, 16], 2)


def test_assemblies_must_pair(tmp_path):
    chip = _meta(tmp_path / "ENCFF000AAA.json", "ENCFF000AAA", "hg19")
    dnase = _meta(tmp_path / "ENCFF000BBB.json", "ENCFF000BBB", "GRCh38")
    same = _meta(tmp_path / "ENCFF000CCC.json", "ENCFF000CCC", "GRCh38")
    assert paired_assembly("TF", same, dnase) == "GRCh38"
    with pytest.raises(ValueError) as err:
        paired_assembly("TF", chip, dnase)
    assert all(s in str(err.value) for s in ("ENCFF000AAA", "hg19", "ENCFF000BBB", "GRCh38"))
    out = tmp_path / "TF.h5"
    with pytest.raises(ValueError, match="genome given is hg19"):  # peaks on GRCh38, genome of another assembly
        invivo.build_chipseq_dataset("chip.bed.gz", "dnase.bed.gz", same, dnase, "hg19.fa", out, tf="TF",
                                     assembly="hg19", invivo={}, seed=0)
    assert not out.exists()


def _processed(path, x_test=None, length=100):
    rng = np.random.default_rng(0)
    with h5py.File(path, "w") as f:
        for split, n in (("train", 20), ("valid", 6), ("test", 8)):
            x = np.eye(4, dtype=np.float32)[rng.integers(0, 4, (n, length))].transpose(0, 2, 1)
            f.create_dataset(f"x_{split}", data=x if split != "test" or x_test is None else x_test)
            f.create_dataset(f"y_{split}", data=(np.arange(n) % 2).reshape(-1, 1).astype(np.int8))
    return path


def test_import_checks_the_layout_and_copies_exactly(tmp_path):
    good = _processed(tmp_path / "good.h5")
    invivo.import_processed_dataset(good, tmp_path / "out.h5", tf="TF", architectures=["cnn_shallow", "cnn_deep"])
    assert (tmp_path / "out.h5").read_bytes() == good.read_bytes()
    bad = _processed(tmp_path / "bad.h5", x_test=np.full((8, 4, 100), 0.25, dtype=np.float32))
    with pytest.raises(ValueError, match="x_test"):
        invivo.import_processed_dataset(bad, tmp_path / "bad_out.h5", tf="TF", architectures=["cnn_deep"])
    assert not (tmp_path / "bad_out.h5").exists()


def test_import_refuses_sequences_too_short_for_an_architecture(tmp_path):
    """Length 60 suits CNN-deep (48) but not CNN-shallow (100): refused at import, naming the file."""
    short = _processed(tmp_path / "short.h5", length=60)
    invivo.import_processed_dataset(short, tmp_path / "deep.h5", tf="TF", architectures=["cnn_deep"])
    with pytest.raises(ValueError, match=r"short\.h5: sequences of length 60, but cnn_shallow need at least 100"):
        invivo.import_processed_dataset(short, tmp_path / "out.h5", tf="TF", architectures=["cnn_deep", "cnn_shallow"])
    assert not (tmp_path / "out.h5").exists()


def _member(path, raw, index, x):
    write_arrays(path, {"index": index, "x": x, "saliency": raw.astype(np.float32)},
                 {"tf": "TF", "model": path.stem, "method": "saliency"})
    return path


def test_ensemble_analysis_matches_direct_computation(tmp_path):
    rng = np.random.default_rng(1)
    x = np.eye(4, dtype=np.float32)[rng.integers(0, 4, (5, 40))].transpose(0, 2, 1)
    index = np.array([1, 3, 4, 8, 9])
    raws = [rng.normal(size=(5, 4, 40)).astype(np.float32) for _ in range(3)]
    paths = [_member(tmp_path / f"cnn_shallow_exp_{m}.h5", r, index, x) for m, r in enumerate(raws)]
    out = tmp_path / "ensemble.h5"
    invivo.analyse_ensemble(paths, out, tf="TF", model_type="cnn_shallow_exp", correct_ensemble=False,
                            thresholds=[30, 45, 60])
    e = read_arrays(out)
    mean = np.mean(np.stack(raws).astype(np.float64), axis=0)
    np.testing.assert_allclose(e["ensemble"], mean, rtol=1e-6)
    for m, raw in enumerate(raws):
        direct = ensemble_difference.ensemble_difference(raw, mean)
        np.testing.assert_array_equal(e["distance_n"][m], direct["n"])
        np.testing.assert_allclose(e["distance_corrected"][m], direct["distance_corrected"], rtol=1e-6)
        np.testing.assert_allclose(e["large_angle_percent"][m], large_angle_percent(simplex_angle(raw)), rtol=1e-6)
        assert e["angle_hist"][m].sum() == 5 * 40
    assert list(json.loads(read_attrs(out)["models"])) == [p.stem for p in paths]
    np.testing.assert_array_equal(e["member0"], raws[0])

    _member(paths[2], raws[2], index + 1, x)  # attributed on other sequences
    with pytest.raises(ValueError, match="other sequences"):
        invivo.analyse_ensemble(paths, tmp_path / "bad.h5", tf="TF", model_type="cnn_shallow_exp",
                                correct_ensemble=False, thresholds=[30])
    assert not (tmp_path / "bad.h5").exists()


def test_ensemble_file_holds_each_members_agreement_with_the_average(tmp_path):
    """Members a, b and (a + b) / 2: the third equals the average of the other two, so it agrees perfectly
    (cosine 1, distance 0); each member is compared with the others' average, never with its own map."""
    rng = np.random.default_rng(2)
    x = np.eye(4, dtype=np.float32)[rng.integers(0, 4, (5, 40))].transpose(0, 2, 1)
    index = np.arange(5)
    a, b = (rng.normal(size=(5, 4, 40)) for _ in range(2))
    raws = [a, b, (a + b) / 2]
    paths = [_member(tmp_path / f"cnn_shallow_exp_{m}.h5", r, index, x) for m, r in enumerate(raws)]
    invivo.analyse_ensemble(paths, tmp_path / "e.h5", tf="TF", model_type="cnn_shallow_exp", correct_ensemble=False,
                            thresholds=[30])
    e = read_arrays(tmp_path / "e.h5")
    assert e["agreement_cosine"].shape == e["agreement_distance"].shape == (3, 5)
    np.testing.assert_allclose(e["agreement_cosine"][2], 1.0, rtol=1e-5)
    np.testing.assert_allclose(e["agreement_distance"][2], 0.0, atol=1e-5)
    assert (e["agreement_cosine"][:2] < 0.99).all() and (e["agreement_distance"][:2] > 0).all()
    for m, raw in enumerate(raws):
        others = (sum(r.astype(np.float32) for r in raws) - raw.astype(np.float32)) / 2
        cosine, distance = ensemble_difference.ensemble_agreement(raw.astype(np.float32), others)
        np.testing.assert_allclose(e["agreement_cosine"][m], cosine, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(e["agreement_distance"][m], distance, rtol=1e-5, atol=1e-6)


def test_synthetic_means_come_from_the_saliency_row_of_the_model_type(tmp_path):
    table = pd.DataFrame({"method": ["saliency", "smoothgrad", "saliency"],
                          "model_type": ["cnn_deep_relu", "cnn_deep_relu", "cnn_deep_exp"],
                          "percent_above_30": [31.0, 99.0, 40.0], "percent_above_45": [15.0, 99.0, 20.0]})
    table.to_csv(tmp_path / "summary.tsv", sep="\t", index=False)
    columns = pd.Index(["source", "percent_above_30", "percent_above_45"])
    row = invivo._synthetic_means(tmp_path / "summary.tsv", "cnn_deep_relu", columns)
    assert row.iloc[0].to_dict() == {"source": "synthetic", "percent_above_30": 31.0, "percent_above_45": 15.0}
    assert invivo._synthetic_means(tmp_path / "summary.tsv", "cnn_shallow_relu", columns) is None
    assert invivo._synthetic_means(None, "cnn_deep_relu", columns) is None
