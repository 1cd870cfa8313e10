"""Attribution methods (saliency, integrated gradients, SmoothGrad, expected gradients) and their engine.

captum is a test-only dependency: it checks our maps against an independent implementation.
"""


import numpy as np
import pytest
import torch
from captum.attr import GradientShap, IntegratedGradients, NoiseTunnel, Saliency
from torch import nn

from gradcorr import attribute, attribution
from gradcorr.attribution import _input_layer, attribute_members, iter_attribute_members, random_draws
from gradcorr.models.architectures import KerasFlatten, build_model, fold_batchnorm
from gradcorr.models.ensemble import EnsembleCNN

RULES = ["riemann_trapezoid", "riemann_left", "riemann_right", "riemann_middle"]


def one_hot(n: int, length: int = 200, seed: int = 0, dtype=np.float64) -> np.ndarray:
    letters = np.random.default_rng(seed).integers(0, 4, (n, length))
    return np.eye(4, dtype=dtype)[letters].transpose(0, 2, 1).copy()


@pytest.fixture(scope="module")
def deep64() -> nn.Module:
    """A small CNN-deep in float64 (tight comparisons) with non-trivial BatchNorm statistics."""
    torch.manual_seed(0)
    model = build_model("cnn_deep", activation="exp", n_filters=8).double()
    for bn in (m for m in model.modules() if isinstance(m, nn.BatchNorm1d)):
        bn.running_mean.uniform_(-0.2, 0.2)
        bn.running_var.uniform_(0.5, 2.0)
    return model.eval()


@pytest.fixture(scope="module")
def deep32() -> nn.Module:
    torch.manual_seed(1)
    return build_model("cnn_deep", activation="exp", n_filters=8).eval()


def forward_func(model: nn.Module, output: str):
    """captum's view of the score: one scalar per sequence, (N,)."""
    return lambda u: torch.sigmoid(model(u))[:, 0] if output == "sigmoid" else model(u)[:, 0]


def linear_model() -> nn.Module:
    """logit = sum(W * x) + b: every input gradient of the logit is W."""
    torch.manual_seed(3)
    return nn.Sequential(nn.Flatten(), nn.Linear(4 * 10, 1)).double()


