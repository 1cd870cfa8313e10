"""The published training protocol; training schedules (phases), epoch hooks and the last-epoch copy."""

import copy
import dataclasses
import math

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score
from torch import nn

from gradcorr.data.synthetic import generate_billboard
from gradcorr.models.architectures import KerasFlatten, build_model, l2_penalty, reinitialize
from gradcorr.models.training import (
    RESTART_SEED_OFFSET,
    KerasSchedule,
    NonFiniteLossError,
    Phase,
    TrainConfig,
    check_phases,
    phase_starting,
    predict,
    set_dropout,
    task_aurocs,
    train,
    validation_auroc,
)


def test_schedule_follows_keras_semantics():
    """Worked by hand with lr_patience 2, early-stopping patience 4, min_delta 0.01, factor 0.5.

    epoch  metric  best?  es_wait  gain>0.01 vs lr_best  lr_wait  lr after
      1    0.50    yes    0        yes (lr_best 0.50)    0        1.0
      2    0.505   yes    0        no                    1        1.0
      3    0.508   yes    0        no                    2 -> 0   0.5
      4    0.60    yes    0        yes (lr_best 0.60)    0        0.5
      5    0.59    no     1        no                    1        0.5
      6    0.59    no     2        no                    2 -> 0   0.25
      7    0.60    no     3        no                    1        0.25
      8    0.55    no     4 stop   no                    2 -> 0   0.125
    """
    config = TrainConfig(learning_rate=1.0, lr_factor=0.5, lr_patience=2, lr_min_delta=0.01,
                         early_stopping_patience=4, min_lr=0.2)
    schedule = KerasSchedule(config)
    steps = [schedule.update(m) for m in [0.50, 0.505, 0.508, 0.60, 0.59, 0.59, 0.60, 0.55]]
    assert [s[0] for s in steps] == [True, True, True, True, False, False, False, False]
    # min_lr 0.2 floors the last drop (0.25 * 0.5 = 0.125 -> 0.2)
    assert [s[1] for s in steps] == [1.0, 1.0, 0.5, 0.5, 0.5, 0.25, 0.25, 0.2]
    assert [s[2] for s in steps] == [False] * 7 + [True]


def test_constant_schedule_without_patience_is_the_appendix_b_protocol():
    """The consistency paper's Appendix B: the same metrics never lower the rate nor stop training, and
    the best epoch is still reported."""
    config = TrainConfig(learning_rate=1.0, lr_factor=0.5, lr_patience=2, lr_min_delta=0.01, lr_schedule="constant",
                         early_stopping_patience=None, min_lr=0.2)
    schedule = KerasSchedule(config)
    steps = [schedule.update(m) for m in [0.50, 0.505, 0.508, 0.60] + [0.55] * 30]
    assert [s[0] for s in steps] == [True] * 4 + [False] * 30
    assert {s[1] for s in steps} == {1.0} and not any(s[2] for s in steps)
    with pytest.raises(ValueError, match="lr_schedule"):
        TrainConfig.from_dict({"lr_schedule": "cosine"})


@pytest.fixture(scope="module")
def small_data():
    data = generate_billboard(n_positive=1000, n_negative=1000, seed=11)
    return {k: torch.as_tensor(v, dtype=torch.float32) for k, v in data.items()}


def test_trained_model_beats_chance_on_held_out_data(small_data):
    d = small_data
    torch.manual_seed(0)
    model = build_model("cnn_shallow", activation="relu")
    config = TrainConfig(max_epochs=8, seed=0, log_every=0)
    model, history = train(model, d["x_train"], d["y_train"], d["x_valid"], d["y_valid"], config)
    auroc = roc_auc_score(d["y_test"].numpy().ravel(), predict(model, d["x_test"]).numpy())
    # 400 test sequences: the AUROC of a chance model has sd about 0.03, so 0.62 is 4 sd above it.
    # (Eight epochs on 1,400 sequences is about 110 steps; the full dataset reaches 0.9 and more.)
    assert auroc > 0.62, f"test AUROC {auroc:.3f}"
    assert [h["epoch"] for h in history] == list(range(1, len(history) + 1))
    assert all(k in history[0] for k in ("loss", "val_loss", "val_auroc", "lr"))
    # the restored weights are those of the best validation epoch
    best = max(h["val_auroc"] for h in history)
    restored = roc_auc_score(d["y_valid"].numpy().ravel(), predict(model, d["x_valid"]).numpy())
    assert restored == pytest.approx(best, abs=1e-9)


