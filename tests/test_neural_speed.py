"""The training-speed parts of the global networks: the cheaper CPU dropout keeps dropout's statistics."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")


def test_cheap_dropout_mask_keeps_the_rate_and_is_seeded():
    from forecasting.models.fast_dropout import dropout_mask

    torch.manual_seed(3)
    keep = dropout_mask(torch.Size([1000, 1000]), 0.1, torch.device("cpu"))
    assert keep.dtype == torch.bool and keep.shape == (1000, 1000)
    # 1e6 Bernoulli(0.9) draws: the standard error of the mean is 0.0003.
    assert abs(keep.float().mean().item() - 0.9) < 0.002
    # No structure across the four 15-bit lanes cut from one 64-bit draw (each lane keeps 90% too).
    lanes = keep.flatten()[:999_996].view(-1, 4).float().mean(0)
    assert torch.allclose(lanes, torch.full((4,), 0.9), atol=0.004)
    torch.manual_seed(3)
    assert torch.equal(keep, dropout_mask(torch.Size([1000, 1000]), 0.1, torch.device("cpu")))


def test_cheap_dropout_scales_kept_values_trains_and_is_off_in_eval():
    from darts.utils.torch import MonteCarloDropout

    from forecasting.models.fast_dropout import FastMonteCarloDropout

    layer = FastMonteCarloDropout(p=0.25)
    assert isinstance(layer, MonteCarloDropout)
    x = torch.ones(400, 500, requires_grad=True)
    y = layer.train()(x)
    kept = y != 0
    assert torch.allclose(y[kept], torch.full_like(y[kept], 1 / 0.75))
    assert abs(y.mean().item() - 1.0) < 0.01  # dropout leaves the expectation unchanged
    y.sum().backward()
    assert torch.equal(x.grad != 0, kept)  # the gradient flows through kept elements only
    assert torch.equal(layer.eval()(x), x)
