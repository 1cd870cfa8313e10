"""rules/invivo.smk and rules/downloads.smk through the Snakemake command line, against a local mirror of
ENCODE's URL layout.

A fixture genome and fixture narrowPeak files are served on 127.0.0.1 with ENCODE-like metadata JSON.
The run downloads them, checks md5s and assemblies, builds the balanced dataset, imports a processed
dataset and downloads another (slices of the authors' GABPA and REST files when ../shared/data is
present, see tests/helpers/shared_data.py; random stand-ins otherwise), trains two-member
ensembles and draws every in vivo figure.
"""

import gzip
import hashlib
import json
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest
import yaml
from genome_fixture import write_genome, write_peaks
from httpserver import FileServer, add_encode_file
from shared_data import INVIVO
from workflow_cli import ROOT, snakemake

GABPA, REST = INVIVO / "GABPA_200.h5", INVIVO / "REST_200.h5"
CHIP, DNASE, HG19, BAD = "ENCFF000CHP", "ENCFF000DNS", "ENCFF000HGX", "ENCFF000BAD"

pytestmark = pytest.mark.workflow


def _peaks(rng, sizes, n, margin=0):
    """n (chrom, start, end, summit) peaks at random places of chr1-chr3."""
    rows = []
    for _ in range(n):
        chrom = rng.choice(["chr1", "chr2", "chr3"])
        start = int(rng.integers(margin, sizes[chrom] - 400 - margin))
        length = int(rng.integers(150, 400))
        rows.append((chrom, start, start + length, int(rng.integers(0, length))))
    return rows


def _gz(path: Path) -> bytes:
    return gzip.compress(path.read_bytes(), mtime=0)


@pytest.fixture(scope="module")
def mirror(tmp_path_factory):
    """An ENCODE-like server: a GRCh38 ChIP-seq and DNase pair, an hg19 ChIP file and one whose md5 is wrong."""
    root = tmp_path_factory.mktemp("mirror")
    fasta, sequences = write_genome(root, seed=11)
    (root / "genomes").mkdir()
    genome_gz = _gz(fasta)
    (root / "genomes" / "GRCh38.fa.gz").write_bytes(genome_gz)
    # as UCSC publishes beside its genomes; the download is verified against it (hg19 is not served)
    (root / "genomes" / "md5sum.txt").write_text(f"{hashlib.md5(genome_gz).hexdigest()}  GRCh38.fa.gz\n")
    sizes = {c: len(s) for c, s in sequences.items()}
    rng = np.random.default_rng(5)
    chip = _peaks(rng, sizes, 45)
    # off the chromosome end, on a contig outside the configured set, on one the genome lacks, over the N run
    chip += [("chr1", 0, 120, 30), ("chrUn_xyz", 500, 800, 100), ("chrM", 10, 300, 50), ("chr3", 950, 1150, 100)]
    dnase = _peaks(rng, sizes, 160)
    write_peaks(root / "chip.bed", chip)
    write_peaks(root / "dnase.bed", dnase)
    chip_gz, dnase_gz = _gz(root / "chip.bed"), _gz(root / "dnase.bed")
    add_encode_file(root, CHIP, chip_gz, assembly="GRCh38")
    add_encode_file(root, DNASE, dnase_gz, assembly="GRCh38")
    add_encode_file(root, HG19, chip_gz, assembly="hg19")
    add_encode_file(root, BAD, chip_gz, assembly="GRCh38", md5="0" * 32)
    table = root / "table.tsv"
    table.write_text("tf\tchip_accession\tdnase_accession\n"
                     f"FIXA\t{CHIP}\t{DNASE}\nMISMATCH\t{HG19}\t{DNASE}\nCORRUPT\t{BAD}\t{DNASE}\n")
    with FileServer(root) as server:
        yield server, root, sequences, chip


