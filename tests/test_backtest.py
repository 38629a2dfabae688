"""Folds, no leakage, and every metric against hand-computed values."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forecasting.backtest.folds import make_cutoffs
from forecasting.backtest.leaderboard import leaderboard
from forecasting.backtest.metrics import interval_pairs, rmsse_scale, score
from forecasting.backtest.runner import backtest
from forecasting.backtest.settings import BacktestSettings
from forecasting.errors import InputError
from forecasting.models.base import Forecast, LocalForecaster
from forecasting.models.naive import SeasonalNaive
from forecasting.vocabulary.column_names import quantile_column

QUANTILES = [0.1, 0.5, 0.9]


def test_cutoffs_expanding_window():
    days = pd.bdate_range("2024-01-01", periods=100)
    cuts = make_cutoffs(days, horizon=10, folds=3, step=5, validation_folds=2)
    # The last test horizon ends on the last day: cutoff is 10 days before it, earlier folds 5 apart.
    # Validation horizons (10 days) end by the first test cutoff: 79 - 10 = 69, then 5 before.
    assert list(cuts["cutoff"]) == list(days[[64, 69, 79, 84, 89]])
    assert list(cuts["role"]) == ["validation"] * 2 + ["test"] * 3
    with pytest.raises(InputError, match="too few for 3 test and 2 validation folds"):
        make_cutoffs(days, horizon=30, folds=3, step=20, validation_folds=2, min_train_days=28)


EPOCH = pd.Timestamp("2023-12-01")


class Spy(LocalForecaster):
    """Records the last date it was trained on and forecasts that date (as days since EPOCH), to expose leakage.

    Days since a recent epoch, not the date's ordinal: a forecast of ~740,000 units would be rejected as diverged.
    """

    seen: list = []

    def fit(self, y):
        self.last_ = y.index.max()
        Spy.seen.append(self.last_)
        return self

    def predict(self, horizon, num_samples, rng):
        v = np.full(horizon, float((self.last_ - EPOCH).days))
        return Forecast(mean=v, paths=np.tile(v, (num_samples, 1)))


def panel(n_skus=3, days=80, start="2024-01-01"):
    dates = pd.date_range(start, periods=days)
    rng = np.random.default_rng(0)
    return pd.concat(
        [
            pd.DataFrame({"sku": f"s{i}", "date": dates, "demand": rng.poisson(3, days).astype(float)})
            for i in range(n_skus)
        ],
        ignore_index=True,
    )


def test_no_model_sees_data_after_its_cutoff():
    p = panel()
    # A late starter: its first fold must be skipped, not trained on less than min_train_days.
    p = p[~((p["sku"] == "s2") & (p["date"] < "2024-02-03"))]
    cuts = make_cutoffs(pd.DatetimeIndex(p["date"].unique()), horizon=7, folds=3, step=7)
    Spy.seen = []
    run = backtest(p, cuts, {"spy": Spy()}, SeasonalNaive(season_length=7), BacktestSettings(7, QUANTILES, 10))
    bt, failures = run.table, run.failures
    assert failures.empty
    rows = bt[bt["model"] == "spy"]
    trained_until = EPOCH + pd.to_timedelta(rows["mean"].round().astype(int), unit="D")
    assert (trained_until == rows["cutoff"]).all()  # each forecast was made with data up to its cutoff only
    assert (rows["date"] > rows["cutoff"]).all()
    assert rows.groupby(["sku", "cutoff"]).size().eq(7).all()
    assert rows[rows["sku"] == "s2"]["cutoff"].nunique() == 2
    actual = p.set_index(["sku", "date"])["demand"]
    assert np.array_equal(
        rows["demand"].to_numpy(), actual.loc[list(zip(rows["sku"], rows["date"], strict=True))].to_numpy()
    )


def test_parallel_backtest_equals_serial():
    p = panel(4, 70)
    cuts = make_cutoffs(pd.DatetimeIndex(p["date"].unique()), horizon=7, folds=2, step=7)
    models = {"naive": SeasonalNaive(season_length=7)}
    serial = backtest(p, cuts, models, SeasonalNaive(7), BacktestSettings(7, QUANTILES, 30, seed=3, n_jobs=1)).table
    parallel = backtest(p, cuts, models, SeasonalNaive(7), BacktestSettings(7, QUANTILES, 30, seed=3, n_jobs=2)).table
    pd.testing.assert_frame_equal(serial, parallel)


Y = np.array([0.0, 2.0, 4.0, 0.0])
F = np.array([1.0, 1.0, 5.0, 1.0])  # errors +1, -1, +1, +1


def one_series(y, f, **quantile_columns) -> pd.DataFrame:
    """A backtest table of one model, SKU and cutoff, with an RMSSE scale of 1."""
    cutoff = pd.Timestamp("2024-01-01")
    return pd.DataFrame(
        {"model": "m", "sku": "s", "cutoff": cutoff, "demand": y, "mean": f, "scale": 1.0, **quantile_columns}
    )


def test_point_metrics_by_hand():
    m = score(one_series(Y, F), ["model"], []).iloc[0]
    assert m["mae"] == 1.0
    assert m["rmse"] == 1.0 and m["rmsse"] == 1.0
    assert m["wape"] == pytest.approx(4 / 6)
    assert m["bias"] == pytest.approx(2 / 6)
    assert m["mape_nonzero"] == pytest.approx((1 / 2 + 1 / 4) / 2)
    assert np.isnan(score(one_series(np.zeros(3), np.ones(3)), ["model"], [])["wape"].iloc[0])


def test_pinball_and_coverage_by_hand():
    y = np.array([10.0, 0.0])
    # y=10: q.1 at 8 -> .1*2 ; q.9 at 12 -> .1*2 ; y=0: q.1 at 1 -> .9*1 ; q.9 at 3 -> .1*3
    expected = np.mean([0.1 * 2, 0.1 * 2, 0.9 * 1, 0.1 * 3])
    m = score(one_series(y, y, p10=[8.0, 1.0], p90=[12.0, 3.0]), ["model"], [0.1, 0.9]).iloc[0]
    assert m["pinball"] == pytest.approx(expected)
    assert m["coverage_80"] == 0.5
    assert interval_pairs([0.05, 0.1, 0.5, 0.9, 0.95]) == [(0.05, 0.95), (0.1, 0.9)]
    assert quantile_column(0.05) == "p5" and quantile_column(0.025) == "p2.5"


def test_rmsse_scale_starts_at_first_sale():
    # Leading zeros are ignored (M5): diffs of [2, 4, 4] are 2, 0 -> mean square 2.
    assert rmsse_scale(np.array([0, 0, 2, 4, 4.0])) == 2.0


def test_score_and_leaderboard_by_hand():
    base = {"sku": "a", "cutoff": pd.Timestamp("2024-01-01"), "scale": 4.0, "fallback": False}
    rows = []
    for model, f in [("seasonal_naive", [2.0, 2.0]), ("good", [1.0, 3.0])]:
        for y, fi in zip([1.0, 3.0], f, strict=True):
            rows.append({**base, "model": model, "demand": y, "mean": fi, "p10": fi - 1, "p50": fi, "p90": fi + 1})
    bt = pd.DataFrame(rows)
    board = leaderboard(bt, QUANTILES).set_index("model")
    # naive: errors 1,1 -> RMSSE sqrt(1/4) = .5 ; good: perfect.
    assert board.loc["seasonal_naive", "rmsse"] == pytest.approx(0.5)
    assert board.loc["good", "rmsse"] == 0.0 and board.loc["good", "rank"] == 1
    assert board.loc["good", "fva_mae"] == pytest.approx(1.0)
    assert board.loc["seasonal_naive", "coverage_80"] == 1.0
    seg = score(bt, ["model"], QUANTILES)
    assert seg["points"].tolist() == [2, 2] and seg["series"].tolist() == [1, 1]


def test_validation_only_cutoffs_for_tuning():
    days = pd.bdate_range("2024-01-01", periods=100)
    cuts = make_cutoffs(days, horizon=10, folds=2, step=10, validation_folds=2, skip_test=True)
    assert list(cuts["role"]) == ["validation", "validation"]
    # The last validation horizon ends on the first test cutoff (day 79): no test day is ever scored.
    assert cuts["cutoff"].iloc[-1] == days[69]
    with pytest.raises(InputError, match="skip_test needs validation folds"):
        make_cutoffs(days, horizon=10, folds=2, step=10, skip_test=True)
