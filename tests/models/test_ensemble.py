"""The ensemble engine trains each member as `training.train` trains it alone (same init, data order, dropout).

Training comparisons run in float64: the biases before BatchNorm have a true gradient of 0, and Adam turns
float32 rounding of that 0 (which differs between a grouped and a plain convolution) into steps of
about the learning rate; in float64 the two paths agree to ~1e-9.
"""

import copy

import pytest
import torch

from gradcorr.models.architectures import build_model
from gradcorr.models.checkpoint import load_model, save_model
from gradcorr.models.ensemble import EnsembleCNN, predict_members, replicate, train_ensemble
from gradcorr.models.regularizers import RegularizerConfig
from gradcorr.models.training import NonFiniteLossError, TrainConfig, predict, train


@pytest.fixture
def float64():
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(previous)


def _data(n: int, seed: int, length: int = 200) -> tuple[torch.Tensor, torch.Tensor]:
    """Random one-hot sequences; label 1 where a planted GATA-like pattern is present."""
    g = torch.Generator().manual_seed(seed)
    dtype = torch.get_default_dtype()
    x = torch.nn.functional.one_hot(torch.randint(0, 4, (n, length), generator=g), 4).to(dtype).transpose(1, 2)
    y = torch.randint(0, 2, (n, 1), generator=g).to(dtype)
    motif = torch.nn.functional.one_hot(torch.tensor([2, 0, 3, 0, 2, 2]), 4).to(dtype).T
    x[y[:, 0] == 1, :, 90:96] = motif
    return x, y


def _members(arch: str, activation: str, widths: list[int], seeds: list[int],
             **kwargs) -> list[torch.nn.Sequential]:
    out = []
    for width, seed in zip(widths, seeds):
        torch.manual_seed(seed)
        out.append(build_model(arch, activation=activation, n_filters=width, kernel_size=9, input_length=200,
                               alphabet=4, **kwargs))
    return out


@pytest.mark.parametrize("arch, activation, widths, kwargs", [
    ("cnn_deep", "exp", [6, 10, 8], {}),        # different first-layer widths: padded and masked
    ("cnn_shallow", "relu", [5, 5], {}),
    ("cnn_consistency", "exp", [6, 8], {"batchnorm": False, "dropout": 0.4}),  # dropout without BatchNorm
])
def test_members_train_as_they_train_alone(arch, activation, widths, kwargs, float64):
    x, y = _data(260, 0)
    xv, yv = _data(80, 1)
    seeds = [11 + i for i in range(len(widths))]
    configs = [TrainConfig(max_epochs=3, batch_size=50, seed=s, log_every=0, lr_patience=1) for s in seeds]
    members = _members(arch, activation, widths, seeds, **kwargs)
    alone = [train(copy.deepcopy(m), x, y, xv, yv, c) for m, c in zip(members, configs)]
    together, histories = train_ensemble([copy.deepcopy(m) for m in members], x, y, xv, yv, configs)
    for (model, history), member, hist in zip(alone, together, histories):
        assert [h["epoch"] for h in hist] == [h["epoch"] for h in history]
        for a, b in zip(hist, history):
            assert a["val_auroc"] == pytest.approx(b["val_auroc"], abs=1e-12)
            assert a["loss"] == pytest.approx(b["loss"], rel=1e-9)
            assert a["lr"] == pytest.approx(b["lr"])
        for (name, a), b in zip(member.state_dict().items(), model.state_dict().values()):
            assert torch.allclose(a.double(), b.double(), rtol=1e-7, atol=1e-8), name
    # weights moved: the test compares trained models, not two copies of the initialisation
    assert not torch.allclose(together[0][0].weight, members[0][0].weight)