def test_saliency_of_a_linear_model_is_its_weights():
    model = linear_model()
    w = model[1].weight.detach().reshape(4, 10).numpy()
    x = np.eye(4)[np.random.default_rng(0).integers(0, 4, size=(6, 10))].transpose(0, 2, 1)
    logit_map = attribute(model, torch.from_numpy(x), output="logit").numpy()
    np.testing.assert_allclose(logit_map, np.broadcast_to(w, logit_map.shape), atol=1e-12)
    z = (x * w).sum(axis=(1, 2)) + model[1].bias.item()
    s = 1 / (1 + np.exp(-z))
    sigmoid_map = attribute(model, torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(sigmoid_map, (s * (1 - s))[:, None, None] * w, atol=1e-12)


def test_saliency_matches_per_sequence_autograd_and_is_batch_independent():
    model = build_model("cnn_deep", activation="exp")
    model.train()
    x = torch.from_numpy(np.eye(4, dtype=np.float32)[np.random.default_rng(1).integers(0, 4, (9, 200))]
                         ).transpose(1, 2).contiguous()
    maps = attribute(model, x.numpy(), batch_size=4)
    assert isinstance(maps, np.ndarray) and maps.shape == (9, 4, 200)
    assert model.training, "attribute must restore the model's mode"
    model.eval()
    for i in (0, 8):
        xi = x[i:i + 1].clone().requires_grad_(True)
        torch.sigmoid(model(xi))[0, 0].backward()
        np.testing.assert_allclose(maps[i], xi.grad[0].numpy(), rtol=1e-4, atol=1e-7)
    np.testing.assert_allclose(attribute(model, x.numpy(), batch_size=9), maps, rtol=1e-5, atol=1e-8)


def test_attribute_rejects_bad_input():
    model = build_model("cnn_shallow")
    with pytest.raises(ValueError, match="method"):
        attribute(model, np.zeros((1, 4, 200)), method="occlusion")
    with pytest.raises(ValueError, match="shape"):
        attribute(model, np.zeros((4, 200)))


# --- captum equivalences -------------------------------------------------------------------------

@pytest.mark.parametrize("output", ["sigmoid", "logit"])
def test_saliency_matches_captum(deep64, output):
    x = torch.from_numpy(one_hot(3))
    ours = attribute(deep64, x, output=output, batch_size=2)
    theirs = Saliency(forward_func(deep64, output)).attribute(x, abs=False)
    torch.testing.assert_close(ours, theirs, rtol=1e-10, atol=1e-13)


@pytest.mark.parametrize("output", ["sigmoid", "logit"])
@pytest.mark.parametrize("rule", RULES)
def test_integrated_gradients_matches_captum(deep64, rule, output):
    """Our map times (x - b) is captum's IG with the same explicit baseline b and n_steps.

    captum's trapezoid weighs its n points 1/n (halved at the ends), so they sum to (n-1)/n; ours are
    a true trapezoid on [0, 1] (1/(n-1), sum 1), hence the factor (n-1)/n there. Tolerance: captum
    rounds its points and weights to float32 (relative error ~1e-8).
    """
    steps = 12
    x = torch.from_numpy(one_hot(3, seed=1))
    baseline = random_draws(x, "integrated_gradients", reference="dinuc", seed=5)[:, 0]
    ours = attribute(deep64, x, "integrated_gradients", steps=steps, rule=rule, reference=baseline,
                     output=output, batch_size=16)
    theirs = IntegratedGradients(forward_func(deep64, output)).attribute(
        x, baselines=baseline, n_steps=steps, method=rule)
    factor = (steps - 1) / steps if rule == "riemann_trapezoid" else 1.0
    expected = ours * (x - baseline) * factor
    torch.testing.assert_close(expected, theirs, rtol=1e-6, atol=1e-7 * theirs.abs().max().item())
    assert theirs.abs().max() > 1e-4, "a vacuous comparison"


def test_smoothgrad_matches_captum_noise_tunnel(deep64, monkeypatch):
    """captum's NoiseTunnel draws its noise with one torch.normal(0, std) call of shape
    (N * n_samples, A, L), samples of a sequence adjacent (repeat_interleave). We give it our own
    draws (`random_draws`, the noise `attribute` adds for that seed) by replacing torch.normal for
    the duration of the captum call, after checking that call asks for sd 0.1 noise of that shape."""
    x = torch.from_numpy(one_hot(3, seed=2))
    ours = attribute(deep64, x, "smoothgrad", n_samples=25, noise_sd=0.1, seed=4, batch_size=30)
    noise = random_draws(x, "smoothgrad", n_samples=25, noise_sd=0.1, seed=4)
    assert noise.shape == (3, 25, 4, 200)
    assert noise.std().item() == pytest.approx(0.1, rel=0.02)
    calls = []

    def our_normal(mean, std):
        assert mean == 0 and std.shape == (3 * 25, 4, 200) and torch.all(std == 0.1)
        calls.append(1)
        return noise.reshape(std.shape)

    monkeypatch.setattr(torch, "normal", our_normal)
    theirs = NoiseTunnel(Saliency(forward_func(deep64, "sigmoid"))).attribute(
        x, nt_type="smoothgrad", nt_samples=25, stdevs=0.1, abs=False)
    monkeypatch.undo()
    assert len(calls) == 1
    torch.testing.assert_close(ours, theirs, rtol=1e-9, atol=1e-12)
    plain = attribute(deep64, x)
    assert (ours - plain).abs().max() > 1e-3 * plain.abs().max(), "noise must change the map"


@pytest.mark.parametrize("reference", ["permute", "distribution"])
def test_gradient_shap_matches_captum(deep64, monkeypatch, reference):
    """captum's GradientShap (multiply_by_inputs=False) with our draws: captum takes the noise from one
    torch.normal(0, std) call (N * n_samples rows, samples of a sequence adjacent), the references'
    indices from np.random.choice and the points alpha from np.random.uniform; we hand it ours
    (`gradient_shap_draws`, the draws `attribute` makes for that seed) for the duration of the call."""
    n, samples = 3, 7
    x = torch.from_numpy(one_hot(n, seed=3))
    pool = torch.from_numpy(one_hot(4, seed=9)) if reference == "distribution" else None
    options = {"n_samples": samples, "noise_sd": 0.2, "seed": 6, "reference": pool if pool is not None else "permute"}
    ours = attribute(deep64, x, "gradient_shap", batch_size=10, **options)
    parts = attribution.gradient_shap_draws(x, samples, 0.2, options["reference"])
    noise, alpha, base = parts(0, n, torch.Generator().manual_seed(6))
    if pool is None:  # one reference per sample: captum's distribution is all of them, indexed in order
        pool, index = base.reshape(n * samples, *x.shape[1:]), np.arange(n * samples)
    else:
        index = np.array([[int(np.flatnonzero((pool == b).all(axis=(1, 2)).numpy())[0]) for b in row] for row in base])
    monkeypatch.setattr(torch, "normal", lambda mean, std: noise.reshape(std.shape))
    monkeypatch.setattr(np.random, "choice", lambda r, size: index.reshape(-1))
    monkeypatch.setattr(np.random, "uniform", lambda lo, hi, size: alpha.reshape(-1).numpy())
    theirs = GradientShap(forward_func(deep64, "sigmoid"), multiply_by_inputs=False).attribute(
        x, baselines=pool, n_samples=samples, stdevs=0.2)
    monkeypatch.undo()
    torch.testing.assert_close(ours, theirs, rtol=1e-9, atol=1e-12)
    assert (ours - attribute(deep64, x)).abs().max() > 1e-3 * ours.abs().max(), "the points must matter"


@pytest.mark.parametrize("reference", ["zeros", "uniform", "permute", "dinuc"])
def test_gradient_shap_of_a_linear_model_is_its_weights(reference):
    model = linear_model()
    w = model[1].weight.detach().reshape(4, 10).numpy()
    x = torch.from_numpy(one_hot(5, length=10))
    maps = attribute(model, x, "gradient_shap", reference=reference, noise_sd=0.3, output="logit").numpy()
    np.testing.assert_allclose(maps, np.broadcast_to(w, maps.shape), rtol=1e-12, atol=1e-14)


def test_gradient_shap_points_lie_between_reference_and_noisy_input():
    """The model inputs are b + alpha (x + eps - b) with alpha in [0, 1): without noise, zeros references
    give alpha x, so every input is a multiple in [0, 1) of its sequence, and alphas are spread."""
    x = torch.from_numpy(one_hot(20, length=10))
    points = random_draws(x, "gradient_shap", n_samples=50, reference="zeros")
    assert points.shape == (20, 50, 4, 10)
    alpha = points.sum(dim=(2, 3)) / 10
    torch.testing.assert_close(points, alpha[..., None, None] * x[:, None])
    assert alpha.min() >= 0 and alpha.max() < 1 and abs(alpha.mean().item() - 0.5) < 0.05
    with pytest.raises(ValueError, match=r"\(R, A, L\)"):
        attribute(linear_model(), x, "gradient_shap", reference=np.zeros((2, 3, 10)))


# --- closed forms and identities ----------------------------------------------------------------

@pytest.mark.parametrize("rule", RULES)
@pytest.mark.parametrize("reference", ["permute", "dinuc", "zeros", "uniform", "explicit"])
def test_integrated_gradients_of_a_linear_model_is_its_weights(rule, reference):
    model = linear_model()
    w = model[1].weight.detach().reshape(4, 10).numpy()
    x = torch.from_numpy(one_hot(5, length=10))
    if reference == "explicit":
        reference = np.random.default_rng(1).normal(size=(4, 10))  # broadcasts over sequences
    maps = attribute(model, x, "integrated_gradients", rule=rule, reference=reference, output="logit").numpy()
    np.testing.assert_allclose(maps, np.broadcast_to(w, maps.shape), rtol=1e-12, atol=1e-14)


def test_smoothgrad_without_noise_is_saliency(deep32):
    x = one_hot(4, seed=3, dtype=np.float32)
    smooth = attribute(deep32, x, "smoothgrad", noise_sd=0.0, n_samples=5, batch_size=7)
    # float32 rounding: the two run the layers after the first with different convolution algorithms
    np.testing.assert_allclose(smooth, attribute(deep32, x), rtol=1e-5, atol=1e-8)


@pytest.mark.parametrize("reference", ["permute", "dinuc"])
def test_expected_gradients_with_one_reference_is_integrated_gradients(deep32, reference):
    """Same seed, same reference draw: one reference per sequence comes from the same generator calls."""
    x = one_hot(3, seed=4, dtype=np.float32)
    eg = attribute(deep32, x, "expected_gradients", n_references=1, steps=6, reference=reference, seed=9)
    ig = attribute(deep32, x, "integrated_gradients", steps=6, reference=reference, seed=9)
    np.testing.assert_array_equal(eg, ig)
    other = attribute(deep32, x, "integrated_gradients", steps=6, reference=reference, seed=10)
    assert not np.allclose(ig, other), "a different reference must change the map"


def test_expected_gradients_is_the_mean_over_its_references(deep64):
    """EG equals the mean of IG maps with its references passed explicitly, one at a time."""
    x = torch.from_numpy(one_hot(2, seed=5))
    refs = random_draws(x, "expected_gradients", n_references=2, steps=4, seed=2)
    assert refs.shape == (2, 2, 4, 200)
    eg = attribute(deep64, x, "expected_gradients", n_references=2, steps=4, seed=2, batch_size=5)
    igs = [attribute(deep64, x, "integrated_gradients", steps=4, reference=refs[:, r]) for r in range(2)]
    torch.testing.assert_close(eg, sum(igs) / 2, rtol=1e-10, atol=1e-14)


# --- batching, memory bound, seeds ---------------------------------------------------------------

CASES = [("integrated_gradients", {"steps": 10, "reference": "dinuc"}),
         ("smoothgrad", {"n_samples": 9}),
         ("expected_gradients", {"n_references": 3, "steps": 4}),
         ("gradient_shap", {"n_samples": 6, "noise_sd": 0.1, "reference": "permute"})]


@pytest.mark.parametrize("method,options", CASES)
def test_results_do_not_depend_on_batch_size(deep32, monkeypatch, method, options):
    """batch_size 7 splits every sequence's inputs across passes; 10_000 puts all in one pass.
    Draw blocks of 2 sequences make the draws stream across blocks while chunks cross them."""
    monkeypatch.setattr(attribution, "DRAW_BLOCK", 2)
    x = one_hot(5, seed=6, dtype=np.float32)
    small = attribute(deep32, x, method, batch_size=7, **options)
    large = attribute(deep32, x, method, batch_size=10_000, **options)
    np.testing.assert_allclose(small, large, rtol=1e-5, atol=1e-5 * np.abs(large).max())  # float32 sums
    assert np.abs(large).max() > 0


def test_batch_size_is_the_most_inputs_per_pass(deep32, monkeypatch):
    """Expected gradients: 3 x 4 = 12 inputs per sequence; 5 sequences go through in passes of at
    most batch_size inputs, several sequences per pass, no pass per sequence. (Counted at the engine's
    forward/backward passes: attribution runs the layers after the first on a BatchNorm-folded,
    channels-last copy, which calls no module of the model.)"""
    x = one_hot(5, seed=7, dtype=np.float32)
    sizes = []
    passes = attribution._input_gradients

    def counted(forward, heads, u, weights=None):
        sizes.append(len(u))
        return passes(forward, heads, u, weights)

    monkeypatch.setattr(attribution, "_input_gradients", counted)
    attribute(deep32, x, "expected_gradients", n_references=3, steps=4, batch_size=25)
    assert sizes == [25, 25, 10]
    sizes.clear()
    attribute(deep32, x, "expected_gradients", n_references=3, steps=4, batch_size=1000)
    assert sizes == [60]


@pytest.mark.parametrize("method,options", CASES)
def test_seeds(deep32, method, options):
    x = one_hot(3, seed=8, dtype=np.float32)
    first = attribute(deep32, x, method, seed=1, **options)
    np.testing.assert_array_equal(first, attribute(deep32, x, method, seed=1, **options))
    assert not np.allclose(first, attribute(deep32, x, method, seed=2, **options))


def test_kinds_dtypes_and_model_mode():
    """Maps come from the model in inference mode (no dropout), whatever its mode, which is restored."""
    model = build_model("cnn_shallow", n_filters=4).train()
    x = one_hot(2, seed=9, dtype=np.float32)
    out = attribute(model, x, "expected_gradients", n_references=2, steps=3)
    assert isinstance(out, np.ndarray) and out.dtype == np.float32 and out.shape == (2, 4, 200)
    assert model.training, "attribute must restore the model's mode"
    np.testing.assert_array_equal(out, attribute(model.eval(), x, "expected_gradients", n_references=2, steps=3))
    model.train()
    out_t = attribute(model, torch.from_numpy(x), "smoothgrad", n_samples=3)
    assert isinstance(out_t, torch.Tensor) and out_t.dtype == torch.float32 and out_t.device == torch.device("cpu")
    assert attribute(model, x[:0], "integrated_gradients").shape == (0, 4, 200)


# --- errors --------------------------------------------------------------------------------------

def test_bad_method_and_options_are_named():
    model = build_model("cnn_shallow", n_filters=4)
    x = one_hot(1, dtype=np.float32)
    with pytest.raises(ValueError, match="occlusion"):
        attribute(model, x, method="occlusion")
    with pytest.raises(ValueError, match="'steps'.*smoothgrad"):
        attribute(model, x, "smoothgrad", steps=5)
    with pytest.raises(ValueError, match="'seed'.*saliency"):
        attribute(model, x, seed=1)
    with pytest.raises(ValueError, match="riemann_simpson"):
        attribute(model, x, "integrated_gradients", rule="riemann_simpson")
    with pytest.raises(ValueError, match="shuffle"):
        attribute(model, x, "integrated_gradients", reference="shuffle")
    with pytest.raises(ValueError, match="zeros"):
        attribute(model, x, "expected_gradients", reference="zeros")
    with pytest.raises(ValueError, match="broadcast"):
        attribute(model, x, "integrated_gradients", reference=np.zeros((4, 7)))
    with pytest.raises(ValueError, match="steps"):
        attribute(model, x, "integrated_gradients", steps=1)
    with pytest.raises(ValueError, match="batch_size"):
        attribute(model, x, "smoothgrad", batch_size=0)


# --- ensembles: all members in one pass ------------------------------------------------------------

class StandInEnsemble(nn.Module):
    """K independent members side by side on the channel axis: member k reads channels k*A:(k+1)*A of
    (M, K*A, L) and gives logit column k."""

    def __init__(self, members: list[nn.Module], alphabet: int = 4):
        super().__init__()
        self.members, self.alphabet = nn.ModuleList(members), alphabet

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = self.alphabet
        if x.shape[1] != len(self.members) * a:
            raise RuntimeError(f"expected {len(self.members) * a} channels, got {x.shape[1]}")
        return torch.cat([member(x[:, k * a:(k + 1) * a]) for k, member in enumerate(self.members)], dim=1)


def tiny_cnn(seed: int, width: int) -> nn.Module:
    """A small float64 CNN, (M, 4, L) -> (M, 1), with BatchNorm statistics that matter in eval mode."""
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Conv1d(4, width, 7, padding=3), nn.BatchNorm1d(width), nn.ReLU(), nn.Dropout(0.5),
                          nn.MaxPool1d(4), nn.Flatten(), nn.Linear(width * 10, 1)).double()
    model[1].running_mean.uniform_(-0.2, 0.2)
    model[1].running_var.uniform_(0.5, 2.0)
    return model


