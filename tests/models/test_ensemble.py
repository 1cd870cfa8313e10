"""The ensemble engine trains each member as `training.train` trains it alone (same init, data order, dropout).

Training comparisons run in float64: the biases before BatchNorm have a true gradient of 0, and Adam turns
float32 rounding of that 0 (which differs between a grouped and a plain convolution) into steps of
about the learning rate; in float64 the two paths agree to ~1e-9.
"""

import copy
import dataclasses

import pytest
import torch

from gradcorr.models.architectures import KerasFlatten, build_model
from gradcorr.models.checkpoint import load_model, save_model
from gradcorr.models.ensemble import EnsembleCNN, predict_members, replicate, train_ensemble
from gradcorr.models.regularizers import RegularizerConfig
from gradcorr.models.training import NonFiniteLossError, Phase, TrainConfig, predict, train


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


@pytest.mark.parametrize("arch, activation, widths, kwargs, masks", [
    ("cnn_deep", "exp", [6, 10, 8], {}, "bernoulli"),        # different first-layer widths: padded and masked
    ("cnn_shallow", "relu", [5, 5], {}, "bernoulli"),
    ("cnn_consistency", "exp", [6, 8], {"batchnorm": False, "dropout": 0.4}, "bernoulli"),  # dropout, no BatchNorm
    ("cnn_deep", "exp", [6, 10], {}, "bits"),                # our cheaper masks, in both paths
])
def test_members_train_as_they_train_alone(arch, activation, widths, kwargs, masks, float64):
    x, y = _data(260, 0)
    xv, yv = _data(80, 1)
    seeds = [11 + i for i in range(len(widths))]
    configs = [TrainConfig(max_epochs=3, batch_size=50, seed=s, log_every=0, lr_patience=1, dropout_masks=masks)
               for s in seeds]
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
    if masks != "bernoulli":  # the setting reached both paths: torch's masks train another model
        other = dataclasses.replace(configs[0], dropout_masks="bernoulli")
        _, history = train(copy.deepcopy(members[0]), x, y, xv, yv, other)
        assert history[0]["loss"] != pytest.approx(histories[0][0]["loss"], rel=1e-6)