def test_training_is_reproducible(small_data):
    d = small_data
    runs = []
    for _ in range(2):
        torch.manual_seed(5)
        model = build_model("cnn_shallow", activation="relu", n_filters=8)
        config = TrainConfig(max_epochs=1, seed=5, log_every=0)
        runs.append(train(model, d["x_train"], d["y_train"], d["x_valid"], d["y_valid"], config)[0])
    for a, b in zip(runs[0].state_dict().values(), runs[1].state_dict().values()):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_non_finite_loss_before_any_epoch_raises(small_data):
    d = small_data
    model = build_model("cnn_deep", activation="exp")
    with torch.no_grad():
        model[1].weight.fill_(1e4)  # BatchNorm gamma: exp(1e4 * z) overflows to inf
    with pytest.raises(NonFiniteLossError, match="epoch 1, batch 1"):
        train(model, d["x_train"], d["y_train"], d["x_valid"], d["y_valid"], TrainConfig(max_epochs=2, log_every=0))


def test_non_finite_loss_later_keeps_best_epoch(small_data):
    d = small_data
    model = build_model("cnn_shallow", activation="exp", n_filters=8)
    calls = {"n": 0}
    n_batches = math.ceil(len(d["x_train"]) / 100)

    def poison(module, args, output):
        if module.training:
            calls["n"] += 1
            if calls["n"] > n_batches + 2:  # part-way through epoch 2
                return output * float("nan")
        return output

    model.register_forward_hook(poison)
    model, history = train(model, d["x_train"], d["y_train"], d["x_valid"], d["y_valid"],
                           TrainConfig(max_epochs=5, log_every=0))
    assert history[-1]["epoch"] == 2 and "non-finite" in history[-1]["stopped"]
    assert all(torch.isfinite(p).all() for p in model.state_dict().values())
    assert np.isfinite(predict(model, d["x_valid"]).numpy()).all()


# --- training schedules (phases) ---------------------------------------------------------------------------------

def test_a_phase_refuses_impossible_values():
    for bad in ({"epochs": 0}, {"epochs": -2}, {"dropout": 1.0}, {"dropout": -0.1}, {"learning_rate": 0.0},
                {"learning_rate": -1e-3}):
        with pytest.raises(ValueError, match="phase"):
            Phase(**bad)
    assert Phase(epochs=1, learning_rate=1e-4, dropout=0.0).dropout == 0.0  # the bounds themselves are allowed


def test_phases_must_add_up_to_max_epochs_unless_the_last_is_open():
    with pytest.raises(ValueError, match="only the last phase"):
        TrainConfig(max_epochs=5, phases=(Phase(), Phase(epochs=2)))
    with pytest.raises(ValueError, match="add up"):  # 4 fixed epochs of 5
        TrainConfig(max_epochs=5, phases=(Phase(epochs=2), Phase(epochs=2)))
    with pytest.raises(ValueError, match="add up"):  # 6 fixed epochs of 5, cut short
        TrainConfig(max_epochs=5, phases=(Phase(epochs=3), Phase(epochs=3)))
    with pytest.raises(ValueError, match="add up"):  # an open last phase after more than max_epochs
        check_phases((Phase(epochs=6), Phase()), 5)
    for fits in ((Phase(epochs=2), Phase()), (Phase(epochs=2), Phase(epochs=3)), (Phase(),), (Phase(epochs=5), Phase()),
                 ()):
        check_phases(fits, 5)
        assert TrainConfig(max_epochs=5, phases=fits).phases == fits


def test_from_dict_turns_phase_mappings_into_phases():
    values = {"max_epochs": 4, "seed": 3, "phases": [{"epochs": 1, "learning_rate": 0.01, "train_mode": False},
                                                     {"dropout": 0.2, "restart": True}]}
    config = TrainConfig.from_dict(values)
    assert config.phases == (Phase(epochs=1, learning_rate=0.01, train_mode=False),
                             Phase(epochs=None, dropout=0.2, restart=True))
    assert all(type(p) is Phase for p in config.phases)
    # a config written out (dataclasses.asdict turns the phases into mappings) reads back as it was
    assert TrainConfig.from_dict(dataclasses.asdict(config)) == config
    assert TrainConfig.from_dict({"max_epochs": 4, "phases": None}).phases == ()
    with pytest.raises(ValueError, match="a phase lasts"):
        TrainConfig.from_dict({"max_epochs": 4, "phases": [{"epochs": 0}, {}]})
    with pytest.raises(ValueError, match="add up"):
        TrainConfig.from_dict({"max_epochs": 4, "phases": [{"epochs": 1}, {"epochs": 1}]})