@pytest.fixture
def ensemble() -> StandInEnsemble:
    """Three members of different widths, in training mode (attribution must switch off dropout)."""
    return StandInEnsemble([tiny_cnn(10, 3), tiny_cnn(11, 5), tiny_cnn(12, 2)]).train()


MEMBER_CASES = [("saliency", {}),
                ("integrated_gradients", {"steps": 5, "reference": "dinuc", "seed": 3}),
                ("integrated_gradients", {"steps": 4, "rule": "riemann_middle", "reference": "zeros"}),
                ("smoothgrad", {"n_samples": 4, "noise_sd": 0.2, "seed": 5}),
                ("expected_gradients", {"n_references": 2, "steps": 3, "seed": 7}),
                ("gradient_shap", {"n_samples": 4, "noise_sd": 0.1, "reference": "dinuc", "seed": 9})]


@pytest.mark.parametrize("batch_size", [2, 40])
@pytest.mark.parametrize("method,options", MEMBER_CASES)
def test_attribute_members_equals_attributing_each_member(ensemble, method, options, batch_size):
    """Column k is `attribute` of member k alone with the same options and seed. batch_size 2 < K = 3
    puts one tiled input in a pass; 40 puts several sequences' inputs in one."""
    x = torch.from_numpy(one_hot(5, length=40, seed=13))
    for output in ("sigmoid", "logit"):
        maps = attribute_members(ensemble, x, method, members=3, output=output, batch_size=batch_size, **options)
        assert maps.shape == (5, 3, 4, 40) and maps.dtype == torch.float64
        for k, member in enumerate(ensemble.members):
            alone = attribute(member, x, method, output=output, batch_size=7, **options)
            torch.testing.assert_close(maps[:, k], alone, rtol=1e-10, atol=1e-14)
            assert alone.abs().max() > 0
    assert ensemble.training and all(p.requires_grad for p in ensemble.parameters()), "mode and flags restored"


