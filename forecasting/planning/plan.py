"""One SKU's plan: protection levels, the order to place, projected stock and exceptions."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from forecasting.planning.calibration import Calibration, recalibrated
from forecasting.planning.cover import cumulative_quantiles, sample_lead_times
from forecasting.planning.lost_sales import (
    CycleOrder,
    arrivals_by_day,
    cycle_lot,
    cycle_order,
    daily_paths,
    recalibrated_paths,
    reorder_targets,
)
from forecasting.planning.policy import economic_order_quantity, order_cycle_days, protection_level, round_order
from forecasting.vocabulary.windows import window_sums


def protection(
    paths: np.ndarray,
    dates: pd.DatetimeIndex,
    today: pd.Timestamp,
    p: Mapping,
    rng: np.random.Generator,
    calibration: Calibration | None = None,
    on_hand: float = 0.0,
    open_orders: pd.DataFrame | None = None,
    recent_daily: float = 0.0,
) -> dict:
    """Reorder point, order-up-to level and safety stock for the SKU's policy, from the sample paths.

    Lead times are drawn per path, so their spread widens the demand over the window as it should. The
    calibration (score quantiles, see planning.calibration) recalibrates the window's demand samples the levels
    are set from, and nothing else: the demand reported, the days of cover and the projected stockouts stay
    the model's own. A periodic policy sizes its order under lost sales from the stock on hand and the open
    orders' arrival days (`order`, see planning.lost_sales); its order-up-to level is the position it orders to.
    With an order cycle longer than the review period (`order_cycle_days`, from the SKU's `recent_daily` sales:
    policy.order_cycle_days), it orders only where the stock would miss the target before an order placed at the
    next review could arrive, and then for the cycle (the days it adds at those sales): an (R, s, S) policy whose
    reorder point is the position today's order takes it to over one review.
    """
    n = paths.shape[0]
    review = int(p["review_period_days"])
    order_cycle = order_cycle_days(p, recent_daily)
    lead = sample_lead_times(p["lead_time_days"], p.get("lead_time_std_days") or 0.0, n, rng)
    # The inputs keep lead time + order cycle + 3 spreads inside the forecast; the rare longer draw is capped at
    # the forecast's end rather than failing the plan.
    room = (dates[-1] - today).days - (order_cycle if p["policy"] == "periodic" else 0)
    lead = np.minimum(lead, max(room, 0))
    raw_lead = window_sums(paths, dates, today, lead)
    d_lead = recalibrated(raw_lead, calibration)
    mean_daily = window_sums(paths, dates, today, 60).mean() / 60.0
    if p["policy"] == "periodic":
        raw_cover = window_sums(paths, dates, today, lead + review)
        d_cover = recalibrated(raw_cover, calibration)
        # The cycle's demand from the recalibrated window less its lead-time part, so a biased forecast's
        # correction reaches the shortage allowance too.
        cycle = max(d_cover.mean() - d_lead.mean(), 0.0) if calibration is not None else mean_daily * review
        level = protection_level(d_cover, p["service_measure"], p["service_target"], cycle_demand=cycle, base=d_lead)
        window = int(round(float(lead.mean()))) + review
        cycle_end = int(lead.max()) + order_cycle  # the last day the order placed today serves
        daily = recalibrated_paths(daily_paths(paths, dates, today, cycle_end), calibration, window)
        orders = open_orders if open_orders is not None else pd.DataFrame({"quantity": [], "arrival_date": []})
        days_out = (pd.DatetimeIndex(orders["arrival_date"]) - today).days.to_numpy()
        arrivals = arrivals_by_day(days_out, orders["quantity"].to_numpy(float), cycle_end)
        # Open orders due after the cycle cannot serve it, so today's order is sized without them: say so.
        late = int(np.count_nonzero(days_out > cycle_end))
        target = reorder_targets([p["service_target"]], p["service_measure"], review, order_cycle)
        order = cycle_order(daily, lead, review, on_hand, arrivals, p["service_measure"], target)
        # What one review's cycle needs: above 0, the position is under the reorder point by that much.
        short = float(order.quantity[0])
        if order_cycle > review:
            lot = cycle_lot(order.quantity, recent_daily * (order_cycle - review))
            order = CycleOrder(lot, order.fill_before_receipt, order.net_need)
        return {
            "reorder_point": level,
            "short_of_reorder_point": short,
            "order_up_to": level,
            "lot_size": 0.0,
            "safety_stock": level - d_cover.mean(),
            "cover": d_cover,
            "raw_cover": raw_cover,
            "order": float(order.quantity[0]),
            "fill_before_receipt": order.fill_before_receipt,
            "net_need": order.net_need,
            "orders_after_cycle": late,
            "order_cycle_days": order_cycle,
        }
    eoq = economic_order_quantity(mean_daily * 365, p["order_cost"], p["unit_cost"], p["holding_cost_rate"])
    lot = round_order(max(eoq, 1.0), p.get("moq") or 0.0, p.get("pack_size") or 1.0)
    s = protection_level(d_lead, p["service_measure"], p["service_target"], cycle_demand=lot)
    return {
        "reorder_point": s,
        "order_up_to": s + lot,
        "lot_size": lot,
        "safety_stock": s - d_lead.mean(),
        "cover": d_lead,
        "raw_cover": raw_lead,
        "order_cycle_days": order_cycle,
    }


def calibration_factor(levels: Mapping, target: float) -> float:
    raw = float(np.quantile(levels["raw_cover"], target))
    return float(np.quantile(levels["cover"], target)) / raw if raw > 0 else 1.0


def order_quantity(levels: Mapping, position: float, p: Mapping) -> float:
    """Units to order now (after MOQ and pack rounding) given the inventory position."""
    if p["policy"] == "periodic":
        raw = levels["order"] if "order" in levels else levels["order_up_to"] - position
    elif position > levels["reorder_point"]:
        raw = 0.0
    elif p["policy"] == "continuous_sq":
        lots = np.floor((levels["reorder_point"] - position) / levels["lot_size"]) + 1
        raw = lots * levels["lot_size"]
    else:  # continuous_ss
        raw = levels["order_up_to"] - position
    return round_order(raw, p.get("moq") or 0.0, p.get("pack_size") or 1.0)


def projected_stockout(
    dates: pd.DatetimeIndex, cum_demand: np.ndarray, on_hand: float, arrivals: pd.DataFrame
) -> pd.Timestamp | None:
    """First forecast date where on hand + arrived open orders - cumulative demand drops below zero."""
    received = np.zeros(len(dates))
    for row in arrivals.itertuples(index=False):
        received[dates >= row.arrival_date] += row.quantity
    stock = on_hand + received - cum_demand
    below = np.flatnonzero(stock < -1e-9)
    return dates[below[0]] if len(below) else None


def plan_sku(
    sku: str,
    paths: np.ndarray,
    dates: pd.DatetimeIndex,
    today: pd.Timestamp,
    p: Mapping,
    on_hand: float,
    open_orders: pd.DataFrame,
    rng: np.random.Generator,
    calibration: Calibration | None = None,
    history: Mapping | None = None,
    rules: Mapping | None = None,
) -> dict:
    """The plan row of one SKU (columns of the plan table in DESIGN.md)."""
    history, rules = dict(history or {}), dict(rules or {})
    today = pd.Timestamp(today).normalize()
    # `counted` says which orders the plan relies on (plan.overdue_orders=ignore leaves overdue ones out).
    counted = open_orders[open_orders["counted"]] if "counted" in open_orders else open_orders
    on_order = float(counted["quantity"].sum()) if len(counted) else 0.0
    position = on_hand + on_order
    levels = protection(
        paths, dates, today, p, rng, calibration, on_hand, counted, float(history.get("recent_daily_demand", 0.0))
    )
    cycle = levels["order_cycle_days"]
    if "order" in levels:
        # Under lost sales the level is where this order takes the position: shortfalls before it arrives are
        # lost, not owed, so it is not a fixed S (see planning.lost_sales).
        levels["order_up_to"] = position + levels["order"]
        # Where no order is due, the reorder point is somewhere at or below the position: the textbook level over
        # lead time + review stands for it (an order at every review orders to it, so it is the position).
        short = levels["short_of_reorder_point"]
        fallback = min(levels["reorder_point"], position) if cycle > int(p["review_period_days"]) else position
        levels["reorder_point"] = position + short if short > 0 else fallback
        levels["safety_stock"] = levels["order"] - levels["net_need"]  # the stock expected left when the next arrives
    qty = order_quantity(levels, position, p)
    cum = cumulative_quantiles(paths, [0.5, 0.9])
    stockout50 = projected_stockout(dates, cum[0], on_hand, counted)
    stockout90 = projected_stockout(dates, cum[1], on_hand, counted)
    lead = pd.Timedelta(days=float(p["lead_time_days"]))
    mean_daily = window_sums(paths, dates, today, 60).mean() / 60.0
    d30, d60 = (np.quantile(window_sums(paths, dates, today, d), [0.1, 0.5, 0.9]) for d in (30, 60))
    if qty > 0:
        order_by = today
    elif stockout50 is not None:
        order_by = max(today, stockout50 - lead)
    else:
        order_by = None
    cover_days = position / mean_daily if mean_daily > 0 else float("inf")

    exceptions = []
    if stockout50 is not None and stockout50 <= today + lead:
        exceptions.append("STOCKOUT_BEFORE_RECEIPT")
    fill_before = levels.get("fill_before_receipt", np.nan)
    if p["service_measure"] == "fill_rate" and fill_before < p["service_target"]:
        # The stock on hand and on order serves less than the target before any order placed now can arrive.
        exceptions.append("TARGET_UNREACHABLE_BEFORE_RECEIPT")
    if "overdue" in open_orders and open_orders["overdue"].any():
        exceptions.append("OVERDUE_ORDER")
    if levels.get("orders_after_cycle", 0) > 0 and qty > 0:
        exceptions.append("OPEN_ORDER_AFTER_CYCLE")
    if cover_days > rules.get("excess_cover_days", 180):
        exceptions.append("EXCESS_STOCK")
    last_sale = history.get("last_sale")
    if last_sale is not None and (today - pd.Timestamp(last_sale)).days > rules.get("no_sales_days", 56):
        exceptions.append("NO_RECENT_SALES")
    previous = history.get("previous_p50_60d")
    if (
        previous is not None
        and previous > 0
        and abs(d60[1] - previous) / previous > rules.get("forecast_moved_share", 0.5)
    ):
        exceptions.append("FORECAST_MOVED")
    if history.get("trading_days", np.inf) < rules.get("short_history_days", 120):
        exceptions.append("SHORT_HISTORY")

    iso = lambda d: d.date().isoformat() if d is not None else ""  # noqa: E731
    return {
        "sku": sku,
        "policy": p["policy"],
        "service_measure": p["service_measure"],
        "service_target": p["service_target"],
        "lead_time_days": p["lead_time_days"],
        "review_period_days": p["review_period_days"],
        "order_cycle_days": cycle,
        "on_hand": on_hand,
        "on_order": on_order,
        "inventory_position": position,
        "demand_cover_p50": float(np.quantile(levels["cover"], 0.5)),
        "demand_cover_target": float(np.quantile(levels["cover"], p["service_target"])),
        "demand_cover_mean": float(levels["cover"].mean()),
        "safety_stock": float(levels["safety_stock"]),
        "reorder_point": float(levels["reorder_point"]),
        "order_up_to": float(levels["order_up_to"]),
        "order_qty": qty,
        "moq": p.get("moq") or 0.0,
        "pack_size": p.get("pack_size") or 1.0,
        "unit_cost": p["unit_cost"],
        "order_value": qty * p["unit_cost"],
        "order_by": iso(order_by),
        "stockout_date_p50": iso(stockout50),
        "stockout_date_p90": iso(stockout90),
        "days_of_cover": round(cover_days, 1) if np.isfinite(cover_days) else None,
        "demand_30d_p10": d30[0],
        "demand_30d_p50": d30[1],
        "demand_30d_p90": d30[2],
        "demand_60d_p10": d60[0],
        "demand_60d_p50": d60[1],
        "demand_60d_p90": d60[2],
        # How far the recalibration moved the target quantile of the window's demand (1 = not at all).
        "calibration_factor": calibration_factor(levels, p["service_target"]),
        "fill_before_receipt": round(float(fill_before), 4) if np.isfinite(fill_before) else None,
        "exceptions": ";".join(exceptions),
    }
