"""The faithfulness study's stages on tiny inputs: settings, verification, scores and tables."""

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from gradcorr.data.io import read_tsv
from gradcorr.data.protein import AMINO_ACIDS, read_protein_task
from gradcorr.studies import faithfulness as study

EVALUATION = {"n_samples": 6, "methods": {"saliency": {}, "gradient_shap": {"n_samples": 3, "reference": "zeros"}},
              "ablations": ["zeros", "uniform", "background"], "background": {"protein": "T", "dna": "A"},
              "change": "abs", "outputs": ["logit", "sigmoid"], "ablation_output": "logit", "occlusion_window": 3,
              "batch_size": 256, "min_accuracy": 0.0,
              "max_distractor_change": 1.0}
STRENGTHS = {"dropout": 0.5, "weight_decay": 0.1, "noise_low": 0.1, "noise_medium": 0.3, "adversarial_low": 0.01,
             "adversarial_medium": 0.09}
TRAINING = {"max_epochs": 3, "batch_size": 64, "learning_rate": 0.003, "lr_schedule": "constant",
            "early_stopping_patience": None, "l2": 0, "log_every": 0}


def test_setting_protocols():
    model, protocol = study.setting_protocol("unregularized", STRENGTHS, TRAINING)
    assert model == {"dropout": 0.0} and protocol["weight_decay"] == 0 and protocol["regularizer"] == {"name": "none"}
    assert study.setting_protocol("dropout", STRENGTHS, TRAINING)[0] == {"dropout": 0.5}
    assert study.setting_protocol("weight_decay", STRENGTHS, TRAINING)[1]["weight_decay"] == 0.1
    assert study.setting_protocol("noise_medium", STRENGTHS, TRAINING)[1]["regularizer"] == {"name": "noise",
                                                                                            "noise_sd": 0.3}
    fgsm = study.setting_protocol("adversarial_low", STRENGTHS, TRAINING)[1]["regularizer"]
    assert fgsm == {"name": "adversarial", "adv_eps": 0.01, "adv_step": 0.01, "adv_steps": 1, "adv_clean_epochs": 0,
                    "adv_mixed_until": 3}
    with pytest.raises(ValueError, match="unknown setting"):
        study.setting_protocol("mixup", STRENGTHS, TRAINING)


def test_saturated_share_counts_outputs_that_round_to_0_or_1():
    model = nn.Sequential(nn.Flatten(), nn.Linear(3, 1))
    with torch.no_grad():
        model[1].weight[:] = torch.tensor([[100.0, -100.0, 1.0]])
        model[1].bias.zero_()
    x = np.array([[[1.0], [0], [0]], [[0], [1], [0]], [[0], [0], [1]], [[0.1], [0], [0]]], np.float32)
    # logits 100 and -100 saturate, 1 and 10 do not (float32 rounds the sigmoid of 17 and above to 1)
    assert study.saturated_share(model, x, 2) == 0.5


def test_letter_index():
    assert study.letter_index(AMINO_ACIDS, "T") == AMINO_ACIDS.index("T")
    with pytest.raises(ValueError, match="'B' is not one letter"):
        study.letter_index(AMINO_ACIDS, "B")


def test_rows_of_a_linear_model_are_exact():
    """logit = sum W x + b: the raw saliency's observed score ranks positions exactly as zeros ablation, the
    corrected one exactly as uniform ablation (precision 1), and the ablations' own rows are there too."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(20 * 12, 1)).double()
    letters = np.random.default_rng(0).integers(0, 20, (5, 12))
    x = np.eye(20)[letters].transpose(0, 2, 1).copy()
    signal = np.zeros((5, 12), bool)
    signal[:, 3:7] = True
    rows = pd.DataFrame(study.faithfulness_rows(model, x, signal, ~signal, methods={"saliency": {}},
                                                ablations=["zeros", "uniform"], background=0, change="abs",
                                                outputs=["logit"], ablation_output="logit", occlusion_window=3,
                                                batch_size=64))
    rows = rows.set_index(["method", "kind", "output", "score", "reference"])
    assert rows.loc[("saliency", "raw", "logit", "observed", "ablation_zeros"), "precision"] == 1.0
    assert rows.loc[("saliency", "corrected", "logit", "observed", "ablation_uniform"), "precision"] == 1.0
    assert rows.loc[("saliency", "raw", "logit", "observed", "ablation_uniform"), "precision"] < 1.0
    assert ("ablation_zeros", "model", "logit", "change", "signal") in rows.index
    share = rows.loc[("saliency", "raw", "logit", "l2", "signal")]
    assert 0 < share["distractor_share"] < 1 and share["distractor_share"] + share["signal_share"] == pytest.approx(1)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A helix dataset and two SeqCNNs trained for three epochs, unregularized."""
    tmp = tmp_path_factory.mktemp("faithfulness")
    data = tmp / "helix.h5"
    study.make_protein_dataset(data, task="helix", settings={"n": 600}, seed=3)
    outputs = [(tmp / f"m{t}.pt", tmp / f"m{t}.best.pt", tmp / f"m{t}.history.tsv") for t in range(2)]
    study.train_faithfulness_models(data, outputs, task="helix", net="seq_cnn", setting="unregularized", trials=[0, 1],
                                    strengths=STRENGTHS, architecture={"n_filters": 8, "hidden": 16},
                                    training=TRAINING, seed=1, engine="sequential", device="cpu")
    return tmp, data, [m for m, _, _ in outputs]


