"""Days whose demand no plausible sale explains (a typo of 1e18 units), judged against the SKU's own scale.

One such day dominates every squared-error metric and can crown the wrong model, so it is never modelled
silently: the run stops naming it (`error`), or the day is capped or dropped and counted (`cap`, `drop`).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from forecasting.data.quality import DataQuality
from forecasting.errors import InputError

ACTIONS = ("error", "cap", "drop")
REASON = "implausible_quantity"
#: The SKU's scale is this quantile of its non-zero days: high enough that busy days set it, low enough
#: (the lower of two neighbours) that a single absurd day among a few cannot raise it.
SCALE_QUANTILE = 0.9


def implausible_days(lines: pd.DataFrame, multiple: float) -> pd.DataFrame:
    """SKU days whose total quantity exceeds `multiple` times the SKU's scale: sku, day, quantity, limit."""
    day = lines["date"].dt.normalize()
    totals = lines.groupby([lines["sku"], day], observed=True, sort=True)["quantity"].sum()
    totals = totals.rename_axis(["sku", "day"]).reset_index()
    nonzero = totals[totals["quantity"] > 0]
    scale = nonzero.groupby("sku", observed=True)["quantity"].quantile(SCALE_QUANTILE, interpolation="lower")
    totals["limit"] = multiple * totals["sku"].map(scale).astype("float64")
    return totals[totals["quantity"] > totals["limit"]].reset_index(drop=True)


def screen_implausible(
    lines: pd.DataFrame, multiple: float | None, action: str, dq: DataQuality, path, column: str = "quantity"
) -> pd.DataFrame:
    """Apply `action` to the lines of implausible days (see `implausible_days`); `multiple=None` turns it off."""
    if multiple is None:
        return lines
    if action not in ACTIONS:
        raise InputError(f"data.panel.outlier_action is '{action}'; use one of {', '.join(ACTIONS)}.")
    if not float(multiple) > 1:
        raise InputError(f"data.panel.outlier_multiple is {multiple}; use a number above 1 (e.g. 500), or null.")
    days = implausible_days(lines, float(multiple))
    if days.empty:
        return lines
    dq.notes["implausible_days"] = _examples(days)
    if action == "error":
        worst = days.loc[days["quantity"].idxmax()]
        raise InputError(
            f"{Path(str(path))}: column '{column}' has {len(days)} implausible day(s), e.g. SKU '{worst['sku']}' on "
            f"{worst['day']:%Y-%m-%d} with {worst['quantity']:g} units, over {float(multiple):g}x the SKU's usual "
            f"busy day ({worst['limit'] / float(multiple):g}); fix those rows, or set data.panel.outlier_action=cap "
            "(or drop) to repair them, or raise data.panel.outlier_multiple."
        )
    key = pd.MultiIndex.from_arrays([lines["sku"], lines["date"].dt.normalize()])
    hit = key.isin(pd.MultiIndex.from_frame(days[["sku", "day"]]))
    if action == "drop":
        return dq.drop(lines, pd.Series(hit, index=lines.index), REASON)
    # Cap: scale every line of the day by the same factor, so the day's total lands on the limit.
    factor = days.set_index(["sku", "day"])
    factor = (factor["limit"] / factor["quantity"]).reindex(key[hit]).to_numpy()
    lines = lines.copy()
    lines.loc[hit, "quantity"] = lines.loc[hit, "quantity"].to_numpy() * factor
    dq.repair(f"{REASON}_capped", len(days))
    return lines


def _examples(days: pd.DataFrame, limit: int = 10) -> list[dict]:
    top = days.sort_values("quantity", ascending=False).head(limit)
    return [
        {"sku": str(r.sku), "date": f"{r.day:%Y-%m-%d}", "quantity": float(r.quantity), "limit": float(r.limit)}
        for r in top.itertuples()
    ]