def test_phase_starting_names_the_phase_of_its_first_epoch_only():
    phases = (Phase(epochs=2), Phase(epochs=3, learning_rate=0.1), Phase(dropout=0.3))
    starts = {epoch: phase_starting(phases, epoch) for epoch in range(1, 12)}
    assert starts[1] is phases[0] and starts[3] is phases[1] and starts[6] is phases[2]
    assert all(starts[e] is None for e in (2, 4, 5, 7, 8, 9, 10, 11))
    assert phase_starting((), 1) is None
    assert phase_starting((Phase(),), 1) == Phase() and phase_starting((Phase(),), 2) is None


def _tiny(n: int, seed: int, length: int = 200) -> tuple[torch.Tensor, torch.Tensor]:
    """Random one-hot sequences, label 1 where a planted GATA-like pattern is present (float32)."""
    g = torch.Generator().manual_seed(seed)
    x = nn.functional.one_hot(torch.randint(0, 4, (n, length), generator=g), 4).float().transpose(1, 2)
    y = torch.randint(0, 2, (n, 1), generator=g).float()
    x[y[:, 0] == 1, :, 90:96] = nn.functional.one_hot(torch.tensor([2, 0, 3, 0, 2, 2]), 4).float().T
    return x, y


@pytest.fixture(scope="module")
def tiny():
    return (*_tiny(200, 0), *_tiny(60, 1))


def _consistency(seed: int = 0, **kwargs) -> nn.Sequential:
    torch.manual_seed(seed)
    return build_model("cnn_consistency", activation="relu", n_filters=8, kernel_size=9, **kwargs)


def _recorder(store: list, parameters_only: bool = False):
    """An epoch hook that keeps a copy of the model's state after every epoch (and before the first)."""
    def hook(model, members):
        items = model.named_parameters() if parameters_only else model.state_dict().items()
        store.append({key: value.detach().clone() for key, value in items})
        return [{}]
    return hook


def test_the_learning_rate_follows_the_phases(tiny):
    """One batch per epoch, so one Adam step: the first step moves every weight by the learning rate (the update
    is lr * g / (|g| + eps)), and no later step by more than about 1.004 lr. Steps larger than the first phase's
    rate can allow show that the optimizer took the second phase's."""
    x, y, xv, yv = tiny
    phases = (Phase(epochs=2), Phase(epochs=1, learning_rate=1e-2), Phase())
    config = TrainConfig(max_epochs=4, batch_size=len(x), seed=0, log_every=0, learning_rate=1e-3,
                         lr_schedule="constant", early_stopping_patience=None, phases=phases)
    states: list[dict] = []
    _, history = train(_consistency(batchnorm=False), x, y, xv, yv, config, hooks=[_recorder(states, True)])
    assert [h["lr"] for h in history[1:]] == [1e-3, 1e-3, 1e-2, 1e-3]
    steps = [max(float((after[k] - before[k]).abs().max()) for k in after) for before, after in zip(states, states[1:])]
    assert steps[0] == pytest.approx(1e-3, rel=1e-3)
    assert steps[1] <= 1.01e-3 and steps[3] <= 1.01e-3
    assert 5e-3 < steps[2] <= 1.01e-2


def test_set_dropout_sets_the_convolutional_dropouts_only():
    model = _consistency(dropout=0.1)
    set_dropout(model, 0.35)
    assert [m.p for m in model if isinstance(m, nn.Dropout)] == [0.35] * 4 + [0.5]


def test_a_dropout_phase_trains_as_a_model_built_with_that_rate(tiny):
    """Same weights (dropout draws nothing at initialisation), same seeds: a phase of dropout 0.3 from the first
    epoch trains a model built with dropout 0.1 exactly as one built with 0.3; without it, differently."""
    x, y, xv, yv = tiny
    plain = TrainConfig(max_epochs=2, batch_size=50, seed=4, log_every=0)
    phased = dataclasses.replace(plain, phases=(Phase(dropout=0.3),))
    built, _ = train(_consistency(dropout=0.3), x, y, xv, yv, plain)
    changed, _ = train(_consistency(dropout=0.1), x, y, xv, yv, phased)
    unchanged, _ = train(_consistency(dropout=0.1), x, y, xv, yv, plain)
    assert [m.p for m in changed if isinstance(m, nn.Dropout)] == [0.3] * 4 + [0.5]
    for key, value in built.state_dict().items():
        torch.testing.assert_close(changed.state_dict()[key], value, rtol=0, atol=0)
    assert not torch.equal(unchanged[0].weight, built[0].weight)


