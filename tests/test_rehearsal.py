"""Service levels fitted on a rehearsal (planning.rehearsal): the k whose rehearsed fill rate meets the target,
a correction that stands where the miss is systematic and is shrunk where it is within the rehearsal's noise."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forecasting.planning.global_final import played_spans
from forecasting.planning.rehearsal import GRID_STEPS, fill_and_error, k_from_rehearsal, k_grid, rehearsal_weeks


def fill_curve(k: np.ndarray, k_half: float) -> np.ndarray:
    """A fill rate rising with log k: 50% at k_half, 95% about 3 e-folds above it."""
    return 1 / (1 + np.exp(-(np.log(k) - np.log(k_half))))


def rehearsal_rows(grid: np.ndarray, fills_per_sku: np.ndarray, demand: np.ndarray) -> pd.DataFrame:
    """One row per SKU and k: `fills_per_sku[s, j]` the SKU's fill at grid[j]."""
    rows = [
        {"sku": f"s{s}", "k": k, "demand": demand[s], "sales": demand[s] * fills_per_sku[s, j]}
        for s in range(len(demand))
        for j, k in enumerate(grid)
    ]
    return pd.DataFrame(rows)


def test_a_systematic_miss_is_corrected_to_the_target():
    # 60 alike SKUs whose rehearsed fill at the expected-fill k is 98.2%: the formula overshoots a 95% target.
    k_expected = 10.0
    grid = k_grid(k_expected)
    fills = np.tile(fill_curve(grid, 0.2), (60, 1))
    rehearsed = rehearsal_rows(grid, fills, np.full(60, 100.0))
    fill_at, se = fill_and_error(rehearsed, k_expected)
    assert fill_at > 0.975 and se < 1e-9
    k = k_from_rehearsal(rehearsed, 0.95, k_expected)
    assert k < k_expected
    assert abs(fill_curve(np.array([k]), 0.2)[0] - 0.95) < 0.01  # linear in log k between grid points


def test_a_miss_within_the_rehearsals_noise_is_taken_for_noise():
    # The same mean fill (about 3 points short of 95% at the expected k), once from SKUs alike and once from SKUs
    # that scatter widely around it (a few weeks of intermittent demand): the scattered miss could be the draw.
    k_expected = 10.0
    grid = k_grid(k_expected)
    base = fill_curve(grid, 0.9)
    offsets = np.array([-0.12, -0.08, -0.04, 0.04, 0.08, 0.12])[:, None]
    scattered = rehearsal_rows(grid, np.clip(base[None, :] + offsets, 0.0, 1.0), np.full(6, 100.0))
    alike = rehearsal_rows(grid, np.tile(base, (6, 1)), np.full(6, 100.0))
    fill_at, se = fill_and_error(scattered, k_expected)
    assert 0.02 < 0.95 - fill_at < 2 * se
    assert k_from_rehearsal(scattered, 0.95, k_expected) == k_expected
    assert k_from_rehearsal(alike, 0.95, k_expected) > 1.5 * k_expected  # the same miss from alike SKUs: no noise


def test_a_miss_all_skus_met_in_the_same_weeks_is_taken_for_noise():
    # 60 alike SKUs over 12 weekly blocks; in 3 of the weeks every SKU sold 20 points less (a holiday, a turn of
    # the season): the fill at the expected k misses 95%, and over SKUs alone the miss would look systematic.
    k_expected = 10.0
    grid = k_grid(k_expected)
    base = fill_curve(grid, 0.3)
    weeks = np.where(np.arange(12) < 3, -0.2, 0.0)
    rows = [
        {"sku": f"s{s}", "k": k, "block": w, "demand": 10.0, "sales": 10.0 * max(base[j] + weeks[w], 0.0)}
        for s in range(60)
        for j, k in enumerate(grid)
        for w in range(12)
    ]
    rehearsed = pd.DataFrame(rows)
    fill_at, se = fill_and_error(rehearsed, k_expected)
    assert 0.95 - fill_at > 0.02 and 2 * se > 0.95 - fill_at
    assert k_from_rehearsal(rehearsed, 0.95, k_expected) == k_expected
    # The same rows summed over the weeks: SKUs alike, no noise seen, the miss corrected.
    per_sku = rehearsed.groupby(["sku", "k"], as_index=False)[["demand", "sales"]].sum()
    assert fill_and_error(per_sku, k_expected)[1] < 1e-9
    assert k_from_rehearsal(per_sku, 0.95, k_expected) > 1.5 * k_expected


def test_a_miss_a_few_standard_errors_wide_is_corrected_most_of_the_way():
    # 3 standard errors: the correction keeps 1 - (2/3)^2 of its way to the target.
    k_expected = 10.0
    grid = k_grid(k_expected)
    base = fill_curve(grid, 0.9)
    offsets = np.array([-0.03, -0.02, -0.01, 0.01, 0.02, 0.03])[:, None] * 0.9
    rehearsed = rehearsal_rows(grid, base[None, :] + offsets, np.full(6, 100.0))
    fill_at, se = fill_and_error(rehearsed, k_expected)
    gap = 0.95 - fill_at
    assert 2.5 * se < gap
    k = k_from_rehearsal(rehearsed, 0.95, k_expected)
    reached = fill_curve(np.array([k]), 0.9)[0]
    assert abs(reached - (fill_at + (1 - (2 * se / gap) ** 2) * gap)) < 0.005


def test_nothing_rehearsed_keeps_the_expected_fill_k():
    empty = pd.DataFrame(columns=["sku", "k", "demand", "sales"])
    assert k_from_rehearsal(empty, 0.95, 7.5) == 7.5


