"""The order that meets a fill-rate or cycle-service target when unmet demand is lost, from daily sample paths.

Why not the textbook periodic-review relation E[(D_{L+R} - S)+] - E[(D_L - S)+] <= (1 - target) E[D_R]: it
counts backorders. When a shortfall is lost instead, the units short before the order arrives are never taken
out of it, so the order meets more stock than that relation assumes and the target is overshot (a policy
ordering from the generator's TRUE distribution landed 0.6-3.1 points above a 95% fill target). Here each
sample path is played forward day by day from the stock on hand and the open orders' arrival days, selling
min(demand, stock), up to the day the new order arrives: X, the stock the order meets. The order q then loses
exactly (D_R - X - q)+ over its cycle (the review period after it arrives, before the next order can), path by
path. A fill-rate target takes the smallest q whose expected loss is at most (1 - target) of the cycle's
expected demand; a cycle-service target the target quantile of D_R - X. Each order owns the sales of its own
cycle, so meeting the target cycle by cycle meets it over the whole year.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from forecasting.planning.calibration import Calibration, recalibrated
from forecasting.planning.policy import protection_levels
from forecasting.vocabulary.windows import window_fractions


@dataclass(frozen=True)
class CycleOrder:
    """Units to order per target (before MOQ and pack rounding), the expected fill rate of the days before the
    order arrives (served from stock on hand and on order: no order placed now can change it), and the
    expected demand of the order's cycle less the stock the order meets (the safety stock is the order above
    that)."""

    quantity: np.ndarray
    fill_before_receipt: float
    net_need: float


def daily_paths(paths: np.ndarray, dates: pd.DatetimeIndex, start: pd.Timestamp, days: int) -> np.ndarray:
    """Demand per calendar day in (start, start + days] per path, shape (n, days): trading days as they are
    (closed days 0), weeks and months spread evenly over their days (as the replay sells them)."""
    share = window_fractions(dates, start, np.arange(days + 1))
    return paths @ np.diff(share, axis=0).T


def recalibrated_paths(daily: np.ndarray, calibration: Calibration | None, window: int) -> np.ndarray:
    """The paths rescaled so that their sums over the first `window` days follow the recalibrated distribution of
    that window's demand (see planning.calibration), rank for rank: the path with the k-th smallest sum gets the
    recalibrated k-th smallest. A path that sold nothing and must now sell takes the mean path's shape."""
    if calibration is None:
        return daily
    sums = daily[:, :window].sum(axis=1)
    target = np.sort(recalibrated(sums, calibration))
    n = len(sums)
    ranks = np.empty(n, dtype=int)
    ranks[np.argsort(sums, kind="stable")] = np.arange(n)
    wanted = np.interp((ranks + 0.5) / n, (np.arange(len(target)) + 0.5) / len(target), target)
    mean = daily.mean(axis=0)
    shape = mean / mean[:window].sum() if mean[:window].sum() > 0 else np.full(daily.shape[1], 1.0 / window)
    ratio = np.divide(wanted, sums, out=np.zeros(n), where=sums > 0)
    return np.where((sums > 0)[:, None], daily * ratio[:, None], wanted[:, None] * shape[None, :])


def cycle_order(
    daily: np.ndarray,
    lead: int | np.ndarray,
    review: int,
    on_hand: float | np.ndarray,
    arrivals: np.ndarray,
    measure: str,
    targets,
) -> CycleOrder:
    """The order to place now for each target, under lost sales.

    `daily`: demand per calendar day from tomorrow, per path, covering lead + review days; `lead`: days of demand
    that pass before the order can sell (one number, or one per path for a sampled lead time); `arrivals[j]`:
    open-order units on the shelf from day j + 1 on (day 1 is tomorrow).

    One stock position (`on_hand` a number, `arrivals` one row) serves every target. The replay, which keeps one
    shop per target, passes one position per target instead: `on_hand` of shape (targets,) and `arrivals` of shape
    (targets, days); then `fill_before_receipt` and `net_need` are per target too.
    """
    n, width = daily.shape
    per_target = np.ndim(on_hand) > 0
    lead = np.broadcast_to(np.asarray(lead, dtype=int), (n,))
    horizon = int(lead.max())
    on_hand = np.atleast_1d(np.asarray(on_hand, dtype=float))  # one row per stock position
    arrivals = np.asarray(arrivals, dtype=float).reshape(len(on_hand), -1)[:, :horizon]
    arrived = np.zeros((len(on_hand), horizon))
    arrived[:, : arrivals.shape[1]] = arrivals
    rows = np.arange(n)
    # Stock under lost sales is a random walk reflected at zero (Lindley): with W the running on hand +
    # arrivals - demand, stock = W - min(0, lowest W so far) and the units lost so far are -min(0, lowest W).
    # Axes: (stock position, path, day).
    start = np.maximum(on_hand, 0.0)[:, None]
    walk = start[:, :, None] + np.cumsum(arrived[:, None, :] - daily[None, :, :horizon], axis=2)
    if horizon:
        if (lead == horizon).all():  # one lead time (the replay): the lowest point of the whole walk
            end, lowest = walk[:, :, -1], np.minimum(walk.min(axis=2), 0.0)
        else:
            at = np.maximum(lead - 1, 0)
            end, lowest = walk[:, rows, at], np.minimum(np.minimum.accumulate(walk, axis=2), 0.0)[:, rows, at]
        stock = np.where(lead > 0, end - lowest, start)
        lost = np.where(lead > 0, -lowest, 0.0)
    else:
        stock, lost = np.zeros((len(on_hand), n)), np.zeros((len(on_hand), n))
    # Open orders due after this path's lead time (a short sampled lead) reach the same cycle: count them in.
    due = np.concatenate([np.zeros((len(on_hand), 1)), np.cumsum(arrived, axis=1)], axis=1)
    stock = stock + due[:, -1:] - due[:, lead]
    cum = np.concatenate([np.zeros((n, 1)), np.cumsum(daily, axis=1)], axis=1)
    lead_demand = cum[rows, np.minimum(lead, width)]
    cycle = cum[rows, np.minimum(lead + review, width)] - lead_demand
    expected_lead = lead_demand.mean()
    fill_before = 1.0 - lost.mean(axis=1) / expected_lead if expected_lead > 0 else np.ones(len(on_hand))
    targets = np.atleast_1d(np.asarray(targets, dtype=float))
    need = cycle[None, :] - stock
    if measure == "fill_rate":
        quantity = smallest_cover(need if per_target else need[0], (1.0 - targets) * cycle.mean())
    elif per_target:
        quantity = np.array(
            [protection_levels(nd, measure, [t], float(cycle.mean()))[0] for nd, t in zip(need, targets, strict=True)]
        )
    else:
        quantity = protection_levels(need[0], measure, targets, float(cycle.mean()))
    net_need = need.mean(axis=1)
    if not per_target:
        return CycleOrder(np.maximum(quantity, 0.0), float(fill_before[0]), float(net_need[0]))
    return CycleOrder(np.maximum(quantity, 0.0), fill_before, net_need)


