"""Dropout masks: torch's generator (the masks nn.Dropout draws) and ours ("bits"), drawn ahead or in a forward."""

import copy

import numpy as np
import pytest
import torch
from torch import nn

from gradcorr.models.architectures import build_model
from gradcorr.models.dropout import (
    DROPOUT_MASKS,
    KEEP_BITS,
    dropout_mask,
    dropout_masks,
    mask_generator,
    masked_forward,
)
from gradcorr.models.training import TrainConfig


def _onehot(n: int, length: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return nn.functional.one_hot(torch.randint(0, 4, (n, length), generator=g), 4).float().transpose(1, 2)


def _model() -> nn.Sequential:
    torch.manual_seed(0)
    return build_model("cnn_deep", activation="exp", n_filters=4, kernel_size=5, input_length=48).train()


def test_bits_masks_are_the_documented_generator():
    """A "bits" mask is the generator's full-range 64-bit words read as little-endian signed 16-bit integers,
    kept below round((1 - p) 2^16) - 2^15, in row-major order: decoded here by numpy from the same words."""
    shape, p = (3, 5, 7), 0.3  # 105 entries: 27 words, the last one partly used
    ours = dropout_mask(shape, p, "bits", torch.Generator().manual_seed(4))
    words = torch.empty(27, dtype=torch.int64).random_(-2 ** 63, None, generator=torch.Generator().manual_seed(4))
    u = words.numpy().astype("<i8").view("<i2")[:105]
    expected = u < round(0.7 * 2 ** KEEP_BITS) - 2 ** (KEEP_BITS - 1)
    np.testing.assert_array_equal(ours.numpy(), expected.reshape(shape))
    assert ours.dtype == torch.bool and 0 < ours.sum() < 105


@pytest.mark.parametrize("method", DROPOUT_MASKS)
@pytest.mark.parametrize("p", [0.1, 0.5, 0.9])
def test_masks_keep_one_minus_p_of_entries_from_their_seed(method, p):
    """Each generator keeps 1 - p of the entries (within 5 binomial standard deviations over 10^6 entries), the
    same mask from the same seed and another from another seed; p = 0 keeps everything."""
    n = 1_000_000
    mask = dropout_mask((n,), p, method, torch.Generator().manual_seed(1))
    assert abs(mask.float().mean().item() - (1 - p)) < 5 * (p * (1 - p) / n) ** 0.5
    assert torch.equal(mask, dropout_mask((n,), p, method, torch.Generator().manual_seed(1)))
    assert not torch.equal(mask, dropout_mask((n,), p, method, torch.Generator().manual_seed(2)))
    assert dropout_mask((10, 3), 0.0, method).all()


def test_bits_entries_are_independent_of_their_neighbours():
    """Entries that share a 64-bit word are not correlated: the four positions within a word, and adjacent
    entries, are kept together as often as independence says (p = 0.5, 4 x 10^5 pairs each)."""
    mask = dropout_mask((400_000, 4), 0.5, "bits", torch.Generator().manual_seed(3)).float()
    for i in range(3):
        both = (mask[:, i] * mask[:, i + 1]).mean().item()
        assert abs(both - 0.25) < 5 * (0.25 * 0.75 / 400_000) ** 0.5


def test_bernoulli_masks_are_the_masks_nn_dropout_draws():
    """`dropout_masks` draws from the global generator what the model's nn.Dropout layers draw in a forward, in
    order, and `masked_forward` with them is that forward; drawing the shapes leaves BatchNorm as it was."""
    model, x = _model(), _onehot(16, 48, 1)
    before = copy.deepcopy(model)
    torch.manual_seed(5)
    masks = dropout_masks(model, x)
    assert [m.dtype for m in masks] == [torch.bool] * 5 and [m.shape[0] for m in masks] == [16] * 5
    for key, value in before.state_dict().items():
        assert torch.equal(value, model.state_dict()[key]), key
    ours = masked_forward(model, x, masks)
    torch.manual_seed(5)
    assert torch.equal(ours, before(x))
    torch.manual_seed(6)
    assert not torch.equal(masked_forward(copy.deepcopy(before), x, dropout_masks(before, x)), ours)
    assert dropout_masks(model.eval(), x) == []


def test_a_forward_under_bits_draws_the_bits_masks_drawn_ahead():
    """Under `mask_generator(model, "bits")` the dropout layers draw `dropout_mask(..., "bits")` masks from the global
    generator: what `dropout_masks(..., "bits")` draws ahead, so the compiled path sees the eager one's masks;
    inference is untouched, and the layers get their own forward back on leaving."""
    model, x = _model(), _onehot(16, 48, 1)
    twin = copy.deepcopy(model)
    torch.manual_seed(5)
    ahead = masked_forward(model, x, dropout_masks(model, x, "bits"))
    with mask_generator(twin, "bits"):
        torch.manual_seed(5)
        drawn = twin(x)
        assert torch.equal(twin.eval()(x), model.eval()(x))
        twin.train()
    assert torch.equal(drawn, ahead)
    torch.manual_seed(5)
    assert not torch.equal(twin(x), drawn)  # torch's masks again
    assert all("forward" not in layer.__dict__ for layer in twin)


def test_a_copy_made_under_bits_follows_its_own_mode():
    """A copy made inside the block (as an epoch hook may make) drops by its own mode, not the original's."""
    model, x = _model(), _onehot(8, 48, 1)
    with mask_generator(model, "bits"):
        copied = copy.deepcopy(model).eval()
        assert model.training and torch.equal(copied(x), copy.deepcopy(_model()).eval()(x))
        torch.manual_seed(3)
        drawn = copied.train()(x)
        torch.manual_seed(3)
        assert torch.equal(drawn, masked_forward(copied, x, dropout_masks(copied, x, "bits")))


def test_layers_get_their_forward_back_after_an_error():
    model = _model()
    with pytest.raises(RuntimeError, match="inside"):
        with mask_generator(model, "bits"):
            raise RuntimeError("inside")
    assert all("forward" not in layer.__dict__ for layer in model)


def test_an_unknown_generator_is_refused():
    with pytest.raises(ValueError, match="dropout_masks must be one of"):
        dropout_mask((2,), 0.5, "uniform")
    with pytest.raises(ValueError, match="dropout_masks must be one of"):
        with mask_generator(_model(), "uniform"):
            pass
    with pytest.raises(ValueError, match="dropout_masks must be one of"):
        TrainConfig(dropout_masks="uniform")