def _config(path: Path, server, root: Path, tfs: list[str], processed: dict[str, str] | None = None,
            processed_sources: str | None = None) -> Path:
    override = {
        "studies": ["invivo"],
        "training": {"max_epochs": 2, "log_every": 0},
        "invivo": {
            "tfs": tfs, "table": str(root / "table.tsv"), "processed": processed or {},
            "processed_sources": processed_sources or "resources/processed_datasets.tsv",
            "encode_url": server.url, "allowed_hosts": ["127.0.0.1"], "retries": 2,
            "genomes": {"GRCh38": f"{server.url}/genomes/GRCh38.fa.gz", "hg19": f"{server.url}/genomes/hg19.fa.gz"},
            "chromosomes": ["chr1", "chr2", "chr3"],
            "architectures": ["cnn_shallow"], "activations": ["exp"], "filters": [4, 6], "seeds": 1,
            "logo_window": 30,
        },
    }
    path.write_text(yaml.safe_dump(override))
    return path


def _slice(source: Path, path: Path, seed: int) -> Path:
    """The first sequences of each split of one of the authors' files, in the same layout; where the file
    is absent (no ../shared/data), random one-hot sequences with random labels stand in."""
    sizes = {"train": 400, "valid": 80, "test": 120}
    rng = np.random.default_rng(seed)
    with h5py.File(path, "w") as out:
        for split, n in sizes.items():
            if source.is_file():
                with h5py.File(source, "r") as src:
                    x, y = src[f"x_{split}"][:n], src[f"y_{split}"][:n]
            else:
                x = np.eye(4, dtype=np.float32)[rng.integers(0, 4, (n, 200))].transpose(0, 2, 1)
                y = rng.integers(0, 2, (n, 1)).astype(np.int8)
            out.create_dataset(f"x_{split}", data=x)
            out.create_dataset(f"y_{split}", data=y)
    return path


@pytest.fixture(scope="module")
def invivo_run(mirror, tmp_path_factory):
    """FIXA from the ENCODE mirror; GABPA from a local processed file; REST from a processed file that is
    absent locally, so it is downloaded from the mirror with its md5 (as from the authors' repository)."""
    server, root, _, _ = mirror
    work = tmp_path_factory.mktemp("invivo")
    processed = {"GABPA": str(_slice(GABPA, work / "gabpa_small.h5", 1)),
                 "REST": str(work / "absent" / "REST_200.h5")}
    served = _slice(REST, root / "rest_small.h5", 2)
    sources = work / "processed.tsv"
    sources.write_text(f"tf\turl\tmd5\nREST\t{server.url}/rest_small.h5\t{hashlib.md5(served.read_bytes()).hexdigest()}\n")
    config = _config(work / "override.yaml", server, root, ["FIXA", *processed], processed, str(sources))
    run = snakemake("--cores", "2", "--configfile", str(ROOT / "config" / "test.yaml"), str(config), cwd=work)
    assert run.returncode == 0, run.stderr[-6000:]
    return work, run, sorted(["FIXA", *processed])


def test_downloads_are_verified(invivo_run, mirror):
    server, root, _, _ = mirror
    work, _, _ = invivo_run
    downloads = work / "results" / "downloads"
    assert (downloads / "encode" / f"{CHIP}.bed.gz").read_bytes() == (root / "files" / CHIP / "@@download" /
                                                                        f"{CHIP}.bed.gz").read_bytes()
    assert (downloads / "genomes" / "GRCh38.fa.fai").is_file()
    assert server.count("/genomes/hg19.fa.gz") == 0  # only the assembly the peaks are on
    assert not list(downloads.rglob("*.part"))
    # the processed file absent locally came from its download, md5-checked; the present one was not fetched
    assert sorted(p.name for p in (downloads / "processed").iterdir()) == ["REST.h5"]
    assert (downloads / "processed" / "REST.h5").read_bytes() == (root / "rest_small.h5").read_bytes()