def test_attribute_members_kinds_and_passes(ensemble):
    """NumPy in, float32 NumPy out; batch_size counts member-inputs: 7 // 3 = 2 tiled inputs per pass."""
    ensemble = ensemble.float()
    x = one_hot(3, length=40, seed=14, dtype=np.float32)
    sizes = []
    hook = ensemble.register_forward_hook(lambda module, args, out: sizes.append(tuple(args[0].shape)))
    try:
        maps = attribute_members(ensemble, x, "smoothgrad", members=3, n_samples=3, batch_size=7)
    finally:
        hook.remove()
    assert isinstance(maps, np.ndarray) and maps.dtype == np.float32 and maps.shape == (3, 3, 4, 40)
    assert sizes[0] == (1, 12, 40), "a probe of one input checks the channels and the logits first"
    assert sizes[1:] == [(2, 12, 40)] * 4 + [(1, 12, 40)]
    alone = attribute(ensemble.members[1], x, "smoothgrad", n_samples=3)
    np.testing.assert_allclose(maps[:, 1], alone, rtol=1e-5, atol=1e-6 * np.abs(alone).max())
    assert attribute_members(ensemble, x[:0], "integrated_gradients", members=3).shape == (0, 3, 4, 40)


def test_attribute_members_of_one_model_is_attribute(deep32):
    x = one_hot(4, seed=15, dtype=np.float32)
    maps = attribute_members(deep32, x, "expected_gradients", members=1, n_references=2, steps=3, batch_size=5)
    assert maps.shape == (4, 1, 4, 200)
    np.testing.assert_array_equal(maps[:, 0], attribute(deep32, x, "expected_gradients", n_references=2, steps=3,
                                                        batch_size=5))