def test_a_target_out_of_the_grids_reach_takes_its_end():
    k_expected = 10.0
    grid = k_grid(k_expected)
    fills = np.tile(fill_curve(grid, 100.0), (30, 1))  # at most 40%: a 95% target is out of reach
    rehearsed = rehearsal_rows(grid, fills, np.full(30, 50.0))
    assert np.isclose(k_from_rehearsal(rehearsed, 0.95, k_expected), k_expected * GRID_STEPS.max())


def _windows(cutoffs, actual, mean, days=14) -> pd.DataFrame:
    return pd.DataFrame(
        {"sku": "s", "cutoff": pd.to_datetime(cutoffs), "window_days": days, "actual": actual, "mean": mean}
    )


def test_a_review_takes_the_scale_from_the_windows_it_does_not_overlap():
    from forecasting.planning.calibration import PRIOR_WINDOWS, Calibration, held_out, levels, shrunk_scale

    # Three windows of a SKU; the middle one sold three times its forecast (a one-off burst).
    windows = _windows(["2024-03-01", "2024-04-01", "2024-05-01"], [100.0, 300.0, 100.0], [100.0, 100.0, 100.0])
    in_sample = Calibration(float(shrunk_scale(500.0, 300.0, 3, 1.0)), levels(), prior=1.0)
    assert in_sample.scale == pytest.approx(1 + (5 / 3 - 1) * 3 / (3 + PRIOR_WINDOWS))
    # A review whose window covers the burst's days: the scale of the other two windows (no excess).
    burst = held_out(in_sample, windows, pd.Timestamp("2024-04-05"), pd.Timestamp("2024-04-19"))
    assert burst.scale == pytest.approx(1.0) and burst.z is in_sample.z
    # Days no window covers keep the scale of all three; a calibration that keeps the forecast's volume is as is.
    assert held_out(in_sample, windows, pd.Timestamp("2024-06-01"), pd.Timestamp("2024-06-15")).scale == pytest.approx(
        in_sample.scale
    )
    unscaled = Calibration(1.0, levels())
    assert held_out(unscaled, windows, pd.Timestamp("2024-04-05"), pd.Timestamp("2024-04-19")) is unscaled


def test_a_rehearsal_does_not_credit_the_scale_with_the_weeks_it_was_fitted_on():
    # A stationary SKU with one burst inside the rehearsed weeks. The calibration, fitted on windows that include
    # the burst, scales the forecast up: rehearsed with it, the burst is met by stock bought because of the burst.
    from forecasting.data.calendar import TradingCalendar
    from forecasting.models.naive import SeasonalNaive
    from forecasting.planning.calibration import Calibration, levels, shrunk_scale
    from forecasting.planning.replay_sku import replay_sku

    dates = pd.date_range("2024-01-01", periods=240)
    y = pd.Series(np.random.default_rng(2).poisson(20, len(dates)), index=dates, dtype=float)
    start = dates[-1] - pd.Timedelta(weeks=12)
    burst = (dates > start + pd.Timedelta(days=28)) & (dates <= start + pd.Timedelta(days=42))
    y[burst] *= 3
    cutoffs = [start + pd.Timedelta(days=d) for d in (0, 28, 56)]
    actual = [float(y[(dates > c) & (dates <= c + pd.Timedelta(days=14))].sum()) for c in cutoffs]
    windows = _windows(cutoffs, actual, [280.0] * 3)
    calibration = Calibration(float(shrunk_scale(sum(actual), 840.0, 3, 1.0)), levels(), prior=1.0)
    params = {"lead_time_days": 7, "review_period_days": 7, "service_measure": "fill_rate", "unit_cost": 1.0}
    params |= {"holding_cost_rate": 0.25, "order_cost": 0.0, "stockout_cost": 0.0}

    def rehearse(fitted_on):
        rows = replay_sku(
            "s", y, SeasonalNaive(7), SeasonalNaive(7), TradingCalendar(), params, start, [0.95],
            calibration=calibration, baselines=False, learn_bias=False, fitted_on=fitted_on,
        )  # fmt: skip
        return rows[0]["sales"] / rows[0]["demand"]

    in_sample, honest = rehearse(None), rehearse(windows)
    assert in_sample > honest + 0.01
    # Windows that ended before the rehearsed days (the replay's own decision) change nothing.
    before = windows.assign(cutoff=windows["cutoff"] - pd.Timedelta(weeks=13))
    assert rehearse(before) == in_sample


def test_a_rehearsal_plays_a_year_of_a_monthly_table_and_the_replays_weeks_of_others():
    # 12 weeks are 12 draws of a weekly table's demand but 3 of a monthly one's, all in one phase of its year.
    assert rehearsal_weeks(12, "daily") == 12 and rehearsal_weeks(12, "weekly") == 12
    assert rehearsal_weeks(12, "monthly") == 53 and rehearsal_weeks(60, "monthly") == 60
    # As far as the history allows (two years of months: 40 weeks before the replay with a year of history).
    assert rehearsal_weeks(12, "monthly", spare_weeks=40) == 40 and rehearsal_weeks(12, "monthly", 5) == 12
    today = pd.Timestamp("2025-12-31")
    replay = today - pd.Timedelta(weeks=12)
    # The replay, the plan's rehearsal before today and the replay's before its start; none reaches past its end.
    assert played_spans(today, 12, 53) == [
        (replay - pd.Timedelta(weeks=53), replay),
        (today - pd.Timedelta(weeks=53), today),
        (replay, today),
    ]
    assert played_spans(today, 12, 12) == [(replay - pd.Timedelta(weeks=12), replay), (replay, today)]
    assert played_spans(today, None, 53) == [(today - pd.Timedelta(weeks=53), today)]