def test_built_dataset_is_balanced_and_matches_the_genome(invivo_run, mirror):
    _, _, sequences, chip = mirror
    work, _, _ = invivo_run
    with h5py.File(work / "results" / "invivo" / "data" / "FIXA.h5", "r") as f:
        assert f.attrs["assembly"] == "GRCh38"
        dropped = json.loads(f.attrs["counts"])["positive_dropped"]
        for reason in ("off_chromosome_end", "excluded_chromosome", "unknown_contig", "non_acgt"):
            assert dropped[reason] >= 1, reason
        positives, negatives = [], []
        for split in ("train", "valid", "test"):
            x, y = f[f"x_{split}"][()], f[f"y_{split}"][()]
            assert x.shape[1:] == (4, 200) and x.dtype == np.float32 and y.shape == (len(x), 1)
            chroms = [c.decode() if isinstance(c, bytes) else str(c) for c in f[f"chrom_{split}"][()]]
            for row, (c, s, e, label) in enumerate(zip(chroms, f[f"start_{split}"][()], f[f"end_{split}"][()],
                                                       y[:, 0])):
                assert e - s == 200
                assert "".join("ACGT"[i] for i in x[row].argmax(axis=0)) == sequences[c][s:e].upper()
                (positives if label == 1 else negatives).append((c, s, e))
    assert len(positives) == len(negatives) > 20
    assert all(c in ("chr1", "chr2", "chr3") for c, _, _ in positives)
    for c, s, e in negatives:  # a negative overlaps no ChIP-seq peak and no positive window
        assert not any(c == pc and s < pe and ps < e for pc, ps, pe, _ in chip)
        assert not any(c == pc and s < pe and ps < e for pc, ps, pe in positives)


def test_ensembles_figures_and_tables(invivo_run):
    work, _, tfs = invivo_run
    inv = work / "results" / "invivo"
    table = pd.read_csv(inv / "tables" / "classification.tsv", sep="\t")
    assert sorted(table["tf"].unique()) == tfs and len(table) == 2 * len(tfs)
    assert sorted(table["n_filters"].unique()) == [4, 6]
    assert table["test_auroc"].between(0, 1).all()
    assert (table[["kld_kmer", "kld_attr_mean"]] > 0).all().all()  # consistency of every member, finite
    fig3e = pd.read_csv(inv / "tables" / "fig3e_cnn_shallow_exp.tsv", sep="\t")
    assert sorted(fig3e["tf"].unique()) == tfs and len(fig3e) == 36 * len(tfs)
    filled = fig3e[fig3e["n_positions"] > 0]
    assert filled["reduction_percent"].between(-100, 100).all() and (filled["reduction_percent"] > 0).any()
    fig4b = pd.read_csv(inv / "tables" / "fig4b_cnn_shallow_exp.tsv", sep="\t")
    assert sorted(fig4b["source"]) == tfs
    assert (fig4b["percent_above_30"] >= fig4b["percent_above_45"]).all()
    for tf in tfs:
        with h5py.File(inv / "ensembles" / tf / "cnn_shallow_exp.h5", "r") as f:
            members = [h5py.File(inv / "saliency" / tf / f"cnn_shallow_exp_{m}.h5", "r")["saliency"][()]
                       for m in range(2)]
            np.testing.assert_allclose(f["ensemble"][()], (members[0] + members[1]) / 2, rtol=1e-5, atol=1e-9)
        assert (inv / "figures" / "logos" / f"{tf}.cnn_shallow_exp.png").stat().st_size > 0
        logo = pd.read_csv(inv / "tables" / "logos" / f"{tf}.cnn_shallow_exp.tsv", sep="\t")
        assert len(logo) == 30
        with h5py.File(inv / "ensembles" / tf / "cnn_shallow_exp.h5", "r") as f:  # per member and sequence
            assert f["agreement_cosine"].shape == f["agreement_distance"].shape == f["sequence_reduction"].shape
            assert (np.abs(f["agreement_cosine"][()]) <= 1 + 1e-9).all()
    # model selection: two members per TF, so no correlation, and each pick is one of the top two
    selection = pd.read_csv(inv / "tables" / "model_selection_cnn_shallow_exp.tsv", sep="\t")
    assert sorted(selection["tf"].unique()) == tfs
    assert set(selection["score"]) == {"agreement_cosine", "agreement_distance"}
    assert (selection["n_models"] == 2).all() and selection["spearman"].isna().all() and selection["in_top_k"].all()
    assert selection["selected"].isin([f"cnn_shallow_exp_{m}" for m in range(2)]).all()
    points = pd.read_csv(inv / "tables" / "model_selection_points_cnn_shallow_exp.tsv", sep="\t")
    assert len(points) == 2 * len(tfs) and points["agreement_cosine"].between(-1, 1).all()
    for name in ("fig3e_cnn_shallow_exp", "fig4b_cnn_shallow_exp", "model_selection_cnn_shallow_exp"):
        assert (inv / "figures" / f"{name}.png").stat().st_size > 0 and (inv / "figures" / f"{name}.pdf").is_file()