def test_attribute_members_bad_inputs(ensemble):
    x = one_hot(2, length=40, dtype=np.float64)
    with pytest.raises(ValueError, match="2 members x 4 channels"):
        attribute_members(ensemble, torch.from_numpy(x), members=2)
    with pytest.raises(ValueError, match=r"logits \(M, 4\)"):
        four_in_three_out = nn.Sequential(StandInEnsemble([*ensemble.members, tiny_cnn(13, 2)]), nn.Linear(4, 3))
        attribute_members(four_in_three_out.double(), torch.from_numpy(x), members=4)
    with pytest.raises(ValueError, match="3 members x 12 channels"):
        attribute_members(ensemble, torch.from_numpy(np.tile(x, (1, 3, 1))), members=3)  # x already tiled
    for members in (0, 1.5, None):
        with pytest.raises(ValueError, match="members must be an integer"):
            attribute_members(ensemble, torch.from_numpy(x), members=members)
    with pytest.raises(ValueError, match=r"shape \(N, A, L\)"):
        attribute_members(ensemble, torch.from_numpy(x[0]), members=3)
    with pytest.raises(ValueError, match="'steps'.*saliency"):
        attribute_members(ensemble, torch.from_numpy(x), members=3, steps=3)
    with pytest.raises(ValueError, match="batch_size"):
        attribute_members(ensemble, torch.from_numpy(x), members=3, batch_size=0)
    assert ensemble.training and all(p.requires_grad for p in ensemble.parameters())


# --- exact shortcuts: the first layer once per sequence, streamed blocks -------------

def shallow_members(widths: list[int]) -> list[nn.Module]:
    """Float64 CNN-shallow members of different first-layer widths, non-trivial BatchNorm statistics."""
    members = []
    for i, width in enumerate(widths):
        torch.manual_seed(30 + i)
        model = build_model("cnn_shallow", activation="exp", n_filters=width).double()
        for bn in (m for m in model.modules() if isinstance(m, nn.BatchNorm1d)):
            bn.running_mean.uniform_(-0.2, 0.2)
            bn.running_var.uniform_(0.5, 2.0)
        members.append(model.eval())
    return members


SHORTCUT_CASES = [("integrated_gradients", {"steps": 6, "reference": "dinuc", "seed": 1}),
                  ("smoothgrad", {"n_samples": 5, "noise_sd": 0.3, "seed": 2}),
                  ("expected_gradients", {"n_references": 3, "steps": 4, "seed": 3}),
                  ("gradient_shap", {"n_samples": 5, "noise_sd": 0.2, "reference": "permute", "seed": 4})]


@pytest.mark.parametrize("method,options", SHORTCUT_CASES)
def test_first_layer_shortcut_equals_running_every_input_through_it(deep64, monkeypatch, method, options):
    """The same maps (float64) with the first layer applied once per sequence and draw as with every model
    input through the whole model, for one model and for an ensemble of members of different widths;
    batch_size 7 splits sequences across passes."""
    x = torch.from_numpy(one_hot(5, seed=21))
    members = shallow_members([3, 6])
    assert _input_layer(fold_batchnorm(deep64)) is not None and _input_layer(EnsembleCNN(members)) is not None
    fast = attribute(deep64, x, method, batch_size=7, **options)
    fast_members = attribute_members(members, x, method, batch_size=7, **options)
    monkeypatch.setattr(attribution, "_input_layer", lambda model, members=1: None)
    torch.testing.assert_close(fast, attribute(deep64, x, method, batch_size=7, **options), rtol=1e-10, atol=1e-14)
    torch.testing.assert_close(fast_members, attribute_members(members, x, method, batch_size=7, **options),
                               rtol=1e-10, atol=1e-14)
    assert fast.abs().max() > 0


@pytest.mark.parametrize("method,options", MEMBER_CASES)
def test_attribute_members_of_a_list_of_models(method, options):
    """A list of models is stacked (BatchNorm folded): column k is `attribute` of model k."""
    members = shallow_members([4, 2, 5])
    x = torch.from_numpy(one_hot(4, seed=22))
    maps = attribute_members(members, x, method, batch_size=9, **options)
    assert maps.shape == (4, 3, 4, 200)
    for k, member in enumerate(members):
        torch.testing.assert_close(maps[:, k], attribute(member, x, method, **options), rtol=1e-10, atol=1e-14)
    with pytest.raises(ValueError, match="members=2 but 3 models"):
        attribute_members(members, x, members=2)
    # a list of one model is an ensemble of one member (its dense layers per member, as for three)
    torch.testing.assert_close(attribute_members(members[:1], x, method, **options)[:, 0],
                               attribute(members[0], x, method, **options), rtol=1e-10, atol=1e-14)