def reorder_targets(targets, measure: str, review: int, cycle: int) -> np.ndarray:
    """The targets one review's cover is held to under an order cycle of `cycle` days: a fill rate counts the
    whole cycle's demand, of which one review's window holds the cycle's only risk of a shortfall, so that window
    may lose (1 - target) x cycle / review of its own demand (at least target x review / cycle is served). Held
    to the target itself, the stock ran out in no cycle (a 100% fill for a 95% target). A cycle service level is
    one shortfall-free cycle either way: unchanged."""
    targets = np.atleast_1d(np.asarray(targets, dtype=float))
    if measure != "fill_rate" or cycle <= review:
        return targets
    ratio = cycle / review
    return np.maximum(1.0 - (1.0 - targets) * ratio, targets / ratio)


def cycle_lot(short: np.ndarray, added: float) -> np.ndarray:
    """The order of an (R, s, S) policy whose order covers a cycle longer than the review where one review's cover
    falls `short` (per target, from cycle_order over the review): nothing where it does not, else `short` and
    `added`, the days the longer cycle adds at the SKU's recent mean daily sales, as every baseline of the replay
    orders them. The next order comes at the first review whose cover falls short, so the safety stock is the
    reorder point's alone: sizing the lot for the whole cycle at the target overshot it (98.7% fill for a 95%
    target on an item-store table), and the added days at the forecast's mean carried its level error for four
    weeks (26 units a lot against the empirical policy's 15, 38% more stock than it at equal fill; at the recent
    mean, 3% more: benchmarks/README.md, "order_cycle.py")."""
    return np.where(np.asarray(short, dtype=float) > 0, np.asarray(short, dtype=float) + float(added), 0.0)


def smallest_cover(need: np.ndarray, allowed: np.ndarray) -> np.ndarray:
    """Per allowance, the smallest q >= 0 with mean((need - q)+) <= allowance (exact on the sample: the mean
    excess is piecewise linear in q between the sorted values, so it is solved on the segment it falls in).
    `need` is one sample for every allowance, or one row per allowance (shape (allowances, n))."""
    allowed = np.atleast_1d(np.asarray(allowed, dtype=float))
    top = np.sort(np.atleast_2d(need), axis=1)[:, ::-1]
    n = top.shape[1]
    taken = np.cumsum(top, axis=1)
    # Mean excess over q = top[j] when the j + 1 largest values are at or above it.
    excess_at = (taken - np.arange(1, n + 1) * top) / n
    out = np.zeros(len(allowed))
    for i, a in enumerate(allowed):
        row = i if len(top) > 1 else 0
        j = int(np.searchsorted(excess_at[row], a + 1e-12, side="right"))  # excess_at rises with j
        if j == 0:  # even above the largest value nothing is allowed short: q is the largest
            out[i] = top[row, 0] if a <= 0 else top[row, 0] - a * n
        else:
            # Between top[j] and top[j-1], the j largest values exceed q: excess = (taken[j-1] - j q) / n.
            out[i] = (taken[row, j - 1] - a * n) / j
    return np.maximum(out, 0.0)


def arrivals_by_day(days: np.ndarray, quantities: np.ndarray, width: int) -> np.ndarray:
    """Open orders as units arriving per day from tomorrow: `days` counts from today (an order due today or
    earlier counts as arriving tomorrow; one due after `width` days is left out)."""
    out = np.zeros(width)
    days = np.maximum(np.asarray(days, dtype=int), 1)
    keep = days <= width
    np.add.at(out, days[keep] - 1, np.asarray(quantities, dtype=float)[keep])
    return out
