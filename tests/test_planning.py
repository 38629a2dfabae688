"""Planning formulas against hand-computed cases, replay bookkeeping, and input errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forecasting.data.calendar import TradingCalendar
from forecasting.errors import InputError
from forecasting.planning.calibration import Calibration, levels
from forecasting.planning.cover import sample_lead_times
from forecasting.planning.inputs import policy_table, stock_position
from forecasting.planning.plan import plan_sku
from forecasting.planning.policy import economic_order_quantity, protection_level, round_order
from forecasting.planning.replay import aggregate, simulate, summarise
from forecasting.vocabulary.windows import window_sums

TODAY = pd.Timestamp("2024-01-07")  # a Sunday
DATES = pd.date_range("2024-01-08", periods=90, freq="D")
DEFAULTS = {
    "policy": "periodic",
    "service_measure": "cycle_service_level",
    "service_target": 0.95,
    "lead_time_days": 7,
    "lead_time_std_days": 0,
    "review_period_days": 7,
    "moq": 0,
    "pack_size": 1,
    "unit_cost": None,
    "cost_share_of_price": 0.5,
    "holding_cost_rate": 0.25,
    "order_cost": 10.0,
    "stockout_cost": None,
    "horizon_days": 90,
}


def test_quantile_of_the_sum_is_not_the_sum_of_quantiles():
    # Two equally likely paths: 10 units on day 1 or on day 2, never both.
    paths = np.array([[10.0, 0.0], [0.0, 10.0]])
    sums = window_sums(paths, DATES[:2], TODAY, 2)
    assert sums.tolist() == [10.0, 10.0]
    daily_p90_sum = np.quantile(paths, 0.9, axis=0).sum()
    assert daily_p90_sum == pytest.approx(18.0)  # what adding daily quantiles would order up to
    assert protection_level(sums, "cycle_service_level", 0.9, cycle_demand=5.0) == 10.0


def test_window_sums_follow_calendar_days_and_sampled_lead_times():
    paths = np.ones((3, 20))
    DATES20 = DATES[:20]
    # (Jan 7, Jan 7 + d]: 3 days -> 3 units, 10 days -> 10 units, per path.
    assert window_sums(paths, DATES20, TODAY, np.array([3, 10, 1])).tolist() == [3.0, 10.0, 1.0]
    with pytest.raises(ValueError, match="before the 40-day window"):
        window_sums(paths, DATES20, TODAY, 40)
    assert (sample_lead_times(7, 0, 5, np.random.default_rng(0)) == 7).all()
    spread = sample_lead_times(14, 4, 4000, np.random.default_rng(0))
    assert spread.min() >= 1 and abs(spread.mean() - 14) < 0.5 and abs(spread.std() - 4) < 0.5
    # Stock that arrives the day it is ordered: a lead time of 0, whatever the configured spread (it divided by 0).
    assert (sample_lead_times(0, 3, 5, np.random.default_rng(0)) == 0).all()


def test_protection_levels_by_hand():
    cover = np.array([0.0, 10.0, 20.0, 30.0])
    # Expected shortage at S = 0, 10, 20, 30: 15, 7.5, 2.5, 0. Allowed: (1 - target) x 10 units a cycle.
    assert protection_level(cover, "fill_rate", 0.75, cycle_demand=10.0) == 20.0
    assert protection_level(cover, "fill_rate", 0.9, cycle_demand=10.0) == 30.0
    # The part of the window the previous cycle already protects (base) is not charged again: shortage
    # added at S = 10 is 7.5 - 1.25 = 6.25, within 6.5 allowed, where 7.5 alone is not.
    assert protection_level(cover, "fill_rate", 0.35, cycle_demand=10.0) == 20.0
    assert protection_level(cover, "fill_rate", 0.35, cycle_demand=10.0, base=cover / 2) == 10.0
    assert protection_level(cover, "cycle_service_level", 0.75, cycle_demand=10.0) == 20.0
    assert protection_level(np.zeros(4), "fill_rate", 0.95, cycle_demand=0.0) == 0.0


def test_rounding_and_eoq_by_hand():
    assert round_order(7, moq=10, pack_size=6) == 12.0  # up to the MOQ, then whole packs
    assert round_order(13, moq=0, pack_size=6) == 18.0
    assert round_order(12, moq=0, pack_size=6) == 12.0
    assert round_order(0, moq=10, pack_size=6) == 0.0
    assert round_order(-3, moq=10, pack_size=6) == 0.0
    assert economic_order_quantity(1000, 50, 10, 0.25) == pytest.approx(200.0)


def test_plan_sku_by_hand():
    # Two units every day, no uncertainty: 14 days of cover is 28 units.
    paths = np.full((50, 90), 2.0)
    p = {**DEFAULTS, "unit_cost": 3.0, "pack_size": 5}
    orders = pd.DataFrame({"quantity": [4.0], "arrival_date": [pd.Timestamp("2024-01-10")]})
    row = plan_sku(
        "x",
        paths,
        DATES,
        TODAY,
        p,
        on_hand=5.0,
        open_orders=orders,
        rng=np.random.default_rng(0),
        history={"trading_days": 50, "last_sale": pd.Timestamp("2023-10-01")},
    )
    # Lost sales: 5 on hand + 4 arriving cover 9 of the 14 units the lead time brings; the 5 short are lost, not
    # owed, so the order covers its own week (14 units) and takes the position to 23, not 28.
    assert row["order_up_to"] == 23.0 and row["safety_stock"] == 0.0
    assert row["inventory_position"] == 9.0
    assert row["order_qty"] == 15.0  # 14, rounded up to 3 packs of 5
    assert row["order_value"] == 45.0
    assert row["fill_before_receipt"] == pytest.approx(9 / 14, abs=1e-4)
    # Stock 5 + 4 arriving Jan 10 against 2 a day: 3, 1, -1+4=3... runs out on Jan 12 (5+4-10 = -1).
    assert row["stockout_date_p50"] == "2024-01-12"
    assert row["order_by"] == "2024-01-07"
    assert set(row["exceptions"].split(";")) == {
        "STOCKOUT_BEFORE_RECEIPT",
        "NO_RECENT_SALES",
        "SHORT_HISTORY",
    }
    assert row["demand_30d_p50"] == 60.0 and row["demand_60d_p90"] == 120.0
    assert row["days_of_cover"] == pytest.approx(4.5)


def test_continuous_policy_orders_lots_at_the_reorder_point():
    paths = np.full((10, 90), 2.0)
    p = {
        **DEFAULTS,
        "policy": "continuous_sq",
        "unit_cost": 1.0,
        "order_cost": 10.0,
        "holding_cost_rate": 0.25,
    }
    none = pd.DataFrame({"quantity": [], "arrival_date": []})
    high = plan_sku(
        "x", paths, DATES, TODAY, p, on_hand=100.0, open_orders=none, rng=np.random.default_rng(0)
    )
    low = plan_sku("x", paths, DATES, TODAY, p, on_hand=0.0, open_orders=none, rng=np.random.default_rng(0))
    assert high["order_qty"] == 0.0
    assert low["reorder_point"] == 14.0  # 7 days of lead time at 2 a day
    assert low["order_qty"] == low["order_up_to"] - low["reorder_point"]  # one lot of EOQ size


def test_replay_bookkeeping_lost_sales():
    days = pd.date_range("2024-01-02", periods=28, freq="D")
    rng = np.random.default_rng(1)
    demand = rng.poisson(5, 28).astype(float)
    reviews = list(pd.date_range("2024-01-01", periods=4, freq="7D"))
    sim = simulate(days, demand, reviews, levels=[30, 30, 30, 30], lead_days=3, initial_stock=30, pack_size=5)
    assert (sim["stock"] >= 0).all()
    assert np.allclose(sim["sales"] + sim["lost"], demand)
    # Units are conserved: what was there plus what arrived is what sold plus what is left.
    assert 30 + sim["received"] == pytest.approx(sim["sales"].sum() + sim["final_stock"])
    # The order placed at the end of Jan 8 sells from Jan 12: Jan 9-11 (3 days of lead time) are sold without it.
    jan = {d.day: i for i, d in enumerate(days)}
    before = sim["stock"][jan[11]]
    arrived = sim["stock"][jan[12]] + sim["sales"][jan[12]] - before
    ordered = 30 - (sim["stock"][jan[8]])  # no other order in transit then, pack of 5 rounds up
    assert arrived == pytest.approx(np.ceil(ordered / 5) * 5)


def test_replay_backorders_and_summary():
    days = pd.date_range("2024-01-02", periods=6, freq="D")
    demand = np.array([5, 5, 5, 5, 5, 5.0])
    sim = simulate(
        days, demand, [pd.Timestamp("2024-01-01")], levels=[8], lead_days=1, initial_stock=8, backorders=True
    )
    assert sim["stock"][-1] == 8 - 30  # the shortfall waits as negative stock
    assert sim["sales"].sum() == 8 and sim["lost"].sum() == 22
    stats = summarise(
        days,
        demand,
        [pd.Timestamp("2024-01-01")],
        sim,
        unit_cost=2,
        holding_rate=0.365,
        order_cost=1,
        stockout_cost=1,
    )
    assert stats["stockout_days"] == 5 and stats["cycles_with_stockout"] == 1
    table = aggregate(pd.DataFrame([{**stats, "policy": "p", "target": 0.9}]))
    assert table["fill_rate"].iloc[0] == pytest.approx(8 / 30)


SKUS = pd.Index(["a", "b"])
PRICE = pd.Series({"a": 10.0, "b": 4.0})


def write(tmp_path, name, frame):
    path = tmp_path / name
    frame.to_csv(path, index=False)
    return path


def test_policy_defaults_and_overrides(tmp_path):
    over = write(tmp_path, "o.csv", pd.DataFrame({"sku": ["b"], "lead_time_days": [21], "moq": [None]}))
    table = policy_table(SKUS, DEFAULTS, PRICE, over)
    assert table.loc["a", "lead_time_days"] == 7 and table.loc["b", "lead_time_days"] == 21
    assert (
        table.loc["a", "unit_cost"] == 5.0 and table.loc["a", "stockout_cost"] == 5.0
    )  # half the price; margin
    assert table.loc["b", "param_source"] == "overrides"


@pytest.mark.parametrize(
    "frame, message",
    [
        (pd.DataFrame({"sku": ["a"], "lead_time_days": [-2]}), "lead_time_days is out of range on line\\(s\\) 2"),
        (pd.DataFrame({"sku": ["a", "a"], "moq": [1, 2]}), "appear on more than one row"),
        (pd.DataFrame({"sku": ["zz"], "moq": [1]}), "SKU\\(s\\) zz are not in the planned panel"),
        (pd.DataFrame({"sku": ["a"], "colour": ["red"]}), "unknown column\\(s\\) colour"),
        (
            pd.DataFrame({"sku": ["a"], "moq": [10], "pack_size": [4]}),
            "moq is out of range on line\\(s\\) 2 \\(SKU a: 10\\): allowed a whole number of packs",
        ),
    ],
)
def test_policy_input_errors(tmp_path, frame, message):
    with pytest.raises(InputError, match=message):
        policy_table(
            SKUS, DEFAULTS, PRICE, write(tmp_path, "o.csv", frame), require_moq_multiple_of_pack=True
        )


def test_stock_inputs(tmp_path):
    demand = pd.Series({"a": 2.0, "b": 0.5})
    on_hand, orders, source = stock_position(SKUS, demand, assumed_cover_days=10, today=TODAY)
    assert on_hand.to_dict() == {"a": 20.0, "b": 5.0} and orders.empty
    assert (source == "assumed: 10 days of mean demand on hand; no open-orders file").all()
    stock = write(tmp_path, "s.csv", pd.DataFrame({"sku": ["a", "b"], "on_hand": [3, 4]}))
    opened = write(
        tmp_path,
        "oo.csv",
        pd.DataFrame({"sku": ["a", "a"], "quantity": [5, 6], "arrival_date": ["2024-02-01", "2024-02-08"]}),
    )
    on_hand, orders, _ = stock_position(SKUS, demand, stock, opened, today=TODAY)
    assert on_hand["b"] == 4 and orders["quantity"].sum() == 11
    with pytest.raises(InputError, match="SKU\\(s\\) zz are not in the planned panel"):
        stock_position(
            SKUS, demand, write(tmp_path, "u.csv", pd.DataFrame({"sku": ["zz"], "on_hand": [1]})), today=TODAY
        )
    with pytest.raises(InputError, match="appear on more than one row"):
        stock_position(
            SKUS, demand, write(tmp_path, "d.csv", pd.DataFrame({"sku": ["a", "a"], "on_hand": [1, 2]})), today=TODAY
        )
    with pytest.raises(InputError, match="on_hand is empty, negative or infinite on line\\(s\\) 2 \\(SKU a: -1\\)"):
        stock_position(
            SKUS, demand, write(tmp_path, "n.csv", pd.DataFrame({"sku": ["a"], "on_hand": [-1]})), today=TODAY
        )


def test_calendar_closes_saturdays_in_windows():
    cal = TradingCalendar(closed_weekdays=(5,))
    dates = cal.next_trading_days(TODAY, 12)
    paths = np.ones((2, 12))
    # 7 calendar days after Sunday Jan 7 hold 6 trading days (Saturday Jan 13 is closed).
    assert window_sums(paths, dates, TODAY, 7).tolist() == [6.0, 6.0]


def test_stock_at_equal_fill_interpolates_along_the_curve():
    from forecasting.planning.replay import stock_at_equal_fill

    curve = pd.DataFrame(
        {
            "policy": ["champion"] * 2 + ["naive"] * 2,
            "target": [0.8, 0.95, 0.8, 0.95],
            "fill_rate": [0.90, 0.96, 0.85, 0.93],
            "avg_stock_value": [100.0, 160.0, 90.0, 200.0],
        }
    )
    table = stock_at_equal_fill(curve)
    # Naive reaches 0.93 with 200; the champion reaches 0.93 half-way along its curve: 130 (35% less).
    assert np.isnan(table["champion_stock_value_same_fill"].iloc[0])  # 0.85 is below the champion's curve
    assert table["champion_stock_value_same_fill"].iloc[1] == pytest.approx(130.0)
    assert table["stock_saved_share"].iloc[1] == pytest.approx(0.35)


def test_calibration_moves_the_levels_not_the_reported_demand():
    paths = np.random.default_rng(0).poisson(3.0, (400, 90)).astype(float)
    p = {**DEFAULTS, "unit_cost": 1.0}
    none = pd.DataFrame({"quantity": [], "arrival_date": []})
    # Nothing on hand or on order: the order serves its own cycle's demand, which the calibration scales 1.5x.
    raw = plan_sku("x", paths, DATES, TODAY, p, 0.0, none, np.random.default_rng(1))
    scaled = Calibration(scale=1.5, z=levels())  # the shape as it is, the volume 1.5x
    wide = plan_sku("x", paths, DATES, TODAY, p, 0.0, none, np.random.default_rng(1), calibration=scaled)
    assert wide["order_up_to"] == pytest.approx(1.5 * raw["order_up_to"], rel=0.02)
    assert wide["demand_60d_p50"] == raw["demand_60d_p50"] and wide["days_of_cover"] == raw["days_of_cover"]
    assert wide["stockout_date_p50"] == raw["stockout_date_p50"]
    assert wide["calibration_factor"] == pytest.approx(1.5, rel=0.02)
