"""Recalibration of lead-time demand at every service level, and the per-SKU volume correction."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forecasting.planning.calibration import calibrate, recalibrated
from forecasting.planning.policy import protection_level, protection_levels
from forecasting.vocabulary.calibration_score import calibration_score


def windows(rng, skus, cutoffs, truth_scale, truth_shape, forecast_shape=20.0, n=200):
    """Backtest-like cover records: the forecast sample is gamma(forecast_shape) around each SKU's level (too
    narrow); the actual comes from a wider gamma(truth_shape) at truth_scale x the level."""
    rows = []
    for i, sku in enumerate(skus):
        level = 10.0 * (1 + i % 5)
        for c in range(cutoffs):
            sums = np.sort(rng.gamma(forecast_shape, level / forecast_shape, n))
            actual = float(rng.gamma(truth_shape, truth_scale[i] * level / truth_shape))
            key = f"{sku}|m|{c}"
            rows.append(
                {
                    "sku": sku,
                    "model": "m",
                    "cutoff": pd.Timestamp("2024-01-01") + pd.Timedelta(weeks=4 * c),
                    "actual": actual,
                    "mean": float(sums.mean()),
                    "score": calibration_score(sums, actual, key),
                    "sums": sums,
                }
            )
    return pd.DataFrame(rows)


def test_score_is_the_pit_or_the_excess_in_upper_spreads():
    sums = np.array([0.0, 0.0, 2.0, 4.0])
    assert calibration_score(sums, 3.0, "k") == 0.75
    assert 0.0 <= calibration_score(sums, 0.0, "k") <= 0.5  # ties with the zeros: anywhere in their share
    assert 0.75 <= calibration_score(sums, 4.0, "k") <= 1.0
    # 2 above the largest sum, the upper spread (largest - median) is 4 - 1 = 3.
    assert calibration_score(sums, 6.0, "k") == pytest.approx(1 + 2 / 3)


def test_recalibration_holds_at_every_level_on_unseen_windows():
    rng = np.random.default_rng(0)
    skus = [f"s{i}" for i in range(300)]
    segments = pd.DataFrame({"sku": skus, "segment": "A-smooth"})
    scale = np.ones(len(skus))
    fit = windows(rng, skus, 3, scale, truth_shape=4.0)  # actuals far wider than the forecast
    _, cal = calibrate(fit, segments)
    fresh = windows(rng, skus, 1, scale, truth_shape=4.0)
    raw_hits, hits = {}, {}
    for q in (0.2, 0.5, 0.8, 0.9, 0.95):
        raw_hits[q] = np.mean([r.actual <= np.quantile(r.sums, q) for r in fresh.itertuples()])
        hits[q] = np.mean([r.actual <= np.quantile(recalibrated(r.sums, cal[r.sku]), q) for r in fresh.itertuples()])
    # The forecast alone covers far too little in the upper tail and too much in the lower one ...
    assert raw_hits[0.95] < 0.8 and raw_hits[0.2] > 0.3
    # ... the recalibrated one holds at every level, not only at one fitted target.
    for q, h in hits.items():
        assert h == pytest.approx(q, abs=0.075), hits


def test_sku_bias_is_corrected_per_sku_and_shrunk_toward_the_segment():
    rng = np.random.default_rng(1)
    skus = [f"s{i}" for i in range(100)]
    segments = pd.DataFrame({"sku": skus, "segment": "A-smooth"})
    bias = np.where(np.arange(100) < 50, 2.0, 1.0)  # half the SKUs sell twice what is forecast
    fit = windows(rng, skus, 3, bias, truth_shape=400.0, forecast_shape=400.0)
    table, cal = calibrate(fit, segments)
    under = np.mean([cal[s].scale for s in skus[:50]])
    right = np.mean([cal[s].scale for s in skus[50:]])
    segment = table["volume_ratio"].iloc[0]  # about 1.6 (volume-weighted)
    # Three windows against a prior of three: half way between the SKU's own ratio and the segment's.
    assert under == pytest.approx((2.0 + segment) / 2, rel=0.05)
    assert right == pytest.approx((1.0 + segment) / 2, rel=0.05)


def test_protection_levels_for_many_targets_match_one_at_a_time():
    rng = np.random.default_rng(2)
    cover, base = rng.gamma(2.0, 10.0, 300), rng.gamma(1.5, 10.0, 300)
    targets = [0.2, 0.5, 0.8, 0.95, 0.99]
    for measure in ("fill_rate", "cycle_service_level"):
        many = protection_levels(cover, measure, targets, 6.0, base)
        one = [protection_level(cover, measure, t, 6.0, base) for t in targets]
        assert np.allclose(many, one) and np.all(np.diff(many) >= 0)


def test_each_segment_keeps_the_method_with_the_lowest_out_of_sample_pinball_loss():
    rng = np.random.default_rng(3)
    skus = [f"s{i}" for i in range(300)]
    segments = pd.DataFrame({"sku": skus, "segment": ["A-smooth"] * 150 + ["B-smooth"] * 150})
    # A's forecasts are far too narrow; B's are right (the same gamma as its actuals).
    narrow = windows(rng, skus[:150], 3, np.ones(150), truth_shape=4.0)
    right = windows(rng, skus[150:], 3, np.ones(150), truth_shape=20.0)
    table, cal = calibrate(pd.concat([narrow, right], ignore_index=True), segments)
    table = table.set_index("segment")
    # A's forecasts are unbiased, so its shape alone is recalibrated (a per-SKU scale would only add noise).
    assert table.loc["A-smooth", "method"] == "quantiles"
    assert table.loc["A-smooth", "pinball_quantiles"] < 0.95 * table.loc["A-smooth", "pinball_forecast"]
    assert table.loc["A-smooth", "before_p95"] < 0.85
    assert table.loc["A-smooth", "after_p95"] == pytest.approx(0.95, abs=0.04)
    # Recalibrating B would only add noise: its forecast stays as it is, scale 1 and the identity map.
    assert table.loc["B-smooth", "method"] == "forecast"
    assert cal["s200"].scale == 1.0 and np.allclose(cal["s200"].z, (np.arange(len(cal["s200"].z)) + 0.5) / 200)
