"""Price and promo columns of a source table, read by one rule each and checked like quantity.

Promo is an indicator: a period is on promotion or not. Exports write it as 0/1, Y/N, yes/no, TRUE/FALSE, x, or
as the discount itself (0/5/20 percent). Fitting such magnitudes as a regressor would make a 20% promotion four
times a 5% one and silently change with the export's encoding, so every value reads as 0 or 1: 0, empty, no and
false are no promotion; any positive number, yes, true and x are a promotion (how deep a discount is belongs
in the price column). A value that is neither (a campaign name, a negative number) stops the run naming it.

A demand table's price is the SKU's selling price in the period. It is kept in the panel as revenue (price x
demand, for ABC by value and unit costs) and as the price itself (for periods without sales, and list prices
set ahead). Negative prices stop the run; zero and empty ones are unknown prices, carried from the SKU's
nearest earlier period with a price (else the next one) and counted in data_quality.json.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from forecasting.data.quality import DataQuality, row_list
from forecasting.errors import InputError

log = logging.getLogger(__name__)

#: panel columns that may be read after a cutoff (data.future_covariates=known), and what a day without a known
#: value takes (models.covariates.future_covariates)
FUTURE_COLUMNS = ("promo", "price")
YES = ("1", "y", "yes", "true", "t", "x", "on", "promo")
NO = ("", "0", "n", "no", "false", "f", "off", "none", "-")
PROMO_FIX = (
    "write 1 (or yes, true) for a period on promotion and 0 (or no, false, empty) for one without, or set "
    "data.columns.promo=null to leave promotions out"
)


def promo_indicator(values: pd.Series, path: str | Path, column: str, notes: dict | None = None) -> pd.Series:
    """0.0 / 1.0 per row by the rule above; what was read as a promotion besides 0/1 goes into `notes`."""
    if pd.api.types.is_bool_dtype(values):
        return values.astype("float64").fillna(0.0)
    if pd.api.types.is_numeric_dtype(values):
        numbers = values.astype("float64")
        unknown = pd.Series(False, index=values.index)
    else:
        text = values.astype("string").str.strip().str.lower().fillna("")
        words = pd.Series(np.nan, index=values.index)
        words[text.isin(YES)] = 1.0
        words[text.isin(NO)] = 0.0
        # Numbers written with a decimal comma ("0,5") read too: only zero or not matters.
        numbers = words.fillna(pd.to_numeric(text.str.replace(",", ".", regex=False), errors="coerce"))
        unknown = numbers.isna()
        if unknown.any():
            raise InputError(
                f"{path}: column '{column}' (data.columns.promo) has {int(unknown.sum())} value(s) that are not a "
                f"promotion flag (e.g. '{values[unknown].iloc[0]}' at row(s) {row_list(unknown)}); {PROMO_FIX}."
            )
    numbers = numbers.fillna(0.0)
    negative = (numbers < 0) | ~np.isfinite(numbers)
    if negative.any():
        raise InputError(
            f"{path}: column '{column}' (data.columns.promo) has {int(negative.sum())} negative or infinite value(s) "
            f"(e.g. {values[negative].iloc[0]} at row(s) {row_list(negative)}); {PROMO_FIX}."
        )
    magnitudes = ~numbers.isin([0.0, 1.0])
    if magnitudes.any():
        shown = ", ".join(f"{v:g}" for v in sorted(numbers[magnitudes].unique())[:5])
        said = (
            f"{int(magnitudes.sum())} value(s) other than 0/1 ({shown}) read as on promotion: promo is an "
            "indicator (any value above 0 = on promotion)"
        )
        log.warning("%s: column '%s': %s", path, column, said)
        if notes is not None:
            notes["promo"] = said
    return (numbers > 0).astype("float64")


def demand_table_prices(frame: pd.DataFrame, path: str | Path, column: str | None, dq: DataQuality) -> pd.DataFrame:
    """A demand table's rows as read (`sku`, `date`, `quantity`, the file's row order and index) with the price
    checked by the rule above and `revenue` added; a table without a price column comes back as it is."""
    if "price" not in frame:
        return frame
    price = frame["price"].astype("float64")
    negative = price < 0
    if negative.any():
        row = frame.loc[negative].iloc[0]
        raise InputError(
            f"{path}: column '{column}' (data.columns.price) has {int(negative.sum())} negative price(s) at row(s) "
            f"{row_list(negative)}, e.g. SKU '{row['sku']}' on {row['date']:%Y-%m-%d} ({row['price']:g}); fix them "
            "(a price is 0 or more, or empty where unknown), or set data.columns.price=null to plan without prices."
        )
    unknown = price.isna() | (price == 0)
    if unknown.any():
        # Carried in date order within each SKU, whatever the file's row order.
        order = frame.sort_values(["sku", "date"], kind="stable").index
        known = price.where(~unknown).loc[order]
        by_sku = known.groupby(frame["sku"].loc[order], observed=True, sort=False)
        price = by_sku.ffill().fillna(by_sku.bfill()).reindex(frame.index)
        dq.repair("price_zero_or_missing_carried_from_nearest_period", int((unknown & price.notna()).sum()))
        never = frame.loc[price.isna(), "sku"].unique()
        if len(never):
            # Nothing to carry from: the rows stay without a price, counted by SKU.
            dq.notes["skus_without_price"] = int(len(never))
            log.warning(
                "%s: %d SKU(s) have no price above 0 in any row (e.g. %s); their costs need plan.unit_cost or "
                "unit_cost in plan.overrides_csv",
                path,
                len(never),
                ", ".join(map(str, never[:5])),
            )
    # A SKU without any known price has no revenue to rank by (0); its price stays unknown.
    return frame.assign(price=price, revenue=(price * frame["quantity"]).fillna(0.0))


def promotions_note(panel: pd.DataFrame, mode: str | None, ahead: pd.DataFrame | None) -> str | None:
    """One sentence on what the run does with the panel's promo column (None without promotions): under
    `carried` nothing forecasts from it, which a planner who mapped the column would not guess."""
    promoted = panel["promo"] > 0 if "promo" in panel else None
    if promoted is None or not promoted.any():
        return None
    share = f"{100 * float(promoted.mean()):.1f}% of SKU-periods promoted ({panel.loc[promoted, 'sku'].nunique()} SKUs)"
    if str(mode).strip().lower() == "known":
        coming = int((ahead["promo"] > 0).sum()) if ahead is not None and "promo" in ahead else 0
        return (
            f"promo column read as a calendar set ahead (data.future_covariates=known): {share}; the models forecast "
            f"its promoted periods at each SKU's lift ({coming} promoted SKU-periods ahead of the history)"
        )
    return (
        f"promo column read: {share}, its future unknown (data.future_covariates=carried), so no model forecasts "
        "from it; if promotions are planned ahead, set data.future_covariates=known and give the coming ones as "
        "rows after the last sale with the quantity empty"
    )
