"""Per-SKU models with a promo column: fitted on the baseline demand, their paths carry the SKU's promotion lift
(forecasting/models/promo_lift.py). Demand drawn with a known lift, so the right answers are computable."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from forecasting.datasets.synthetic import synthetic_demand
from forecasting.models.promo_lift import promo_lift
from forecasting.models.statsforecast_adapter import StatsForecastModel
from tests.test_run import run_cli

LIFT, BASE, DAYS, HORIZON = 2.5, 20.0, 420, 21


def promoted_sku(seed: int = 0, share: float = 0.08):
    """Poisson demand of mean BASE, LIFT x on promo days (a random `share` of them): the history, its promo rows
    (the horizon's too), the horizon's dates and demand."""
    rng = np.random.default_rng(seed)
    dates = pd.date_range("2024-01-01", periods=DAYS + HORIZON, freq="D")
    promo = (rng.random(len(dates)) < share).astype(float)
    demand = rng.poisson(BASE * np.where(promo > 0, LIFT, 1.0)).astype(float)
    y = pd.Series(demand[:DAYS], index=dates[:DAYS])
    return y, pd.DataFrame({"promo": promo}, index=dates), dates[DAYS:], demand[DAYS:]


def ets(future: str = "carried") -> StatsForecastModel:
    return StatsForecastModel("AutoETS", model="ANN", season_length=7, future_covariates=future)


def test_the_lift_is_estimated_against_the_demand_around_the_promotions():
    y, covariates, dates, _ = promoted_sku()
    # A trend that doubles demand over the history must not read as a lift (promotions fall on every level).
    trend = pd.Series(np.linspace(1.0, 2.0, len(y)), index=y.index)
    lift = promo_lift(y * trend, covariates, dates, "known", daily=True)
    assert lift is not None and lift.lift == pytest.approx(LIFT, rel=0.1)
    np.testing.assert_array_equal(lift.ahead, covariates["promo"].reindex(dates).to_numpy())
    # With the future unknown nothing is lifted: drawing promotions at the SKU's usual rate gained nothing.
    assert promo_lift(y, covariates, dates, "carried", daily=True) is None


def test_with_the_promo_calendar_known_the_promoted_days_are_lifted():
    y, covariates, dates, future = promoted_sku(seed=2, share=0.15)
    known = covariates["promo"].reindex(dates).to_numpy() > 0
    assert known.any() and (~known).any()
    rng = np.random.default_rng
    forecast = ets("known").fit(y, covariates, dates).predict(HORIZON, 500, rng(0))
    ratio = forecast.mean[known].mean() / forecast.mean[~known].mean()
    assert ratio == pytest.approx(LIFT, rel=0.15)
    # Per day, against the model that sees promotions as noise: the promoted days forecast near their lifted
    # demand, the ordinary ones near the baseline, both closer to the truth.
    truth = BASE * np.where(known, LIFT, 1.0)
    blind = ets().fit(y).predict(HORIZON, 500, rng(0))
    assert np.abs(forecast.mean - truth).mean() < 0.5 * np.abs(blind.mean - truth).mean()
    # The paths of the window's sum are centred where that sum falls (the calendar's promotions priced in).
    sums = forecast.paths.sum(axis=1)
    assert np.quantile(sums, 0.05) < future.sum() < np.quantile(sums, 0.95)


def test_without_promotions_to_learn_from_the_model_is_unchanged():
    y, covariates, dates, _ = promoted_sku(seed=3, share=0.0)
    rng = np.random.default_rng
    plain = ets().fit(y).predict(HORIZON, 200, rng(0))
    for given in (covariates, covariates.assign(promo=np.nan), None):
        same = ets("known").fit(y, given, dates).predict(HORIZON, 200, rng(0))
        np.testing.assert_allclose(same.paths, plain.paths)
    promoted, covariates, dates, _ = promoted_sku(seed=3)
    unknown = ets("carried").fit(promoted, covariates, dates).predict(HORIZON, 200, rng(0))
    np.testing.assert_allclose(unknown.paths, ets().fit(promoted).predict(HORIZON, 200, rng(0)).paths)


def test_empty_promo_cells_are_no_evidence_either_way():
    # The promo column exists only for the last year (an export that began recording it late): the earlier
    # promotions are there in the demand but unmarked; counted as unpromoted days they would lower the lift.
    y, covariates, dates, _ = promoted_sku(seed=4, share=0.1)
    unrecorded = covariates.copy()
    unrecorded.iloc[: DAYS - 200, 0] = np.nan
    lift = promo_lift(y, unrecorded, dates, "known", daily=True)
    assert lift is not None and lift.lift == pytest.approx(LIFT, rel=0.12)


def test_a_run_told_the_promo_calendar_forecasts_its_promoted_days(tmp_path):
    # The option reaches the per-SKU models from the data config (`data.future_covariates`), as lightgbm's does.
    data = synthetic_demand(n_skus=6, days=400, seed=5, classes=("smooth",), trend=False, promo_share=0.15)
    path = tmp_path / "demand.parquet"
    data.table.to_parquet(path, index=False)
    lifts = {}
    for future in ("known", "carried"):
        run = tmp_path / future
        res = run_cli(
            "task=backtest", "data=daily_demand", f"data.path={path}", "data.columns.promo=promo",
            f"data.future_covariates={future}", "model=[ets]", "debug=tiny", f"hydra.run.dir={run}",
        )  # fmt: skip
        assert res.returncode == 0, res.stderr[-3000:]
        # The run says what it did with the column: a mapped promo column nothing forecasts from is no secret.
        note = json.loads((run / "data_quality.json").read_text())["promotions"]
        assert f"data.future_covariates={future}" in note and "SKU-periods promoted (6 SKUs)" in note, note
        table = pd.read_parquet(run / "backtest.parquet")
        table = table[table["model"].astype(str) == "ets"].assign(sku=lambda t: t["sku"].astype(str))
        promo = data.table.assign(sku=data.table["sku"].astype(str)).set_index(["sku", "date"])["promo"]
        on = promo.reindex(pd.MultiIndex.from_arrays([table["sku"], table["date"]])).to_numpy() > 0
        per_sku = table.groupby([table["sku"], on])["mean"].mean().unstack()  # SKU x (ordinary, promoted)
        lifts[future] = float((per_sku[True] / per_sku[False]).median())
    true_lift = float(data.truth["promo_lift"].median())
    assert lifts["known"] == pytest.approx(true_lift, rel=0.25), lifts
    assert lifts["carried"] == pytest.approx(1.0, abs=0.1), lifts  # promo days unknown: forecast as any day
