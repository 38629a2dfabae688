"""A fill-rate target met over the assortment at the least stock value: a service level per SKU.

Why not the same target on every SKU: a fill rate counts units over the assortment (what the business
reports), and stock is paid in value. Holding a 95% fill on a lumpy SKU means stocking for its rare large orders,
which ties up far more value per unit served than one more unit of a steady, cheap SKU. The assortment reaches the
same fill rate with less stock when each SKU's order-up-to level S_i sits where one more unit of stock value
serves as many units on every SKU: with lost sales, one more unit of S_i serves P(D_i > S_i) units more and adds
about P(D_i <= S_i) units to the average stock, so the optimum sets each SKU's cycle service level to the
newsvendor ratio a_i = k / (k + c_i) (c_i its unit cost; k, in the same money, the value of a unit served), one
number k for the whole assortment. Cheap SKUs get high service, dear ones lower; the planners' empirical-quantile
practice (one quantile for every SKU) is the special case of equal costs.

k is fitted per target on the decision's windows (planning.decision: validation windows for the replay, every
window for the plan): with base-stock levels at each SKU's a_i from its calibrated window-sum quantiles, the fill
rate the calibrated distributions expect over those windows, 1 - sum E[(D - S)+] / sum E[D] x review share, is
solved for the target by bisection. The calibrated distributions, not the windows' realised demand: the shortage
a few hundred heavy-tailed windows realise is noisy (fitted on it, k put replayed fill rates 2-3 points off the
target on three of eight synthetic panels; on the expectation, one). Levels stay in [MIN_LEVEL, MAX_LEVEL].
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from forecasting.planning.calibration import Calibration, recalibrated
from forecasting.planning.calibration import levels as grid_levels
from forecasting.planning.policy import longer_cycles, order_cycle_days

MIN_LEVEL = 0.01
MAX_LEVEL = 0.999


def service_levels(k: float | np.ndarray, unit_cost: np.ndarray) -> np.ndarray:
    """Each SKU's cycle service level for the value `k` of a unit served: k / (k + c), within the bounds."""
    cost = np.maximum(np.asarray(unit_cost, dtype=float), 1e-9)
    k = np.asarray(k, dtype=float)
    return np.clip(k[..., None] / (k[..., None] + cost), MIN_LEVEL, MAX_LEVEL)


def portfolio_levels(
    covers: pd.DataFrame,
    calibration: Mapping[str, Calibration],
    params: pd.DataFrame,
    targets: Sequence[float],
) -> pd.DataFrame:
    """Per SKU of `params` (rows) and fill-rate target (columns): the cycle service level that meets the target
    over the assortment at the least stock value, fitted on the windows of `covers` (the champions' records)."""
    return level_frame(expected_k(covers, calibration, params, targets), params, targets)


def expected_k(
    covers: pd.DataFrame, calibration: Mapping[str, Calibration], params: pd.DataFrame, targets: Sequence[float]
) -> np.ndarray:
    """Per target, the value of a unit served at which the windows' expected fill rate is the target (the bounds'
    end when out of reach); with no windows, the k that gives a SKU of median cost the target as its own service
    level. The windows' calibrated samples are computed once for every target."""
    targets = np.asarray(targets, dtype=float)
    median_cost = max(float(np.nanmedian(params["unit_cost"].astype(float))) if len(params) else 1.0, 1e-9)
    fallback = targets / (1 - targets) * median_cost
    if covers.empty:
        return fallback
    samples, cost, share = _window_arrays(covers, calibration, params)
    served = (samples.mean(axis=1) * share).sum()
    if served <= 0:
        return fallback

    def fill(k: float) -> float:
        level = service_levels(k, cost)
        idx = np.minimum(np.floor(level * samples.shape[1]).astype(int), samples.shape[1] - 1)
        stock = samples[np.arange(len(samples)), idx]
        return 1.0 - np.maximum(samples - stock[:, None], 0.0).mean(axis=1).sum() / served

    out = np.empty(len(targets))
    for i, target in enumerate(targets):
        lo, hi = np.log(1e-6 * median_cost), np.log(1e6 * median_cost)
        for _ in range(60):  # the fill rises with k: bisection on log k
            mid = 0.5 * (lo + hi)
            if fill(np.exp(mid)) < target:
                lo = mid
            else:
                hi = mid
        out[i] = np.exp(hi)
    return out


