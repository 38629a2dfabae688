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


def test_a_scale_is_judged_with_its_segments_ratio_from_the_other_cutoffs():
    # A global model that under-forecast a small segment by 3x at the first cutoff, when it had little history, and
    # not at the later ones: the ratio a window's scale is judged with must not hold that window's own cutoff.
    from forecasting.planning.calibration import other_cutoffs_ratios

    cutoffs = pd.to_datetime(["2024-01-01", "2024-02-01", "2024-03-01"])
    rows = [
        {"sku": sku, "segment": "C-lumpy", "cutoff": c, "actual": 30.0 if k == 0 else 10.0, "mean": 10.0}
        for sku in ("a", "b")
        for k, c in enumerate(cutoffs)
    ]
    ratios = other_cutoffs_ratios(pd.DataFrame(rows))
    # The later cutoffs' windows know the first cutoff's 3x and the other later one's 1x; the first knows only 1x.
    assert ratios.tolist() == pytest.approx([1.0, 2.0, 2.0, 1.0, 2.0, 2.0])


def test_a_ratio_over_a_few_sales_is_mostly_noise_and_one_over_many_counts():
    from forecasting.planning.calibration import PRIOR_WINDOWS, shrunk_scale

    # Both sold 3x their forecast over 3 windows. One forecast 30 units with a variance of 30 (a few Poisson
    # sales), the other 3,000 with 3,000: the first ratio's noise (1/30) is 3x a 10% spread of true ratios.
    few, many = shrunk_scale([90.0, 9000.0], [30.0, 3000.0], [3, 3], [1.0, 1.0], [30.0, 3000.0], between=0.01)
    assert few == pytest.approx(1 + 2 * 0.01 / (0.01 + 1 / 30))  # a quarter of the way, not half
    assert many == pytest.approx(1 + 2 * 3 / (3 + PRIOR_WINDOWS), rel=0.01)  # the count rule, as before
    # With no estimate of the spread (infinite), the count rule alone.
    assert shrunk_scale(90.0, 30.0, 3, 1.0, 30.0) == pytest.approx(1 + 2 * 3 / (3 + PRIOR_WINDOWS))


def test_the_spread_of_true_ratios_is_found_beyond_the_noise():
    from forecasting.planning.calibration import MIN_BETWEEN, between_variance, sum_variance

    rng = np.random.default_rng(4)
    skus = [f"s{i}" for i in range(400)]
    segments = pd.DataFrame({"sku": skus, "segment": "A-smooth"})

    def spread(truth_scale):
        w = windows(rng, skus, 3, truth_scale, truth_shape=20.0).merge(segments, on="sku")
        return between_variance(w.assign(sum_var=sum_variance(w)))

    # Every SKU's forecast right on average: the ratios vary by their noise only.
    assert spread(np.ones(len(skus))) == pytest.approx(MIN_BETWEEN, abs=0.005)
    # True ratios with a standard deviation of 0.3 around 1: a variance near 0.09.
    assert spread(np.clip(rng.normal(1.0, 0.3, len(skus)), 0.3, None)) == pytest.approx(0.09, abs=0.03)
