"""Planning inputs: policy parameters (defaults from config, per-SKU overrides from a CSV) and current stock, for
every SKU of the panel, checked against it (the settings' rules: plan_settings; the files: plan_files).

Every check runs early (before the backtest: settings, then the files, then the files against the panel) and the
plan uses what they return. A bad input stops the run with one sentence naming the setting or the file, the
lines and values, and the fix.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd

from forecasting.data.codes import shown_codes
from forecasting.errors import InputError
from forecasting.planning.plan_files import (
    SHOWN,
    SKU_KEY,
    check_known,
    file_lines,
    read_open_orders,
    read_overrides,
    read_stock,
)
from forecasting.planning.plan_settings import (
    MISSING_STOCK,
    NUMERIC,
    OVERDUE_ORDERS,
    TEXT,
    check_choice,
    check_policy_defaults,
)

log = logging.getLogger(__name__)


def policy_table(
    skus: pd.Index,
    defaults: Mapping,
    unit_price: pd.Series,
    overrides_csv: str | Path | None = None,
    require_moq_multiple_of_pack: bool = False,
    key: Sequence[str] = SKU_KEY,
) -> pd.DataFrame:
    """One row of policy parameters per SKU: config defaults, then the override file's non-empty cells.

    Without a unit cost anywhere, it is `cost_share_of_price` times the SKU's recent selling price.
    """
    defaults = {**defaults, "require_moq_multiple_of_pack": require_moq_multiple_of_pack}
    check_policy_defaults(defaults)
    table = pd.DataFrame(index=pd.Index(skus, name="sku"))
    for col in NUMERIC + TEXT:
        table[col] = defaults.get(col)
    table[list(NUMERIC)] = table[list(NUMERIC)].apply(pd.to_numeric).astype(float)
    table["param_source"] = "config"
    if overrides_csv:
        over = read_overrides(overrides_csv, defaults, key)
        check_known(over.reset_index(), table.index, overrides_csv)
        table.loc[over.index, over.columns] = over
    if table["unit_cost"].isna().all() and unit_price.dropna().empty:
        # A table of units alone (spare parts, B2B exports): money columns count units, and the plan says so.
        table[["unit_cost", "stockout_cost"]] = table[["unit_cost", "stockout_cost"]].fillna(1.0)
        # Said beside where each SKU's parameters came from: a row of the overrides file stays "overrides".
        table["param_source"] = table["param_source"] + "; no prices in the data: costs and values in units"
        # Unit costs are what lets an assortment's fill rate be met at less stock (planning.allocation): without
        # them every SKU gets one service level, the empirical-quantile practice's, and only the forecast is left
        # to save stock with (a generated table of 80 SKUs: 4.9% less stock value than that policy at equal fill
        # with costs, 0.8% more units without; benchmarks/README.md, fifteenth session).
        log.warning(
            "the data has no prices and no SKU a unit_cost: stock and costs are counted in units and every SKU "
            "gets the same service level; give data.columns.price, or unit_cost per SKU in plan.overrides_csv, "
            "to hold service where stock is cheapest"
        )
    if table["unit_cost"].isna().any():
        guess = unit_price.reindex(table.index) * float(defaults.get("cost_share_of_price", 0.6))
        table["unit_cost"] = table["unit_cost"].fillna(guess)
    if table["stockout_cost"].isna().any():
        # Lost margin per unit: selling price minus cost.
        margin = (unit_price.reindex(table.index) - table["unit_cost"]).clip(lower=0)
        table["stockout_cost"] = table["stockout_cost"].fillna(margin)
    no_cost = table["unit_cost"].isna() | (table["unit_cost"] <= 0)
    if no_cost.any():
        raise InputError(
            f"{overrides_csv or 'plan config'}: unit cost is missing or not positive for SKU(s) "
            f"{', '.join(map(str, table.index[no_cost][:SHOWN]))}; set plan.unit_cost, or unit_cost per SKU in "
            "plan.overrides_csv (the data has no prices to guess from)."
        )
    return table


def stock_position(
    skus: pd.Index,
    mean_daily_demand: pd.Series,
    stock_csv: str | Path | None = None,
    open_orders_csv: str | Path | None = None,
    assumed_cover_days: float = 14.0,
    *,
    today: pd.Timestamp,
    missing_stock: str = "error",
    overdue_orders: str = "count",
    horizon_days: float | None = None,
    key: Sequence[str] = SKU_KEY,
) -> tuple[pd.Series, pd.DataFrame, pd.Series]:
    """On hand per SKU, open orders and, per SKU, where both figures came from (`stock_source`). `key`: the
    columns a file may give the SKU in instead of `sku` (the data's, where it is several: _read).

    Without a stock file, on hand is assumed to be `assumed_cover_days` of mean demand. A SKU a stock file does
    not list is an error, or with `missing_stock="assumed_cover"` gets that assumed cover, flagged on its row.
    The orders come back with `overdue` (due before `today`) and `counted` (in the inventory position and the
    projected stock: every order, or with `overdue_orders="ignore"` only those not overdue).

    An order due after the plan's horizon (`today + horizon_days`: a typo such as 2099, an order for next season)
    arrives after every day the plan looks at, so it is `beyond_horizon`, never `counted`: counted, it would raise
    the inventory position and cut today's order for stock that cannot arrive within the plan. Each SKU's
    `stock_source` names such orders and the run log counts them.
    """
    check_choice({"missing_stock": missing_stock}, "missing_stock", MISSING_STOCK)
    check_choice({"overdue_orders": overdue_orders}, "overdue_orders", OVERDUE_ORDERS)
    index = pd.Index(skus, name="sku")
    assumed = (mean_daily_demand.reindex(index).fillna(0) * assumed_cover_days).round()
    assumed_text = f"assumed: {assumed_cover_days:g} days of mean demand on hand"
    if stock_csv:
        listed = read_stock(stock_csv, key)
        check_known(listed.reset_index(), index, stock_csv)
        absent = index.difference(listed.index)
        if len(absent) and missing_stock == "error":
            raise InputError(
                f"{stock_csv}: {len(absent)} of the {len(index)} planned SKUs are not in the stock file "
                f"({shown_codes(absent, SHOWN)}); add their on_hand, "
                "or set plan.missing_stock=assumed_cover to assume plan.assumed_cover_days of mean demand for them "
                "(flagged in stock_source)."
            )
        on_hand = listed.reindex(index).fillna(assumed)
        source = pd.Series(f"stock file {stock_csv}", index=index)
        source[absent] = f"{assumed_text} (not in stock file {stock_csv})"
    else:
        on_hand = assumed
        source = pd.Series(assumed_text, index=index)

    if open_orders_csv:
        orders = read_open_orders(open_orders_csv, key)
        check_known(orders, index, open_orders_csv)
        orders["overdue"] = orders["arrival_date"] < pd.Timestamp(today).normalize()
        orders["counted"] = ~orders["overdue"] if overdue_orders == "ignore" else True
        orders["beyond_horizon"] = _beyond_horizon(orders, today, horizon_days, open_orders_csv)
        orders["counted"] &= ~orders["beyond_horizon"]
        texts = {sku: _orders_text(group, open_orders_csv) for sku, group in orders.groupby("sku")}
        source += pd.Series(texts, dtype=object).reindex(index).fillna(f"; no open orders in {open_orders_csv}")
    else:
        orders = pd.DataFrame(
            {
                "sku": pd.Series(dtype=str),
                "quantity": pd.Series(dtype=float),
                "arrival_date": pd.Series(dtype="datetime64[ns]"),
                "overdue": pd.Series(dtype=bool),
                "counted": pd.Series(dtype=bool),
                "beyond_horizon": pd.Series(dtype=bool),
            }
        )
        source += "; no open-orders file"
    return on_hand.rename("on_hand"), orders, source.rename("stock_source")


def _beyond_horizon(orders: pd.DataFrame, today, horizon_days: float | None, path) -> pd.Series:
    """Orders due after the plan horizon (none without a horizon), with a warning counting them."""
    if horizon_days is None:
        return pd.Series(False, index=orders.index)
    last = pd.Timestamp(today).normalize() + pd.Timedelta(days=float(horizon_days))
    beyond = orders["arrival_date"] > last
    if beyond.any():
        log.warning(
            "%s: %d open order(s) (%g units, line(s) %s) arrive after the plan horizon (%s, plan.horizon_days=%g) and "
            "are not counted as on order; fix arrival_date if it is a typo",
            path,
            int(beyond.sum()),
            float(orders.loc[beyond, "quantity"].sum()),
            file_lines(beyond),
            last.date(),
            float(horizon_days),
        )
    return beyond


def _orders_text(orders: pd.DataFrame, path) -> str:
    """'; 2 open order(s) (30 units) from oo.csv, 1 overdue (due 2001-01-05, 5 units) counted as arriving now'."""
    text = f"; {len(orders)} open order(s) ({orders['quantity'].sum():g} units) from {path}"
    late = orders[orders["overdue"]]
    if len(late):
        treatment = "counted as arriving now" if late["counted"].all() else "ignored"
        text += (
            f", {len(late)} overdue (due {late['arrival_date'].min().date()}, {late['quantity'].sum():g} units) "
            f"{treatment}"
        )
    far = orders[orders["beyond_horizon"]] if "beyond_horizon" in orders else orders.iloc[:0]
    if len(far):
        text += (
            f", {len(far)} due after the plan horizon (due {far['arrival_date'].min().date()}, "
            f"{far['quantity'].sum():g} units) not counted"
        )
    return text