def _protein(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Random one-hot protein sequences (A = 20, L = 40); label 1 where a planted pattern is present."""
    g = torch.Generator().manual_seed(seed)
    dtype = torch.get_default_dtype()
    x = torch.nn.functional.one_hot(torch.randint(0, 20, (n, 40), generator=g), 20).to(dtype).transpose(1, 2)
    y = torch.randint(0, 2, (n, 1), generator=g).to(dtype)
    x[y[:, 0] == 1, :, 10:16] = torch.nn.functional.one_hot(torch.tensor([3, 5, 7, 9, 11, 13]), 20).to(dtype).T
    return x, y


@pytest.mark.parametrize("arch, kwargs, weight_decay", [
    ("seq_cnn", [{"n_filters": 6, "hidden": 16}, {"n_filters": 8, "hidden": 12}], 0.0),  # widths padded
    ("seq_cnn", [{"n_filters": 6, "hidden": 16}, {"n_filters": 8, "hidden": 12}], 0.05),
    ("seq_cnn", [{"n_filters": 8, "hidden": 16, "dropout": 0.3}] * 2, 0.05),
    ("mlp", [{"hidden": (32, 16, 8), "dropout": 0.3}, {"hidden": (24, 16, 12), "dropout": 0.3}], 0.05),
    ("cnn_deep", [{"activation": "exp", "n_filters": 6, "kernel_size": 9}] * 2, 0.05),  # with BatchNorm
])
def test_protein_models_and_weight_decay_train_as_alone(arch, kwargs, weight_decay, float64):
    """The engine stacks SeqCNN and the MLP, and its decoupled weight decay is AdamW's (training.train's)."""
    data = _data if arch == "cnn_deep" else _protein  # DNA of length 200 for cnn_deep
    x, y = data(200, 12)
    xv, yv = data(60, 13)
    seeds = [7, 8]
    configs = [TrainConfig(max_epochs=3, batch_size=50, seed=s, log_every=0, lr_patience=1, learning_rate=3e-3,
                           weight_decay=weight_decay) for s in seeds]
    members = []
    for k, seed in zip(kwargs, seeds):
        torch.manual_seed(seed)
        members.append(build_model(arch, input_length=x.shape[2], alphabet=x.shape[1], **k))
    alone = [train(copy.deepcopy(m), x, y, xv, yv, c) for m, c in zip(members, configs)]
    together, histories = train_ensemble([copy.deepcopy(m) for m in members], x, y, xv, yv, configs)
    for (model, history), member, hist in zip(alone, together, histories):
        assert [h["loss"] for h in hist] == pytest.approx([h["loss"] for h in history], rel=1e-9)
        assert [h["epoch"] for h in hist] == [h["epoch"] for h in history]
        state = model.state_dict()
        assert list(member.state_dict()) == list(state)
        for name, a in member.state_dict().items():  # biases before BatchNorm: float64 rounding, see above
            assert torch.allclose(a, state[name], rtol=1e-7, atol=1e-8), name
    assert not torch.allclose(together[0][-1].weight, members[0][-1].weight)
    if weight_decay:  # it mattered: without it the members train to other weights
        plain = [dataclasses.replace(c, weight_decay=0.0) for c in configs]
        undecayed, _ = train_ensemble([copy.deepcopy(m) for m in members], x, y, xv, yv, plain)
        assert not torch.allclose(undecayed[0][-1].weight, together[0][-1].weight, rtol=0, atol=1e-6)


@pytest.mark.parametrize("arch, kwargs", [
    ("seq_cnn", [{"n_filters": 6}, {"n_filters": 8}, {"n_filters": 5}]),
    ("cnn_consistency", [{"width": 1, "n_filters": 4}, {"width": 2, "n_filters": 4}]),  # with BatchNorm
])
def test_members_of_different_widths_at_the_flatten_compute_as_alone(arch, kwargs, float64):
    """The dense layer after the flatten reads (length, channels) per member: a narrower member's kernel is stacked
    with each position's channels padded, and comes back as it went in."""
    torch.manual_seed(0)
    members = [build_model(arch, **k).eval() for k in kwargs]
    for member in members:
        for bn in (m for m in member if isinstance(m, torch.nn.BatchNorm1d)):
            bn.running_mean.uniform_(-0.2, 0.2)
    ensemble = EnsembleCNN(members).eval()
    x = torch.randn(5, members[0][0].in_channels, 40 if arch == "seq_cnn" else 200)
    out = ensemble(replicate(x, len(members)))
    for k, member in enumerate(members):
        torch.testing.assert_close(out[:, k], member(x)[:, 0], rtol=1e-12, atol=1e-12)
        state = ensemble.member_state(k, copy.deepcopy(member))
        for key, value in member.state_dict().items():
            assert torch.equal(state[key], value), (k, key)


def test_members_must_share_their_weight_decay():
    x, y = _protein(40, 0)
    members = [build_model("mlp", hidden=(8, 8, 8)) for _ in range(2)]
    with pytest.raises(ValueError, match="weight_decay"):
        train_ensemble(members, x, y, x, y, [TrainConfig(weight_decay=0.0), TrainConfig(weight_decay=0.1)])


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


def _mean_logit(x: torch.Tensor):
    """An epoch hook for one model or an ensemble: each member's mean logit on x, in inference mode."""
    def hook(model, members):
        was_training = model.training
        model.eval()
        with torch.no_grad():
            logits = model(x.repeat(1, members, 1))
        model.train(was_training)
        return [{"mean_logit": float(logits[:, m].mean())} for m in range(members)]
    return hook


SCHEDULE = (Phase(epochs=1, learning_rate=2e-3, train_mode=False),  # no dropout, a higher rate
            Phase(epochs=1, dropout=0.3),                            # the convolutions' dropout changed
            Phase(restart=True, learning_rate=5e-4))                 # fresh weights and Adam state


