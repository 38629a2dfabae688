"""Lost-sales ordering: the order for a fill-rate target sized from the stock it meets, against hand-computed cases
and a simulated shop whose demand distribution is known."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forecasting.planning.calibration import Calibration, levels
from forecasting.planning.lost_sales import arrivals_by_day, cycle_order, daily_paths, recalibrated_paths
from forecasting.planning.policy import protection_level
from forecasting.planning.replay import simulate
from forecasting.reports.plan_sections import target_not_met_note


def test_order_covers_its_own_cycle_and_the_lost_lead_time_is_not_owed():
    daily = np.full((10, 6), 2.0)  # 2 a day, no uncertainty; lead 3 days, review 3 days
    # 3 on hand + 1 arriving on day 2 serve 4 of the 6 units the lead time brings: 2 are lost, none are left.
    order = cycle_order(daily, 3, 3, on_hand=3.0, arrivals=[0.0, 1.0, 0.0], measure="fill_rate", targets=[0.95])
    # The cycle's 3 days (6 units), not 6 + the 2 short, less the 5% of them a 95% fill rate lets go.
    assert order.quantity[0] == pytest.approx(5.7)
    assert order.fill_before_receipt == pytest.approx(4 / 6)
    # 10 on hand: 4 are left when the order arrives, so it brings 2.
    plenty = cycle_order(daily, 3, 3, on_hand=10.0, arrivals=[0.0, 0.0, 0.0], measure="fill_rate", targets=[0.95])
    assert plenty.quantity[0] == pytest.approx(1.7) and plenty.fill_before_receipt == 1.0 and plenty.net_need == 2.0
    service = cycle_order(daily, 3, 3, 10.0, [0.0, 0.0, 0.0], "cycle_service_level", [0.95])
    assert service.quantity[0] == 2.0  # no stockout in 95% of cycles: all of the need


def test_arrivals_and_daily_paths_by_calendar_day():
    assert arrivals_by_day([-2, 1, 3, 9], [1.0, 2.0, 4.0, 8.0], 5).tolist() == [3.0, 0.0, 4.0, 0.0, 0.0]
    weeks = pd.date_range("2024-01-07", periods=3, freq="7D")  # weekly periods dated on their last day
    daily = daily_paths(np.array([[7.0, 14.0, 21.0]]), weeks, pd.Timestamp("2023-12-31"), 14)
    assert np.allclose(daily[0], [1.0] * 7 + [2.0] * 7)


def test_recalibrated_paths_follow_the_recalibrated_window_sums_rank_for_rank():
    rng = np.random.default_rng(0)
    daily = rng.poisson(2.0, (400, 10)).astype(float)
    scaled = recalibrated_paths(daily, Calibration(scale=2.0, z=levels()), window=10)
    at = [0.1, 0.5, 0.9, 0.95]
    assert np.allclose(np.quantile(scaled.sum(axis=1), at), np.quantile(2 * daily.sum(axis=1), at), rtol=0.05)
    # Paths keep their rank and their day-to-day shape.
    assert np.corrcoef(scaled.sum(axis=1), daily.sum(axis=1))[0, 1] > 0.99
    assert recalibrated_paths(daily, None, 10) is daily


def _shop(order_policy: str, days: int = 3000, seed: int = 1):
    """A shop with lumpy daily demand (sells on 30% of days, negative-binomial sizes): lead 10, review 7, lost
    sales, every order sized from 2000 draws of the TRUE distribution."""
    rng = np.random.default_rng(seed)
    lead, review, target = 10, 7, 0.95

    def draw(size):
        return np.where(rng.random(size) < 0.3, 1 + rng.negative_binomial(1.5, 1.5 / (1.5 + 4.0), size), 0.0)

    dates = pd.date_range("2024-01-02", periods=days, freq="D")
    demand = draw(days)
    reviews = list(pd.date_range("2024-01-01", dates[-1], freq=f"{review}D"))
    paths = {r: draw((2000, lead + review)) for r in reviews}
    opening = cycle_order(paths[reviews[0]], 0, lead + review, 0.0, [], "fill_rate", [target]).quantity[0]
    if order_policy == "lost_sales":

        def order(day, on_hand, arrivals):
            return cycle_order(paths[day], lead, review, on_hand, arrivals, "fill_rate", [target]).quantity[0]

        sim = simulate(dates, demand, reviews, None, lead, opening, order=order)
    else:  # the backorder relation: order up to S with E[(D_L+R - S)+] - E[(D_L - S)+] <= 5% of E[D_R]
        lv = [
            protection_level(p.sum(1), "fill_rate", target, p[:, lead:].sum(1).mean(), p[:, :lead].sum(1))
            for p in paths.values()
        ]
        sim = simulate(dates, demand, reviews, lv, lead, opening)
    return sim["sales"].sum() / demand.sum()


def test_true_distribution_meets_a_fill_target_under_lost_sales_where_the_backorder_relation_overshoots():
    lost_sales, backorder = _shop("lost_sales"), _shop("backorder")
    assert lost_sales == pytest.approx(0.95, abs=0.01)
    assert backorder > lost_sales + 0.01


def test_report_says_where_the_target_is_not_met():
    plan = pd.DataFrame(
        {
            "sku": ["a", "b", "c"],
            "segment": ["A-lumpy", "A-lumpy", "B-smooth"],
            "service_target": 0.95,
            "exceptions": ["REPLAY_MISSED_TARGET", "TARGET_UNREACHABLE_BEFORE_RECEIPT;REPLAY_MISSED_TARGET", ""],
        }
    )
    note = target_not_met_note(plan)
    assert "not met on 2 of 3 SKUs" in note and "A-lumpy (2)" in note
    assert "1 SKUs cannot reach 95" in note
    assert target_not_met_note(plan.assign(exceptions="")) == ""


def test_order_matches_a_day_by_day_simulation_of_every_path():
    rng = np.random.default_rng(4)
    daily = rng.negative_binomial(1.0, 0.3, (300, 12)).astype(float)
    lead, review, on_hand, arrivals = 8, 4, 9.0, np.array([0, 0, 5.0, 0, 0, 0, 3.0, 0])
    order = cycle_order(daily, lead, review, on_hand, arrivals, "fill_rate", [0.9])
    q = order.quantity[0]

    def play(quantity):
        stock, lost = np.full(300, on_hand), np.zeros((300, 12))
        for day in range(12):
            stock += arrivals[day] if day < lead else 0.0
            stock += quantity if day == lead else 0.0
            sold = np.minimum(daily[:, day], stock)
            lost[:, day], stock = daily[:, day] - sold, stock - sold
        return lost

    lost = play(q)
    # The cycle loses exactly 10% of its expected demand; one unit less would lose more.
    assert lost[:, lead:].sum(1).mean() == pytest.approx(0.1 * daily[:, lead:].sum(1).mean())
    assert play(q - 1)[:, lead:].sum(1).mean() > 0.1 * daily[:, lead:].sum(1).mean()
    assert order.fill_before_receipt == pytest.approx(1 - lost[:, :lead].sum() / daily[:, :lead].sum())


def test_croston_plans_meet_a_fill_target_on_intermittent_demand():
    # 40 stationary intermittent SKUs replayed for 12 weeks with Croston-SBA's own paths, uncalibrated: the plan
    # must fill what it promises (95.4%). Paths whose rate looked as sure as 50 sales filled 93.9% here.
    from forecasting.data.calendar import TradingCalendar
    from forecasting.models.naive import SeasonalNaive
    from forecasting.planning.replay import aggregate
    from forecasting.planning.replay_sku import replay_sku
    from tests.test_statsforecast_models import model_from_yaml

    params = {"lead_time_days": 14, "review_period_days": 7, "service_measure": "fill_rate", "unit_cost": 1.0}
    params |= {"holding_cost_rate": 0.25, "order_cost": 0.0, "stockout_cost": 0.0}
    rng = np.random.default_rng(5)
    dates = pd.date_range("2023-01-02", periods=500)
    rows = []
    for k in range(40):
        p, size = rng.uniform(0.1, 0.5), rng.uniform(2, 40)
        y = pd.Series((rng.random(500) < p) * (1 + rng.poisson(size, 500)), index=dates, dtype=float)
        start = dates[-1] - pd.Timedelta(weeks=12)
        model = model_from_yaml("croston", season=7)
        rows += replay_sku(f"s{k}", y, model, SeasonalNaive(7), TradingCalendar(), params, start, [0.95], seed=k)
    fill = aggregate(pd.DataFrame(rows)).set_index("policy").loc["champion", "fill_rate"]
    assert 0.94 < fill < 0.97, fill
