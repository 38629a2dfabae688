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
    levels: Sequence[float] | np.ndarray | None,
    lead_days: int,
    initial_stock: float | np.ndarray,
    moq: float = 0.0,
    pack_size: float = 1.0,
    backorders: bool = False,
    order: Callable[[pd.Timestamp, float | np.ndarray, np.ndarray], float | np.ndarray] | None = None,
    triggers: Sequence[float] | np.ndarray | None = None,
) -> dict:
    """Day-by-day stock under an order-up-to policy: `levels[k]` is the level set at `reviews[k]`; or, with
    `order`, the units `order(review day, on hand, arrivals)` asks for, where `arrivals[j]` are the units in
    transit that reach the shelf j + 1 days later (a policy that looks at the stock it has, as a planner does).

    Several shops at once, one per target (or policy), on the same demand: `initial_stock` of shape (shops,),
    `levels` of shape (reviews, shops), and `order` then gets on hand of shape (shops,) and arrivals of shape
    (shops, lead_days) and returns one order per shop; every result gains a leading shops axis. With `triggers`
    (shaped as `levels`), a shop orders up to its level only at a review where its position is under the trigger
    (an (R, s, S) policy: orders for an economic cycle, see policy.order_cycle_days). Each shop runs
    exactly as it would alone (the replay sweeps its service curve in one pass instead of one per target).

    `days` are consecutive calendar days after the replay's start (closed days carry zero demand); an order
    placed at the end of review day r is on the shelf at the end of day r + lead_days, so lead_days days of
    demand pass before it can sell, as the plan's lead-time window (r, r + lead] assumes. (Shelving it a day
    earlier made every policy, the oracle included, cover one day more than its window.)
    """
    n, lead_days = len(days), int(lead_days)
    single = np.ndim(initial_stock) == 0
    on_hand = np.atleast_1d(np.asarray(initial_stock, dtype=float)).copy()
    shops = len(on_hand)
    if levels is not None:
        levels = np.asarray(levels, dtype=float).reshape(-1, shops)
    if triggers is not None:
        triggers = np.asarray(triggers, dtype=float).reshape(-1, shops)
    if single and order is not None:
        order = _one_shop(order)
    # Days as positions: `days` are consecutive, so an order placed on day i arrives on day i + lead_days + 1;
    # arrivals past the last day stay in transit. (Timestamp arithmetic and dict look-ups here were most of
    # the replay's time after the fits.)
    arriving = np.zeros((shops, n + lead_days + 2))
    at_review = days.get_indexer(pd.DatetimeIndex(reviews))
    level_at = {int(i): k for k, i in enumerate(at_review) if i >= 0}
    stock = np.zeros((shops, n))
    sales = np.zeros((shops, n))
    lost = np.zeros((shops, n))
    received_total = np.zeros(shops)
    orders = np.zeros(shops, dtype=int)
    for i, want in enumerate(np.asarray(demand, dtype=float).tolist()):
        got = arriving[:, i]
        on_hand += got
        received_total += got
        sold = np.minimum(want, np.maximum(on_hand, 0.0))  # what the shelf fills today
        sales[:, i] = sold
        lost[:, i] = want - sold  # lost, or with backorders waiting: either way not filled on the day
        # Backorders leave the shortfall as negative stock, paid first by the next arrivals.
        on_hand -= want if backorders else sold
        stock[:, i] = on_hand
        k = level_at.get(i)
        if k is not None:
            if order is None:
                position = on_hand + arriving[:, i + 1 :].sum(axis=1)
                wanted = levels[k] - position
                if triggers is not None:
                    wanted = np.where(position < triggers[k], wanted, 0.0)
            else:
                wanted = np.reshape(
                    order(days[i], on_hand.copy(), arriving[:, i + 1 : i + 1 + lead_days].copy()), shops
                )
            qty = round_order(wanted, moq, pack_size)
            arriving[:, i + lead_days + 1] += qty
            orders += qty > 0
    result = {
        "stock": stock,
        "sales": sales,
        "lost": lost,
        "orders": orders,
        "received": received_total,
        "in_transit": arriving[:, n:].sum(axis=1),
        "final_stock": on_hand,
    }
    if single:
        return {k: v[0] if k in ("stock", "sales", "lost") else v[0].item() for k, v in result.items()}
    return result