def _without_seconds(row: dict) -> dict:
    return {key: value for key, value in row.items() if key not in ("seconds", "hook_seconds")}


def test_members_follow_a_schedule_and_hooks_as_they_do_alone(float64):
    """Models without BatchNorm (with it, the two paths drift apart by float rounding over a few hundred steps)."""
    x, y = _data(200, 8)
    xv, yv = _data(60, 9)
    seeds = [21, 22]
    configs = [TrainConfig(max_epochs=4, batch_size=50, seed=s, log_every=0, early_stopping_patience=None,
                           phases=SCHEDULE) for s in seeds]
    members = _members("cnn_consistency", "relu", [6, 8], seeds, batchnorm=False, dropout=0.1)
    hooks = [_mean_logit(xv)]
    alone = [train(copy.deepcopy(m), x, y, xv, yv, c, hooks=hooks, keep_last=True) for m, c in zip(members, configs)]
    together, histories, lasts = train_ensemble([copy.deepcopy(m) for m in members], x, y, xv, yv, configs,
                                                hooks=hooks, keep_last=True)
    for (model, history, last), member, hist, member_last in zip(alone, together, histories, lasts):
        assert [h["epoch"] for h in hist] == [0, 1, 2, 3, 4] == [h["epoch"] for h in history]
        assert [h.get("lr") for h in hist] == [None, 2e-3, 1e-3, 5e-4, 5e-4] == [h.get("lr") for h in history]
        for a, b in zip(hist, history):  # the hook's values included
            assert set(a) == set(b) and ("hook_seconds" in a) == (a["epoch"] > 0) and "mean_logit" in a
            assert _without_seconds(a) == pytest.approx(_without_seconds(b), rel=1e-9, abs=1e-12)
        for mine, theirs in ((member, model), (member_last, last)):
            assert [m.p for m in mine if isinstance(m, torch.nn.Dropout)] == [0.1] * 4 + [0.5]  # templates as built
            for name, a in mine.state_dict().items():
                assert torch.allclose(a, theirs.state_dict()[name], rtol=1e-7, atol=1e-9), name
    # some member's best epoch is not its last: the last-epoch copies are other models
    assert any(not torch.equal(a[0].weight, b[0].weight) for a, b in zip(lasts, together))


def test_grouping_changes_nothing_with_a_schedule_hooks_and_last_epochs(float64):
    x, y = _data(160, 10)
    xv, yv = _data(50, 11)
    seeds = [31, 32, 33]
    configs = [TrainConfig(max_epochs=3, batch_size=40, seed=s, log_every=0, early_stopping_patience=None,
                           phases=(Phase(epochs=1, train_mode=False), Phase(restart=True)),
                           regularizer=RegularizerConfig()) for s in seeds]
    members = _members("cnn_consistency", "exp", [5, 7, 6], seeds, batchnorm=False)
    hooks = [_mean_logit(xv[:20])]
    whole = train_ensemble([copy.deepcopy(m) for m in members], x, y, xv, yv, configs, hooks=hooks, keep_last=True)
    grouped = train_ensemble([copy.deepcopy(m) for m in members], x, y, xv, yv, configs, group=2, hooks=hooks,
                             keep_last=True)
    assert len(grouped) == 3 and [len(part) for part in grouped] == [3, 3, 3]
    for models_a, models_b in ((whole[0], grouped[0]), (whole[2], grouped[2])):
        for a, b in zip(models_a, models_b):
            for name, value in a.state_dict().items():
                assert torch.allclose(b.state_dict()[name], value, rtol=1e-9, atol=1e-12), name
    for hist_a, hist_b in zip(whole[1], grouped[1]):
        assert len(hist_a) == len(hist_b) == 4
        for a, b in zip(hist_a, hist_b):
            assert _without_seconds(b) == pytest.approx(_without_seconds(a), rel=1e-9, abs=1e-12)
        assert "mean_logit" in hist_a[0] and "mean_logit" in hist_a[-1]
    # the three members differ (each its own seed): the comparison is not of three copies of one model
    assert not torch.allclose(whole[2][0][0].weight[:5], whole[2][1][0].weight[:5])