def test_an_inference_mode_phase_keeps_batchnorm_statistics_and_drops_dropout(tiny):
    x, y, xv, yv = tiny
    phases = (Phase(epochs=1, train_mode=False), Phase())
    config = TrainConfig(max_epochs=2, batch_size=50, seed=2, log_every=0, early_stopping_patience=None,
                         phases=phases)
    states: list[dict] = []
    model = _consistency(dropout=0.2)
    train(model, x, y, xv, yv, config, hooks=[_recorder(states)])
    bns = [f"{i}" for i, m in enumerate(model) if isinstance(m, nn.BatchNorm1d)]
    for i in bns:  # fixed through the first phase, while the weights move
        for buffer in ("running_mean", "running_var", "num_batches_tracked"):
            assert torch.equal(states[1][f"{i}.{buffer}"], states[0][f"{i}.{buffer}"]), (i, buffer)
        assert not torch.equal(states[2][f"{i}.running_mean"], states[1][f"{i}.running_mean"])  # the second phase
    assert not torch.equal(states[1]["0.weight"], states[0]["0.weight"])
    assert int(states[2][f"{bns[0]}.num_batches_tracked"]) == math.ceil(len(x) / 50)

    # no dropout at all in inference mode: models built with dropout 0.1 and 0.9 train to the same weights
    inference = TrainConfig(max_epochs=1, batch_size=50, seed=2, log_every=0, phases=(Phase(train_mode=False),))
    low, _ = train(_consistency(dropout=0.1, batchnorm=False), x, y, xv, yv, inference)
    high, _ = train(_consistency(dropout=0.9, batchnorm=False), x, y, xv, yv, inference)
    for key, value in low.state_dict().items():
        torch.testing.assert_close(high.state_dict()[key], value, rtol=0, atol=0)
    trained = TrainConfig(max_epochs=1, batch_size=50, seed=2, log_every=0)
    low, _ = train(_consistency(dropout=0.1, batchnorm=False), x, y, xv, yv, trained)
    high, _ = train(_consistency(dropout=0.9, batchnorm=False), x, y, xv, yv, trained)
    assert not torch.equal(low[0].weight, high[0].weight)  # in training mode the rate matters


@pytest.mark.parametrize("restart", [True, False])
def test_a_restarting_phase_draws_fresh_weights_and_a_fresh_optimizer(tiny, restart):
    """One batch per epoch. The weights the second phase starts from (seen by the model's first forward pass in
    training mode) are reinitialize(initial copy, seed + 2) with restart, the first epoch's without. A fresh Adam's
    first step moves every weight by the learning rate; a continued one's second step does not."""
    x, y, xv, yv = tiny
    config = TrainConfig(max_epochs=2, batch_size=len(x), seed=7, log_every=0, early_stopping_patience=None,
                         phases=(Phase(epochs=1), Phase(restart=restart)))
    model = _consistency(seed=1)
    initial = copy.deepcopy(model)
    starts: list[dict] = []
    model.register_forward_pre_hook(lambda m, _: starts.append(copy.deepcopy(m.state_dict())) if m.training else None)
    after: list[dict] = []
    train(model, x, y, xv, yv, config, hooks=[_recorder(after)])
    assert len(starts) == 2 and len(after) == 3
    fresh = reinitialize(copy.deepcopy(initial), torch.Generator().manual_seed(7 + RESTART_SEED_OFFSET)).state_dict()
    if restart:
        assert RESTART_SEED_OFFSET == 2
        for key, value in fresh.items():  # weights, BatchNorm statistics and batch count
            assert torch.equal(starts[1][key], value), key
    else:
        assert all(torch.equal(starts[1][key], value) for key, value in after[1].items())
        assert not torch.equal(starts[1]["0.weight"], fresh["0.weight"])
    ratio = (after[2]["0.weight"] - starts[1]["0.weight"]).abs() / config.learning_rate
    near_one = float(((ratio - 1).abs() < 0.01).float().mean())
    assert near_one > 0.95 if restart else near_one < 0.5


# --- epoch hooks and the last epoch ----------------------------------------------------------------------------

def _mean_output(x: torch.Tensor):
    """A hook drawing no random numbers: each member's mean sigmoid output on x, in inference mode."""
    def hook(model, members):
        was_training = model.training
        model.eval()
        with torch.no_grad():
            p = torch.sigmoid(model(x.repeat(1, members, 1)))
        model.train(was_training)
        return [{"mean_p": float(p[:, m].mean())} for m in range(members)]
    return hook


