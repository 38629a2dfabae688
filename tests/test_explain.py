"""forecasting.explain on tables with a known answer: components of a forecast built from them, SHAP drivers of
a booster trained on a feature that decides the target."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from lightgbm import LGBMRegressor

from forecasting.explain import forecast_components, what_moved
from forecasting.explain.drivers import (
    drivers_sentence,
    explain_kept,
    feature_words,
    keep_drivers,
    kept_drivers,
    shap_values,
    top_drivers,
)
from forecasting.models.base import TrainingContext
from forecasting.models.explainable import keep, kept_models, load


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
    booster = LGBMRegressor(n_estimators=60, verbose=-1, n_jobs=1).fit(features, target)
    rows = features.iloc[:20].assign(sku=["A"] * 10 + ["B"] * 10, promo=[1] * 10 + [0] * 10)
    drivers = top_drivers(booster, rows, k=2)
    a, b = drivers[drivers["sku"] == "A"], drivers[drivers["sku"] == "B"]
    assert a["feature"].iloc[0] == "promo" and a["contribution"].iloc[0] > 0  # on promotion: pushed up
    assert b["feature"].iloc[0] == "promo" and b["contribution"].iloc[0] < 0  # off promotion: held down
    assert drivers_sentence(a).startswith("Top drivers by SHAP value: promo +")


def test_shap_values_are_shaps_treeexplainer_values():
    """LightGBM's own TreeSHAP, used so a server need not import shap, gives the values shap gives."""
    import shap

    rng = np.random.default_rng(1)
    features = pd.DataFrame({"a": rng.normal(size=300), "b": rng.integers(0, 3, 300).astype(float)})
    booster = LGBMRegressor(n_estimators=30, verbose=-1, n_jobs=1).fit(features, features["a"] * features["b"])
    ours = shap_values(booster, features.iloc[:20])
    theirs = shap.TreeExplainer(booster).shap_values(features.iloc[:20])
    np.testing.assert_allclose(ours[:, :-1], theirs, atol=1e-6)
    np.testing.assert_allclose(ours.sum(axis=1), booster.predict(features.iloc[:20], raw_score=True), atol=1e-6)


def test_a_kept_booster_explains_its_latest_origin_in_a_planners_words(tmp_path):
    rng = np.random.default_rng(2)
    n = 3000
    x = pd.DataFrame({"promo": rng.integers(0, 2, n).astype(float), "lag7": rng.gamma(2.0, 1.0, n)})
    x["rolling_mean_lag1_window_size28"] = rng.gamma(2.0, 1.0, n)
    y = np.exp(0.7 * x["promo"]) * (0.5 + 0.2 * x["lag7"])  # a promotion doubles demand (x2.01)
    booster = LGBMRegressor(objective="tweedie", n_estimators=200, verbose=-1, n_jobs=1).fit(x, rng.poisson(y))
    rows = x.iloc[:14].assign(sku=["A"] * 7 + ["B"] * 7, step=list(range(7)) * 2, promo=[1.0] * 7 + [0.0] * 7)
    work = TrainingContext(str(tmp_path / "models"), {}, [0.5], explainable=True)
    keep(work, "lightgbm", booster, rows, "2024-05-01", output="log", unit="trading day", horizon=14)
    keep(work, "lightgbm", booster, rows.assign(promo=0.0), "2024-04-01", output="log")  # older: ignored
    keep(TrainingContext(str(tmp_path / "library"), {}, [0.5]), "lightgbm", booster, rows, "2024-05-01", output="log")
    assert kept_models(tmp_path) == ["lightgbm"] and not (tmp_path / "library").exists()  # unasked: nothing
    kept = load(tmp_path, "lightgbm")
    assert kept.meta["cutoff"] == "2024-05-01" and kept.rows["promo"].tolist()[:7] == [1.0] * 7
    why = explain_kept(kept, ["A", "B", "not kept"])
    assert set(why) == {"A", "B"}
    top_a, top_b = why["A"]["drivers"][0], why["B"]["drivers"][0]
    assert top_a["driver"] == "promotion" and 0.3 < top_a["effect"] < 1.5  # raises A's forecast
    assert top_b["driver"] == "promotion" and top_b["effect"] < 0  # B, off promotion, sells below average
    assert "promotion (+" in why["A"]["sentence"] and why["A"]["method"].endswith("forecast from 2024-05-01")
    # A plan run computes them once and keeps them beside the booster, for its origin only.
    keep_drivers(tmp_path, pd.DataFrame({"sku": ["A", "B", "C"], "model": ["lightgbm", "lightgbm", "ets"]}))
    assert kept_drivers(tmp_path, kept) == why
    assert kept_drivers(tmp_path, replace(kept, meta={**kept.meta, "cutoff": "2024-06-01"})) is None
    words = {d["driver"] for s in why.values() for d in s["drivers"]}
    assert words <= {"promotion", "demand 7 trading days before", "average demand over the last 28 trading days"}
    # A SKU whose champion is an ensemble with the booster among its members: the member's drivers, told as its
    # part of the ensemble's forecast (the API and the report read them through boosters_drivers).
    from forecasting.explain.per_sku import boosters_drivers

    spec = {"combine": "inverse", "members": ["tsb", "lightgbm", "arima"], "weights": [0.3, 0.45, 0.25]}
    (tmp_path / "metrics.json").write_text(json.dumps({"ensembles": {"ensemble_weighted": spec}}))
    plan = pd.DataFrame({"sku": ["A", "B", "C"], "model": ["lightgbm", "ensemble_weighted", "ets"]})
    keep_drivers(tmp_path, plan, {"ensemble_weighted": spec})
    shown = boosters_drivers(tmp_path, plan)
    assert set(shown) == {"A", "B"} and shown["A"] == why["A"]
    assert shown["B"]["drivers"] == why["B"]["drivers"] and shown["B"]["weight"] == 0.45
    assert shown["B"]["sentence"].startswith("ensemble_weighted combines tsb, lightgbm, arima; these drivers explain")


def test_feature_names_read_as_a_planner_would():
    meta = {"unit": "week", "horizon": 10}
    assert feature_words("lag1", meta) == "demand 1 week before"
    assert (
        feature_words("rolling_mean_lag4_window_size13", meta)
        == "average demand over the last 13 weeks, ending 3 weeks back"
    )
    assert feature_words("ma_0.2h", meta) == "average demand over the last 2 weeks"
    assert feature_words("sale_freq_1.6h", meta) == "how often it sold over the last 16 weeks"
    assert feature_words("dow_sin", meta) == feature_words("dow_cos", meta) == "day of the week"
    assert feature_words("something_new", meta) == "something_new"