def test_a_restart_leaves_a_member_that_stopped_early_as_it_stopped():
    """A restarting phase redraws only the members still training: one that early-stopped before it keeps its
    last trained epoch as its last model, as training it alone does."""
    g = torch.Generator().manual_seed(0)
    x = torch.nn.functional.one_hot(torch.randint(0, 4, (240, 200), generator=g), 4).float().transpose(1, 2)
    y = torch.randint(0, 2, (240, 1), generator=g).float()
    x[y[:, 0] == 1, :, 90:96] = torch.nn.functional.one_hot(torch.tensor([2, 0, 3, 0, 2, 2]), 4).float().T
    x, y, xv, yv = x[:200], y[:200], x[200:], y[200:]
    members = []
    for seed in (1, 3):
        torch.manual_seed(seed)
        members.append(build_model("cnn_consistency", batchnorm=False, n_filters=6, kernel_size=9))
    configs = [TrainConfig(max_epochs=6, batch_size=50, seed=s, log_every=0, early_stopping_patience=1,
                           learning_rate=3e-3, phases=(Phase(epochs=2), Phase(restart=True))) for s in (1, 3)]
    alone = [train(copy.deepcopy(m), x, y, xv, yv, c, keep_last=True) for m, c in zip(members, configs)]
    best, histories, lasts = train_ensemble([copy.deepcopy(m) for m in members], x, y, xv, yv, configs,
                                            keep_last=True)
    assert [len(h) for h in histories] == [len(a[1]) for a in alone]
    assert min(h[-1]["epoch"] for h in histories) <= 2 < max(h[-1]["epoch"] for h in histories)  # one stopped first
    for (model, _, last), mine, my_last in zip(alone, best, lasts):
        for a, b in ((model, mine), (last, my_last)):
            for key, value in a.state_dict().items():
                torch.testing.assert_close(b.state_dict()[key], value, rtol=1e-4, atol=1e-5)


def _bassets(filters: list[int], dense: list[int], n_tasks: list[int]) -> list[torch.nn.Sequential]:
    """Small multi-task Bassets (A = 4, L = 40) in eval mode, non-trivial BatchNorm statistics."""
    out = []
    for seed, (f, d, t) in enumerate(zip(filters, dense, n_tasks)):
        torch.manual_seed(seed)
        model = build_model("basset", n_tasks=t, input_length=40, filters=(f,), widths=(5,), pools=(4,), dense=(d,))
        for bn in (m for m in model if isinstance(m, torch.nn.BatchNorm1d)):
            bn.running_mean.uniform_(-0.2, 0.2)
            bn.running_var.uniform_(0.5, 2.0)
        out.append(model.eval())
    return out


