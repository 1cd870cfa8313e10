"""rules/synthetic.smk with the authors' published models as its source: the pinned download table, and the
workflow with `models: {source: published}` (downloads from a local server, no training)."""

import re

import pandas as pd
import pytest
import torch
import yaml
from httpserver import FileServer
from keras_files import PUBLISHED, file_md5, weight_file
from sklearn.metrics import roc_auc_score
from workflow_cli import ROOT, TEST_CONFIG, snakemake

from gradcorr.data.synthetic import read_dataset
from gradcorr.models.checkpoint import load_model
from gradcorr.models.keras import load_keras_model

TABLE = ROOT / "resources" / "published_models.tsv"
NAMES = {f"cnn_{a}_{act}_{t}.h5" for a in ("shallow", "deep") for act in ("relu", "exponential") for t in range(50)}
URL = re.compile(r"https://raw\.githubusercontent\.com/p-koo/GradientCorrection/[0-9a-f]{40}/"
                 r"results/synthetic/model_params/(.+)$")


def test_table_pins_every_published_file_to_one_commit():
    table = pd.read_csv(TABLE, sep="\t")
    assert list(table.columns) == ["file", "url", "md5"] and set(table["file"]) == NAMES and len(table) == 200
    commits = set()
    for row in table.itertuples():
        match = URL.fullmatch(row.url)
        assert match and match.group(1) == row.file, row.url
        commits.add(row.url.split("/")[5])
        assert re.fullmatch(r"[0-9a-f]{32}", row.md5)
    assert len(commits) == 1
    schema = yaml.safe_load((ROOT / "config" / "schema.yaml").read_text())
    assert "raw.githubusercontent.com" in schema["properties"]["invivo"]["properties"]["allowed_hosts"]["default"]


@pytest.mark.skipif(not PUBLISHED.is_dir(), reason=f"the published models are not in {PUBLISHED}")
def test_table_checksums_are_those_of_the_published_files():
    table = pd.read_csv(TABLE, sep="\t")
    assert {row.file: row.md5 for row in table.itertuples()} == {p.name: file_md5(p) for p in PUBLISHED.glob("*.h5")}


def override(path, models, **sections):
    """A config file over config/test.yaml that analyses published models (saliency, one logo per type)."""
    config = {"models": {"source": "published", "architectures": ["cnn_shallow", "cnn_deep"],
                         "activations": ["exp"], "trials": 1, **models},
              "evaluation": {"methods": ["saliency"]}, "angles": {"logo_trials": 1}, **sections}
    path.write_text(yaml.safe_dump(config))
    return path


def test_files_in_published_dir_are_read_not_downloaded(tmp_path):
    local = tmp_path / "models"
    for name in ("cnn_shallow_exponential_0.h5", "cnn_deep_exponential_0.h5"):
        weight_file(local, name, seed=0)
    config = override(tmp_path / "o.yaml", {"published_dir": str(local)})
    run = snakemake("-n", "--configfile", str(TEST_CONFIG), str(config), cwd=tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    out = run.stdout + run.stderr
    assert "synthetic_import_published" in out
    assert "download_published_model" not in out and "synthetic_train" not in out
    assert str(local / "cnn_deep_exponential_0.h5") in out


@pytest.fixture(scope="module")
def published_run(tmp_path_factory):
    """The workflow on config/test.yaml with two published models, downloaded (md5-checked) from a local
    server because models.published_dir does not hold them."""
    work = tmp_path_factory.mktemp("published_run")
    served = [weight_file(work / "server", name, seed=i)
              for i, name in enumerate(("cnn_shallow_exponential_0.h5", "cnn_deep_exponential_0.h5"))]
    with FileServer(work / "server") as server:
        table = work / "published.tsv"
        rows = "".join(f"{p.name}\t{server.url}/{p.name}\t{file_md5(p)}\n" for p in served)
        table.write_text("file\turl\tmd5\n" + rows)
        config = override(work / "o.yaml", {"published_dir": str(work / "absent"), "published_sources": str(table)},
                          invivo={"allowed_hosts": ["127.0.0.1"], "retries": 2})
        run = snakemake("--cores", "2", "--configfile", str(TEST_CONFIG), str(config), cwd=work)
        assert run.returncode == 0, run.stderr[-6000:]
        counts = {p.name: server.count(f"/{p.name}") for p in served}
    return work, config, served, counts


@pytest.mark.workflow
def test_published_models_are_downloaded_imported_and_analysed(published_run):
    work, _, served, counts = published_run
    downloads = work / "results" / "downloads" / "published_models"
    assert counts == {p.name: 1 for p in served}
    assert sorted(p.name for p in downloads.iterdir()) == sorted(p.name for p in served)
    for p in served:
        assert (downloads / p.name).read_bytes() == p.read_bytes()
    assert not (work / "results" / "synthetic" / "models").exists()  # nothing trained
    pub = work / "results" / "published"
    table = pd.read_csv(pub / "tables" / "interpretability_saliency.tsv", sep="\t")
    assert sorted(table["model"]) == ["cnn_deep_exp_0", "cnn_shallow_exp_0"]
    assert (table["source"] == "published").all() and table["epochs"].isna().all()
    x, y, _ = read_dataset(work / "results" / "synthetic" / "data" / "billboard.h5", "test")
    for p in served:
        arch = "cnn_deep" if "deep" in p.name else "cnn_shallow"
        model, saved = load_model(pub / "models" / f"{arch}_exp_0.pt")
        assert saved["meta"]["md5"] == file_md5(p)
        with torch.no_grad():
            probs = torch.sigmoid(load_keras_model(p)(torch.as_tensor(x))).numpy().ravel()
        row = table[table["model"] == f"{arch}_exp_0"].iloc[0]
        assert row["test_auroc"] == pytest.approx(roc_auc_score(y.ravel(), probs), abs=1e-6)
        if (PUBLISHED / p.name).is_file():  # the authors' weights classify the regenerated test set
            assert row["test_auroc"] > 0.85
    summary = pd.read_csv(pub / "tables" / "angle_summary.tsv", sep="\t")
    assert sorted(summary["model_type"]) == ["cnn_deep_exp", "cnn_shallow_exp"]
    for row in summary.itertuples():  # one model per type: its means are that model's numbers
        model = table[table["model"] == f"{row.model_type}_0"].iloc[0]
        for column in ("test_auroc", "cosine_raw", "cosine_corrected", "aupr_raw", "aupr_corrected"):
            assert getattr(row, column) == pytest.approx(model[column]), column
    figures = ("fig2_saliency", "fig3cd_saliency", "fig4a_saliency", "fig10_saliency", "logos/cnn_deep_exp_0.saliency")
    for name in figures:
        assert (pub / "figures" / f"{name}.png").stat().st_size > 0, name


@pytest.mark.workflow
def test_rerun_is_idle_and_report_names_the_published_models(published_run):
    work, config, _, _ = published_run
    again = snakemake("-n", "--configfile", str(TEST_CONFIG), str(config), cwd=work)
    assert again.returncode == 0 and "Nothing to be done" in again.stdout + again.stderr
    report = snakemake("--configfile", str(TEST_CONFIG), str(config), "--report", "report.html", cwd=work)
    assert report.returncode == 0, report.stderr[-3000:]
    html = (work / "report.html").read_text()
    assert "the authors' published models, not trained by this run" in html.replace("&#x27;", "'")
    assert "trained by this run for at most" not in html
