"""Regularizers of the consistency paper and the angle penalty: each does what its definition says, and training
with each is seeded."""

import dataclasses

import numpy as np
import pytest
import torch
from torch import nn

from gradcorr import attribute
from gradcorr.correction import simplex_angle
from gradcorr.models.architectures import build_model
from gradcorr.models.ensemble import train_ensemble
from gradcorr.models.regularizers import (
    REGULARIZERS,
    RegularizerConfig,
    SpectralNorm,
    adversarial_phase,
    angle_norms,
    batch_loss,
    forward_with,
    mix,
    mixing_points,
    pgd,
    training_saliency,
)
from gradcorr.models.training import TrainConfig, train


def data(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    x = nn.functional.one_hot(torch.randint(0, 4, (n, 200), generator=g), 4).float().transpose(1, 2)
    y = torch.randint(0, 2, (n, 1), generator=g).float()
    x[y[:, 0] == 1, :, 90:96] = nn.functional.one_hot(torch.tensor([2, 0, 3, 0, 2, 2]), 4).float().T
    return x, y


@pytest.fixture(scope="module")
def model() -> nn.Sequential:
    torch.manual_seed(0)
    return build_model("cnn_consistency", activation="relu", batchnorm=False).eval()


def test_mixing_points_are_the_input_and_each_activation_output(model):
    points = mixing_points(model)
    assert points[0] == 0 and len(points) == 6  # input, four conv activations, the dense activation
    assert all(isinstance(model[p - 1], nn.ReLU) for p in points[1:])
    x, _ = data(5, 1)
    for p in points:
        torch.testing.assert_close(forward_with(model, x, p, lambda h: h), model(x))


def test_mixup_is_a_convex_combination_that_stays_on_the_simplex():
    x, y = data(8, 2)
    perm = torch.randperm(8, generator=torch.Generator().manual_seed(0))
    mixed = mix(x, perm, 0.3)
    torch.testing.assert_close(mixed, 0.3 * x + 0.7 * x[perm])
    torch.testing.assert_close(mixed.sum(dim=1), torch.ones(8, 200))
    assert torch.all((mix(y, perm, 0.3) >= 0) & (mix(y, perm, 0.3) <= 1))


def test_manifold_mixup_at_the_input_is_mixup(model, monkeypatch):
    """Forcing the mixing point to 0 gives the input mixup loss for the same draws."""
    x, y = data(16, 3)
    loss = nn.BCEWithLogitsLoss()
    monkeypatch.setattr("gradcorr.models.regularizers._choice", lambda options, generator: 0)
    manifold = batch_loss(model, x, y, loss, RegularizerConfig("manifold_mixup"), 1, torch.Generator().manual_seed(4))
    plain = batch_loss(model, x, y, loss, RegularizerConfig("mixup"), 1, torch.Generator().manual_seed(4))
    torch.testing.assert_close(manifold, plain)


def test_input_noise_has_the_configured_sd(model):
    x, y = data(64, 4)
    seen = []
    probe = nn.Sequential(nn.Identity(), model)
    probe[0].register_forward_hook(lambda m, args, out: seen.append(out - x))
    batch_loss(probe, x, y, nn.BCEWithLogitsLoss(), RegularizerConfig("noise", noise_sd=0.15), 1,
               torch.Generator().manual_seed(5))
    noise = seen[0]
    assert abs(float(noise.std()) - 0.15) < 0.003 and abs(float(noise.mean())) < 0.003


def test_pgd_stays_in_the_ball_and_raises_the_loss(model):
    x, y = data(32, 6)
    loss = nn.BCEWithLogitsLoss()
    delta = pgd(model, x, y, loss, eps=0.05, step=0.005, steps=15)
    assert float(delta.abs().max()) <= 0.05 + 1e-7
    steps = delta / 0.005  # signed steps of 0.005 from 0, clipped at 0.05 = 10 steps: whole multiples
    torch.testing.assert_close(steps, steps.round(), atol=1e-4, rtol=0)
    assert float((delta.abs() == 0.05).float().mean()) > 0.3
    with torch.no_grad():
        assert loss(model(x + delta), y) > loss(model(x), y)
    assert not model.training


def test_one_pgd_step_of_the_full_radius_is_fgsm(model):
    """FGSM (Goodfellow et al.): delta = eps * sign(d loss / dx) at x, the model in inference mode."""
    x, y = data(32, 6)
    loss = nn.BCEWithLogitsLoss()
    eps = 0.03
    xg = x.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(loss(model(xg), y), xg)
    delta = pgd(model, x, y, loss, eps, eps, 1)
    torch.testing.assert_close(delta, eps * grad.sign(), rtol=0, atol=0)
    assert float((delta.abs() == eps).float().mean()) > 0.9  # few gradient entries are exactly 0


@pytest.mark.parametrize("epoch", [1, 2, 10])
def test_fgsm_settings_train_on_clean_plus_adversarial_batches_from_the_first_epoch(epoch):
    """adv_steps 1, adv_step = adv_eps, adv_clean_epochs 0, adv_mixed_until >= max_epochs: every epoch's batch
    loss is the BCE of the clean batch concatenated with its FGSM copy, and draws no random numbers."""
    torch.manual_seed(2)
    net = build_model("seq_cnn", n_filters=8, hidden=16)  # no dropout: training mode is deterministic
    g = torch.Generator().manual_seed(3)
    x = nn.functional.one_hot(torch.randint(0, 20, (24, 40), generator=g), 20).float().transpose(1, 2)
    y = torch.randint(0, 2, (24, 1), generator=g).float()
    loss = nn.BCEWithLogitsLoss()
    eps = 0.09
    config = RegularizerConfig("adversarial", adv_eps=eps, adv_step=eps, adv_steps=1, adv_clean_epochs=0,
                               adv_mixed_until=10)
    assert adversarial_phase(epoch, config) == "mixed"
    rng = torch.Generator().manual_seed(4)
    state = rng.get_state()
    got = batch_loss(net.train(), x, y, loss, config, epoch, rng)
    assert net.training and torch.equal(rng.get_state(), state)
    xg = x.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(loss(net(xg), y), xg)
    with torch.no_grad():
        want = loss(net(torch.cat([x, x + eps * grad.sign()])), torch.cat([y, y]))
        clean, adv = loss(net(x), y), loss(net(x + eps * grad.sign()), y)
    torch.testing.assert_close(got.detach(), want)
    torch.testing.assert_close(want, (clean + adv) / 2)  # equal weights on the clean and adversarial losses
    assert adv > clean


def test_adversarial_schedule():
    config = RegularizerConfig("adversarial")
    assert [adversarial_phase(e, config) for e in (1, 5, 6, 20, 21, 100)] == \
        ["clean", "clean", "mixed", "mixed", "adversarial", "adversarial"]


def test_spectral_norm_power_iteration_converges_to_the_largest_singular_value(model):
    estimates = SpectralNorm().sigmas(model, torch.Generator().manual_seed(7), iterations=3000)
    kernels = [m.weight for m in model.modules() if isinstance(m, (nn.Conv1d, nn.Linear))]
    exact = [torch.linalg.matrix_norm(SpectralNorm.matrix(w).detach(), ord=2) for w in kernels]
    np.testing.assert_allclose(estimates.detach().numpy(), torch.stack(exact).numpy(), rtol=1e-3)
    assert SpectralNorm.matrix(kernels[0]).shape == (19 * 4, 24)


def test_spectral_norm_penalty_is_half_lambda_sum_of_squares(model):
    x, y = data(8, 8)
    loss = nn.BCEWithLogitsLoss()
    spectral = SpectralNorm()
    config = RegularizerConfig("spectral_norm", spectral_lambda=0.01)
    total = batch_loss(model, x, y, loss, config, 1, torch.Generator().manual_seed(9), spectral)
    sigmas = SpectralNorm(dict(spectral.vectors)).sigmas(model, torch.Generator(), iterations=0)
    torch.testing.assert_close(total, loss(model(x), y) + 0.005 * sigmas.square().sum())


@pytest.fixture
def one_thread():
    """One intra-op thread: bit-identical reruns do not then depend on how a loaded machine splits a reduction."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.mark.parametrize("name", [r for r in REGULARIZERS if r != "none"])
def test_training_with_each_regularizer_is_seeded(name, one_thread):
    x, y = data(200, 10)
    xv, yv = data(60, 11)
    config = TrainConfig(max_epochs=2, batch_size=50, log_every=0, seed=3,
                         regularizer=RegularizerConfig(name, adv_clean_epochs=0, adv_mixed_until=1, adv_steps=3))
    runs = []
    for _ in range(2):
        torch.manual_seed(1)
        trained, history = train(build_model("cnn_consistency", activation="exp", n_filters=8), x, y, xv, yv, config)
        runs.append((history, trained.state_dict()))
    assert [h["loss"] for h in runs[0][0]] == [h["loss"] for h in runs[1][0]]
    for key, value in runs[0][1].items():
        torch.testing.assert_close(value, runs[1][1][key])
    assert all(np.isfinite(h["loss"]) for h in runs[0][0])


def test_regularizer_config_round_trips_and_the_engine_refuses_regularizers():
    config = TrainConfig(regularizer=RegularizerConfig("mixup", mixup_alpha=0.4))
    assert TrainConfig.from_dict(dataclasses.asdict(config)) == config
    with pytest.raises(ValueError, match="unknown regularizer"):
        RegularizerConfig("cutout")
    x, y = data(20, 12)
    with pytest.raises(ValueError, match="regularizer"):
        train_ensemble([build_model("cnn_shallow"), build_model("cnn_shallow")], x, y, x, y, [config, config])


def test_angle_norms_are_the_l2_norms_of_the_simplex_angles():
    g = np.random.default_rng(0).normal(size=(5, 4, 30))
    g[0, :, 3] = 0.0  # no direction: counted as angle 0, not NaN
    g[1, :, 4] = 1.0  # along (1, 1, 1, 1): angle 90 (the sine kept just inside 1)
    expected = np.sqrt(np.nansum(simplex_angle(g) ** 2, axis=1))
    # to within 0.1 degree: the 90-degree angle comes out as asin(1 - 1e-6), 89.92 degrees
    torch.testing.assert_close(angle_norms(torch.as_tensor(g)), torch.as_tensor(expected), rtol=1e-6, atol=0.1)
    assert angle_norms(torch.as_tensor(g[1:2, :, 4:5]))[0] > 89.9
    # differentiable everywhere, also where every angle is 0 (a zero-mean map)
    flat = torch.as_tensor(g - g.mean(axis=1, keepdims=True)).requires_grad_(True)
    angle_norms(flat).sum().backward()
    assert torch.isfinite(flat.grad).all()
    with pytest.raises(ValueError, match="4 letters"):
        angle_norms(torch.zeros(2, 3, 10))


def test_training_saliency_is_the_saliency_map_and_the_angle_loss_adds_the_penalty(model):
    x, y = data(16, 13)
    torch.testing.assert_close(training_saliency(model, x), torch.as_tensor(attribute(model, x.numpy(), "saliency")),
                               rtol=1e-4, atol=1e-7)
    loss = nn.BCEWithLogitsLoss()
    config = RegularizerConfig("angle", angle_lambda=0.003)
    total = batch_loss(model, x, y, loss, config, 1, torch.Generator())
    expected = loss(model(x), y) + 0.003 * angle_norms(training_saliency(model, x)).mean()
    torch.testing.assert_close(total, expected)
    # the penalty is differentiable in the weights (double backpropagation) and pulls the first kernel's mean
    model.zero_grad()
    (config.angle_lambda * angle_norms(training_saliency(model, x)).mean()).backward()
    first = model[0].weight.grad
    assert first is not None and first.mean(dim=1).abs().max() > 0
    model.zero_grad()


@pytest.mark.parametrize("name", ["mixup", "manifold_mixup"])
def test_mixup_clean_adds_the_clean_batch_loss(model, name):
    """The same draws (the generator ends in the same state), plus the BCE of the unmixed batch; the model is in
    eval mode, so the passes do not differ by dropout."""
    x, y = data(16, 14)
    loss = nn.BCEWithLogitsLoss()
    rngs = [torch.Generator().manual_seed(15) for _ in range(2)]
    mixed = batch_loss(model, x, y, loss, RegularizerConfig(name, mixup_alpha=0.4), 1, rngs[0])
    both = batch_loss(model, x, y, loss, RegularizerConfig(name, mixup_alpha=0.4, mixup_clean=True), 1, rngs[1])
    torch.testing.assert_close(rngs[0].get_state(), rngs[1].get_state())
    with torch.no_grad():
        clean = loss(model(x), y)
    torch.testing.assert_close(both.detach(), mixed.detach() + clean)
    assert clean.item() > 0.1 and not torch.isclose(both.detach(), mixed.detach())
    config = TrainConfig(regularizer=RegularizerConfig(name, mixup_clean=True))
    assert TrainConfig.from_dict(dataclasses.asdict(config)).regularizer.mixup_clean is True