def test_iter_attribute_members_streams_blocks(monkeypatch):
    """Blocks of 3 sequences of 7, in order, make up attribute_members' result; draws (made for blocks of
    DRAW_BLOCK = 2 sequences) do not depend on the blocks."""
    monkeypatch.setattr(attribution, "DRAW_BLOCK", 2)
    members = shallow_members([3, 4])
    x = torch.from_numpy(one_hot(7, seed=23))
    options = {"n_references": 2, "steps": 3, "seed": 4}
    blocks = list(iter_attribute_members(members, x, "expected_gradients", block=3, batch_size=5, **options))
    assert [(i0, i1) for i0, i1, _ in blocks] == [(0, 3), (3, 6), (6, 7)]
    whole = attribute_members(members, x, "expected_gradients", batch_size=5, **options)
    torch.testing.assert_close(torch.cat([b for _, _, b in blocks]), whole, rtol=1e-10, atol=1e-14)


# --- targets: which output, several outputs, a function of the outputs ------------------------------

def multi_cnn(seed: int, width: int = 5, outputs: int = 3) -> nn.Sequential:
    """A small float64 CNN with `outputs` logits, (M, 4, 40) -> (M, outputs), with BatchNorm after its first
    convolution (folded by `attribute`, whose first-layer shortcut then applies) and non-trivial statistics."""
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Conv1d(4, width, 5, padding=2), nn.BatchNorm1d(width), nn.ReLU(), nn.MaxPool1d(4),
                          KerasFlatten(), nn.Linear(width * 10, outputs)).double()
    model[1].running_mean.uniform_(-0.2, 0.2)
    model[1].running_var.uniform_(0.5, 2.0)
    return model.eval()


def multi_basset(seed: int, filters: int, dense: int) -> nn.Sequential:
    """A small float64 Basset of 3 tasks (BatchNorm after its convolution and dense layer, dropout)."""
    torch.manual_seed(seed)
    model = build_model("basset", n_tasks=3, input_length=40, filters=(filters,), widths=(5,), pools=(4,),
                        dense=(dense,)).double()
    for bn in (m for m in model.modules() if isinstance(m, nn.BatchNorm1d)):
        bn.running_mean.uniform_(-0.2, 0.2)
        bn.running_var.uniform_(0.5, 2.0)
    return model.eval()


TARGET_CASES = [("saliency", {}),
                ("integrated_gradients", {"steps": 6, "rule": "riemann_trapezoid"}),
                ("smoothgrad", {"n_samples": 5, "noise_sd": 0.2, "seed": 3}),
                ("expected_gradients", {"n_references": 2, "steps": 5, "rule": "riemann_middle", "seed": 4}),
                ("gradient_shap", {"n_samples": 5, "noise_sd": 0.2, "reference": "permute", "seed": 5})]


def captum_map(forward, x: torch.Tensor, method: str, target: int | None, options: dict,
               monkeypatch) -> torch.Tensor:
    """captum's map of `method` for output `target` of `forward`, in our (unmultiplied) form, fed our draws
    (see the single-output captum tests above for how each method's draws reach captum)."""
    if method == "saliency":
        return Saliency(forward).attribute(x, target=target, abs=False)
    if method in ("integrated_gradients", "expected_gradients"):
        steps, rule = options["steps"], options["rule"]
        factor = (steps - 1) / steps if rule == "riemann_trapezoid" else 1.0  # captum's trapezoid sums to (n-1)/n
        refs = (options["reference"][:, None] if method == "integrated_gradients" else
                random_draws(x, method, **options))
        ig = IntegratedGradients(forward, multiply_by_inputs=False)
        return sum(ig.attribute(x, baselines=refs[:, r], target=target, n_steps=steps, method=rule)
                   for r in range(refs.shape[1])) / refs.shape[1] / factor
    if method == "smoothgrad":
        noise = random_draws(x, method, **options)
        with monkeypatch.context() as patch:
            patch.setattr(torch, "normal", lambda mean, std: noise.reshape(std.shape))
            return NoiseTunnel(Saliency(forward)).attribute(x, nt_type="smoothgrad", nt_samples=options["n_samples"],
                                                            stdevs=options["noise_sd"], abs=False, target=target)
    n, samples = len(x), options["n_samples"]
    noise, alpha, base = attribution.gradient_shap_draws(x, samples, options["noise_sd"], options["reference"])(
        0, n, torch.Generator().manual_seed(options["seed"]))
    with monkeypatch.context() as patch:
        patch.setattr(torch, "normal", lambda mean, std: noise.reshape(std.shape))
        patch.setattr(np.random, "choice", lambda r, size: np.arange(n * samples))
        patch.setattr(np.random, "uniform", lambda lo, hi, size: alpha.reshape(-1).numpy())
        return GradientShap(forward, multiply_by_inputs=False).attribute(
            x, baselines=base.reshape(n * samples, *x.shape[1:]), n_samples=samples, stdevs=options["noise_sd"],
            target=target)


