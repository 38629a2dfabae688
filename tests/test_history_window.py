"""Per-SKU models fit on a trailing window of history: long tables cost what a few years cost.

A 5-year daily table fitted on every day at every fold made SARIMAX and AutoARIMA the run's whole cost; a
window of `backtest.history_seasons` seasons (daily: 104 weeks) cuts every per-SKU fit, in the backtest, the
final forecast and the replay alike, and a model's YAML may set its own.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from forecasting.data.calendar import TradingCalendar, period_calendar
from forecasting.datasets.synthetic import synthetic_demand
from forecasting.models.intermittent import Croston
from forecasting.models.local_fit import safe_forecast
from forecasting.models.naive import SeasonalNaive
from forecasting.models.panel import forecast_batch, history_matrix
from forecasting.models.statsforecast_adapter import StatsForecastModel
from forecasting.pipeline.common import build_models, history_periods, load_data
from forecasting.pipeline.settings import check_config

ROOT = Path(__file__).resolve().parents[1]


def _series(days: int = 1500, seed: int = 0) -> pd.Series:
    table = synthetic_demand(1, days, seed=seed, classes=["smooth"]).table
    return pd.Series(table["demand"].to_numpy(dtype=float), index=pd.DatetimeIndex(table["date"]))


def test_a_windowed_fit_is_the_fit_on_the_last_periods_only():
    y = _series()
    arima = StatsForecastModel("ARIMA", order=[1, 0, 1], seasonal_order=[1, 0, 0], include_mean=True, tol=1e-3)
    arima = arima.with_season(7)
    fallback = SeasonalNaive().with_season(7)
    windowed, err = safe_forecast("S", y, 30, arima.with_history(364), fallback, 50, seed=1)
    last_year, err_last = safe_forecast("S", y.iloc[-364:], 30, arima, fallback, 50, seed=1)
    everything, _ = safe_forecast("S", y, 30, arima, fallback, 50, seed=1)
    assert err is None and err_last is None
    np.testing.assert_allclose(windowed.mean, last_year.mean)
    np.testing.assert_allclose(windowed.paths, last_year.paths)
    assert not np.allclose(windowed.mean, everything.mean)  # the window did change what the model saw


def test_a_window_never_goes_below_the_models_minimum_history():
    model = StatsForecastModel("AutoETS", model="ANN", min_history=28)
    assert model.with_history(5).max_history == 28
    assert model.with_history(None).max_history is None
    y = _series(100)
    assert model.with_history(1000).recent(y) is y  # shorter than the window: untouched


def test_panel_models_cut_their_batch_as_one_sku_is_cut():
    """The backtest's array pass and the plan's one-SKU fits give the same forecasts under the window."""
    series = [_series(900, seed=s) for s in range(3)] + [_series(200, seed=9)]
    values = np.concatenate([s.to_numpy() for s in series])
    lengths = np.array([len(s) for s in series])
    starts = np.r_[0, np.cumsum(lengths)[:-1]]
    croston = Croston().with_season(7).with_history(30)
    fallback = SeasonalNaive().with_season(7)
    skus = [f"S{k}" for k in range(len(series))]
    mean, paths, _ = forecast_batch(
        croston, fallback, history_matrix(values, starts, lengths), lengths, skus, 14, 20, 3
    )
    for k, y in enumerate(series):
        alone, _ = safe_forecast(skus[k], y, 14, croston, fallback, 20, 3)
        np.testing.assert_allclose(mean[k], alone.mean)
        np.testing.assert_allclose(paths[k], alone.paths)
    unwindowed = forecast_batch(
        Croston().with_season(7), fallback, history_matrix(values, starts, lengths), lengths, skus, 14, 20, 3
    )
    assert not np.allclose(mean[:3], unwindowed[0][:3])


def test_seasons_count_trading_weeks_of_days_and_years_of_weeks_and_months():
    assert history_periods(104, TradingCalendar(closed_weekdays=(5,))) == 104 * 6
    # Weekly data under two years has no season for the models (1 period); the window still counts years.
    assert history_periods(4, period_calendar("weekly", "W-SUN", periods=80)) == 208
    assert history_periods(6, period_calendar("monthly", "ME", periods=200)) == 72
    assert history_periods(0, TradingCalendar()) is None and history_periods(None, TradingCalendar()) is None


@pytest.fixture(scope="module")
def long_table(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("long") / "demand.parquet"
    synthetic_demand(4, 1000, seed=0, start="2022-01-03").table.to_parquet(path, index=False)
    return path


def _config(path: Path, *overrides: str):
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        cfg = compose(
            config_name="config",
            overrides=[
                "data=daily_demand",
                f"data.path={path}",
                "data.end=2024-12-31",
                "model=[arima,ets,croston]",
                *overrides,
            ],
        )
    OmegaConf.set_struct(cfg, False)
    return cfg


def test_the_daily_default_and_a_models_own_window_come_from_config(long_table, tmp_path):
    cfg = _config(long_table, "+model.arima.history_seasons=0", "+model.ets.history_seasons=26")
    local, _, fallback = build_models(cfg, load_data(cfg), tmp_path)
    assert local["arima"].max_history is None  # 0: all of it
    assert local["ets"].max_history == 26 * 7
    assert local["croston"].max_history == 104 * 7  # backtest.by_frequency.daily
    assert fallback.max_history is None


def test_a_negative_window_is_refused_before_any_work(long_table):
    from forecasting.errors import InputError

    with pytest.raises(InputError, match="backtest.history_seasons=-1"):
        check_config(_config(long_table, "backtest.history_seasons=-1"))
