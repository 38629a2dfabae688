"""`arima_x`: per-SKU ARIMA with promo and relative price as regressors, and the one `future_covariates` option it
shares with the global booster. Synthetic demand whose promo days have a known lift, known ahead."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from forecasting.backtest.folds import make_cutoffs
from forecasting.backtest.runner import backtest
from forecasting.backtest.settings import BacktestSettings
from forecasting.datasets.synthetic import synthetic_demand
from forecasting.errors import InputError
from forecasting.models.arima_covariates import CovariateARIMA
from forecasting.models.naive import SeasonalNaive
from forecasting.models.statsforecast_adapter import StatsForecastModel
from forecasting.storage import read_csv
from tests.test_global_models import lightgbm
from tests.test_neural import tiny_panel
from tests.test_run import run_cli

QUANTILES = [0.1, 0.5, 0.9]
ARIMA = dict(model_class="ARIMA", order=[1, 0, 1], seasonal_order=[1, 0, 0], include_mean=True, tol=1e-3)


def models(future: str = "known") -> dict:
    return {
        "arima": StatsForecastModel(**ARIMA).with_season(7),
        "arima_x": CovariateARIMA(future_covariates=future, **ARIMA).with_season(7),
    }


def panel_of(data, skus=None) -> pd.DataFrame:
    table = data.table.assign(sku=data.table["sku"].astype(str), filled=False)
    table = table[table["sku"].isin(skus)] if skus is not None else table
    return table[["sku", "date", "demand", "filled", "price", "promo"]].reset_index(drop=True)


def run_backtest(panel: pd.DataFrame, future: str = "known", folds: int = 4) -> pd.DataFrame:
    cutoffs = make_cutoffs(pd.DatetimeIndex(panel["date"].unique()), horizon=30, folds=folds, step=30)
    run = backtest(panel, cutoffs, models(future), SeasonalNaive(7), BacktestSettings(30, QUANTILES, num_samples=100))
    table, failures = run.table, run.failures
    assert failures.empty, failures
    return table.assign(sku=table["sku"].astype(str), model=table["model"].astype(str))


def test_arima_x_with_known_promo_beats_arima_on_promo_days():
    data = synthetic_demand(n_skus=40, days=730, seed=7, classes=("smooth",), trend=False)
    promo_driven = data.truth.index[data.truth["promo_share"] > 0.03][:6]
    panel = panel_of(data, promo_driven)
    table = run_backtest(panel)
    promo = panel.set_index(["sku", "date"])["promo"]
    table["promo"] = promo.reindex(pd.MultiIndex.from_arrays([table["sku"], table["date"]])).to_numpy()
    on_promo = table[table["promo"] == 1]
    assert on_promo["sku"].nunique() >= 4 and len(on_promo) >= 20
    mae = (on_promo["mean"] - on_promo["demand"]).abs().groupby(on_promo["model"]).mean()
    # The lift is 1.8-3x: ARIMA forecasts the ordinary day, arima_x the promo day.
    assert mae["arima_x"] < 0.6 * mae["arima"], mae
    # The regressors shift the whole distribution, not only the mean: the median of the paths moves with it.
    p50 = on_promo.groupby("model")["p50"].mean()
    assert p50["arima_x"] > 1.5 * p50["arima"]
    ordinary = table[table["promo"] == 0]
    mae_ordinary = (ordinary["mean"] - ordinary["demand"]).abs().groupby(ordinary["model"]).mean()
    assert mae_ordinary["arima_x"] <= 1.02 * mae_ordinary["arima"], mae_ordinary


def test_arima_x_without_covariate_variation_is_arima():
    data = synthetic_demand(n_skus=4, days=400, seed=3, classes=("smooth",), promo=False)
    panel = panel_of(data)
    assert panel.groupby("sku")["price"].nunique().eq(1).all() and panel["promo"].eq(0).all()
    table = run_backtest(panel, folds=2)
    x = table[table["model"] == "arima_x"].reset_index(drop=True)
    plain = table[table["model"] == "arima"].reset_index(drop=True)
    for col in ["mean", "p10", "p50", "p90"]:
        np.testing.assert_allclose(x[col], plain[col])


def test_with_carried_covariates_frequent_promotions_do_not_pull_the_forecast_down():
    # A promo calendar nobody gave: a model that learned the promo lift and is fed "no promotion" (or the last,
    # maybe discounted, price) forecasts every day as an ordinary one, while a third of the days are promoted.
    from forecasting.data.calendar import TradingCalendar
    from forecasting.data.segments import segment_skus

    data = synthetic_demand(n_skus=12, days=400, seed=2, classes=("smooth",), trend=False, promo_share=0.6)
    panel = panel_of(data)
    assert panel["promo"].mean() > 0.2
    segments = segment_skus(panel)
    biases = []
    for cutoff in panel["date"].unique()[[-31, -61, -91]]:
        later = panel[(panel["date"] > cutoff) & (panel["date"] <= cutoff + pd.Timedelta(days=30))]
        model = lightgbm(TradingCalendar(closed_weekdays=()), future_covariates="carried")
        means = model.fit(panel, segments, cutoff).predict_means(panel, segments, cutoff, horizon=30)
        biases.append(float(np.asarray(means).sum() / later["demand"].sum() - 1))
    # Trained with promo and price: -4%, +13% and +34% (the last price carried was a promo day's discount).
    assert max(map(abs, biases)) < 0.1, biases
    table = run_backtest(panel, "carried", folds=1)
    x = table[table["model"] == "arima_x"].reset_index(drop=True)
    plain = table[table["model"] == "arima"].reset_index(drop=True)
    np.testing.assert_allclose(x["mean"], plain["mean"])  # nothing known ahead: no regressor


def test_carried_reads_nothing_after_the_cutoff_and_known_does():
    data = synthetic_demand(n_skus=12, days=500, seed=11, classes=("smooth",), trend=False)
    panel = panel_of(data, data.truth.index[data.truth["promo_share"] > 0.02][:3])
    changed = panel.copy()
    later = changed["date"] > changed["date"].unique()[-31]  # the last fold's horizon
    changed.loc[later, "promo"] = 1 - changed.loc[later, "promo"]
    changed.loc[later, "price"] *= 0.5
    for future, same in (("carried", True), ("known", False)):
        before = run_backtest(panel, future, folds=1)
        after = run_backtest(changed, future, folds=1)
        x = before["model"] == "arima_x"
        assert np.allclose(before.loc[x, "mean"], after.loc[x, "mean"]) == same, future
        assert np.allclose(before.loc[~x, "mean"], after.loc[~x, "mean"])  # arima reads no covariate


def test_future_covariates_option_is_checked_and_shared_with_lightgbm():
    with pytest.raises(InputError, match="data.future_covariates"):
        CovariateARIMA(future_covariates="guess", **ARIMA)
    panel, seg, cal = tiny_panel(n_skus=3, days=200)
    panel["promo"] = (np.arange(len(panel)) % 9 == 0).astype(float)
    cutoff = panel["date"].unique()[-15]
    changed = panel.copy()
    changed.loc[changed["date"] > cutoff, "promo"] = 1.0
    for future, same in (("carried", True), ("known", False)):
        model = lightgbm(cal, future_covariates=future).fit(panel, seg, cutoff)
        before = model.predict_means(panel, seg, cutoff, horizon=14)
        after = model.predict_means(changed, seg, cutoff, horizon=14)
        assert np.allclose(before, after) == same, future


def test_backtest_run_scores_arima_and_arima_x(tmp_path):
    data = synthetic_demand(n_skus=6, days=300, seed=5, classes=("smooth",))
    path = tmp_path / "demand.parquet"
    data.table.to_parquet(path, index=False)
    res = run_cli(
        "task=backtest",
        "data=daily_demand",
        f"data.path={path}",
        "data.columns.price=price",
        "data.columns.promo=promo",
        "data.future_covariates=known",
        "model=[arima,arima_x]",
        "debug=tiny",
        f"hydra.run.dir={tmp_path / 'run'}",
    )
    assert res.returncode == 0, res.stderr[-3000:]
    board = read_csv(tmp_path / "run" / "leaderboard.csv")
    assert {"arima", "arima_x"} <= set(board["model"])
    assert board.set_index("model").loc[["arima", "arima_x"], "rmsse"].notna().all()
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics
