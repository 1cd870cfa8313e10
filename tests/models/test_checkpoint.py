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


def test_basset_round_trip_with_its_sizes(tmp_path):
    """A multi-task basset saved with tuple sizes rebuilds with the same sizes and the same logits per task."""
    torch.manual_seed(2)
    kwargs = {"activation": "exp", "n_tasks": 7, "input_length": 200, "filters": (8, 8, 8), "widths": (9, 5, 3),
              "pools": (2, 4, 4), "dense": (16, 16)}
    model = build_model("basset", **kwargs)
    with torch.no_grad():  # running statistics away from their initial values, so that they must be restored
        for bn in (m for m in model if isinstance(m, torch.nn.BatchNorm1d)):
            bn.running_mean.uniform_(-0.2, 0.2)
    model.eval()
    save_model(tmp_path / "b.pt", model, "basset", kwargs, [], {"l2": 1e-6})
    loaded, saved = load_model(tmp_path / "b.pt")
    x = torch.nn.functional.one_hot(torch.randint(0, 4, (3, 200)), 4).float().transpose(1, 2)
    torch.testing.assert_close(loaded(x), model(x), rtol=0, atol=0)
    assert loaded(x).shape == (3, 7) and saved["model_kwargs"] == kwargs and not loaded.training
    assert [m.out_channels for m in loaded if isinstance(m, torch.nn.Conv1d)] == [8, 8, 8]


def test_load_rejects_foreign_files(tmp_path):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a model")
    with pytest.raises(ValueError, match="bad.pt"):
        load_model(bad)
    other = tmp_path / "other.pt"
    torch.save({"weights": 1}, other)
    with pytest.raises(ValueError, match="other.pt.*not a gradcorr model"):
        load_model(other)