def test_evaluate_and_tables(trained, tmp_path):
    """Every model scored; a unit whose models fail verification is counted and left out of the tables."""
    _, data, models = trained
    assert read_protein_task(data, "test")["x"].shape[1:] == (20, 40)
    scored = {}
    for setting, minimum in (("unregularized", 0.0), ("dropout", 1.01)):  # nobody reaches 101%
        scores, checked = tmp_path / f"{setting}.tsv", tmp_path / f"{setting}.models.tsv"
        study.evaluate_protein_models(data, models, scores, checked, task="helix", net="seq_cnn", setting=setting,
                                      evaluation={**EVALUATION, "min_accuracy": minimum}, seed=1, device="cpu")
        scored[setting] = (scores, checked)
    rows = read_tsv(scored["unregularized"][0])
    assert set(rows["trial"]) == {0, 1} and set(rows["kind"]) == {"raw", "corrected", "model"}
    assert rows["precision"].between(0, 1).all() and (rows["n"] == 6).all()
    checked = read_tsv(scored["dropout"][1])
    assert not checked["passed"].any() and checked["accuracy"].between(0, 1).all()
    assert checked["saturated"].between(0, 1).all()

    out = {name: tmp_path / f"{name}.tsv" for name in study_table_names()}
    study.faithfulness_tables([s for s, _ in scored.values()], [c for _, c in scored.values()], [], out,
                              paper_table="resources/faithfulness_table1.tsv")
    verification = read_tsv(out["verification"]).set_index("setting")
    assert verification.loc["unregularized", "passed"] == 2 and verification.loc["dropout", "left_out"] == 2
    table1 = read_tsv(out["table1"])
    assert set(table1["setting"]) == {"unregularized"} and (table1["models"] == 2).all()
    assert set(table1["output"]) == {"logit", "sigmoid"}
    sal = table1[(table1["method"] == "saliency") & (table1["output"] == "logit")].iloc[0]
    assert sal["paper"] == 0.41  # the paper's SeqCNN helix Grad
    mine = rows[(rows["method"] == "saliency") & (rows["kind"] == "raw") & (rows["score"] == "observed")
                & (rows["reference"] == "ablation_zeros") & (rows["output"] == "logit")]
    assert sal["precision_raw"] == pytest.approx(mine["precision"].mean())
    correction = read_tsv(out["correction"])
    assert (correction["gain"] == correction["corrected"] - correction["raw"]).all() or np.allclose(
        correction["gain"], correction["corrected"] - correction["raw"])


def study_table_names():
    return ("precision", "verification", "table1", "table1_all", "summary", "dna", "correction")


def test_dna_models(tmp_path):
    """The synthetic study's layout: rows per model with the ground-truth motif positions as signal."""
    from gradcorr.data.synthetic import write_dataset
    from gradcorr.models.architectures import build_model
    from gradcorr.models.checkpoint import save_model

    rng = np.random.default_rng(0)
    x = np.eye(4, dtype=np.float32)[rng.integers(0, 4, (12, 100))].transpose(0, 2, 1).copy()
    truth = np.full((12, 4, 100), 0.25, np.float32)
    truth[:, :, 40:50] = x[:, :, 40:50]  # a motif: information 2 bits at 40-49
    y = np.ones((12, 1), np.float32)
    write_dataset(tmp_path / "d.h5", {f"{k}_{s}": v for s in ("train", "valid", "test")
                                      for k, v in (("x", x), ("y", y), ("model", truth))})
    torch.manual_seed(0)
    model = build_model("cnn_shallow", input_length=100, n_filters=4)
    save_model(tmp_path / "cnn_shallow_relu_0.pt", model, "cnn_shallow", {"input_length": 100, "n_filters": 4}, [],
               {}, trial=0)
    study.evaluate_dna_models(tmp_path / "d.h5", [tmp_path / "cnn_shallow_relu_0.pt"], tmp_path / "o.tsv",
                              model_type="cnn_shallow_relu", evaluation={**EVALUATION, "n_dna": 5}, threshold=0.1,
                              device="cpu")
    rows = read_tsv(tmp_path / "o.tsv")
    assert set(rows["task"]) == {"dna"} and (rows["n"] == 5).all() and rows["distractor_share"].isna().all()
    signal = rows[(rows["reference"] == "signal") & (rows["kind"] == "raw")]
    assert len(signal) and signal["precision"].between(0, 1).all()
    # the DNA part alone (faithfulness.tasks: []): empty protein tables, the DNA ones filled
    out = {name: tmp_path / f"{name}.tsv" for name in study_table_names()}
    study.faithfulness_tables([], [], [tmp_path / "o.tsv"], out, paper_table="resources/faithfulness_table1.tsv")
    assert read_tsv(out["table1"]).empty and read_tsv(out["verification"]).empty
    assert len(read_tsv(out["dna"])) == len(rows) and set(read_tsv(out["correction"])["part"]) == {"dna"}
