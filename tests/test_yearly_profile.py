"""Per-SKU models of daily tables with a year and a quarter of history or more: fitted on demand divided by the
SKU's yearly profile, the profile put back on the horizon's dates (forecasting/models/yearly_profile.py). Demand
drawn with a known season, so the right answers are computable."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forecasting.models.ensemble import Ensemble, EnsembleForecaster
from forecasting.models.local_fit import safe_forecast
from forecasting.models.naive import SeasonalNaive
from forecasting.models.statsforecast_adapter import StatsForecastModel, horizon_dates
from forecasting.models.yearly_profile import MIN_SPAN_DAYS, yearly_profile

BASE, HORIZON = 20.0, 30


def seasonal_sku(days: int, amplitude: float, seed: int = 0, start: str = "2022-01-01"):
    """Poisson demand of mean BASE x (1 + amplitude x sin(day of year)), a weekly profile on top: the history
    of `days` days and the next HORIZON days' dates and true means."""
    rng = np.random.default_rng(seed)
    dates = pd.date_range(start, periods=days + HORIZON, freq="D")
    season = 1.0 + amplitude * np.sin(2 * np.pi * (dates.dayofyear.to_numpy() - 1) / 365.25)
    weekly = np.array([1.0, 0.9, 0.9, 1.0, 1.1, 1.3, 0.8])[dates.dayofweek.to_numpy()]
    mean = BASE * season * weekly
    y = pd.Series(rng.poisson(mean[:days]).astype(float), index=dates[:days])
    return y, dates[days:], mean[days:]


def ets(yearly: bool = True) -> StatsForecastModel:
    return StatsForecastModel("AutoETS", model="ANA", season_length=7, yearly_season=yearly)


def test_a_season_is_forecast_on_its_falling_side_where_the_level_alone_lags():
    # Cutoff at the end of June of the third year: the sine season falls at its steepest over the horizon.
    errors = {True: [], False: []}
    for seed in range(4):
        y, dates, truth = seasonal_sku(days=910, amplitude=0.4, seed=seed)
        for yearly in errors:
            forecast = ets(yearly).fit(y, dates=dates).predict(HORIZON, 200, np.random.default_rng(seed))
            errors[yearly].append(abs(forecast.mean.sum() / truth.sum() - 1.0))
    # The horizon's volume: the level alone over-forecasts the falling weeks; with the profile within a few percent.
    assert np.mean(errors[True]) < 0.05
    assert np.mean(errors[True]) < 0.5 * np.mean(errors[False])


def test_no_season_is_read_into_demand_without_one():
    for seed in range(4):
        y, dates, truth = seasonal_sku(days=800, amplitude=0.0, seed=seed)
        profile = yearly_profile(y)
        if profile is not None:  # shrunk by its own evidence: at most a few percent on any day of the year
            days = pd.date_range("2024-01-01", "2024-12-31", freq="D")
            assert np.abs(profile.at(days) - 1.0).max() < 0.06
        with_profile = ets(True).fit(y, dates=dates).predict(HORIZON, 200, np.random.default_rng(0)).mean
        without = ets(False).fit(y).predict(HORIZON, 200, np.random.default_rng(0)).mean
        assert with_profile.sum() == pytest.approx(without.sum(), rel=0.06)


def test_one_year_of_history_gets_no_profile():
    # One cycle: a season is not told from a level that moved once.
    y, dates, _ = seasonal_sku(days=370, amplitude=0.5)
    assert yearly_profile(y) is None
    model = ets().fit(y, dates=dates)
    assert model.yearly_ is None
    # A year and a quarter (a validation window of a two-year table) does get one, where the season is there.
    y, dates, _ = seasonal_sku(days=MIN_SPAN_DAYS + 10, amplitude=0.5)
    assert ets().fit(y, dates=dates).yearly_ is not None


def test_months_out_of_stock_are_not_read_as_a_season():
    # A flat seller out of stock for three months of a 15-month history: without the gap left out, the profile
    # would forecast those months of the next year at a fraction of the SKU's demand (and the rest above it).
    rng = np.random.default_rng(3)
    dates = pd.date_range("2022-01-01", periods=MIN_SPAN_DAYS + 30, freq="D")
    values = rng.poisson(BASE, len(dates)).astype(float)
    values[120:210] = 0.0
    profile = yearly_profile(pd.Series(values, index=dates))
    if profile is not None:
        year = pd.date_range(dates[-1] + pd.Timedelta(days=1), periods=365, freq="D")
        assert np.abs(profile.at(year) - 1.0).max() < 0.1
    # A season that is there is still found through such a gap.
    y, _, _ = seasonal_sku(days=MIN_SPAN_DAYS + 200, amplitude=0.5)
    y.iloc[100:160] = 0.0
    found = yearly_profile(y)
    assert found is not None and found.shrink > 0.9


