"""Model files: weights, configuration and history saved atomically, loaded in inference mode, foreign files refused."""

import pytest
import torch

from gradcorr.models.architectures import build_model
from gradcorr.models.checkpoint import load_model, save_model


def test_checkpoint_round_trip(tmp_path):
    kwargs = {"activation": "exp", "n_filters": 8, "kernel_size": 11}
    model = build_model("cnn_deep", **kwargs).eval()
    history = [{"epoch": 1, "val_auroc": 0.7}]
    path = tmp_path / "m.pt"
    save_model(path, model, "cnn_deep", kwargs, history, {"seed": 1}, trial=2)
    loaded, saved = load_model(path)
    x = torch.randn(3, 4, 200)
    torch.testing.assert_close(loaded(x), model(x))
    assert saved["history"] == history and saved["meta"]["trial"] == 2
    assert not loaded.training
    assert [p.name for p in tmp_path.iterdir()] == ["m.pt"], "no temporary file left behind"


def test_load_rejects_foreign_files(tmp_path):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a model")
    with pytest.raises(ValueError, match="bad.pt"):
        load_model(bad)
    other = tmp_path / "other.pt"
    torch.save({"weights": 1}, other)
    with pytest.raises(ValueError, match="other.pt.*not a gradcorr model"):
        load_model(other)