def test_motif_stage_exports_discovers_and_tracks(invivo_run, mirror):
    """Every TF and map kind: modisco-lite inputs (the ensemble file's maps), a pattern table (these tiny maps give
    too few seqlets: a row that says so), logos and a summary row; FIXA, built from ENCODE peaks, also gets bigWig
    tracks whose values are the per-base contribution at its windows' coordinates (overlaps averaged)."""
    import pyBigWig

    work, _, tfs = invivo_run
    inv = work / "results" / "invivo"
    summary = pd.read_csv(inv / "tables" / "motifs_summary.tsv", sep="\t")
    kinds = ["raw", "corrected", "ensemble_raw", "ensemble_corrected"]
    assert sorted(zip(summary["tf"], summary["kind"])) == sorted((tf, k) for tf in tfs for k in kinds)
    assert (summary.loc[summary["n_patterns"] == 0, "note"].str.len() > 0).all()
    assert (summary.loc[summary["tf"] == "GABPA", "own_found"].notna()).all()  # GABPA has a JASPAR motif
    with h5py.File(inv / "ensembles" / "FIXA" / "cnn_shallow_exp.h5", "r") as f:
        x, ensemble, member0, index = f["x"][()], f["ensemble"][()], f["member0"][()], f["index"][()]
    inputs = inv / "motifs" / "inputs"
    np.testing.assert_array_equal(np.load(inputs / "FIXA.cnn_shallow_exp.ohe.npz")["arr_0"], x)
    corrected = np.load(inputs / "FIXA.cnn_shallow_exp.ensemble_corrected.npz")["arr_0"]
    np.testing.assert_allclose(corrected, ensemble - ensemble.mean(axis=1, keepdims=True), atol=1e-6)
    for tf in tfs:
        for kind in kinds:
            assert (inv / "motifs" / "logos" / f"{tf}.cnn_shallow_exp.{kind}.png").stat().st_size > 0
    assert not list((inv / "tracks").glob("GABPA*")) and not list((inv / "tracks").glob("REST*"))  # no coordinates
    with h5py.File(inv / "data" / "FIXA.h5", "r") as f:
        chrom = f["chrom_test"][()].astype(str)[index]
        start = f["start_test"][()][index]
    for kind, maps in (("raw", member0), ("ensemble_corrected", corrected)):
        contribution = (maps * x).sum(axis=1)
        with pyBigWig.open(str(inv / "tracks" / f"FIXA.cnn_shallow_exp.{kind}.bw")) as bw:
            assert set(bw.chroms()) >= set(chrom)
            for i in range(len(index)):
                covering = [(j, start[i] - start[j]) for j in range(len(index)) if chrom[j] == chrom[i]
                            and 0 <= start[i] - start[j] < x.shape[2]]
                expected = np.mean([contribution[j, offset] for j, offset in covering])
                assert bw.values(chrom[i], int(start[i]), int(start[i]) + 1)[0] == pytest.approx(expected, abs=1e-5)


