"""The statsforecast adapter: models from YAML, the calendar's season, and sample paths that agree with
statsforecast's own intervals and simulations (so quantiles of sums over lead times are the model's)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hydra.utils import instantiate
from omegaconf import OmegaConf
from statsforecast.arima import simulate_arima

from forecasting.errors import InputError
from forecasting.models.statsforecast_adapter import StatsForecastModel

CONF = Path(__file__).resolve().parents[1] / "conf" / "model"


def weekly(n=300, seed=0):
    """Daily demand with a 6-day trading week and noise, on a trading-day index."""
    rng = np.random.default_rng(seed)
    season = np.tile([28.0, 30, 32, 29, 27, 23], n // 6 + 1)[:n]
    return pd.Series(season + rng.normal(0, 2, n), index=pd.bdate_range("2023-01-02", periods=n))


def model_from_yaml(name: str, season: int = 6) -> StatsForecastModel:
    ((_, cfg),) = OmegaConf.load(CONF / f"{name}.yaml").items()
    return instantiate(cfg, _convert_="all").with_season(season)


def test_season_comes_from_the_calendar():
    for season in (5, 7):
        model = model_from_yaml("ets", season).fit(weekly())
        assert model.model_.season_length == season and model.model_.model_["m"] == season
    # Models without a season (Croston) are built without one.
    assert model_from_yaml("croston_sf").fit(weekly()).model_.alias == "CrostonSBA"


def test_ets_paths_match_statsforecast_intervals_and_simulation():
    model = model_from_yaml("ets").fit(weekly())
    f = model.predict(30, 20000, np.random.default_rng(0))
    ref = model.model_.predict(h=30, level=[90])
    np.testing.assert_allclose(f.mean, ref["mean"])
    # Each day's 5% and 95% quantiles are the model's 90% interval.
    np.testing.assert_allclose(np.quantile(f.paths, 0.95, axis=0), ref["hi-90"], rtol=0.03)
    np.testing.assert_allclose(np.quantile(f.paths, 0.05, axis=0), ref["lo-90"], rtol=0.05)
    # Sums over 30 days spread as in statsforecast's own (slow, per-path) simulation of the fitted model.
    sims = model.model_.simulate(h=30, n_paths=4000, seed=1)
    assert f.paths.sum(axis=1).std() == pytest.approx(sims.sum(axis=1).std(), rel=0.06)


@pytest.mark.parametrize(
    ("spec", "damped", "horizon"),
    [("ANN", None, 30), ("AAN", False, 30), ("AAN", True, 30), ("ANA", None, 6), ("AAA", True, 6)],
)
def test_additive_ets_psi_weights_give_statsforecasts_daily_variances(spec, damped, horizon):
    # The weights come from the smoothing constants, not from statsforecast's intervals (which cost more than
    # the forecast); each day's variance must still be the model's. Seasonal specs within one season, where
    # statsforecast's seasonal term is per day (past it, it counts the whole horizon's seasons at every day).
    from statsforecast.models import AutoETS

    from forecasting.models.statsforecast_adapter import additive_ets_weights

    y = weekly(300, seed=4).to_numpy() + np.linspace(0, 6, 300)
    fitted = AutoETS(season_length=6, model=spec, damped=damped).fit(y)
    weights = additive_ets_weights(fitted.model_, horizon)
    ref = fitted.predict(h=horizon, level=[80])
    sd = (ref["hi-80"] - ref["mean"]) / 1.2815515655446004
    np.testing.assert_allclose(np.sqrt(np.cumsum(weights**2)), sd, rtol=1e-6)
    # Multiplicative models have no such closed form here: their intervals are read instead.
    mult = AutoETS(season_length=6, model="MNM").fit(y + 20)
    assert additive_ets_weights(mult.model_, horizon) is None


def test_arima_paths_keep_negative_psi_weights():
    # An AR(1) with a negative coefficient: errors alternate in sign, so a 30-day sum is far less uncertain
    # than 30 days of independent (or all-positive) errors; variances alone would miss it.
    rng = np.random.default_rng(3)
    y = np.empty(400)
    y[0] = 10
    for t in range(1, 400):
        y[t] = 10 - 0.6 * (y[t - 1] - 10) + rng.normal(0, 2)
    model = StatsForecastModel("ARIMA", order=[1, 0, 0], include_mean=True).with_season(6)
    model.fit(pd.Series(y))
    f = model.predict(30, 20000, np.random.default_rng(0))
    sims = simulate_arima(model.model_.model_, 30, 4000, seed=1)
    ours, theirs = f.paths.sum(axis=1).std(), sims.sum(axis=1).std()
    assert ours == pytest.approx(theirs, rel=0.06)
    daily_sd = f.paths.std(axis=0).mean()
    assert ours < 0.5 * daily_sd * np.sqrt(30)  # what independent days would give


def test_intermittent_paths_keep_zeros_and_the_forecast_mean():
    rng = np.random.default_rng(1)
    y = pd.Series(rng.poisson(5, 200) * (rng.random(200) < 0.2), dtype=float)
    model = model_from_yaml("croston_sf").fit(y)
    f = model.predict(20, 20000, np.random.default_rng(0))
    assert f.paths.mean(axis=0) == pytest.approx(f.mean, rel=0.05)
    assert 0.7 < (f.paths == 0).mean() < 0.9  # about the 80% of days that sell nothing
    assert (f.paths >= 0).all()


def test_one_huge_past_order_does_not_set_the_lead_time_tail():
    rng = np.random.default_rng(2)
    clean = pd.Series(rng.poisson(5, 300) * (rng.random(300) < 0.2), dtype=float)
    spiked = clean.copy()
    spiked.iloc[-40] = 200.0  # one exceptional order, 40 times a usual one
    q = {}
    for name, y in {"clean": clean, "spiked": spiked}.items():
        f = model_from_yaml("croston_sf").fit(y).predict(7, 20000, np.random.default_rng(0))
        q[name] = np.quantile(f.paths.sum(axis=1), 0.99) / f.mean.sum()
    # Relative to the forecast, the 7-day 99% quantile (what a high service target stocks for) barely moves;
    # resampling raw sizes made it jump.
    assert q["spiked"] < 1.3 * q["clean"]


def test_lead_time_sums_carry_rate_uncertainty():
    # The rate doubled half-way through the history: the rate the model carries forward is uncertain, so 28-day
    # sums must be wider than a compound Bernoulli with that rate known exactly would make them.
    rng = np.random.default_rng(3)
    y = pd.Series(rng.poisson(5, 364) * (rng.random(364) < np.repeat([0.1, 0.2], 182)), dtype=float)
    model = model_from_yaml("croston_sf").fit(y)
    f = model.predict(28, 20000, np.random.default_rng(0))
    sums = f.paths.sum(axis=1)
    assert sums.mean() == pytest.approx(f.mean.sum(), rel=0.03)
    p, size_cv2 = model.prob_, model.sizes_.var() / model.sizes_.mean() ** 2
    known_rate_cv = np.sqrt((1 - p + size_cv2) / (p * 28))
    assert sums.std() / sums.mean() > 1.15 * known_rate_cv


def test_croston_lead_time_sums_miss_their_95_quantile_by_as_much_as_the_paths_expect():
    # What a fill-rate target loses is the demand past the stocked quantile. Over many stationary intermittent
    # series, what actual 21-day sums exceed the forecast's 95% quantile by must match what the paths themselves
    # expect past it: the rate of a smoother of constant 0.1 rests on about 19 sales, not on the 50 sizes the
    # paths draw from (counted as 50, the realised excess was about twice the expected one).
    rng = np.random.default_rng(4)
    realised, expected = 0.0, 0.0
    for k in range(300):
        p, size = rng.uniform(0.1, 0.5), rng.uniform(2, 40)
        y = (rng.random(421) < p) * (1 + rng.poisson(size, 421))
        model = model_from_yaml("croston_sf").fit(pd.Series(y[:400], dtype=float))
        sums = model.predict(21, 1000, np.random.default_rng(k)).paths.sum(axis=1)
        q95 = np.quantile(sums, 0.95)
        realised += max(y[400:].sum() - q95, 0.0)
        expected += np.maximum(sums - q95, 0.0).mean()
    assert 0.7 < realised / expected < 1.4


@pytest.mark.parametrize("name", ["autotheta", "tsb_sf", "adida", "imapa", "croston_optimized", "autoets"])
def test_other_statsforecast_yamls_forecast(name):
    f = model_from_yaml(name).fit(weekly(120)).predict(12, 300, np.random.default_rng(0))
    assert f.paths.shape == (300, 12) and f.paths.std() > 0
    assert abs(f.paths.mean() - f.mean.mean()) < 0.2 * f.mean.mean()


def test_unknown_class_or_paths_is_one_clear_sentence():
    with pytest.raises(InputError, match="model_class 'AutoETX' is not a statsforecast model"):
        StatsForecastModel("AutoETX")
    with pytest.raises(InputError, match="model paths 'bootstrap' is unknown; use one of gaussian"):
        StatsForecastModel("AutoETS", paths="bootstrap")