def _one_shop(order: Callable[[pd.Timestamp, float, np.ndarray], float]):
    """A one-shop policy (numbers in, a number out) in the several-shops form `simulate` calls."""

    def for_shops(day: pd.Timestamp, on_hand: np.ndarray, arrivals: np.ndarray) -> float:
        return order(day, float(on_hand[0]), arrivals[0])

    return for_shops


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
    """Totals that add up across SKUs: demand, sales, cycles with a stockout, stock-days, orders, costs (per
    shop, arrays, when `sim` holds several: see `simulate`)."""
    cycle = np.searchsorted(pd.DatetimeIndex(reviews).asi8, days.asi8, side="left")
    cycles = np.unique(cycle)
    short = sim["lost"] > 1e-9
    # A cycle has a stockout when any of its days lost (or backlogged) demand.
    short_cycles = (short[..., None] & (cycle[:, None] == cycles[None, :])).any(axis=-2).sum(axis=-1)
    stock_units_days = np.clip(sim["stock"], 0, None).sum(axis=-1)
    holding = stock_units_days * unit_cost * holding_rate / 365.0
    lost = sim["lost"].sum(axis=-1)
    stats = {
        "demand": np.full(np.shape(lost), float(demand.sum())),
        "sales": sim["sales"].sum(axis=-1),
        "lost": lost,
        "cycles": np.full(np.shape(lost), len(cycles)),
        "cycles_with_stockout": short_cycles,
        "stockout_days": short.sum(axis=-1),
        "stock_unit_days": stock_units_days,
        "stock_value_days": stock_units_days * unit_cost,
        "days": np.full(np.shape(lost), len(days)),
        "orders": np.asarray(sim["orders"]),
        "holding_cost": holding,
        "ordering_cost": np.asarray(sim["orders"]) * order_cost,
        "stockout_cost": lost * stockout_cost,
    }
    return {k: v.item() for k, v in stats.items()} if np.ndim(lost) == 0 else stats


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
    curve: pd.DataFrame, policy: str = "champion", references: Sequence[str] = ("naive", "empirical")
) -> pd.DataFrame:
    """For each point of each reference policy's curve, the stock `policy` needs for the same fill rate (linear
    interpolation along its own curve; NaN outside the fill rates it reached), one block of rows per reference."""
    own = curve[curve["policy"] == policy]
    parts = []
    for reference in references:
        ref = curve[curve["policy"] == reference].sort_values("fill_rate")
        if ref.empty:
            continue
        needed = stock_needed(own["fill_rate"], own["avg_stock_value"], ref["fill_rate"])
        parts.append(
            pd.DataFrame(
                {
                    "reference": reference,
                    "target": ref["target"].to_numpy(),
                    "reference_fill_rate": ref["fill_rate"].to_numpy(),
                    "reference_stock_value": ref["avg_stock_value"].to_numpy(),
                    f"{policy}_stock_value_same_fill": needed,
                    "stock_saved_share": 1 - needed / ref["avg_stock_value"].to_numpy(),
                }
            )
        )
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def stock_needed(own_fill, own_stock, fill) -> np.ndarray:
    """The stock a policy whose curve runs through (`own_fill`, `own_stock`) needs for each fill rate of `fill`:
    linear interpolation along its curve, NaN outside the fill rates it reached."""
    own_fill, own_stock = np.asarray(own_fill, dtype=float), np.asarray(own_stock, dtype=float)
    order = np.argsort(own_fill, kind="stable")
    return np.interp(np.asarray(fill, dtype=float), own_fill[order], own_stock[order], left=np.nan, right=np.nan)


def median_saved(own_fill, own_stock, ref_fill, ref_stock) -> float:
    """The median share of a reference policy's stock (`ref_stock` at its fill rates `ref_fill`) that a policy whose
    curve runs through (`own_fill`, `own_stock`) saves at the same fill, over the points its curve reaches (as
    saving_summary takes it from stock_at_equal_fill); NaN where it reaches none."""
    with np.errstate(divide="ignore", invalid="ignore"):
        saved = 1 - stock_needed(own_fill, own_stock, ref_fill) / np.asarray(ref_stock, dtype=float)
    saved = saved[np.isfinite(saved)]
    return float(np.median(saved)) if len(saved) else float("nan")


def saving_summary(equal_fill: pd.DataFrame) -> pd.DataFrame:
    """Per reference policy: the champion's stock saved at equal fill, median and worst over the curve (points
    the champion's curve reaches), and how many points it reached."""
    if equal_fill.empty:
        return pd.DataFrame(columns=["reference", "median_saved", "worst_saved", "points", "points_reached"])
    g = equal_fill.groupby("reference", sort=False)["stock_saved_share"]
    return pd.DataFrame(
        {"median_saved": g.median(), "worst_saved": g.min(), "points": g.size(), "points_reached": g.count()}
    ).reset_index()