def test_report_holds_the_invivo_figures_with_captions(invivo_run):
    work, _, tfs = invivo_run
    run = snakemake("--report", "report.html", "--configfile", str(ROOT / "config" / "test.yaml"),
                    str(work / "override.yaml"), cwd=work)
    assert run.returncode == 0, run.stderr[-3000:]
    html = (work / "report.html").read_text()
    for text in ("Fig. 3e", "Fig. 4b", "Fig. 3b", "ensemble difference", "Model selection without ground truth in vivo",
                 *tfs):
        assert text in html


def test_assembly_mismatch_is_refused_naming_both_files(mirror, tmp_path):
    server, root, _, _ = mirror
    config = _config(tmp_path / "override.yaml", server, root, ["MISMATCH"])
    run = snakemake("results/invivo/data/MISMATCH.h5", "--cores", "1", "--configfile",
                    str(ROOT / "config" / "test.yaml"), str(config), cwd=tmp_path)
    assert run.returncode != 0
    message = run.stderr + run.stdout
    assert HG19 in message and DNASE in message and "hg19" in message and "GRCh38" in message
    assert not (tmp_path / "results" / "invivo" / "data" / "MISMATCH.h5").exists()
    assert not (tmp_path / "results" / "downloads" / "genomes").exists()  # no genome paired with the wrong peaks


def test_corrupted_download_is_retried_then_fails_leaving_nothing(mirror, tmp_path):
    server, root, _, _ = mirror
    path = f"/files/{BAD}/@@download/{BAD}.bed.gz"
    before = server.count(path)
    config = _config(tmp_path / "override.yaml", server, root, ["CORRUPT"])
    run = snakemake(f"results/downloads/encode/{BAD}.bed.gz", "--cores", "1", "--configfile",
                    str(ROOT / "config" / "test.yaml"), str(config), cwd=tmp_path)
    assert run.returncode != 0
    assert server.count(path) - before == 2  # invivo.retries attempts
    log = (tmp_path / "logs" / "downloads" / f"{BAD}.log").read_text()
    assert "md5" in log and "0" * 32 in log
    encode = tmp_path / "results" / "downloads" / "encode"
    assert sorted(p.name for p in encode.iterdir()) == [f"{BAD}.json"]  # no file, no partial file


@pytest.mark.parametrize("cell_types, error", [
    ({"K562": CHIP, "HepG2": DNASE}, None),
    ({"K562": CHIP, "GM": HG19}, "different assemblies"),
])
def test_multitask_encode_dataset_from_the_mirror(mirror, tmp_path, cell_types, error):
    """The multi-task study's ENCODE dataset (rules/multitask.smk) through the same downloads: each cell type's
    metadata and md5-checked peaks, the genome of their one assembly; files on two assemblies are refused
    before any genome is fetched."""
    server, root, _, _ = mirror
    config = yaml.safe_load(_config(tmp_path / "invivo.yaml", server, root, ["FIXA"]).read_text())
    table = tmp_path / "cells.tsv"
    table.write_text("cell_type\taccession\n" + "".join(f"{c}\t{a}\n" for c, a in cell_types.items()))
    config["studies"] = ["multitask"]
    config["multitask"] = {"dataset": "encode", "encode": {"table": str(table), "width": 200,
                                                          "valid_chroms": ["chr2"], "test_chroms": ["chr3"]}}
    (tmp_path / "override.yaml").write_text(yaml.safe_dump(config))
    run = snakemake("results/multitask/data/encode.h5", "--cores", "1", "--configfile",
                    str(ROOT / "config" / "test.yaml"), "override.yaml", cwd=tmp_path)
    out = tmp_path / "results" / "multitask" / "data" / "encode.h5"
    if error:
        assert run.returncode != 0 and error in run.stderr + run.stdout and not out.exists()
        assert not (tmp_path / "results" / "downloads" / "genomes").exists()
        return
    assert run.returncode == 0, run.stderr[-4000:]
    with h5py.File(out, "r") as f:
        assert json.loads(f.attrs["cell_types"]) == ["K562", "HepG2"]
        assert json.loads(f.attrs["accessions"]) == [CHIP, DNASE]
        assert f["y_train"].shape[1] == 2 and set(np.unique(f["chrom_test"][()])) == {b"chr3"}
