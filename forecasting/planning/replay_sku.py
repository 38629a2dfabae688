"""One SKU's replay: forecasts at each review date, order-up-to levels for each policy and target, simulation.

Policies: `champion` (the plan's model and calibration, order-up-to from its sample paths), `naive` (the recent
mean with a safety stock of z x the recent demand's standard deviation, the common spreadsheet practice: on daily
tables the mean of the last week, the seasonal-naive season; on weekly and monthly ones of the last 4 weeks or the
last month, the spread over the last `naive_weeks` weeks and at least 8 periods), `empirical` (order up to the
target quantile of the SKU's own lead time + review sums over its last `empirical_weeks` weeks: the planner's
practice that needs no forecast), and `oracle` (orders exactly the demand the next lead time + review period
brings).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy.stats import norm

from forecasting.data.calendar import TradingCalendar
from forecasting.data.frequency import PERIOD_DAYS
from forecasting.models.base import LocalForecaster
from forecasting.models.local_fit import safe_forecast
from forecasting.planning.calibration import Calibration, held_out, recalibrated, running_bias
from forecasting.planning.lost_sales import cycle_lot, cycle_order, daily_paths, recalibrated_paths, reorder_targets
from forecasting.planning.policy import order_cycle_days, protection_levels
from forecasting.planning.replay import simulate, summarise
from forecasting.planning.sales_history import RECENT_DAYS
from forecasting.vocabulary.windows import spread_to_days, window_counts, window_sums


def replay_span_days(window: int, review: int, refit_every: int) -> int:
    """Days one replay forecast must cover: lead time + review, a week's slack, and the reviews until a refit."""
    return int(window) + 7 + (max(int(refit_every), 1) - 1) * int(review)


def _covers(fitted_dates: pd.DatetimeIndex, open_days: pd.DatetimeIndex, review: pd.Timestamp, window: int) -> bool:
    """Whether a forecast over `fitted_dates` reaches every trading day of the window after `review`."""
    last_needed = open_days.searchsorted(review + pd.Timedelta(days=window), side="right")
    return len(fitted_dates) > 0 and last_needed <= open_days.searchsorted(fitted_dates[-1], side="right")