def level_frame(k: np.ndarray, params: pd.DataFrame, targets: Sequence[float]) -> pd.DataFrame:
    """Per SKU of `params` (rows) and target (columns): the cycle service level of the target's k."""
    cost = params["unit_cost"].astype(float).to_numpy()
    return pd.DataFrame(
        service_levels(np.asarray(k, dtype=float), cost).T,
        index=params.index.astype(str),
        columns=[float(t) for t in targets],
    )


def fit_k(covers: pd.DataFrame, calibration: Mapping[str, Calibration], params: pd.DataFrame, target: float) -> float:
    """The k of one target (see expected_k)."""
    return float(expected_k(covers, calibration, params, [target])[0])


def _window_arrays(covers: pd.DataFrame, calibration: Mapping[str, Calibration], params: pd.DataFrame):
    """Per window: its calibrated sample sums (sorted, one row each), unit cost and review share."""
    sku = covers["sku"].astype(str).to_numpy()
    known = np.isin(sku, params.index.astype(str))
    covers, sku = covers[known], sku[known]
    p = params.reindex(sku)
    # On one grid of levels, whatever the number of sample paths: rows of one matrix.
    samples = np.stack(
        [
            np.quantile(recalibrated(np.asarray(s, dtype=float), calibration.get(k)), grid_levels())
            for s, k in zip(covers["sums"], sku, strict=True)
        ]
    )
    window = np.maximum(covers["window_days"].astype(float).to_numpy(), 1.0)
    # The demand of an order's cycle over the window's: the review period, or a longer economic cycle sized from
    # the SKU's mean daily demand over its windows (policy.order_cycle_days), whose one shortfall per cycle is
    # allowed a share of the whole cycle's demand.
    cycle = p["review_period_days"].astype(float).to_numpy()
    longer = longer_cycles(p.get("max_order_cycle_days", pd.Series(np.nan, index=p.index)).to_numpy(), cycle)
    if longer.any():
        daily = pd.Series(samples.mean(axis=1) / window)[longer].groupby(sku[longer]).mean()
        by_sku = {s: order_cycle_days(params.loc[s], float(d)) for s, d in daily.items()}
        cycle[longer] = pd.Series(sku[longer]).map(by_sku).to_numpy(dtype=float)
    share = np.clip(cycle / window, 0.0, None)
    return samples, p["unit_cost"].astype(float).to_numpy(), share


def portfolio_scope(scope: str, measure: str, target: float, params: pd.DataFrame) -> pd.Series:
    """Per SKU of `params`: whether its fill-rate target is met over the assortment (scope "portfolio", a
    fill-rate measure) rather than on the SKU alone. A SKU given its own target or measure keeps it."""
    if scope != "portfolio" or measure != "fill_rate":
        return pd.Series(False, index=params.index)
    own_target = ~np.isclose(params["service_target"].astype(float), float(target))
    return (params["service_measure"] == "fill_rate") & ~own_target


def with_service_scope(
    plan: pd.DataFrame, params: pd.DataFrame, scope: pd.Series, levels: pd.Series | None
) -> pd.DataFrame:
    """The plan rows as the user set them (measure and target), with `service_scope` and, over the assortment,
    `sku_service_level`: the cycle service level the SKU's order was sized at."""
    sku = plan["sku"].astype(str)
    in_scope = sku.map(scope).fillna(False).astype(bool)
    plan = plan.assign(service_scope=np.where(in_scope, "portfolio", "sku"))
    plan["service_measure"] = sku.map(params["service_measure"])
    plan["service_target"] = sku.map(params["service_target"])
    plan["sku_service_level"] = sku.map(levels).round(4) if levels is not None else np.nan
    return plan


def level_table(plan: pd.Series, replay: pd.DataFrame | None) -> pd.DataFrame:
    """Each SKU's cycle service level per fill-rate target, for the plan and for the replay (long form)."""
    parts = [pd.DataFrame({"decision": "plan", "sku": plan.index, "target": plan.name, "level": plan.to_numpy()})]
    if replay is not None:
        long = replay.rename_axis("sku").reset_index().melt(id_vars="sku", var_name="target", value_name="level")
        parts.append(long.assign(decision="replay")[["decision", "sku", "target", "level"]])
    return pd.concat(parts, ignore_index=True)