def test_a_hook_scores_every_epoch_without_changing_training(tiny):
    x, y, xv, yv = tiny
    config = TrainConfig(max_epochs=3, batch_size=50, seed=5, log_every=0, early_stopping_patience=None)
    bare, bare_history = train(_consistency(dropout=0.3), x, y, xv, yv, config)
    initial = _consistency(dropout=0.3)
    hooked, history, last = train(copy.deepcopy(initial), x, y, xv, yv, config, hooks=[_mean_output(xv)],
                                  keep_last=True)
    for key, value in bare.state_dict().items():  # dropout masks and BatchNorm statistics untouched too
        torch.testing.assert_close(hooked.state_dict()[key], value, rtol=0, atol=0)
    assert [h["loss"] for h in history[1:]] == [h["loss"] for h in bare_history]
    assert history[0] == {"epoch": 0, "mean_p": pytest.approx(float(predict(initial, xv).mean()), rel=1e-6)}
    assert [h["epoch"] for h in history] == [0, 1, 2, 3] and [h["epoch"] for h in bare_history] == [1, 2, 3]
    assert all({"mean_p", "hook_seconds", "val_auroc"} <= set(h) and h["hook_seconds"] >= 0 for h in history[1:])
    assert not any("mean_p" in h or "hook_seconds" in h for h in bare_history)
    assert history[-1]["mean_p"] == pytest.approx(float(predict(last, xv).mean()), rel=1e-6)


def test_keep_last_returns_the_last_epoch_besides_the_best(tiny):
    """A last phase that restarts: its one epoch from fresh weights validates below the trained epochs before it."""
    x, y, xv, yv = tiny
    config = TrainConfig(max_epochs=4, batch_size=50, seed=2, log_every=0, early_stopping_patience=None,
                         learning_rate=3e-3, lr_schedule="constant", phases=(Phase(epochs=3), Phase(restart=True)))
    states: list[dict] = []
    model, history, last = train(_consistency(2), x, y, xv, yv, config, hooks=[_recorder(states)], keep_last=True)
    aurocs = [h["val_auroc"] for h in history[1:]]
    best = int(np.argmax(aurocs)) + 1
    assert best != len(aurocs), f"the construction needs a best epoch before the last: {aurocs}"
    for key in states[0]:
        assert torch.equal(model.state_dict()[key], states[best][key]), key
        assert torch.equal(last.state_dict()[key], states[-1][key]), key
    assert not torch.equal(last[0].weight, model[0].weight)
    assert not last.training
    assert len(train(_consistency(2), x, y, xv, yv, config)) == 2  # without keep_last, (model, history) as before


# --- decoupled weight decay (AdamW) ----------------------------------------------------------------------------

def _by_hand(model: nn.Module, x: torch.Tensor, y: torch.Tensor, config: TrainConfig, optimizer=None) -> list[dict]:
    """`train`'s steps written out for a model without BatchNorm: the same data order (from a generator seeded by
    the seed) and dropout masks (torch's global generator seeded alike), BCE plus the L2 term, and either
    `optimizer` (a torch one) or AdamW written out (the decay p <- p (1 - lr wd) first, then Adam's step on the
    loss gradient alone). The state after every epoch."""
    torch.manual_seed(config.seed)
    order_rng = torch.Generator().manual_seed(config.seed)
    model.train()
    params = list(model.parameters())
    m = [torch.zeros_like(p) for p in params]
    v = [torch.zeros_like(p) for p in params]
    lr, wd, (b1, b2), eps, t = config.learning_rate, config.weight_decay, (0.9, 0.999), 1e-8, 0
    states = []
    for _ in range(config.max_epochs):
        for idx in torch.split(torch.randperm(len(x), generator=order_rng), config.batch_size):
            loss = nn.BCEWithLogitsLoss()(model(x[idx]), y[idx])
            if config.l2:
                loss = loss + config.l2 * l2_penalty(model)
            if optimizer is not None:
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                continue
            grads = torch.autograd.grad(loss, params)
            t += 1
            with torch.no_grad():
                for p, g, m_i, v_i in zip(params, grads, m, v):
                    p.mul_(1 - lr * wd)
                    m_i.mul_(b1).add_((1 - b1) * g)
                    v_i.mul_(b2).add_((1 - b2) * g * g)
                    p.sub_(lr / (1 - b1 ** t) * m_i / (v_i.sqrt() / math.sqrt(1 - b2 ** t) + eps))
        states.append({k: value.detach().clone() for k, value in model.state_dict().items()})
    return states