def replay_sku(
    sku: str,
    series: pd.Series,
    model: LocalForecaster,
    fallback: LocalForecaster,
    calendar: TradingCalendar,
    params: Mapping,
    start: pd.Timestamp,
    targets: Sequence[float],
    calibration: Calibration | None = None,
    num_samples: int = 200,
    seed: int = 0,
    backorders: bool = False,
    naive_weeks: int = 8,
    refit_every: int = 1,
    empirical_weeks: int = 13,
    champion_levels: Sequence[float] | None = None,
    covariates: pd.DataFrame | None = None,
    learn_bias: bool = True,
    baselines: bool = True,
    fitted_on: pd.DataFrame | None = None,
    block_days: int | None = None,
) -> list[dict]:
    """Replay rows (one per policy and target) for one SKU; `series` is its demand on trading days (`covariates`:
    its promo / price rows, for a model that reads them).

    The champion's model is fitted again every `refit_every` reviews (a monthly forecast with weekly orders, as
    many shops run); between refits each review reads its window from the last forecast's later days, and sizes
    its order from the stock it has that day. Fitting at every review costs as much as the whole backtest.

    `champion_levels`, one per target, are the champion's own cycle service levels where the target is met over
    the assortment (planning.allocation); the baselines keep the targets themselves.

    With `learn_bias`, each review's calibrated window demand is multiplied by the SKU's `running_bias` over the
    windows of earlier reviews that have ended by then (demand known on the review day only), as the nightly job
    learns from the plans whose windows have passed.

    Without `baselines`, only the champion is played (a rehearsal: planning.rehearsal): one row per target.

    `fitted_on`: the SKU's cover records the calibration was fitted on, where they may lie inside the days replayed
    (a rehearsal): each review then takes the SKU's scale from the records its own window does not overlap
    (calibration.held_out), so the calibration is not judged on the weeks it was fitted to.

    `block_days`: each row also holds its demand and sales per block of that many days from the start
    (`demand_blocks`, `sales_blocks`), for a rehearsal's noise across weeks (planning.rehearsal)."""
    end = series.index.max()
    lead, review = int(params["lead_time_days"]), int(params["review_period_days"])
    daily = spread_to_days(series)  # weeks and months sell evenly over their days in the simulation
    # The empirical policy's past window sums and every mean daily sale count calendar days (closed days sell
    # nothing); a SKU first sold fewer than RECENT_DAYS ago is averaged over its own days, as the plan does
    # (sales_history.mean_daily_demand).
    every_day = daily.reindex(pd.date_range(daily.index.min(), end, freq="D"), fill_value=0.0)
    cum_every_day = np.concatenate([[0.0], np.cumsum(every_day.to_numpy(dtype=float))])
    # Every policy orders for the same cycle, set from the sales known at the start (policy.order_cycle_days):
    # with a cycle longer than the review, an order only where one review's window would miss the target.
    known_at_start = every_day.index.searchsorted([start], side="right")
    cycle = order_cycle_days(params, float(trailing_means(cum_every_day, known_at_start, RECENT_DAYS)[0]))
    window, long = lead + review, lead + cycle  # the reorder point's window, the order-up-to level's
    span = replay_span_days(long, review, refit_every)
    days = pd.date_range(start + pd.Timedelta(days=1), end, freq="D")
    demand = daily.reindex(days, fill_value=0.0).to_numpy()
    reviews = pd.date_range(start, end, freq=f"{review}D")
    frequency = getattr(calendar, "frequency", "daily")
    if frequency == "daily":
        horizon = len(calendar.next_trading_days(start, span))
    else:  # the weeks or months that overlap the window, one more for a review inside a period
        horizon = len(calendar.trading_days(start + pd.Timedelta(days=1), start + pd.Timedelta(days=span))) + 1
    m = calendar.season_length
    # The naive policy's look-back in periods. A weekly table's season is a year: its mean over the last year
    # would lag every trend and season, which no planner ordering weekly does.
    mean_periods = m if frequency == "daily" else max(1, round(28 / PERIOD_DAYS[frequency]))
    # The spread over `naive_weeks` weeks: of trading days (m a week) on a daily table, of periods (8 or more) else.
    weeks_of_periods = max(8, round(7 * naive_weeks / PERIOD_DAYS[frequency]))
    spread_periods = naive_weeks * m if frequency == "daily" else weeks_of_periods
    # The calendar once for the whole replay (holiday look-ups are slow), sliced per review.
    open_days = calendar.trading_days(start, end + pd.Timedelta(days=31 * horizon + 60))
    values, index = series.to_numpy(dtype=float), series.index
    # Positions per review, found once (pandas look-ups per review cost more than the review's arithmetic).
    known_at = index.searchsorted(reviews, side="right")
    # The oracle's future demand on calendar days, so weeks and months count pro rata inside a window.
    cum_daily = np.concatenate([[0.0], np.cumsum(daily.to_numpy(dtype=float))])
    known_daily = cum_daily[daily.index.searchsorted(reviews, side="right")]
    future = cum_daily[daily.index.searchsorted(reviews + pd.Timedelta(days=window), side="right")] - known_daily
    future_long = cum_daily[daily.index.searchsorted(reviews + pd.Timedelta(days=long), side="right")] - known_daily
    targets = np.asarray(targets, dtype=float)
    z = norm.ppf(targets)
    measure = params["service_measure"] if champion_levels is None else "cycle_service_level"
    own = targets if champion_levels is None else np.asarray(champion_levels, dtype=float)
    own = reorder_targets(own, measure, review, cycle)  # the targets themselves where the cycle is the review

    # Order-up-to levels per review (rows) and target (columns); the oracle has one column, target 1. And the
    # reorder points under which a baseline orders (the same levels over one review's window; equal to the
    # order-up-to levels where the cycle is the review).
    levels: dict[str, list] = {"champion": [], "naive": [], "empirical": [], "oracle": []}
    triggers: dict[str, list] = {"champion": [], "naive": [], "empirical": [], "oracle": []}
    known_days = every_day.index.searchsorted(reviews, side="right")
    champion_paths: dict[pd.Timestamp, np.ndarray] = {}
    # The days a longer cycle adds, at the recent mean daily sales known at each review (as the plan sizes them:
    # lost_sales.cycle_lot); 0 where the cycle is the review.
    added = trailing_means(cum_every_day, known_days, RECENT_DAYS) * (cycle - review)
    # The empirical policy's own mean daily sales, over the weeks it reads its window sums from.
    empirical_means = trailing_means(cum_every_day, known_days, 7 * empirical_weeks)
    # The champion's calibrated mean demand per review's window, before the running bias; a window has ended
    # (its actual demand known) `ended_after` reviews later.
    window_means = np.zeros(len(reviews))
    ended_after = -(-window // review)
    fitted_dates = pd.DatetimeIndex([])  # the dates of the last forecast (made at the first review)
    fitted_known = -1  # the periods of history the last forecast was fitted on
    for k, r in enumerate(reviews):
        n_known = int(known_at[k])
        # A refit where one is due, except at a review whose order cannot arrive before the replay ends (it only
        # counts in `orders`), when the last forecast still covers its window: that fit was a quarter of an ETS
        # champion's replay and changes no fill, stock or lost sale.
        # Nor where no period has been added since the last fit (weekly reviews of a monthly table: 3 in 4): the
        # same history fits the same model.
        due = k % max(int(refit_every), 1) == 0
        pointless = r + pd.Timedelta(days=lead) >= end or n_known == fitted_known
        if due and k and pointless and _covers(fitted_dates, open_days, r, long):
            due = False
        if due:
            fitted_known = n_known
            fitted_dates = open_days[open_days.searchsorted(r, side="right") :][:horizon]
            known = series.iloc[:n_known]
            forecast, _ = safe_forecast(
                sku, known, horizon, model, fallback, num_samples, seed, k, covariates, fitted_dates
            )
        # The forecast's days after this review (windows count forecast dates from their start on).
        ahead = fitted_dates > r
        dates, paths = fitted_dates[ahead], forecast.paths[:, ahead]
        cal = calibration if fitted_on is None else held_out(calibration, fitted_on, r, r + pd.Timedelta(days=window))
        ended = max(k - ended_after + 1, 0)
        bias = running_bias(window_means[:ended], future[:ended], window / review) if learn_bias else 1.0
        if backorders:
            # The backorder relation on the recalibrated window demand, and the cycle's demand from it.
            cover = recalibrated(window_sums(paths, dates, r, window), cal)
            window_means[k] = cover.mean()
            cover = bias * cover
            base = bias * recalibrated(window_sums(paths, dates, r, lead), cal)
            review_mean = max(cover.mean() - base.mean(), 0.0)
            champion = protection_levels(cover, measure, own, review_mean, base)
            triggers["champion"].append(champion)
            if cycle > review:  # the reorder point above, and the days the cycle adds (lost_sales.cycle_lot)
                champion = champion + added[k]
        else:
            # As in the plan: recalibrated daily paths, from which each order is sized against the stock it meets.
            calibrated = recalibrated_paths(daily_paths(paths, dates, r, long), cal, window)
            window_means[k] = calibrated[:, :window].sum(axis=1).mean()
            champion_paths[r] = bias * calibrated
            # The opening stock (nothing on order yet) covers lead time and review period, and half of what a longer
            # order cycle adds (opening (R, s, S) shops midway through a cycle); later levels unused.
            champion = (
                opening_stock(champion_paths[r], window, added[0], measure, own) if k == 0 else np.zeros(len(targets))
            )
        # Naive: the recent mean per period; spread from recent periods.
        recent = values[max(0, n_known - spread_periods) : n_known]
        daily_mean = values[max(0, n_known - mean_periods) : n_known].mean() if n_known else 0.0
        spread = recent.std(ddof=1) if len(recent) > 1 else 0.0
        n_days, n_long = window_counts(dates, r, np.array([window, long])).astype(float)
        naive = np.maximum(0.0, np.nan_to_num(daily_mean * n_days + z * spread * np.sqrt(n_days)))
        empirical = past_window_quantiles(cum_every_day, int(known_days[k]), window, 7 * empirical_weeks, targets)
        # Over a longer order cycle, each orders up to its reorder point and the days the cycle adds at its mean:
        # the safety stock is the reorder point's (as the champion's lot, lost_sales.cycle_lot).
        levels["champion"].append(champion)
        triggers["naive"].append(naive)
        levels["naive"].append(naive + daily_mean * (n_long - n_days))
        triggers["empirical"].append(empirical)
        levels["empirical"].append(empirical + empirical_means[k] * (long - window))
        levels["oracle"].append([future_long[k]])
        triggers["oracle"].append([future[k]])
    levels = {policy: np.array(lv, dtype=float) for policy, lv in levels.items()}
    triggers = {policy: np.array(lv, dtype=float) for policy, lv in triggers.items()}

    def play(policies: Sequence[str], order=None) -> dict[str, list[dict]]:
        """One simulation for all of `policies`' targets (a shop per column), split back into rows per policy."""
        lv = np.hstack([levels[p] for p in policies])
        tv = np.hstack([triggers[p] for p in policies]) if order is None and cycle > review else None
        sim = simulate(
            days,
            demand,
            reviews,
            lv,
            lead,
            triggers=tv,
            initial_stock=lv[0] if tv is None else (lv[0] + tv[0]) / 2.0,
            moq=params.get("moq") or 0.0,
            pack_size=params.get("pack_size") or 1.0,
            backorders=backorders,
            order=order,
        )
        stats = summarise(
            days,
            demand,
            reviews,
            sim,
            params["unit_cost"],
            params["holding_cost_rate"],
            params["order_cost"],
            params["stockout_cost"],
        )
        per_shop = {"initial_stock": lv[0], "received": sim["received"], "final_stock": sim["final_stock"], **stats}
        if block_days:
            block = np.arange(len(days)) // int(block_days)
            per_shop["demand_blocks"] = np.tile(np.bincount(block, demand), (lv.shape[1], 1))
            per_shop["sales_blocks"] = np.stack([np.bincount(block, shop) for shop in sim["sales"]])
        per_shop = {key: np.asarray(v).tolist() for key, v in per_shop.items()}
        shops = [{key: v[s] for key, v in per_shop.items()} for s in range(lv.shape[1])]
        ends = np.cumsum([levels[p].shape[1] for p in policies])
        return {p: shops[end - levels[p].shape[1] : end] for p, end in zip(policies, ends, strict=True)}

    others = ["naive", "empirical", "oracle"] if baselines else []
    if backorders:  # every policy orders up to a level: one simulation
        played = play(["champion", *others])
    else:
        # Under lost sales the champion orders for its cycle from the stock it has (see planning.lost_sales).
        played = play(others) if others else {}
        added_at = dict(zip(reviews, added.tolist(), strict=True))
        order = _lost_sales_order(champion_paths, added_at, lead, review, cycle, measure, own)
        played |= play(["champion"], order)
    # Rows as the planner reads them: champion and baselines per target, then the oracle.
    per_target = ("champion", "naive", "empirical") if baselines else ("champion",)
    rows = [
        {"sku": sku, "policy": p, "target": target, **played[p][j]}
        for j, target in enumerate(targets.tolist())
        for p in per_target
    ]
    if baselines:
        rows.append({"sku": sku, "policy": "oracle", "target": 1.0, **played["oracle"][0]})
    return rows


def opening_stock(paths: np.ndarray, window: int, added: float, measure: str, targets: np.ndarray) -> np.ndarray:
    """The champion's stock on the replay's first day, per target: what covers lead time + review from nothing, and
    half the demand a longer order cycle adds (`added`; the baselines open midway between their reorder point and
    order-up-to level alike)."""
    return cycle_order(paths, 0, window, 0.0, [], measure, targets).quantity + added / 2.0


def trailing_means(cum_daily: np.ndarray, known: np.ndarray, days: int) -> np.ndarray:
    """Per position of `known` (calendar days known, `cum_daily` their running total from 0): the mean daily sales
    of the last `days` of them (of all of them where fewer are known; 0 where none is)."""
    past = np.minimum(known, days)
    return np.divide(cum_daily[known] - cum_daily[known - past], np.maximum(past, 1))


def past_window_quantiles(
    cum_daily: np.ndarray, known: int, window: int, recent_days: int, targets: np.ndarray
) -> np.ndarray:
    """The `targets` quantiles of the demand summed over every `window`-day stretch inside the last `recent_days`
    days known (the first `known` calendar days; `cum_daily` their running total from 0): what the SKU really
    sold over a lead time + review lately. Zeros before a whole window is known."""
    ends = np.arange(max(window, known - recent_days + window), known + 1)
    if not len(ends):
        return np.zeros(len(targets))
    return np.quantile(cum_daily[ends] - cum_daily[ends - window], targets)


def _lost_sales_order(
    paths: Mapping[pd.Timestamp, np.ndarray],
    added: Mapping[pd.Timestamp, float],
    lead: int,
    review: int,
    cycle: int,
    measure: str,
    targets: np.ndarray,
):
    """The champion's order per target, each sized from the stock on hand and on order of that target's shop: for
    one review, or where that falls short and the cycle is longer, for the cycle (as planning.plan orders)."""

    def order(day: pd.Timestamp, on_hand: np.ndarray, arrivals: np.ndarray) -> np.ndarray:
        short = cycle_order(paths[day], lead, review, on_hand, arrivals, measure, targets).quantity
        return short if cycle == review else cycle_lot(short, added[day])

    return order
