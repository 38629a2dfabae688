"""An order cycle longer than the review period (plan.max_order_cycle_days): where an order costs more than a few
weeks of holding, each SKU orders for its economic cycle and only at a review where waiting would miss the target,
in the plan and for every policy of the replay alike."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from forecasting.data.calendar import TradingCalendar
from forecasting.models.naive import SeasonalNaive
from forecasting.planning.plan import plan_sku
from forecasting.planning.policy import order_cycle_days
from forecasting.planning.replay_sku import replay_sku
from tests.test_statsforecast_models import model_from_yaml

POLICY = {"policy": "periodic", "review_period_days": 7, "order_cost": 40.0, "holding_cost_rate": 0.25}


def test_a_cheap_slow_sku_orders_every_few_weeks_and_a_dear_fast_one_every_review():
    cheap = POLICY | {"unit_cost": 1.0, "max_order_cycle_days": 56}
    # EOQ = sqrt(2 x 730 x 40 / 0.25) = 483 units: 242 days of demand, capped at 8 weeks.
    assert order_cycle_days(cheap, 2.0) == 56
    # 200 a day of a 50 unit: EOQ = sqrt(2 x 73000 x 40 / 12.5) = 683 units, 3.4 days: every review.
    assert order_cycle_days(POLICY | {"unit_cost": 50.0, "max_order_cycle_days": 56}, 200.0) == 7
    # 25 a day of a 10 unit: EOQ = sqrt(2 x 9125 x 40 / 2.5) = 540 units, 21.6 days: three reviews.
    assert order_cycle_days(POLICY | {"unit_cost": 10.0, "max_order_cycle_days": 56}, 25.0) == 21
    # Unset (0 or empty), a continuous policy, or no demand: the review period.
    for p, mean in [(cheap | {"max_order_cycle_days": 0}, 2.0), (cheap | {"max_order_cycle_days": np.nan}, 2.0),
                    (cheap | {"policy": "continuous_ss"}, 2.0), (cheap, 0.0)]:  # fmt: skip
        assert order_cycle_days(p, mean) == 7


def _slow_seller(days: int = 500, seed: int = 5) -> pd.Series:
    rng = np.random.default_rng(seed)
    dates = pd.date_range("2023-01-02", periods=days)
    return pd.Series(rng.poisson(3.0, days), index=dates, dtype=float)


@pytest.mark.parametrize("backorders", [False, True])
def test_every_replayed_policy_orders_less_often_and_costs_less_with_an_economic_cycle(backorders):
    y = _slow_seller()
    start = y.index[-1] - pd.Timedelta(weeks=16)
    params = POLICY | {"lead_time_days": 7, "service_measure": "fill_rate", "unit_cost": 1.0, "stockout_cost": 0.5}

    def replay(cap):
        model = model_from_yaml("ets", season=7)
        rows = replay_sku(
            "s", y, model, SeasonalNaive(7), TradingCalendar(), params | {"max_order_cycle_days": cap}, start,
            [0.95], seed=1, backorders=backorders,
        )  # fmt: skip
        frame = pd.DataFrame(rows).set_index("policy")
        return frame.assign(total=frame[["holding_cost", "ordering_cost", "stockout_cost"]].sum(axis=1))

    weekly, economic = replay(0), replay(28)
    for policy in ("champion", "naive", "empirical", "oracle"):
        # 16 weeks: an order nearly every week, then about one every four.
        assert weekly.loc[policy, "orders"] >= 12, policy
        assert economic.loc[policy, "orders"] <= 6, policy
        assert economic.loc[policy, "total"] < 0.6 * weekly.loc[policy, "total"], policy
    # The target is still met, and the champion's reorder point carries less stock than the baselines' do.
    fill = economic.loc["champion", "sales"] / economic.loc["champion", "demand"]
    assert fill >= 0.93
    stock = economic["stock_unit_days"]
    assert stock["champion"] < 0.9 * min(stock["naive"], stock["empirical"])


def test_the_plan_orders_for_the_cycle_only_where_the_stock_falls_short_of_the_reorder_point():
    rng = np.random.default_rng(2)
    today = pd.Timestamp("2024-06-30")
    dates = pd.date_range(today + pd.Timedelta(days=1), periods=90)
    paths = rng.poisson(3.0, (400, 90)).astype(float)
    p = POLICY | {"unit_cost": 1.0, "max_order_cycle_days": 28, "lead_time_days": 7, "lead_time_std_days": 0}
    p |= {"service_measure": "fill_rate", "service_target": 0.95, "moq": 0, "pack_size": 1}
    history = {"recent_daily_demand": 3.0, "trading_days": 400}
    none = pd.DataFrame({"quantity": [], "arrival_date": []})

    def plan(on_hand, cap=28):
        rng = np.random.default_rng(0)
        settings = p | {"max_order_cycle_days": cap}
        return plan_sku("s", paths, dates, today, settings, on_hand, none, rng, history=history)

    low, ample, weekly = plan(10.0), plan(60.0), plan(10.0, cap=0)
    assert low["order_cycle_days"] == 28 and weekly["order_cycle_days"] == 7
    # Short of two weeks' cover: an order for the reorder point's shortfall and the three weeks the cycle adds.
    assert low["order_qty"] == pytest.approx(low["reorder_point"] - 10.0 + 21 * 3.0, abs=1)
    # The reorder point is below the level a weekly order goes up to: a shortfall in its one week is a quarter of
    # the cycle's risk (a 95% fill over the cycle allows 20% short in that week).
    assert 10.0 < low["reorder_point"] < 10.0 + weekly["order_qty"]
    # 60 units cover the lead time and a review at 3 a day: no order until a later review finds the stock short.
    assert ample["order_qty"] == 0 and ample["reorder_point"] <= 60.0


@pytest.mark.parametrize("cap", [100, 3, -7])
def test_an_order_cycle_the_forecast_cannot_cover_is_refused_naming_the_setting(cap):
    from omegaconf import OmegaConf

    from forecasting.errors import InputError
    from forecasting.planning.plan_settings import check_settings

    p = OmegaConf.to_container(OmegaConf.load(Path(__file__).parents[1] / "conf" / "plan" / "default.yaml"))
    check_settings(p | {"max_order_cycle_days": 56})
    with pytest.raises(InputError, match=rf"plan.max_order_cycle_days={cap} is out of range: allowed 0 \(an order"):
        check_settings(p | {"max_order_cycle_days": cap})


def test_a_sku_launched_two_weeks_before_the_replay_orders_for_the_cycle_of_its_own_rate():
    # 200 a day of a 10 unit: EOQ 1,528 units, 7.6 days, so an order every review. Read over the 56 days before the
    # replay, two weeks of sales would be 50 a day and a 14-day cycle: half the orders, twice the stock.
    rng = np.random.default_rng(3)
    start = pd.Timestamp("2024-03-01")
    dates = pd.date_range(start - pd.Timedelta(days=13), start + pd.Timedelta(weeks=16))
    y = pd.Series(rng.poisson(200.0, len(dates)), index=dates, dtype=float)
    params = POLICY | {"lead_time_days": 7, "service_measure": "fill_rate", "unit_cost": 10.0, "stockout_cost": 5.0}
    rows = replay_sku(
        "s", y, SeasonalNaive(7), SeasonalNaive(7), TradingCalendar(), params | {"max_order_cycle_days": 56}, start,
        [0.95], seed=1,
    )  # fmt: skip
    orders = pd.DataFrame(rows).set_index("policy")["orders"]
    assert (orders >= 14).all(), orders