def test_members_of_several_outputs_stack_member_major(float64):
    """Logits (B, K * T): member k's T outputs in columns k*T:(k+1)*T, each as the member computes them alone
    (members of different widths, padded); sigmoid outputs likewise."""
    members = _bassets([4, 6, 3], [6, 5, 7], [3, 3, 3])
    ensemble = EnsembleCNN(members).eval()
    assert ensemble.outputs == 3
    x = torch.randn(5, 4, 40)
    out = ensemble(replicate(x, 3))
    assert out.shape == (5, 9)
    probs = predict_members(ensemble, x, batch_size=4)
    for k, member in enumerate(members):
        torch.testing.assert_close(out[:, 3 * k:3 * (k + 1)], member(x), rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(probs[:, 3 * k:3 * (k + 1)], torch.sigmoid(member(x)), rtol=1e-12, atol=1e-12)
    assert EnsembleCNN(_members("cnn_shallow", "relu", [4, 5], [0, 1])).outputs == 1


def test_members_must_share_their_number_of_outputs_and_train_with_one():
    with pytest.raises(ValueError, match=r"same number of outputs.*\[3, 2\]"):
        EnsembleCNN(_bassets([4, 4], [6, 6], [3, 2]))
    x = torch.randn(20, 4, 40)
    y = torch.randint(0, 2, (20, 1)).float()
    with pytest.raises(ValueError, match="members of one output.*3 outputs"):
        train_ensemble(_bassets([4, 4], [6, 6], [3, 3]), x, y, x, y, [TrainConfig(seed=0), TrainConfig(seed=1)])


@pytest.mark.parametrize("method", ["bernoulli", "bits"])
def test_masks_drawn_beforehand_are_the_masks_a_forward_draws(method, float64):
    """`draw_masks` draws from the members' generators what a training forward draws itself (the compiled path
    passes them in), in order and shape, padded channels dropped; shapes are read without touching BatchNorm."""
    members = _members("cnn_deep", "exp", [6, 10], [1, 2])
    x = replicate(_data(8, 0)[0], 2)
    model, twin = EnsembleCNN(copy.deepcopy(members)).train(), EnsembleCNN(copy.deepcopy(members)).train()
    model.generators = [torch.Generator().manual_seed(s) for s in (5, 6)]
    twin.generators = [torch.Generator().manual_seed(s) for s in (5, 6)]
    model.mask_method = twin.mask_method = method
    masks = model.draw_masks(x)
    assert [m.dtype for m in masks] == [torch.bool] * 5 and not masks[0][:, 0, 6:].any()
    for key, value in twin.state_dict().items():
        assert torch.equal(value, model.state_dict()[key]), key
    assert torch.equal(model(x, masks=masks), twin(x))
    assert not torch.equal(model(x, masks=model.draw_masks(x)), model(x, masks=masks))  # the next draw differs


def _tiny_cnn(seed: int, width: int) -> torch.nn.Sequential:
    """Every kind of layer of a CNN here (convolution, BatchNorm, dropout, pooling, dense) on inputs (N, 4, 100), small
    enough to compile in seconds; no bias before BatchNorm (its true gradient is 0: Adam steps on its rounding)."""
    nn = torch.nn
    torch.manual_seed(seed)
    return nn.Sequential(nn.Conv1d(4, width, 5, padding="same", bias=False), nn.BatchNorm1d(width), nn.ReLU(),
                         nn.Dropout(0.2), nn.MaxPool1d(4), KerasFlatten(), nn.Linear(25 * width, 8, bias=False),
                         nn.BatchNorm1d(8), nn.ReLU(), nn.Dropout(0.5), nn.Linear(8, 1))


def test_compiled_engine_trains_as_the_eager_engine(float64):
    """`compile=True` trains each member (of different widths: padded) as the eager engine does, in float64 to
    rounding; a partial last batch runs eagerly. Hidden layers without a bias (see the single-model test)."""
    x, y = _data(80, 0, length=100)  # batches of 32, 32 and 16
    xv, yv = _data(40, 1, length=100)
    seeds = [11, 12]
    configs = [TrainConfig(max_epochs=2, batch_size=32, seed=s, log_every=0) for s in seeds]
    members = [_tiny_cnn(seed, width) for width, seed in zip([4, 6], seeds)]
    eager, eager_histories = train_ensemble(copy.deepcopy(members), x, y, xv, yv, configs)
    compiled, compiled_histories = train_ensemble(copy.deepcopy(members), x, y, xv, yv, configs, compile=True)
    for ours, theirs in zip(compiled_histories, eager_histories, strict=True):
        for row, expected in zip(ours, theirs, strict=True):
            assert row["loss"] == pytest.approx(expected["loss"], rel=1e-9)
    for a, b, initial in zip(compiled, eager, members):
        for key, value in b.state_dict().items():
            torch.testing.assert_close(a.state_dict()[key], value, rtol=1e-7, atol=1e-9)
        assert any(float((value - initial.state_dict()[key]).abs().max()) > 1e-3
                   for key, value in b.state_dict().items() if value.is_floating_point())
