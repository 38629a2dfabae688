"""Planning inputs: policy parameters (defaults from config, per-SKU overrides from a CSV) and current stock.

Inconsistent inputs stop the plan with one sentence naming the file, the rows and the fix.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from forecasting.errors import InputError
from forecasting.planning.policy import MEASURES, POLICIES

NUMERIC = (
    "lead_time_days",
    "lead_time_std_days",
    "review_period_days",
    "service_target",
    "moq",
    "pack_size",
    "unit_cost",
    "holding_cost_rate",
    "order_cost",
    "stockout_cost",
)
TEXT = ("service_measure", "policy")


def _read(path: str | Path, what: str) -> pd.DataFrame:
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such {what} file; fix plan.{what}_csv or set it to null.")
    frame = pd.read_csv(path, dtype={"sku": str})
    if "sku" not in frame:
        raise InputError(f"{path}: no 'sku' column; name the SKU column 'sku'.")
    return frame


def _check_skus(frame: pd.DataFrame, known: pd.Index, path, what: str, unique: bool = True) -> None:
    if unique and frame["sku"].duplicated().any():
        dup = frame.loc[frame["sku"].duplicated(), "sku"].unique()[:5]
        raise InputError(
            f"{path}: SKU(s) {', '.join(dup)} appear on more than one row; keep one row per SKU."
        )
    unknown = pd.Index(frame["sku"].unique()).difference(known)
    if len(unknown):
        raise InputError(
            f"{path}: SKU(s) {', '.join(unknown[:5])} are not in the planned panel; remove them or widen the "
            "panel (data.panel.max_skus=null)."
        )


def policy_table(
    skus: pd.Index,
    defaults: Mapping,
    unit_price: pd.Series,
    overrides_csv: str | Path | None = None,
    require_moq_multiple_of_pack: bool = False,
) -> pd.DataFrame:
    """One row of policy parameters per SKU: config defaults, then the override file's non-empty cells.

    Without a unit cost anywhere, it is `cost_share_of_price` times the SKU's recent selling price.
    """
    table = pd.DataFrame(index=pd.Index(skus, name="sku"))
    for col in NUMERIC + TEXT:
        table[col] = defaults.get(col)
    table["param_source"] = "config"
    if overrides_csv:
        over = _read(overrides_csv, "overrides")
        _check_skus(over, table.index, overrides_csv, "overrides")
        extra = [c for c in over.columns if c not in NUMERIC + TEXT + ("sku",)]
        if extra:
            raise InputError(
                f"{overrides_csv}: unknown column(s) {', '.join(extra)}; use {', '.join(NUMERIC + TEXT)}."
            )
        over = over.set_index("sku")
        for col in over.columns:
            given = over[col].dropna()
            table.loc[given.index, col] = given
            table.loc[given.index, "param_source"] = "overrides"
    for col in NUMERIC:
        table[col] = pd.to_numeric(table[col], errors="coerce").astype(float)
    if table["unit_cost"].isna().any():
        guess = unit_price.reindex(table.index) * float(defaults.get("cost_share_of_price", 0.6))
        table["unit_cost"] = table["unit_cost"].fillna(guess)
    if table["stockout_cost"].isna().any():
        # Lost margin per unit: selling price minus cost.
        margin = (unit_price.reindex(table.index) - table["unit_cost"]).clip(lower=0)
        table["stockout_cost"] = table["stockout_cost"].fillna(margin)
    _validate(table, overrides_csv or "plan config", require_moq_multiple_of_pack)
    return table


def _validate(t: pd.DataFrame, source, require_multiple: bool) -> None:
    def fail(mask: pd.Series, problem: str, fix: str) -> None:
        if mask.any():
            skus = ", ".join(map(str, t.index[mask][:5]))
            raise InputError(f"{source}: {problem} for SKU(s) {skus}; {fix}.")

    fail(
        t["lead_time_days"].isna() | (t["lead_time_days"] < 0),
        "lead time is negative or missing",
        "give a lead time of 0 days or more",
    )
    fail(
        t["lead_time_std_days"].fillna(0) < 0,
        "lead-time spread is negative",
        "give a standard deviation of 0 or more",
    )
    fail(
        t["review_period_days"].isna() | (t["review_period_days"] < 1),
        "review period is under 1 day",
        "review at least every day",
    )
    fail(
        ~t["service_target"].between(0.5, 0.9999),
        "service target is outside 0.5-0.9999",
        "give a share such as 0.95",
    )
    fail(~t["service_measure"].isin(MEASURES), "service measure is unknown", f"use {' or '.join(MEASURES)}")
    fail(~t["policy"].isin(POLICIES), "policy is unknown", f"use one of {', '.join(POLICIES)}")
    fail(t["moq"].fillna(0) < 0, "MOQ is negative", "give an MOQ of 0 or more")
    fail(t["pack_size"].fillna(1) <= 0, "pack size is not positive", "give a pack size of 1 or more")
    fail(
        t["unit_cost"].isna() | (t["unit_cost"] <= 0),
        "unit cost is missing or not positive",
        "set plan.unit_cost, or unit_cost per SKU in plan.overrides_csv (the data has no prices to guess from)",
    )
    if require_multiple:
        moq, pack = t["moq"].fillna(0), t["pack_size"].fillna(1)
        fail(
            ~np.isclose(np.mod(moq, pack), 0) & ~np.isclose(np.mod(moq, pack), pack),
            "MOQ is not a multiple of the pack size",
            "make the MOQ a whole number of packs",
        )


def stock_position(
    skus: pd.Index,
    mean_daily_demand: pd.Series,
    stock_csv: str | Path | None = None,
    open_orders_csv: str | Path | None = None,
    assumed_cover_days: float = 14.0,
) -> tuple[pd.Series, pd.DataFrame, str]:
    """On hand per SKU, open orders (sku, quantity, arrival_date) and where the figures came from.

    Without a stock file, on hand is assumed to be `assumed_cover_days` of mean demand, and the plan says so.
    """
    index = pd.Index(skus, name="sku")
    if stock_csv:
        stock = _read(stock_csv, "stock")
        _check_skus(stock, index, stock_csv, "stock")
        if "on_hand" not in stock or stock["on_hand"].isna().any() or (stock["on_hand"] < 0).any():
            raise InputError(
                f"{stock_csv}: 'on_hand' is missing, empty or negative; give units on hand >= 0."
            )
        on_hand = stock.set_index("sku")["on_hand"].astype(float).reindex(index).fillna(0.0)
        source = f"stock file {stock_csv}"
    else:
        on_hand = (mean_daily_demand.reindex(index).fillna(0) * assumed_cover_days).round()
        source = f"assumed: {assumed_cover_days:g} days of mean demand on hand, no open orders"
    orders = pd.DataFrame(
        {
            "sku": pd.Series(dtype=str),
            "quantity": pd.Series(dtype=float),
            "arrival_date": pd.Series(dtype="datetime64[ns]"),
        }
    )
    if open_orders_csv:
        orders = _read(open_orders_csv, "open_orders")
        _check_skus(orders, index, open_orders_csv, "open_orders", unique=False)
        missing = [c for c in ("quantity", "arrival_date") if c not in orders]
        if missing:
            raise InputError(
                f"{open_orders_csv}: column(s) {', '.join(missing)} missing; give sku, quantity, arrival_date."
            )
        orders["arrival_date"] = pd.to_datetime(orders["arrival_date"], errors="coerce")
        if orders["arrival_date"].isna().any() or (orders["quantity"] <= 0).any():
            raise InputError(
                f"{open_orders_csv}: some rows have an unreadable arrival_date or a quantity <= 0; fix them."
            )
    return on_hand, orders, source