def _protein_data(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    x = nn.functional.one_hot(torch.randint(0, 20, (n, 40), generator=g), 20).double().transpose(1, 2)
    y = torch.randint(0, 2, (n, 1), generator=g).double()
    x[y[:, 0] == 1, :, 10:16] = nn.functional.one_hot(torch.tensor([3, 5, 7, 9, 11, 13]), 20).double().T
    return x, y


@pytest.mark.parametrize("arch", ["seq_cnn", "mlp"])
def test_weight_decay_trains_as_adamw_written_out(arch):
    """Two epochs of four batches in float64: the trajectory of `train` with weight_decay is AdamW's, decoupled
    (written out here, and torch.optim.AdamW's); the decay is large enough to matter."""
    x, y = _protein_data(200, 0)
    xv, yv = _protein_data(40, 1)
    torch.manual_seed(0)
    initial = build_model(arch, **({"n_filters": 8, "hidden": 16} if arch == "seq_cnn" else {"hidden": (32, 16, 8)}))
    initial = initial.double()
    config = TrainConfig(max_epochs=2, batch_size=50, seed=3, log_every=0, learning_rate=3e-3, weight_decay=0.5,
                         early_stopping_patience=None)
    states: list[dict] = []
    train(copy.deepcopy(initial), x, y, xv, yv, config, hooks=[_recorder(states)])
    by_hand = _by_hand(copy.deepcopy(initial), x, y, config)
    model = copy.deepcopy(initial)
    torch_adamw = _by_hand(model, x, y, config, torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.5))
    undecayed = _by_hand(copy.deepcopy(initial), x, y, dataclasses.replace(config, weight_decay=0.0))
    for epoch in (1, 2):
        for key, value in states[epoch].items():
            torch.testing.assert_close(value, by_hand[epoch - 1][key], rtol=1e-10, atol=1e-12)
            torch.testing.assert_close(value, torch_adamw[epoch - 1][key], rtol=1e-10, atol=1e-12)
    moved = max(float((states[2][k] - undecayed[1][k]).abs().max()) for k in states[2])
    assert moved > 1e-3  # lr * wd = 1.5e-3 of each weight per step: weight decay changed the weights


def test_no_weight_decay_is_plain_adam_bit_for_bit(tiny, monkeypatch):
    """weight_decay 0 (the default) steps with torch.optim.Adam exactly; a restarting phase rebuilds the optimizer
    of the same kind (AdamW with weight decay)."""
    x, y, xv, yv = tiny
    model = _consistency(seed=4, batchnorm=False)  # with dropout
    config = TrainConfig(max_epochs=2, batch_size=50, seed=6, log_every=0, early_stopping_patience=None)
    assert TrainConfig().weight_decay == 0.0
    states: list[dict] = []
    train(copy.deepcopy(model), x, y, xv, yv, config, hooks=[_recorder(states)])
    reference = copy.deepcopy(model)
    adam = _by_hand(reference, x, y, config, torch.optim.Adam(reference.parameters(), lr=config.learning_rate))
    for epoch in (1, 2):
        for key, value in states[epoch].items():
            torch.testing.assert_close(value, adam[epoch - 1][key], rtol=0, atol=0)

    from gradcorr.models import training
    made: list[torch.optim.Optimizer] = []
    real = training.make_optimizer
    monkeypatch.setattr(training, "make_optimizer", lambda *a, **k: made.append(real(*a, **k)) or made[-1])
    phases = (Phase(epochs=1), Phase(restart=True))
    for wd, kind in ((0.0, torch.optim.Adam), (0.01, torch.optim.AdamW)):
        made.clear()
        train(copy.deepcopy(model), x, y, xv, yv, dataclasses.replace(config, weight_decay=wd, phases=phases))
        assert [type(o) for o in made] == [kind, kind]
        assert all(o.param_groups[0]["weight_decay"] == wd for o in made)
    with pytest.raises(ValueError, match="weight_decay"):
        TrainConfig(weight_decay=-1e-3)
    assert TrainConfig.from_dict({"weight_decay": 0.1, "l2": 0}).weight_decay == 0.1


def test_set_dropout_leaves_the_dense_dropout_of_the_protein_models_alone():
    for arch in ("seq_cnn", "mlp"):
        model = build_model(arch, dropout=0.25)
        set_dropout(model, 0.6)
        assert {m.p for m in model if isinstance(m, nn.Dropout)} == {0.25}