@pytest.mark.parametrize("output", ["sigmoid", "logit"])
@pytest.mark.parametrize("method,options", TARGET_CASES)
def test_targets_match_captum_and_single_target_calls(monkeypatch, method, options, output):
    """Each map of a list of targets is captum's map for that target (captum's own `target`), and the
    `attribute` of that target alone, with the same draws; a callable summing two outputs gives the sum
    of their maps (every method's map is linear in the score's gradients, the draws being shared)."""
    model = multi_cnn(40)
    x = torch.from_numpy(one_hot(3, length=40, seed=41))
    if method == "integrated_gradients":
        options = {**options, "reference": random_draws(x, method, reference="dinuc", seed=5)[:, 0]}
    maps = attribute(model, x, method, output=output, target=[2, 0, 1], batch_size=8, **options)
    assert maps.shape == (3, 3, 4, 40) and maps.dtype == torch.float64
    forward = (lambda u: torch.sigmoid(model(u))) if output == "sigmoid" else model
    for i, j in enumerate([2, 0, 1]):
        theirs = captum_map(forward, x, method, j, options, monkeypatch)
        torch.testing.assert_close(maps[:, i], theirs, rtol=1e-6, atol=1e-8 * theirs.abs().max().item())
        torch.testing.assert_close(attribute(model, x, method, output=output, target=j, batch_size=8, **options),
                                   maps[:, i], rtol=1e-12, atol=1e-15)
    assert (maps[:, 0] - maps[:, 1]).abs().max() > 1e-2 * maps.abs().max(), "the targets' maps must differ"
    summed = attribute(model, x, method, output=output, target=lambda out: out[:, [0, 2]].sum(1), batch_size=8,
                       **options)
    torch.testing.assert_close(summed, maps[:, 1] + maps[:, 0], rtol=1e-10, atol=1e-14)


def test_a_callable_target_sees_the_output_after_the_sigmoid():
    """A score that is no sum of outputs, the product of two sigmoid outputs, against captum's saliency of it."""
    model = multi_cnn(42)
    x = torch.from_numpy(one_hot(4, length=40, seed=43))
    ours = attribute(model, x, target=lambda p: p[:, 0] * p[:, 1])
    theirs = Saliency(lambda u: torch.sigmoid(model(u))[:, 0] * torch.sigmoid(model(u))[:, 1]).attribute(x, abs=False)
    torch.testing.assert_close(ours, theirs, rtol=1e-10, atol=1e-14)
    logit = attribute(model, x, output="logit", target=lambda z: z[:, 0] * z[:, 1])
    assert (logit - ours).abs().max() > 1e-2 * ours.abs().max(), "output must apply before the callable"


def test_targets_of_a_profile_model():
    """Outputs (M, tasks, positions): a callable picks a window of one task's profile; an index explains the
    sum of that task's profile, as the callable of that sum does (with the first-layer shortcut too)."""
    torch.manual_seed(44)
    model = nn.Sequential(nn.Conv1d(4, 3, 5, padding=2), nn.ReLU(), nn.Conv1d(3, 2, 3, padding=1)).double().eval()
    x = torch.from_numpy(one_hot(3, length=20, seed=45))
    window = attribute(model, x, output="logit", target=lambda z: z[:, 1, 5:10].sum(1))
    theirs = Saliency(lambda u: model(u)[:, 1, 5:10].sum(1)).attribute(x, abs=False)
    torch.testing.assert_close(window, theirs, rtol=1e-10, atol=1e-14)
    options = {"steps": 4, "reference": "dinuc", "seed": 2}
    torch.testing.assert_close(attribute(model, x, "integrated_gradients", target=1, **options),
                               attribute(model, x, "integrated_gradients", target=lambda p: p[:, 1].sum(1), **options),
                               rtol=1e-10, atol=1e-14)


def test_negative_targets_count_from_the_end_and_empty_inputs_keep_the_target_axis():
    model = multi_cnn(46)
    x = torch.from_numpy(one_hot(2, length=40, seed=47))
    torch.testing.assert_close(attribute(model, x, target=-1), attribute(model, x, target=2), rtol=0, atol=0)
    torch.testing.assert_close(attribute(model, x, target=np.array([-3, 1]))[:, 0], attribute(model, x),
                               rtol=0, atol=0)
    assert attribute(model, x[:0], "smoothgrad", target=[0, 2]).shape == (0, 2, 4, 40)
    assert attribute_members([model, multi_cnn(48)], x[:0], target=(1, 1, 0)).shape == (0, 2, 3, 4, 40)


