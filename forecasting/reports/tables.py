"""Tables derived from a run folder: segment accuracy, coverage, SKU picks, orders, exceptions."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from forecasting.planning.exception_codes import EXCEPTION_MEANINGS, skus_per_code, split_codes
from forecasting.vocabulary.model_names import BASELINE

CLASS_ORDER = {"smooth": 0, "erratic": 1, "intermittent": 2, "lumpy": 3}

def sort_segments(frame: pd.DataFrame) -> pd.DataFrame:
    key = frame["demand_class"].map(CLASS_ORDER).fillna(len(CLASS_ORDER))
    return (
        frame.assign(_k=key)
        .sort_values(["abc", "_k"], kind="stable")
        .drop(columns="_k")
        .reset_index(drop=True)
    )


def segment_accuracy(by_segment: pd.DataFrame, champion: str, baseline: str = BASELINE) -> pd.DataFrame:
    """Per ABC x demand class: the champion against seasonal naive, and the segment's own best model."""
    if by_segment.empty:
        return pd.DataFrame()
    keys = ["abc", "demand_class"]
    champ = by_segment[by_segment["model"] == champion].set_index(keys)
    base = by_segment[by_segment["model"] == baseline].set_index(keys)
    best = by_segment.sort_values("rmsse", kind="stable").groupby(keys, sort=False).first()
    out = pd.DataFrame(index=champ.index)
    out["series"] = champ["series"]
    out["rmsse"] = champ["rmsse"]
    out["naive_rmsse"] = base["rmsse"]
    out["fva_rmsse"] = 1.0 - champ["rmsse"] / base["rmsse"]
    out["wape"] = champ["wape"]
    out["naive_wape"] = base["wape"]
    out["bias"] = champ["bias"]
    for col in coverage_columns(champ):
        out[col] = champ[col]
    out["best_model"] = best["model"]
    out["best_rmsse"] = best["rmsse"]
    return sort_segments(out.reset_index())


def coverage_columns(frame: pd.DataFrame) -> list[str]:
    """Coverage columns ordered by nominal level, e.g. ['coverage_80', 'coverage_90']."""
    cols = [c for c in frame.columns if re.fullmatch(r"coverage_\d+", c)]
    return sorted(cols, key=lambda c: int(c.split("_")[1]))


def nominal(coverage_column: str) -> float:
    return int(coverage_column.split("_")[1]) / 100


def coverage_table(board: pd.DataFrame) -> pd.DataFrame:
    """Per model: each interval's coverage and its gap to nominal (negative = intervals too narrow)."""
    out = board[["model"]].copy()
    for col in coverage_columns(board):
        out[col] = board[col]
        out[f"gap_{col.split('_')[1]}"] = board[col] - nominal(col)
    return out


def sku_rmsse_at_last_cutoff(bt: pd.DataFrame) -> pd.Series:
    """RMSSE per SKU at the last cutoff of `bt` (one model each), worst first; unscaled SKUs left out."""
    if bt.empty:
        return pd.Series(dtype=float)
    part = bt[bt["cutoff"] == bt["cutoff"].max()]
    scaled = (part["mean"] - part["demand"]) ** 2 / part["scale"]
    return np.sqrt(scaled.groupby(part["sku"]).mean()).dropna().sort_values(ascending=False)


def top_revenue_skus(segments: pd.DataFrame, among, n: int = 6) -> list[str]:
    ranked = segments[segments["sku"].isin(set(among))].sort_values("value", ascending=False, kind="stable")
    return ranked["sku"].head(n).tolist()


def orders_to_place(plan: pd.DataFrame) -> pd.DataFrame:
    """SKUs with something to order, the earliest order-by date first (no date last)."""
    orders = plan[plan["order_qty"].fillna(0) > 0]
    keys = [c for c in ("order_by", "stockout_date_p90", "sku") if c in orders]
    return orders.sort_values(keys, na_position="last", kind="stable").reset_index(drop=True)


def exception_long(plan: pd.DataFrame) -> pd.DataFrame:
    """One row per SKU and exception code, the most urgent codes first, so a sheet filters by code."""
    rows = [
        {"sku": r.sku, "code": code, "meaning": EXCEPTION_MEANINGS.get(code, "")}
        for r in plan[["sku", "exceptions"]].itertuples(index=False)
        for code in split_codes(r.exceptions)
    ]
    if not rows:
        return pd.DataFrame(columns=["code", "meaning", "sku"])
    long = pd.DataFrame(rows).merge(plan.drop(columns=["exceptions"]), on="sku", how="left")
    order = {code: i for i, code in enumerate(EXCEPTION_MEANINGS)}
    long["_k"] = long["code"].map(order).fillna(len(order))
    sort = [c for c in ("_k", "code", "stockout_date_p50", "sku") if c in long]
    long = long.sort_values(sort, na_position="last", kind="stable").drop(columns="_k")
    return long[["code", "meaning", *[c for c in long.columns if c not in ("code", "meaning")]]].reset_index(
        drop=True
    )


def exception_counts(plan: pd.DataFrame) -> pd.DataFrame:
    """SKUs per exception code with its meaning, the most urgent code first."""
    counts = skus_per_code(plan["exceptions"])
    if not counts:
        return pd.DataFrame(columns=["code", "meaning", "skus"])
    table = pd.DataFrame({"code": list(counts), "skus": list(counts.values())})
    table.insert(1, "meaning", table["code"].map(EXCEPTION_MEANINGS).fillna(""))
    order = {code: i for i, code in enumerate(EXCEPTION_MEANINGS)}
    urgency = table["code"].map(order).fillna(len(order))
    return table.assign(_k=urgency).sort_values(["_k", "code"], kind="stable").drop(columns="_k").reset_index(drop=True)


def skus_with_exceptions(plan: pd.DataFrame) -> pd.DataFrame:
    """SKUs with any exception, those with the most urgent code first."""
    flagged = plan[plan["exceptions"].map(bool)].copy()
    order = {code: i for i, code in enumerate(EXCEPTION_MEANINGS)}
    flagged["_k"] = flagged["exceptions"].map(
        lambda t: min((order.get(c, len(order)) for c in split_codes(t)), default=len(order))
    )
    sort = [c for c in ("_k", "stockout_date_p50", "sku") if c in flagged]
    return (
        flagged.sort_values(sort, na_position="last", kind="stable").drop(columns="_k").reset_index(drop=True)
    )