# --- multi-task training (labels (N, T) for a model with T outputs) ---------------------------------------------

MOTIFS = (torch.tensor([2, 0, 3, 0, 2, 2]), torch.tensor([1, 1, 3, 1, 0, 1]))  # GATAGG for task 0, CCTCAC for 1


def _two_tasks(n: int, seed: int, length: int = 100) -> tuple[torch.Tensor, torch.Tensor]:
    """Random one-hot sequences and two independent labels: task t is 1 where motif t is planted (task 0's in the
    first half, task 1's in the second, at a random offset)."""
    g = torch.Generator().manual_seed(seed)
    x = nn.functional.one_hot(torch.randint(0, 4, (n, length), generator=g), 4).float().transpose(1, 2)
    y = torch.randint(0, 2, (n, 2), generator=g).float()
    starts = torch.randint(0, length // 2 - 6, (n, 2), generator=g) + torch.tensor([0, length // 2])
    for i in range(n):
        for t in range(2):
            if y[i, t] == 1:
                x[i, :, starts[i, t]:starts[i, t] + 6] = nn.functional.one_hot(MOTIFS[t], 4).float().T
    return x, y


def _small_multitask(seed: int = 0, n_tasks: int = 2) -> nn.Sequential:
    torch.manual_seed(seed)
    return build_model("basset", activation="relu", n_tasks=n_tasks, input_length=100, filters=(16, 16, 16),
                       widths=(9, 5, 3), pools=(2, 2, 2), dense=(32,))


def test_a_multitask_model_learns_a_planted_two_task_rule():
    """Labels (N, 2), one column per task: both tasks are learnt (held-out AUROC > 0.9 each); the restored epoch's
    history row holds the mean of sklearn's per-task AUROCs and the BCE over every entry."""
    x, y = _two_tasks(1200, 0)
    xv, yv = _two_tasks(300, 1)
    config = TrainConfig(max_epochs=12, batch_size=50, seed=0, log_every=0, learning_rate=1e-2)
    model, history = train(_small_multitask(), x, y, xv, yv, config)
    p = predict(model, xv)
    assert p.shape == (300, 2)
    per_task = [roc_auc_score(yv[:, t].numpy(), p[:, t].numpy()) for t in range(2)]
    assert min(per_task) > 0.9, per_task
    best = max(history, key=lambda h: h["val_auroc"])
    assert best["val_auroc"] == pytest.approx(np.mean(per_task), abs=1e-9)
    bce = nn.functional.binary_cross_entropy(p.clamp(1e-7, 1 - 1e-7), yv)  # the mean over all 600 entries
    assert best["val_loss"] == pytest.approx(float(bce), rel=1e-6)
    x_test, y_test = _two_tasks(300, 2)
    p_test = predict(model, x_test)
    assert min(roc_auc_score(y_test[:, t].numpy(), p_test[:, t].numpy()) for t in range(2)) > 0.9


def test_validation_auroc_is_the_mean_over_tasks_with_both_classes():
    g = torch.Generator().manual_seed(3)
    y = torch.randint(0, 2, (80, 3), generator=g).float()
    p = torch.rand(80, 3, generator=g) * 0.5 + 0.4 * y  # informative, to different degrees per task
    p[:, 2] = torch.rand(80, generator=g)
    per_task = [roc_auc_score(y[:, t].numpy(), p[:, t].numpy()) for t in range(3)]
    assert validation_auroc(y, p) == pytest.approx(np.mean(per_task), abs=1e-12)
    np.testing.assert_allclose(task_aurocs(y, p), per_task, rtol=0, atol=1e-12)
    # a task whose validation labels hold one class has no AUROC: the mean is over the others
    y[:, 1] = 0.0
    assert np.isnan(task_aurocs(y, p)[1])
    assert validation_auroc(y, p) == pytest.approx((per_task[0] + per_task[2]) / 2, abs=1e-12)
    y[:, 0] = 1.0
    y[:, 2] = 0.0
    assert math.isnan(validation_auroc(y, p))  # no task with both classes
    y = torch.randint(0, 2, (80, 3), generator=g).float()
    p[5, 1] = float("nan")
    assert math.isnan(validation_auroc(y, p)) and np.isnan(task_aurocs(y, p)).all()
    # one output: the AUROC of all entries, labels (N, 1) or (N,), as before
    q = torch.rand(80, generator=g)
    want = roc_auc_score(y[:, 0].numpy(), q.numpy())
    assert validation_auroc(y[:, :1], q) == validation_auroc(y[:, 0], q[:, None]) == pytest.approx(want, abs=1e-12)


def test_predict_keeps_one_output_flat_and_returns_every_task(tiny):
    x = tiny[0][:30]
    single = _consistency()
    assert predict(single, x).shape == (30,)
    multi = build_model("basset", n_tasks=3, input_length=200, filters=(8, 8, 8), widths=(9, 5, 3),
                        pools=(2, 4, 4), dense=(16,)).train()
    p = predict(multi, x, batch_size=7)
    assert p.shape == (30, 3) and multi.training  # mode restored
    with torch.no_grad():
        torch.testing.assert_close(p, torch.sigmoid(multi.eval()(x)), rtol=1e-6, atol=1e-7)


def test_labels_must_have_one_column_per_output():
    x, y = _two_tasks(40, 0)
    config = TrainConfig(max_epochs=1, log_every=0)
    three = torch.cat([y, y[:, :1]], dim=1)
    with pytest.raises(ValueError, match=r"y_train of shape \(40, 3\) has 3 label columns but the model has 2 outputs"):
        train(_small_multitask(), x, three, x, y, config)
    with pytest.raises(ValueError, match="y_valid .* 1 label columns but the model has 2 outputs"):
        train(_small_multitask(), x, y, x, y[:, 0], config)
    with pytest.raises(ValueError, match="y_train .* 2 label columns but the model has 1 outputs"):
        train(_consistency(), nn.functional.pad(x, (50, 50)), y, nn.functional.pad(x, (50, 50)), y[:, :1], config)
    with pytest.raises(ValueError, match="y_train has 39 rows but there are 40 sequences"):
        train(_small_multitask(), x, y[:39], x, y, config)


def _onehot(n: int, length: int, seed: int, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    x = nn.functional.one_hot(torch.randint(0, 4, (n, length), generator=g), 4).to(dtype).transpose(1, 2)
    return x, torch.randint(0, 2, (n, 1), generator=g).to(dtype)


def tiny_cnn(seed: int, width: int = 4) -> nn.Sequential:
    """A CNN of inputs (N, 4, 64) with every kind of layer a CNN here has (convolution, BatchNorm, dropout,
    pooling, dense), small enough to compile in seconds; no bias before BatchNorm (see below)."""
    torch.manual_seed(seed)
    return nn.Sequential(nn.Conv1d(4, width, 5, padding="same", bias=False), nn.BatchNorm1d(width), nn.ReLU(),
                         nn.Dropout(0.2), nn.MaxPool1d(4), KerasFlatten(), nn.Linear(16 * width, 8, bias=False),
                         nn.BatchNorm1d(8), nn.ReLU(), nn.Dropout(0.5), nn.Linear(8, 1))


def test_compiled_training_equals_eager_training():
    """`compile=True` (a tiny CNN: BatchNorm, dropout, pooling, dense) trains as eager training does, in float64
    to rounding: the losses and validation scores of each epoch, the trained weights; a partial last batch runs
    eagerly. The compiler really ran (dynamo captured a graph). No bias before BatchNorm: its true gradient is 0,
    and Adam turns the rounding of that 0 into steps of the learning rate's size."""
    from torch._dynamo.utils import counters

    x, y = _onehot(80, 64, 0, torch.float64)  # batches of 32, 32 and 16
    xv, yv = _onehot(40, 64, 1, torch.float64)
    initial = tiny_cnn(2).double()
    config = TrainConfig(max_epochs=2, batch_size=32, seed=3, log_every=0)
    eager, eager_history = train(copy.deepcopy(initial), x, y, xv, yv, config)
    graphs = counters["stats"]["unique_graphs"]
    compiled, compiled_history = train(copy.deepcopy(initial), x, y, xv, yv, config, compile=True)
    assert counters["stats"]["unique_graphs"] >= graphs + 1  # the loss
    for ours, theirs in zip(compiled_history, eager_history, strict=True):
        for key in ("loss", "val_loss", "val_auroc"):
            assert ours[key] == pytest.approx(theirs[key], rel=1e-9), key
    moved = 0.0
    for key, value in eager.state_dict().items():
        torch.testing.assert_close(compiled.state_dict()[key], value, rtol=1e-7, atol=1e-9)
        if value.is_floating_point():
            moved = max(moved, float((value - initial.state_dict()[key]).abs().max()))
    assert moved > 1e-3  # training changed the weights
