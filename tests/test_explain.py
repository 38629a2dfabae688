"""forecasting.explain on tables with a known answer: components of a forecast built from them, SHAP drivers of
a booster trained on a feature that decides the target."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from lightgbm import LGBMRegressor

from forecasting.explain import forecast_components, what_moved
from forecasting.explain.drivers import drivers_sentence, top_drivers


def test_components_recover_level_trend_and_weekday_profile():
    dates = pd.date_range("2024-01-01", periods=84, freq="D")  # a Monday: weekday 0 first
    profile = np.array([1.0, 1.0, 1.0, 1.0, 1.0, 1.5, 0.5])
    mean = (10.0 + 0.5 * np.arange(84) / 7) * profile[dates.dayofweek]
    table = forecast_components(pd.DataFrame({"sku": "A", "date": dates, "mean": mean})).iloc[0]
    assert table["trend_per_week"] == pytest.approx(0.5, rel=1e-6)
    assert table["level"] == pytest.approx(np.mean(mean[:28]))
    assert (table["peak_day"], table["low_day"]) == ("Sat", "Sun")
    assert table["season"]["Sat"] == pytest.approx(1.5, rel=0.05) and table["season"]["Sun"] == pytest.approx(
        0.5, rel=0.1
    )


def test_what_moved_names_demand_champion_and_recalibration():
    dates = pd.date_range("2024-03-01", periods=30, freq="D")
    plan = pd.DataFrame({"sku": ["A"], "model": ["arima"], "segment": ["A-smooth"], "calibration_factor": [1.3],
                         "order_qty": [40.0]})  # fmt: skip
    before = plan.assign(model="ets", calibration_factor=1.0, order_qty=10.0)
    forecast = pd.DataFrame({"sku": "A", "date": dates, "mean": 6.0})
    previous = pd.DataFrame({"sku": "A", "date": dates - pd.Timedelta(days=14), "mean": 4.0})
    latest = pd.date_range(dates[0] - pd.Timedelta(days=14), periods=14, freq="D")  # the weeks up to the cut-off
    recent = pd.DataFrame({"sku": "A", "date": latest, "demand": 6.0, "promo": 1})
    decisions = pd.DataFrame({"segment": ["A-smooth"], "model": ["arima"], "reason": ["beat ets by 12% on pinball"]})
    moved = what_moved(plan, forecast, before, previous, recent, decisions).iloc[0]
    text = " ".join(moved["moved"])
    assert "forecast is up 50%" in text and "Demand in the last 14 days was up 50%" in text
    assert "New champion model: arima replaced ets (beat ets by 12% on pinball)" in text
    assert "14 of the last 14 days were on promotion" in text and "Recalibration moved the safety margin up 30%" in text


def test_top_drivers_finds_the_feature_that_decides_the_target():
    rng = np.random.default_rng(0)
    n = 2000
    features = pd.DataFrame({"promo": rng.integers(0, 2, n), "lag_7": rng.normal(5, 1, n), "noise": rng.normal(size=n)})
    target = 10 * features["promo"] + 1.0 * features["lag_7"] + rng.normal(0, 0.1, n)
    booster = LGBMRegressor(n_estimators=60, verbose=-1).fit(features, target)
    rows = features.iloc[:20].assign(sku=["A"] * 10 + ["B"] * 10, promo=[1] * 10 + [0] * 10)
    drivers = top_drivers(booster, rows, k=2)
    a, b = drivers[drivers["sku"] == "A"], drivers[drivers["sku"] == "B"]
    assert a["feature"].iloc[0] == "promo" and a["contribution"].iloc[0] > 0  # on promotion: pushed up
    assert b["feature"].iloc[0] == "promo" and b["contribution"].iloc[0] < 0  # off promotion: held down
    assert drivers_sentence(a).startswith("Top drivers by SHAP value: promo +")