@pytest.mark.parametrize("method,options", MEMBER_CASES)
def test_attribute_members_of_multi_output_members(method, options):
    """Members of 3 outputs, stacked (a list of Bassets of different widths: EnsembleCNN, BatchNorm folded,
    first-layer shortcut) or side by side in one module (logits (M, members * 3), member-major): each
    member's maps are `attribute`'s for that member with the same targets."""
    members = [multi_basset(50, 4, 6), multi_basset(51, 6, 5)]
    x = torch.from_numpy(one_hot(3, length=40, seed=52))
    stacked = attribute_members(members, x, method, target=[2, -3], batch_size=9, **options)
    side_by_side = attribute_members(StandInEnsemble(members), x, method, members=2, target=[2, 0], batch_size=9,
                                     **options)
    assert stacked.shape == side_by_side.shape == (3, 2, 2, 4, 40)
    summed = attribute_members(members, x, method, target=lambda p: p[:, [0, 2]].sum(1), batch_size=9, **options)
    assert summed.shape == (3, 2, 4, 40)
    for k, member in enumerate(members):
        alone = attribute(member, x, method, target=[2, 0], **options)
        torch.testing.assert_close(stacked[:, k], alone, rtol=1e-10, atol=1e-14)
        torch.testing.assert_close(side_by_side[:, k], alone, rtol=1e-10, atol=1e-14)
        torch.testing.assert_close(summed[:, k], alone.sum(1), rtol=1e-10, atol=1e-14)
        assert (alone[:, 0] - alone[:, 1]).abs().max() > 1e-2 * alone.abs().max()
    blocks = list(iter_attribute_members(members, x, method, target=1, block=2, batch_size=9, **options))
    torch.testing.assert_close(torch.cat([b for _, _, b in blocks]),
                               torch.stack([attribute(m, x, method, target=1, **options) for m in members], 1),
                               rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("method,options", SHORTCUT_CASES)
def test_first_layer_shortcut_with_several_targets(monkeypatch, method, options):
    """Several targets share each chunk's first-layer images and forward pass: the maps equal those with
    every model input through the whole model, for one model and for stacked members."""
    x = torch.from_numpy(one_hot(3, length=40, seed=53))
    model, members = multi_cnn(54), [multi_basset(55, 4, 6), multi_basset(56, 3, 4)]
    assert _input_layer(fold_batchnorm(model)) is not None
    fast = attribute(model, x, method, target=[1, 2], batch_size=7, **options)
    fast_members = attribute_members(members, x, method, target=[1, 2], batch_size=7, **options)
    monkeypatch.setattr(attribution, "_input_layer", lambda model, members=1: None)
    torch.testing.assert_close(fast, attribute(model, x, method, target=[1, 2], batch_size=7, **options),
                               rtol=1e-10, atol=1e-14)
    torch.testing.assert_close(fast_members, attribute_members(members, x, method, target=[1, 2], batch_size=7,
                                                               **options), rtol=1e-10, atol=1e-14)


def test_bad_targets_are_named():
    model = multi_cnn(57)
    x = torch.from_numpy(one_hot(2, length=40, seed=58))
    for target, message in [(3, r"target index 3 .* 3 output"), (-4, r"target index -4 .* 3 output"),
                            ([0, 5], r"target index 5 .* 3 output"), ([], "empty"),
                            (True, "output index"), (1.0, "output index"), ("0", "output index"),
                            ([0, True], r"ints\); got True"), ([0, 1.5], r"ints\); got 1.5"),
                            (lambda p: p, r"shape \(1,\); it returned \(1, 3\)"),
                            (lambda p: p.sum(), r"shape \(1,\); it returned \(\)"),
                            (lambda p: p[:, 0].tolist(), r"shape \(1,\); it returned list"),
                            (lambda p: p.argmax(1), "floating-point"),
                            (lambda p: torch.ones(len(p), dtype=p.dtype), "carry no gradient")]:
        with pytest.raises(ValueError, match=message):
            attribute(model, x, "integrated_gradients", target=target, steps=3)
    with pytest.raises(ValueError, match=r"shape \(2,\); it returned \(2, 2\)"):  # caught on a chunk, not the probe
        attribute(model, x, target=lambda p: p[:, :2] if len(p) > 1 else p[:, 0])
    members = [multi_basset(59, 3, 4), multi_basset(60, 3, 4)]
    with pytest.raises(ValueError, match=r"target index 3 .* 3 output"):
        attribute_members(members, x, target=[0, 3])
    with pytest.raises(ValueError, match=r"shape \(1,\); it returned \(1, 3\)"):
        attribute_members(members, x, target=lambda p: p)
    with pytest.raises(ValueError, match=r"logits \(M, 2\), or \(M, 2 \* T\).*\(5,\)"):
        attribute_members(nn.Sequential(StandInEnsemble(members), nn.Linear(6, 5)).double(), x, members=2)
    with pytest.raises(ValueError, match=r"output indices \(ints\); got None"):
        attribute_members(members, x, target=[0, None])


@pytest.mark.parametrize("method, options", [
    ("saliency", {}),
    ("expected_gradients", {"n_references": 2, "steps": 3, "seed": 4}),
    ("expected_gradients", {"n_references": 2, "steps": 3, "seed": 4, "reference": "dinuc"}),
])
def test_a_range_of_sequences_is_the_full_calls_rows_bit_for_bit(monkeypatch, method, options):
    """A job over sequences s0..s1 (whole blocks) yields the bytes the full call yields for them: same blocks and
    chunks, and the draws of the sequences before s0 (DRAW_BLOCK = 4 here, so some ranges start mid-draw-block)
    made and discarded; float32 members, as the workflow runs them."""
    monkeypatch.setattr(attribution, "DRAW_BLOCK", 4)
    members = [m.float() for m in shallow_members([3, 4])]
    x = torch.from_numpy(one_hot(11, seed=31, dtype=np.float32))
    full = list(iter_attribute_members(members, x, method, block=2, batch_size=5, **options))
    for s0, s1 in [(0, 4), (2, 6), (6, 11), (10, 11), (4, 4)]:
        part = list(iter_attribute_members(members, x, method, block=2, batch_size=5, sequences=(s0, s1), **options))
        assert [(i0, i1) for i0, i1, _ in part] == [(i0, i1) for i0, i1, _ in full if s0 <= i0 < s1]
        for (i0, _, maps) in part:
            assert torch.equal(maps, full[i0 // 2][2]), (s0, s1, i0)
    for bad in [(1, 4), (0, 3), (-2, 4), (4, 12), (6, 4)]:
        with pytest.raises(ValueError, match=r"sequences must be \(s0, s1\).*multiple of block = 2"):
            next(iter_attribute_members(members, x, method, block=2, sequences=bad, **options))


def test_compiled_maps_equal_eager_ones_to_float32_rounding():
    """compile=True runs the passes through torch.compile (a tiny CNN-deep, so that compiling stays cheap): the
    maps of expected gradients (40 model inputs in chunks of 12: the last chunk is padded) agree with eager ones.
    One method only: each compiles a graph of its own, at seconds each, through the same `_model_forward`."""
    torch.manual_seed(5)
    model = build_model("cnn_deep", activation="exp", n_filters=4, input_length=48).eval()
    x = one_hot(5, length=48, seed=32, dtype=np.float32)
    options = {"n_references": 2, "steps": 3, "batch_size": 12}
    eager = attribute(model, x, "expected_gradients", **options)
    compiled = attribute(model, x, "expected_gradients", compile=True, **options)
    np.testing.assert_allclose(compiled, eager, rtol=1e-4, atol=1e-6 * np.abs(eager).max())
