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


def test_cached_windows_are_darts_windows_and_cut_once():
    import dataclasses

    import numpy as np
    from darts import TimeSeries
    from darts.models import TCNModel

    from forecasting.models.window_cache import CachedWindows, cache_windows, uncache_windows

    rng = np.random.default_rng(0)
    series = [TimeSeries.from_values(rng.random((n, 1)).astype("float32")) for n in (40, 55)]
    past = [TimeSeries.from_values(rng.random((n, 2)).astype("float32")) for n in (40, 55)]
    model = TCNModel(input_chunk_length=12, output_chunk_length=4)
    darts_own = model._build_train_dataset(series, past, None, None, max_samples_per_ts=10)
    cached = cache_windows(model)._build_train_dataset(series, past, None, None, max_samples_per_ts=10)
    assert isinstance(cached, CachedWindows) and len(cached) == len(darts_own) == 20
    for i in range(len(cached)):
        first = cached[i]
        for field in dataclasses.fields(first):
            a, b = getattr(first, field.name), getattr(darts_own[i], field.name)
            assert (a is None and b is None) or np.array_equal(a, b)
        assert cached[i] is first  # the second epoch reuses the window
    # The stand-in goes before the model is saved: darts' safe loader knows only its own classes.
    assert "_build_train_dataset" not in vars(uncache_windows(model))


def test_training_with_persistent_loader_workers(tmp_path):
    # trainer=gpu uses data-loader workers: each keeps its windows across epochs and the training still works.
    from tests.test_neural import make, tiny_panel

    panel, seg, _ = tiny_panel()
    cutoff = panel["date"].unique()[-8]
    model = make("tcn", tmp_path, num_workers=1, max_epochs=2).fit(panel, seg, cutoff)
    out = model.predict(panel, seg, cutoff, horizon=7, num_samples=20)
    assert len(out) == 4 and all(f.paths.shape == (20, 7) for f in out.values())
