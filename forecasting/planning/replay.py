"""Replay order policies on history: would following the plan have worked?

For one SKU, over the last weeks of data: at each review date the policy sets its order-up-to level from what
was known that day, orders up to it (rounded for MOQ and packs), the order arrives exactly one lead time
later, and each day sells min(demand, stock) (lost sales) or backlogs the rest (backorders). The same demand
and timing drive every policy, so their fill rate, stock and cost compare like for like.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np
import pandas as pd

from forecasting.planning.policy import round_order


def simulate(
    days: pd.DatetimeIndex,
    demand: np.ndarray,
    reviews: Sequence[pd.Timestamp],
    levels: Sequence[float] | None,
    lead_days: int,
    initial_stock: float,
    moq: float = 0.0,
    pack_size: float = 1.0,
    backorders: bool = False,
    order: Callable[[pd.Timestamp, float, np.ndarray], float] | None = None,
) -> dict:
    """Day-by-day stock under an order-up-to policy: `levels[k]` is the level set at `reviews[k]`; or, with
    `order`, the units `order(review day, on hand, arrivals)` asks for, where `arrivals[j]` are the units in
    transit that reach the shelf j + 1 days later (a policy that looks at the stock it has, as a planner does).

    `days` are consecutive calendar days after the replay's start (closed days carry zero demand); an order
    placed at the end of review day r is on the shelf at the end of day r + lead_days, so lead_days days of
    demand pass before it can sell, as the plan's lead-time window (r, r + lead] assumes. (Shelving it a day
    earlier made every policy, the oracle included, cover one day more than its window.)
    """
    n, lead_days = len(days), int(lead_days)
    # Days as positions: `days` are consecutive, so an order placed on day i arrives on day i + lead_days + 1;
    # arrivals past the last day stay in transit. (Timestamp arithmetic and dict look-ups here were most of
    # the replay's time after the fits.)
    arriving = np.zeros(n + lead_days + 2)
    at_review = days.get_indexer(pd.DatetimeIndex(reviews))
    level_at = {int(i): k for k, i in enumerate(at_review) if i >= 0}
    on_hand = float(initial_stock)
    stock = np.zeros(n)
    sales = np.zeros(n)
    lost = np.zeros(n)
    received_total = 0.0
    orders = 0
    for i, want in enumerate(np.asarray(demand, dtype=float).tolist()):
        got = float(arriving[i])
        on_hand += got
        received_total += got
        sold = min(want, max(on_hand, 0.0))  # what the shelf fills today
        sales[i] = sold
        lost[i] = want - sold  # lost, or with backorders waiting: either way not filled on the day
        # Backorders leave the shortfall as negative stock, paid first by the next arrivals.
        on_hand -= want if backorders else sold
        stock[i] = on_hand
        k = level_at.get(i)
        if k is not None:
            if order is None:
                qty = round_order(levels[k] - on_hand - arriving[i + 1 :].sum(), moq, pack_size)
            else:
                due = arriving[i + 1 : i + 1 + lead_days].copy()
                qty = round_order(order(days[i], on_hand, due), moq, pack_size)
            if qty > 0:
                arriving[i + lead_days + 1] += qty
                orders += 1
    return {
        "stock": stock,
        "sales": sales,
        "lost": lost,
        "orders": orders,
        "received": received_total,
        "in_transit": float(arriving[n:].sum()),
        "final_stock": on_hand,
    }


def summarise(
    days: pd.DatetimeIndex,
    demand: np.ndarray,
    reviews: Sequence[pd.Timestamp],
    sim: Mapping,
    unit_cost: float,
    holding_rate: float,
    order_cost: float,
    stockout_cost: float,
) -> dict:
    """Totals that add up across SKUs: demand, sales, cycles with a stockout, stock-days, orders, costs."""
    cycle = np.searchsorted(pd.DatetimeIndex(reviews).asi8, days.asi8, side="left")
    short_cycles = len(set(cycle[sim["lost"] > 1e-9]))
    stock_units_days = float(np.clip(sim["stock"], 0, None).sum())
    holding = stock_units_days * unit_cost * holding_rate / 365.0
    return {
        "demand": float(demand.sum()),
        "sales": float(sim["sales"].sum()),
        "lost": float(sim["lost"].sum()),
        "cycles": len(set(cycle)),
        "cycles_with_stockout": short_cycles,
        "stockout_days": int((sim["lost"] > 1e-9).sum()),
        "stock_unit_days": stock_units_days,
        "stock_value_days": stock_units_days * unit_cost,
        "days": len(days),
        "orders": sim["orders"],
        "holding_cost": holding,
        "ordering_cost": sim["orders"] * order_cost,
        "stockout_cost": float(sim["lost"].sum()) * stockout_cost,
    }


def aggregate(per_sku: pd.DataFrame, by: Sequence[str] = ("policy", "target")) -> pd.DataFrame:
    """Pooled replay results: unit fill rate, cycle service level, average stock, orders and cost."""
    g = per_sku.groupby(list(by), observed=True, sort=True)
    total = g[
        [
            "demand",
            "sales",
            "lost",
            "cycles",
            "cycles_with_stockout",
            "stockout_days",
            "stock_unit_days",
            "stock_value_days",
            "orders",
            "holding_cost",
            "ordering_cost",
            "stockout_cost",
        ]
    ].sum()
    days = g["days"].max()
    out = pd.DataFrame(
        {
            "fill_rate": total["sales"] / total["demand"],
            "cycle_service_level": 1 - total["cycles_with_stockout"] / total["cycles"],
            "stockout_days": total["stockout_days"],
            "avg_stock_units": total["stock_unit_days"] / days,
            "avg_stock_value": total["stock_value_days"] / days,
            "orders": total["orders"],
            "lost_units": total["lost"],
            "total_cost": total["holding_cost"] + total["ordering_cost"] + total["stockout_cost"],
            "skus": g.size(),
        }
    )
    return out.reset_index()


def stock_at_equal_fill(
    curve: pd.DataFrame, policy: str = "champion", reference: str = "naive"
) -> pd.DataFrame:
    """For each point of the reference policy's curve, the stock `policy` needs for the same fill rate
    (linear interpolation along its own curve; NaN outside the fill rates it reached)."""
    own = curve[curve["policy"] == policy].sort_values("fill_rate")
    ref = curve[curve["policy"] == reference].sort_values("fill_rate")
    needed = np.interp(ref["fill_rate"], own["fill_rate"], own["avg_stock_value"], left=np.nan, right=np.nan)
    return pd.DataFrame(
        {
            "target": ref["target"].to_numpy(),
            f"{reference}_fill_rate": ref["fill_rate"].to_numpy(),
            f"{reference}_stock_value": ref["avg_stock_value"].to_numpy(),
            f"{policy}_stock_value_same_fill": needed,
            "stock_saved_share": 1 - needed / ref["avg_stock_value"].to_numpy(),
        }
    )
