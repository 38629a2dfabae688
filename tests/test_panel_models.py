"""Panel-wide models: all SKUs of a cutoff at once give exactly what the models give one SKU at a time."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsforecast.models as sf

from forecasting.backtest.folds import make_cutoffs
from forecasting.backtest.runner import backtest
from forecasting.backtest.settings import BacktestSettings
from forecasting.backtest.sku_runner import backtest_sku
from forecasting.datasets.synthetic import synthetic_demand
from forecasting.models.intermittent import Croston
from forecasting.models.naive import SeasonalNaive
from forecasting.models.panel import PanelForecaster
from forecasting.models.smoothing import SimpleExpSmoothing

QUANTILES = [0.05, 0.1, 0.5, 0.9, 0.95]


def ragged_panel(n_skus: int = 24, days: int = 240) -> pd.DataFrame:
    """Synthetic demand of the four demand classes, SKUs starting on different days, one that never sells."""
    table = synthetic_demand(n_skus, days, seed=5).table
    table["sku"] = table["sku"].astype(str)
    table["demand"] = table["demand"].astype(float)
    first = {sku: i * 7 for i, sku in enumerate(table["sku"].unique())}
    table = table[(table["date"] - table["date"].min()).dt.days >= table["sku"].map(first)]
    table.loc[table["sku"] == table["sku"].iloc[-1], "demand"] = 0.0
    return table[["sku", "date", "demand"]].reset_index(drop=True)


def models() -> dict:
    return {
        "seasonal_naive": SeasonalNaive(season_length=7),
        "croston": Croston("croston", alpha=0.2, beta=0.05),
        "sba": Croston("sba"),
        "tsb": Croston("tsb", alpha=0.1, beta=0.3),
        "ses": SimpleExpSmoothing(alpha=0.2),
    }


def test_panel_backtest_equals_one_sku_at_a_time():
    panel = ragged_panel()
    cuts = make_cutoffs(pd.DatetimeIndex(panel["date"].unique()), horizon=14, folds=3, step=30)
    options = dict(
        cutoffs=cuts, models=models(), fallback=SeasonalNaive(season_length=7),
        settings=BacktestSettings(14, QUANTILES, num_samples=40, seed=7, min_train_days=28),
    )  # fmt: skip
    run = backtest(panel, **options)
    table, failures = run.table, run.failures
    one_by_one = pd.concat(
        [backtest_sku(sku, s.set_index("date")["demand"], **options).rows for sku, s in panel.groupby("sku")]
    )
    # One SKU's result carries its text columns as categorical codes; the joined table as plain strings.
    one_by_one = one_by_one.astype({"sku": object, "model": object, "role": object})
    one_by_one = one_by_one.sort_values(["model", "sku", "cutoff", "date"], kind="stable").reset_index(drop=True)
    assert failures.empty
    # SKUs that start late sit out the early folds, in both.
    assert table.groupby("cutoff")["sku"].nunique().is_monotonic_increasing
    assert table["sku"].nunique() == panel["sku"].nunique()
    pd.testing.assert_frame_equal(table, one_by_one[table.columns], check_exact=True)


@pytest.mark.parametrize(
    ("ours", "theirs"),
    [
        (SeasonalNaive(season_length=7), sf.SeasonalNaive(season_length=7)),
        (Croston("croston"), sf.CrostonClassic()),
        (Croston("sba"), sf.CrostonSBA()),
        (Croston("tsb", alpha=0.2, beta=0.1), sf.TSB(alpha_d=0.2, alpha_p=0.1)),
        (SimpleExpSmoothing(alpha=0.3), sf.SimpleExponentialSmoothing(alpha=0.3)),
    ],
)
def test_point_forecasts_match_statsforecast(ours, theirs):
    panel = ragged_panel(12, 200)
    for _, s in panel.groupby("sku"):
        y = s["demand"].to_numpy()
        mine = ours.fit(pd.Series(y)).predict(21, 5, np.random.default_rng(0)).mean
        # TSB: statsforecast smooths occurrence from day one, we from the first sale; the start fades out.
        np.testing.assert_allclose(mine, theirs.fit(y).predict(21)["mean"], rtol=1e-6, atol=1e-9)


def test_default_croston_gives_statsforecasts_croston_paths():
    # The default `croston` runs panel-wide; a plan built on it must not change from the per-SKU statsforecast
    # model it replaced (`croston_sf`): same forecasts and, from the same random numbers, the same sample paths.
    from forecasting.models.statsforecast_adapter import StatsForecastModel

    reference = StatsForecastModel("CrostonSBA", paths="intermittent", min_history=1)
    panel = ragged_panel(12, 200)
    for _, s in panel.groupby("sku"):
        y = pd.Series(s["demand"].to_numpy())
        ours = Croston("sba").fit(y).predict(21, 300, np.random.default_rng(3))
        theirs = reference.fit(y).predict(21, 300, np.random.default_rng(3))
        np.testing.assert_allclose(ours.paths, theirs.paths, rtol=1e-9, atol=1e-9)
        np.testing.assert_allclose(ours.mean, theirs.mean, rtol=1e-9, atol=1e-12)


class Exploding(PanelForecaster):
    """Seasonal naive that gives a non-finite forecast for SKUs whose history peaks above 30 units."""

    def fit_panel(self, history, lengths):
        self.inner_ = SeasonalNaive(season_length=7).fit_panel(history, lengths)
        self.bad_ = np.nanmax(history, axis=1) > 30
        return self

    def predict_panel(self, horizon, num_samples, rngs):
        mean, paths = self.inner_.predict_panel(horizon, num_samples, rngs)
        mean[self.bad_] = np.inf
        return mean, paths


def test_a_sku_the_panel_model_fails_on_falls_back_alone():
    panel = ragged_panel(12, 150)
    cuts = make_cutoffs(pd.DatetimeIndex(panel["date"].unique()), horizon=14, folds=1, step=14)
    run = backtest(panel, cuts, {"x": Exploding()}, SeasonalNaive(season_length=7), BacktestSettings(14, QUANTILES, 20))
    table, failures = run.table, run.failures
    history = panel[panel["date"] <= cuts["cutoff"].iloc[0]]
    bad = set(history.groupby("sku")["demand"].max().loc[lambda m: m > 30].index)
    assert 0 < len(bad) < panel["sku"].nunique()
    assert set(failures["sku"]) == bad
    assert failures["error"].str.contains("non-finite").all()
    flagged = table.groupby("sku")["fallback"].agg(["all", "any"])
    assert set(flagged.index[flagged["all"]]) == bad and set(flagged.index[flagged["any"]]) == bad
    assert np.isfinite(table["mean"]).all()
