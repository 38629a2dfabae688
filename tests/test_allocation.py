"""A fill-rate target over the assortment (planning.allocation), the empirical-quantile baseline and the block
bootstrap: the pieces of the plan's proof that have an answer to compute."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forecasting.planning.allocation import MAX_LEVEL, fit_k, portfolio_levels, service_levels
from forecasting.planning.calibration import Calibration
from forecasting.planning.replay_sku import past_window_quantiles


def windows(rng, skus, costs, n_cutoffs=30, samples=200):
    """Cover records whose forecast samples are the true distribution of the actuals (Poisson, per SKU)."""
    rows = []
    for sku, rate in skus.items():
        for cutoff in range(n_cutoffs):
            rows.append(
                {
                    "sku": sku,
                    "model": "m",
                    "cutoff": cutoff,
                    "window_days": 21,
                    "actual": float(rng.poisson(rate)),
                    "sums": np.sort(rng.poisson(rate, samples).astype(float)),
                }
            )
    params = pd.DataFrame({"unit_cost": costs, "review_period_days": 7}, index=list(skus))
    return pd.DataFrame(rows), params


def test_cheap_skus_get_more_service_and_the_windows_fill_rate_is_the_target():
    rng = np.random.default_rng(0)
    covers, params = windows(rng, {"cheap": 60.0, "dear": 60.0, "mid": 30.0}, [1.0, 20.0, 5.0])
    levels = portfolio_levels(covers, {}, params, [0.8, 0.95])
    assert levels.loc["cheap", 0.95] > levels.loc["mid", 0.95] > levels.loc["dear", 0.95]
    assert (levels[0.95] >= levels[0.8]).all()  # a higher target never lowers a SKU's level
    # The fitted k gives the target fill rate the windows' distributions expect (backorder count of the shortage),
    # and the realised demand, drawn from those distributions, comes close to it.
    k = fit_k(covers, {}, params, 0.95)
    level = service_levels(k, params["unit_cost"].to_numpy())
    by_sku = dict(zip(params.index, level, strict=True))
    stock = np.array([np.quantile(s, by_sku[k_]) for s, k_ in zip(covers["sums"], covers["sku"], strict=True)])
    sums = np.stack(covers["sums"].to_numpy())
    expected = 1 - np.maximum(sums - stock[:, None], 0).mean(axis=1).sum() / (sums.mean(axis=1) * 7 / 21).sum()
    assert expected == pytest.approx(0.95, abs=0.005)
    realised = 1 - np.maximum(covers["actual"] - stock, 0).sum() / (covers["actual"] * 7 / 21).sum()
    assert realised == pytest.approx(0.95, abs=0.03)


def test_equal_costs_give_every_sku_the_same_level_and_calibration_counts():
    rng = np.random.default_rng(1)
    covers, params = windows(rng, {"a": 40.0, "b": 10.0}, [2.0, 2.0])
    levels = portfolio_levels(covers, {}, params, [0.9])
    assert levels.loc["a", 0.9] == pytest.approx(levels.loc["b", 0.9])
    # A forecast half the real size needs a higher level to serve the same units; calibrated (scale 2) it does not.
    halved = covers.assign(sums=[s / 2 for s in covers["sums"]])
    raw = portfolio_levels(halved, {}, params, [0.9]).loc["a", 0.9]
    fixed = portfolio_levels(
        halved, {s: Calibration(2.0, np.linspace(0.0025, 0.9975, 200)) for s in "ab"}, params, [0.9]
    )
    assert raw > fixed.loc["a", 0.9]
    assert fixed.loc["a", 0.9] == pytest.approx(levels.loc["a", 0.9], abs=0.05)
    assert raw <= MAX_LEVEL


def test_empirical_policy_orders_up_to_the_quantile_of_past_window_sums():
    daily = np.arange(1, 101, dtype=float)  # day d sells d units
    cum = np.concatenate([[0.0], np.cumsum(daily)])
    # The 7-day sums over the last 28 days known (days 73..100): windows ending on days 79..100.
    sums = np.array([daily[e - 7 : e].sum() for e in range(79, 101)])
    got = past_window_quantiles(cum, 100, 7, 28, np.array([0.5, 0.9]))
    assert got == pytest.approx(np.quantile(sums, [0.5, 0.9]))
    assert past_window_quantiles(cum, 5, 7, 28, np.array([0.5])) == pytest.approx([0.0])  # no whole window yet


def test_block_bootstrap_paths_are_stretches_of_the_skus_recent_weeks():
    from forecasting.models.bootstrap import BlockBootstrap

    recent = np.arange(1.0, 79.0)  # 13 weeks of 6 trading days, every value distinct
    history = np.concatenate([np.full(60, 100.0), recent])
    model = BlockBootstrap(season_length=6, recent_blocks=13).fit(pd.Series(history))
    f = model.predict(12, 300, np.random.default_rng(0))
    for path in f.paths[:50]:
        start = int(np.flatnonzero(recent == path[0])[0])
        assert start % 6 == 0  # each path starts on a block boundary (the weekday the forecast starts on)
        assert path == pytest.approx(recent[(start + np.arange(12)) % 78])  # consecutive days, wrapping around
    assert (f.paths != 100.0).all()  # nothing from before the recent window
    assert f.mean[:6] == pytest.approx(np.arange(1.0, 7.0) + 36)  # each weekday's own mean over the 13 weeks