@pytest.mark.parametrize("first_layer, regularizer", [
    ("projected", RegularizerConfig()),                                    # zero-mean first kernel
    ("free", RegularizerConfig(name="angle", angle_lambda=1e-2)),          # double backpropagation
    ("projected", RegularizerConfig(name="angle", angle_lambda=1e-2)),     # both: angles 0, penalty 0
])
def test_projected_first_layer_and_angle_penalty_train_as_alone(first_layer, regularizer, float64):
    x, y = _data(200, 5)
    xv, yv = _data(60, 6)
    seeds = [3, 4]
    configs = [TrainConfig(max_epochs=2, batch_size=50, seed=s, log_every=0, regularizer=regularizer)
               for s in seeds]
    members = _members("cnn_deep", "relu", [6, 8], seeds, first_layer=first_layer)
    alone = [train(copy.deepcopy(m), x, y, xv, yv, c) for m, c in zip(members, configs)]
    together, histories = train_ensemble([copy.deepcopy(m) for m in members], x, y, xv, yv, configs)
    for (model, history), member, hist in zip(alone, together, histories):
        assert [h["loss"] for h in hist] == pytest.approx([h["loss"] for h in history], rel=1e-9)
        state = model.state_dict()
        assert list(member.state_dict()) == list(state)
        for name, a in member.state_dict().items():
            assert torch.allclose(a.double(), state[name].double(), rtol=1e-7, atol=1e-8), name
        if first_layer == "projected":  # the kernel it computes with stays zero-mean over the alphabet
            assert member[0].weight.mean(dim=1).abs().max() < 1e-12
    assert not torch.allclose(together[0][0].weight, members[0][0].weight)


def test_a_member_that_fails_at_once_comes_back_as_none_with_keep_going():
    x, y = _data(100, 7)
    seeds = [1, 2]
    configs = [TrainConfig(max_epochs=2, batch_size=50, seed=s, log_every=0) for s in seeds]
    members = _members("cnn_shallow", "relu", [4, 4], seeds)
    with torch.no_grad():
        members[1][-1].weight.fill_(float("inf"))  # its loss is infinite from the first batch
    with pytest.raises(NonFiniteLossError, match="member 1"):
        train_ensemble([copy.deepcopy(m) for m in members], x, y, x, y, configs)
    out, histories = train_ensemble(members, x, y, x, y, configs, keep_going=True)
    assert out[1] is None and "non-finite loss" in histories[1][-1]["stopped"]
    assert out[0] is not None and [h["epoch"] for h in histories[0]] == [1, 2]


def test_early_stopping_and_learning_rate_are_per_member(float64):
    x, y = _data(200, 2)
    xv, yv = _data(60, 3)
    seeds = [1, 2]
    configs = [TrainConfig(max_epochs=6, batch_size=50, seed=s, log_every=0, lr_patience=1,
                           early_stopping_patience=2) for s in seeds]
    members = _members("cnn_shallow", "exp", [4, 6], seeds)
    alone = [train(copy.deepcopy(m), x, y, xv, yv, c)[1] for m, c in zip(members, configs)]
    _, together = train_ensemble([copy.deepcopy(m) for m in members], x, y, xv, yv, configs)
    for a, b in zip(alone, together):
        assert [(h["epoch"], h["lr"]) for h in a] == [(h["epoch"], h["lr"]) for h in b]


def test_ensemble_forward_equals_each_member_and_saved_members_load_alone(tmp_path):
    members = [m.eval() for m in _members("cnn_deep", "relu", [7, 12, 9], [4, 5, 6])]
    ensemble = EnsembleCNN(members).eval()
    x, _ = _data(30, 4)
    out = ensemble(replicate(x, 3))
    for k, member in enumerate(members):
        assert torch.allclose(out[:, k], member(x)[:, 0], rtol=1e-5, atol=1e-6)
    probs = predict_members(ensemble, x, batch_size=7)
    for k, member in enumerate(members):
        fresh = build_model("cnn_deep", activation="relu", n_filters=[7, 12, 9][k], kernel_size=9,
                            input_length=200, alphabet=4)
        fresh.load_state_dict(ensemble.member_state(k, fresh))
        save_model(tmp_path / f"m{k}.pt", fresh, "cnn_deep",
                   {"activation": "relu", "n_filters": [7, 12, 9][k], "kernel_size": 9, "input_length": 200,
                    "alphabet": 4}, [], {})
        loaded, _ = load_model(tmp_path / f"m{k}.pt")
        assert torch.allclose(predict(loaded, x), probs[:, k], atol=1e-6)


def test_members_must_share_the_architecture_and_protocol():
    shallow = _members("cnn_shallow", "relu", [4], [0])
    deep = _members("cnn_deep", "relu", [4], [0])
    with pytest.raises(ValueError, match="layer sequence"):
        EnsembleCNN(shallow + deep)
    x, y = _data(60, 0)
    with pytest.raises(ValueError, match="batch_size"):
        train_ensemble(_members("cnn_shallow", "relu", [4, 4], [0, 1]), x, y, x, y,
                       [TrainConfig(batch_size=10), TrainConfig(batch_size=20)])
