"""The plan's one parallel pass over SKUs (final forecast, plan row, replay) and the forked workers behind it."""

from __future__ import annotations

import threading
import time

import numpy as np
import pandas as pd
import pytest

from forecasting import parallel
from forecasting.data.calendar import TradingCalendar
from forecasting.datasets.synthetic import synthetic_demand
from forecasting.models.naive import SeasonalNaive
from forecasting.models.statsforecast_adapter import StatsForecastModel
from forecasting.planning.inputs import policy_table, stock_position
from forecasting.planning.runner import PlanSettings, ReplaySettings, plan_pass
from forecasting.planning.sales_history import sku_history
from tests.test_planning import DEFAULTS


def small_plan_inputs(n_skus: int = 6):
    table = synthetic_demand(n_skus, 200, seed=3).table
    table["sku"] = table["sku"].astype(str)
    # The last SKU starts 10 days before the replay: too little history to replay, but it still gets a plan.
    late = table["sku"] == table["sku"].iloc[-1]
    table = table[~late | (table["date"] >= table["date"].max() - pd.Timedelta(weeks=4, days=10))]
    panel = table[["sku", "date", "demand"]].astype({"demand": float}).reset_index(drop=True)
    panel["filled"] = False
    skus = pd.Index(sorted(panel["sku"].unique()), name="sku")
    today = panel["date"].max()
    params = policy_table(skus, {**DEFAULTS, "unit_cost": 4.0, "horizon_days": 70}, pd.Series(dtype=float))
    mean_daily = panel.groupby("sku")["demand"].mean()
    on_hand, orders, _ = stock_position(skus, mean_daily, assumed_cover_days=10, today=today)
    fallback = SeasonalNaive(season_length=7)
    models = {"seasonal_naive": fallback, "croston": StatsForecastModel("CrostonSBA", "intermittent", 7, 1)}
    champions = pd.Series(["croston", "seasonal_naive"] * (n_skus // 2), index=skus, name="model")
    return dict(
        panel=panel,
        champions=champions,
        models=models,
        fallback=fallback,
        calendar=TradingCalendar(closed_weekdays=()),
        settings=PlanSettings(horizon_days=70, num_samples=40, seed=7, quantiles=[0.1, 0.5, 0.9], rules={}),
        params=params,
        on_hand=on_hand,
        open_orders=orders,
        calibration={},
        history=sku_history(panel, "daily"),
        replay=ReplaySettings(weeks=4, targets=[0.8, 0.95]),
    )


def test_plan_pass_gives_the_same_plan_forecast_and_replay_on_one_or_two_workers():
    inputs = small_plan_inputs()
    one = plan_pass(**inputs, n_jobs=1)
    two = plan_pass(**inputs, n_jobs=2)
    for a, b in ((one.plan, two.plan), (one.forecast, two.forecast), (one.replay, two.replay)):
        pd.testing.assert_frame_equal(a, b)
    skus = list(inputs["champions"].index)
    # One plan row per SKU in SKU order, each with its own champion; forecast rows hold quantiles, never paths.
    assert one.plan["sku"].tolist() == skus
    assert one.plan.set_index("sku")["model"].equals(inputs["champions"].rename("model"))
    assert one.forecast.groupby("sku", observed=True).size().tolist() == [70] * len(skus)
    assert list(one.forecast.columns) == ["sku", "date", "model", "mean", "p10", "p50", "p90", "fallback"]
    assert (one.forecast["p10"] <= one.forecast["p90"]).all()
    # The replay covers the SKUs with 28 days before its start: champion, naive, empirical (per target), oracle.
    replayed = set(one.replay["sku"])
    assert replayed == set(skus[:-1])
    assert len(one.replay) == len(replayed) * (3 * 2 + 1)
    assert one.seconds["replay"] > 0 and one.seconds["forecast_and_plan"] > 0


def test_plan_pass_without_replay_returns_no_replay_rows():
    inputs = {**small_plan_inputs(4), "replay": None}
    done = plan_pass(**inputs, n_jobs=2)
    assert done.replay.empty and len(done.plan) == 4 and done.seconds["replay"] == 0


def _scaled(sku, value, factor, table):
    if sku == "boom":
        raise RuntimeError("boom")
    return value * factor + len(table)


def test_forked_workers_inherit_data_and_shared_arguments_and_let_go_after():
    series = {f"s{i}": float(i) for i in range(50)}
    table = np.zeros(1000)  # a shared argument every worker reads without receiving it
    out = parallel.run_per_sku(_scaled, series, n_jobs=2, factor=2.0, table=table)
    assert out == [i * 2.0 + 1000 for i in range(50)]
    assert parallel._FORKED == {}
    with pytest.raises(RuntimeError, match="boom"):
        parallel.run_per_sku(_scaled, {**series, "boom": 0.0}, n_jobs=2, factor=2.0, table=table)
    assert parallel._FORKED == {}  # a failed run leaves nothing behind for the next pool to inherit


def _sleep_unless_boom(sku, value):
    if sku == "boom":
        raise RuntimeError("boom")
    time.sleep(60)
    return value


def test_a_stopped_pool_leaves_no_thread_for_the_exit_hook_to_race():
    # Python 3.11's exit hook writes, unlocked, to the wake-up pipe of every pool thread still running; the
    # thread closes that pipe once it sees its workers killed, and the race printed a traceback after Ctrl-C.
    started = time.monotonic()
    with pytest.raises(RuntimeError, match="boom"):
        parallel.run_per_sku(_sleep_unless_boom, {"boom": 0.0, "a": 1.0, "b": 2.0, "c": 3.0}, n_jobs=2)
    assert time.monotonic() - started < 20  # the sleeping workers were killed, not waited for
    from concurrent.futures.process import _ExecutorManagerThread

    assert not [t for t in threading.enumerate() if isinstance(t, _ExecutorManagerThread)]