def test_the_profile_is_put_back_on_the_calendars_dates():
    # A shop closed on Sundays: the horizon's trading days skip them, and the profile is read on those days.
    y, _, _ = seasonal_sku(days=800, amplitude=0.5)
    y = y[y.index.dayofweek != 6]
    open_days = pd.date_range(y.index[-1] + pd.Timedelta(days=1), periods=40, freq="D")
    open_days = open_days[open_days.dayofweek != 6][:HORIZON]
    np.testing.assert_array_equal(horizon_dates(y.index[-1], open_days, HORIZON), open_days)
    # Without a calendar (or past its end) the dates go on day by day.
    np.testing.assert_array_equal(
        horizon_dates(y.index[-1], None, 3), pd.date_range(y.index[-1] + pd.Timedelta(days=1), periods=3)
    )
    extended = horizon_dates(y.index[-1], open_days[:2], 4)
    assert list(extended[:2]) == list(open_days[:2]) and (np.diff(extended[1:].asi8) > 0).all()
    model = ets().fit(y, dates=open_days)
    assert model.yearly_ is not None
    flat = ets(False).fit(model.yearly_.deseasonalised(y))
    rng = np.random.default_rng
    ratio = model.predict(HORIZON, 100, rng(0)).mean / flat.predict(HORIZON, 100, rng(0)).mean
    np.testing.assert_allclose(ratio, model.yearly_.at(open_days), rtol=1e-6)


def test_the_plan_and_replay_fit_an_ensembles_members_with_what_they_read():
    # The chosen ensemble, refitted per SKU in the plan and the replay, must fit its members as the backtest did:
    # with the horizon's dates (yearly profile) and, with a calendar known, the promo rows.
    y, dates, truth = seasonal_sku(days=830, amplitude=0.4, seed=1)
    rng = np.random.default_rng(0)
    promo = pd.Series((rng.random(len(y) + HORIZON) < 0.1).astype(float), index=y.index.append(dates))
    y = y * np.where(promo.reindex(y.index) > 0, 2.5, 1.0)
    members = {
        "ets": StatsForecastModel("AutoETS", model="ANA", season_length=7, future_covariates="known"),
        "arima": StatsForecastModel("ARIMA", order=[1, 0, 1], season_length=7, future_covariates="known"),
    }
    recipe = Ensemble(combine="mean", members=["ets", "arima"], name="ensemble").choose(None, list(members))
    ensemble = EnsembleForecaster(recipe, members)
    assert ensemble.covariates == ("promo",) and ensemble.reads_dates
    covariates = promo.to_frame("promo")
    forecast, error = safe_forecast(
        "A1", y, HORIZON, ensemble, SeasonalNaive(7), 200, 0, covariates=covariates, dates=dates
    )
    assert error is None
    fitted = ensemble.fitted_
    assert all(m.yearly_ is not None and m.promo_ is not None for m in fitted)
    promoted = promo.reindex(dates).to_numpy() > 0
    assert forecast.mean[promoted].mean() > 1.8 * forecast.mean[~promoted].mean()


def test_a_weekly_tables_year_is_the_profile_not_52_seasonal_states():
    # Three years of weekly totals with a smooth yearly season: 52 states learnt from three values each are noise;
    # the profile (and a model without the weekly table's season) forecasts the next quarter closer.
    errors = {True: [], False: []}
    for seed in range(6):
        rng = np.random.default_rng(seed)
        weeks = pd.date_range("2021-01-03", periods=156 + 13, freq="W-SUN")
        season = 1.0 + 0.3 * np.sin(2 * np.pi * (weeks.dayofyear.to_numpy() - 1) / 365.25 + seed)
        mean = 7 * BASE * season
        demand = rng.poisson(mean).astype(float)
        y = pd.Series(demand[:156], index=weeks[:156])
        for yearly in errors:
            model = StatsForecastModel("AutoETS", model="ANA", season_length=52, yearly_season=yearly)
            forecast = model.fit(y).predict(13, 100, np.random.default_rng(seed))
            errors[yearly].append(np.abs(forecast.mean - mean[156:]).mean() / mean[156:].mean())
            if yearly:
                assert model.yearly_ is not None and model.model_.season_length == 1
    assert np.mean(errors[True]) < 0.7 * np.mean(errors[False])


def test_the_poisson_regression_is_statsmodels_glm():
    import statsmodels.api as sm

    from forecasting.models.yearly_profile import poisson_regression

    y, _, _ = seasonal_sku(days=800, amplitude=0.4, seed=3)
    t = np.arange(len(y)) / len(y)
    angle = 2 * np.pi * (y.index.dayofyear.to_numpy() - 1) / 365.25
    design = np.column_stack([np.ones(len(y)), t, np.sin(angle), np.cos(angle), np.sin(2 * angle), np.cos(2 * angle)])
    ours = poisson_regression(design, y.to_numpy())
    theirs = sm.GLM(y.to_numpy(), design, family=sm.families.Poisson()).fit()
    np.testing.assert_allclose(ours.params, theirs.params, rtol=1e-6)
    np.testing.assert_allclose(ours.cov, theirs.cov_params(), rtol=1e-5)
    assert ours.pearson_chi2 == pytest.approx(theirs.pearson_chi2, rel=1e-6)
    # The log-likelihood up to the data's constant (sum of log y!), which no comparison of models depends on.
    from scipy.special import gammaln

    assert ours.loglik - gammaln(y.to_numpy() + 1).sum() == pytest.approx(theirs.llf, rel=1e-8)
