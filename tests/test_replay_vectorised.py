"""The replay simulates one shop per target in a single pass: every shop must run exactly as it would alone, and a
small lost-sales case must give the answer worked out by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forecasting.data.calendar import TradingCalendar
from forecasting.models.naive import SeasonalNaive
from forecasting.planning.lost_sales import cycle_order
from forecasting.planning.policy import round_order
from forecasting.planning.replay import simulate, summarise
from forecasting.planning.replay_sku import replay_sku
from tests.test_statsforecast_models import model_from_yaml

TARGETS = [0.2, 0.5, 0.8, 0.95, 0.995]
SIM_KEYS = ("stock", "sales", "lost", "orders", "received", "in_transit", "final_stock")


def _lumpy_shop(seed: int = 3, weeks: int = 12, lead: int = 9, review: int = 7):
    rng = np.random.default_rng(seed)
    start = pd.Timestamp("2024-03-03")
    days = pd.date_range(start + pd.Timedelta(days=1), periods=7 * weeks, freq="D")
    demand = np.where(rng.random(len(days)) < 0.4, rng.gamma(0.8, 6.0, len(days)), 0.0)
    reviews = list(pd.date_range(start, days[-1], freq=f"{review}D"))
    paths = {
        r: np.where(rng.random((150, lead + review)) < 0.4, rng.gamma(0.8, 6.0, (150, lead + review)), 0.0)
        for r in reviews
    }
    return days, demand, reviews, paths


def _assert_same(all_at_once: dict, alone: list[dict]) -> None:
    for key in SIM_KEYS:
        stacked = np.array([np.asarray(one[key]) for one in alone])
        np.testing.assert_allclose(all_at_once[key], stacked, rtol=0, atol=1e-9, err_msg=key)


@pytest.mark.parametrize("backorders", [False, True])
def test_order_up_to_shops_run_together_exactly_as_alone(backorders):
    days, demand, reviews, _ = _lumpy_shop()
    rng = np.random.default_rng(7)
    levels = np.sort(rng.uniform(0, 60, (len(reviews), len(TARGETS))), axis=1)  # one column per target
    kwargs = {"moq": 6.0, "pack_size": 4.0, "backorders": backorders}
    together = simulate(days, demand, reviews, levels, 9, initial_stock=levels[0], **kwargs)
    as_vectors = [simulate(days, demand, reviews, levels[:, [t]], 9, levels[0, [t]], **kwargs) for t in range(5)]
    _assert_same(together, [{k: np.asarray(v)[0] for k, v in one.items()} for one in as_vectors])
    # The one-shop form (numbers in, numbers out) is the same simulation.
    _assert_same(together, [simulate(days, demand, reviews, levels[:, t], 9, levels[0, t], **kwargs) for t in range(5)])
    assert (together["orders"] > 0).all() and (together["lost"].sum(axis=1) > 0).any()


def test_lost_sales_orders_for_all_targets_at_once_equal_each_target_alone():
    days, demand, reviews, paths = _lumpy_shop()
    lead, review = 9, 7
    opening = cycle_order(paths[reviews[0]], 0, lead + review, 0.0, [], "fill_rate", TARGETS).quantity

    def each_target(day, on_hand, arrivals):  # one stock position per target
        return cycle_order(paths[day], lead, review, on_hand, arrivals, "fill_rate", TARGETS).quantity

    together = simulate(days, demand, reviews, None, lead, opening, pack_size=2.0, order=each_target)
    alone = []
    for t, target in enumerate(TARGETS):

        def order(day, on_hand, arrivals, target=target):  # the one-shop form: a number in, a number out
            return cycle_order(paths[day], lead, review, on_hand, arrivals, "fill_rate", [target]).quantity[0]

        alone.append(simulate(days, demand, reviews, None, lead, float(opening[t]), pack_size=2.0, order=order))
    _assert_same(together, alone)
    # Higher targets fill more: the shops really differ.
    fill = together["sales"].sum(axis=1) / demand.sum()
    assert np.all(np.diff(fill) >= 0) and fill[-1] > fill[0] + 0.2
    # The summary per shop is the one-shop summary.
    stats = summarise(days, demand, reviews, together, 2.0, 0.25, 10.0, 1.0)
    for t, one in enumerate(alone):
        for key, value in summarise(days, demand, reviews, one, 2.0, 0.25, 10.0, 1.0).items():
            assert stats[key][t] == pytest.approx(value, abs=1e-9), key


@pytest.mark.parametrize("measure", ["fill_rate", "cycle_service_level"])
def test_cycle_order_per_stock_position_equals_one_position_at_a_time(measure):
    rng = np.random.default_rng(2)
    daily = rng.negative_binomial(1.0, 0.3, (300, 12)).astype(float)
    on_hand = np.array([0.0, 4.0, 9.0, 30.0])
    arrivals = np.array([[0, 0, 5.0, 0, 0, 0, 3.0, 0], [0] * 8, [2.0] * 8, [0, 0, 0, 0, 0, 0, 0, 12.0]])
    targets = [0.5, 0.8, 0.9, 0.99]
    together = cycle_order(daily, 8, 4, on_hand, arrivals, measure, targets)
    for t in range(4):
        alone = cycle_order(daily, 8, 4, on_hand[t], arrivals[t], measure, [targets[t]])
        assert together.quantity[t] == pytest.approx(alone.quantity[0], abs=1e-9)
        assert together.fill_before_receipt[t] == pytest.approx(alone.fill_before_receipt, abs=1e-9)
        assert together.net_need[t] == pytest.approx(alone.net_need, abs=1e-9)


def test_lost_sales_by_hand():
    # 5 a day for 6 days; 8 on hand; review on Jan 4 orders up to 12 (shop 1) or 20 (shop 2), lead 1 day.
    days = pd.date_range("2024-01-02", periods=6, freq="D")
    reviews = [pd.Timestamp("2024-01-01"), pd.Timestamp("2024-01-04")]
    levels = np.array([[8.0, 20.0], [12.0, 20.0]])
    sim = simulate(days, np.full(6, 5.0), reviews, levels, 1, initial_stock=levels[0])
    # Shop 1 runs dry on Jan 3 (sells 3 of 5), orders 12 at the end of Jan 4, sells again from Jan 6.
    assert sim["sales"][0].tolist() == [5, 3, 0, 0, 5, 5] and sim["lost"][0].tolist() == [0, 2, 5, 5, 0, 0]
    assert sim["stock"][0].tolist() == [3, 0, 0, 0, 7, 2]
    # Shop 2 never runs short: 20 - 5 on hand on Jan 4, so it orders 15.
    assert sim["stock"][1].tolist() == [15, 10, 5, 0, 10, 5] and sim["lost"][1].sum() == 0
    assert sim["received"].tolist() == [12, 15] and sim["orders"].tolist() == [1, 1]
    assert sim["final_stock"].tolist() == [2, 5] and sim["in_transit"].tolist() == [0, 0]
    stats = summarise(days, np.full(6, 5.0), reviews, sim, 1.0, 0.365, 1.0, 1.0)
    # Cycles: Jan 2-4 and Jan 5-7; shop 1 is short in both, on 3 days; 12 unit-days of stock.
    assert stats["cycles"].tolist() == [2, 2] and stats["cycles_with_stockout"].tolist() == [2, 0]
    assert stats["stockout_days"].tolist() == [3, 0] and stats["stock_unit_days"].tolist() == [12, 45]
    assert stats["lost"].tolist() == [12, 0] and stats["sales"].tolist() == [18, 30]


def test_replay_sku_rows_do_not_depend_on_which_targets_are_swept_together():
    params = {"lead_time_days": 10, "review_period_days": 7, "service_measure": "fill_rate", "unit_cost": 2.0}
    params |= {"holding_cost_rate": 0.25, "order_cost": 5.0, "stockout_cost": 1.0, "moq": 3, "pack_size": 2}
    rng = np.random.default_rng(11)
    dates = pd.date_range("2023-01-02", periods=400)
    y = pd.Series((rng.random(400) < 0.3) * (1 + rng.poisson(6, 400)), index=dates, dtype=float)
    start = dates[-1] - pd.Timedelta(weeks=10)

    def replay(targets):
        model = model_from_yaml("croston", season=7)
        rows = replay_sku("s", y, model, SeasonalNaive(7), TradingCalendar(), params, start, targets, seed=4)
        return pd.DataFrame(rows).set_index(["policy", "target"])

    together = replay(TARGETS)
    assert list(together.index.get_level_values("policy")) == ["champion", "naive", "empirical"] * len(TARGETS) + [
        "oracle"
    ]
    alone = pd.concat([replay([t]).drop(index="oracle", level="policy") for t in TARGETS])
    pd.testing.assert_frame_equal(
        together.drop(index="oracle", level="policy").sort_index(),
        alone.sort_index(),
        check_exact=False,
        atol=1e-9,
        rtol=0,
    )


def test_round_order_rounds_an_array_as_each_number_and_refuses_nan():
    wanted = np.array([-3.0, 0.0, 1e-10, 7.0, 12.0, 13.0, 25.5])
    assert round_order(wanted, moq=10, pack_size=6).tolist() == [round_order(q, 10, 6) for q in wanted]
    assert round_order(wanted, moq=10, pack_size=6).tolist() == [0, 0, 0, 12, 12, 18, 30]
    with pytest.raises(ValueError, match="NaN"):
        round_order(np.array([1.0, np.nan]))


def test_the_replay_does_not_refit_for_an_order_that_cannot_arrive_before_it_ends(monkeypatch):
    # 12 weekly reviews after the start, refit every 4th: due at reviews 0, 4, 8 and 12. Review 12 falls on the
    # replay's last day, so its order is still in transit at the end: refitting there changes no sale or stock.
    import forecasting.planning.replay_sku as module

    params = {"lead_time_days": 5, "review_period_days": 7, "service_measure": "fill_rate", "unit_cost": 1.0}
    params |= {"holding_cost_rate": 0.25, "order_cost": 0.0, "stockout_cost": 0.0}
    dates = pd.date_range("2023-01-02", periods=300)
    y = pd.Series(np.random.default_rng(2).poisson(8, 300), index=dates, dtype=float)
    start = dates[-1] - pd.Timedelta(weeks=12)

    def replay():
        model = model_from_yaml("ets", season=7)
        fits = []
        fit = model.fit
        model.fit = lambda series, **inputs: fits.append(len(series)) or fit(series, **inputs)
        rows = replay_sku("s", y, model, SeasonalNaive(7), TradingCalendar(), params, start, TARGETS, refit_every=4)
        return pd.DataFrame(rows).set_index(["policy", "target"]), fits

    skipped, fits = replay()
    monkeypatch.setattr(module, "_covers", lambda *args: False)  # as before: a refit wherever one is due
    every, all_fits = replay()
    assert len(fits) == 3 and len(all_fits) == 4
    served = ["sales", "lost", "stock_unit_days", "stockout_days", "cycles_with_stockout", "received"]
    pd.testing.assert_frame_equal(skipped[served], every[served])


def _stationary_replay(calibration, learn_bias: bool) -> pd.DataFrame:
    params = {"lead_time_days": 7, "review_period_days": 7, "service_measure": "fill_rate", "unit_cost": 1.0}
    params |= {"holding_cost_rate": 0.25, "order_cost": 0.0, "stockout_cost": 0.0}
    dates = pd.date_range("2023-01-02", periods=300)
    y = pd.Series(np.random.default_rng(5).poisson(20, 300), index=dates, dtype=float)
    start = dates[-1] - pd.Timedelta(weeks=12)
    model = model_from_yaml("ets", season=7)
    rows = replay_sku(
        "s",
        y,
        model,
        SeasonalNaive(7),
        TradingCalendar(),
        params,
        start,
        [0.95],
        calibration=calibration,
        learn_bias=learn_bias,
    )
    return pd.DataFrame(rows).set_index(["policy", "target"])


def test_the_replay_learns_a_bias_the_decision_windows_did_not_show():
    # The calibration learnt on the decision's windows that the forecast ran 40% high; after the replay's start it
    # no longer does. Learning from the windows that have ended, the plan recovers most of its fill rate.
    from forecasting.planning.calibration import Calibration, levels

    wrong = Calibration(0.6, levels())
    fixed = _stationary_replay(wrong, learn_bias=False).loc[("champion", 0.95), "sales"]
    learnt = _stationary_replay(wrong, learn_bias=True).loc[("champion", 0.95)]
    demand = learnt["demand"]
    assert fixed / demand < 0.8
    assert learnt["sales"] / demand > fixed / demand + 0.08
    # Where the calibration was right, learning changes the fill rate by little.
    right = Calibration(1.0, levels())
    plain = _stationary_replay(right, learn_bias=False).loc[("champion", 0.95)]
    learning = _stationary_replay(right, learn_bias=True).loc[("champion", 0.95)]
    assert abs(learning["sales"] - plain["sales"]) / demand < 0.02


def test_running_bias_counts_only_what_the_windows_say_and_shrinks_toward_one():
    from forecasting.planning.calibration import PRIOR_WINDOWS, SCALE_BOUNDS, running_bias

    assert running_bias(np.array([]), np.array([])) == 1.0
    assert running_bias(np.array([0.0]), np.array([5.0])) == 1.0  # nothing forecast: no ratio to learn
    one = running_bias(np.array([10.0]), np.array([20.0]))
    assert one == pytest.approx(1 + (2 - 1) / (1 + PRIOR_WINDOWS))
    many = running_bias(np.full(60, 10.0), np.full(60, 20.0))
    assert 1.9 < many < 2.0
    # Overlapping windows count as the independent ones they span.
    assert running_bias(np.full(3, 10.0), np.full(3, 20.0), overlap=3) == pytest.approx(one)
    assert running_bias(np.full(100, 1.0), np.full(100, 100.0)) == SCALE_BOUNDS[1]


def test_the_naive_policy_on_a_weekly_table_looks_at_recent_weeks_not_a_year():
    # A planner ordering weekly averages the last weeks. The seasonal-naive season of weekly data is a year: a
    # mean over it would hold half the stock this SKU needs after its demand doubled two months ago.
    from forecasting.data.calendar import period_calendar

    weeks = pd.date_range("2021-01-03", periods=156, freq="W-SUN")
    y = pd.Series(np.where(np.arange(156) < 140, 100.0, 200.0), index=weeks)
    params = {"lead_time_days": 14, "review_period_days": 7, "service_measure": "fill_rate", "unit_cost": 1.0}
    params |= {"holding_cost_rate": 0.25, "order_cost": 0.0, "stockout_cost": 0.0}
    start = weeks[-1] - pd.Timedelta(weeks=8)
    calendar = period_calendar("weekly", "W-SUN", 156)
    rows = replay_sku("s", y, SeasonalNaive(52), SeasonalNaive(52), calendar, params, start, [0.5])
    naive = pd.DataFrame(rows).set_index(["policy", "target"]).loc[("naive", 0.5)]
    # At the start the last 4 weeks sold 200 a week: 3 weeks of lead time + review need about 600.
    assert naive["initial_stock"] == pytest.approx(600, rel=0.05)
    assert naive["sales"] / naive["demand"] > 0.95


def test_a_monthly_tables_weekly_reviews_refit_once_a_month():
    # Weekly reviews of a monthly table: a month's history changes at one review in four or five. The reviews in
    # between read the last forecast, fitted on the same months.
    from forecasting.data.calendar import period_calendar

    months = pd.date_range("2019-01-31", periods=48, freq="ME")
    y = pd.Series(np.random.default_rng(3).poisson(300, 48), index=months, dtype=float)
    params = {"lead_time_days": 14, "review_period_days": 7, "service_measure": "fill_rate", "unit_cost": 1.0}
    params |= {"holding_cost_rate": 0.25, "order_cost": 0.0, "stockout_cost": 0.0}
    start = months[-1] - pd.Timedelta(weeks=26)
    model = model_from_yaml("ets", season=12)
    fits = []
    fit = model.fit
    model.fit = lambda series, **inputs: fits.append(len(series)) or fit(series, **inputs)
    calendar = period_calendar("monthly", "ME", 48)
    rows = pd.DataFrame(replay_sku("s", y, model, SeasonalNaive(12), calendar, params, start, [0.95]))
    reviews = len(pd.date_range(start, months[-1], freq="7D"))
    assert reviews >= 24 and len(fits) == len(set(fits)) <= 8  # one fit per month of history known, no repeats
    champion = rows.set_index("policy").loc["champion"]
    assert 0.8 < champion["sales"] / champion["demand"] <= 1.0
