"""The SKU panel of DESIGN.md: one row per SKU and period (trading day, week or month) over its active range.

Columns: `sku`, `date`, `demand`, `filled` (a period with no row in the source, set to 0), plus `price` and
`promo` where the source has them. Sorted by `sku, date`; no duplicates; closed days absent.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from forecasting.data.advice import setting_choice
from forecasting.data.calendar import PeriodCalendar, TradingCalendar
from forecasting.data.quality import DataQuality, row_list
from forecasting.errors import InputError

STATIC_COLUMNS = ("category", "description")


def aggregate_lines(lines: pd.DataFrame) -> pd.DataFrame:
    """Sum order lines to SKU x day: demand, revenue, a quantity-weighted price (of the lines that state one), and
    promo (max)."""
    df = lines.assign(date=lines["date"].dt.normalize())
    agg = {"demand": ("quantity", "sum")}
    if "price" in df:
        priced = df["price"] > 0  # empty or 0 (kept by data.cleaning.drop_non_positive_price=false): unknown
        revenue = (df["quantity"] * df["price"]).where(priced, 0.0)
        df = df.assign(revenue=revenue, _priced=df["quantity"].where(priced, 0.0))
        agg |= {"revenue": ("revenue", "sum"), "_priced": ("_priced", "sum")}
    if "promo" in df:
        agg["promo"] = ("promo", "max")
    daily = df.groupby(["sku", "date"], observed=True, sort=True).agg(**agg).reset_index()
    if "revenue" in daily:
        # The day's price from the lines that state one; units of a line without one sold at it.
        daily["price"] = daily["revenue"] / daily.pop("_priced").where(lambda units: units > 0)
        daily["revenue"] = daily["price"] * daily["demand"]
    return daily


# drop_repeats: rows that repeat another in every column (one export appended twice, or two that overlap) are
# the same sales once; summed they would count twice.
DUPLICATE_RULES = ("error", "sum", "drop_repeats")
NEGATIVE_RULES = ("error", "zero")


def sum_same_period(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per SKU and period of a demand table whose rows split a period (stores, channels, order types):
    demand and revenue summed, price weighted by demand (the rows' mean where none sold), promo on if any row had
    it, other columns from the first row."""
    keys = ["sku", "date"]
    df = frame.assign(_units=frame["demand"].clip(lower=0))
    agg = {c: "first" for c in df.columns if c not in (*keys, "_units")}
    agg |= {c: "sum" for c in ("demand", "revenue", "_units") if c in df}
    if "promo" in df:
        agg["promo"] = "max"
    if "price" in df:
        df = df.assign(_value=df["price"] * df["_units"])
        agg |= {"_value": "sum", "price": "mean"}
    out = df.groupby(keys, observed=True, sort=False).agg(agg).reset_index()
    if "price" in out:
        out["price"] = (out["_value"] / out["_units"]).where(out["_units"] > 0, out["price"])
    return out.drop(columns=[c for c in ("_units", "_value") if c in out])[list(frame.columns)]


def validate_demand_table(
    frame: pd.DataFrame,
    path: str | Path,
    date_column: str = "date",
    frequency: str = "daily",
    sku_column: str = "sku",
    duplicates: str | None = None,
    dq: DataQuality | None = None,
    negative: str | None = None,
) -> pd.DataFrame:
    """Check a SKU demand table (data.kind=demand: one row per SKU and day, week or month; `frequency` checks the
    dates are regular) and return it with `demand` named. Rows that share a SKU and period stop it, or with
    `duplicates` "sum" are added up (sum_same_period; counted in `dq`'s repairs). A negative total (net returns)
    stops it, or with `negative` "zero" is set to 0 (counted)."""
    rule = setting_choice(duplicates, "duplicates", DUPLICATE_RULES)
    negatives = setting_choice(negative, "negative", NEGATIVE_RULES)
    df = frame.rename(columns={"quantity": "demand"})
    if df["sku"].isna().any():
        raise InputError(
            f"{path}: column '{sku_column}' is empty in {int(df['sku'].isna().sum())} row(s) (row(s) "
            f"{row_list(df['sku'].isna())}), which have no SKU; fill in their SKU codes or remove those rows."
        )
    if (df["date"] != df["date"].dt.normalize()).any():
        raise InputError(
            f"{path}: column '{date_column}' carries times of day, but a demand table has one row per SKU and "
            "period; aggregate it to days or load order lines with data.kind=transactions."
        )
    repeats = df.duplicated(keep="first")
    if rule == "drop_repeats" and repeats.any():
        df = dq.drop(df, repeats, "repeated_row") if dq is not None else df.loc[~repeats]
        repeats = repeats.loc[df.index]
    dup = df.duplicated(["sku", "date"], keep=False)
    if dup.any() and rule != "sum":
        first = df.loc[dup].iloc[0]
        repeated = (
            f" ({int(repeats.sum())} of them repeat another row in every column, as an export appended twice or two "
            "that overlap write them: data.duplicates=drop_repeats keeps one of each)"
            if repeats.any()
            else ""
        )
        raise InputError(
            f"{path}: {int(dup.sum())} rows share a (SKU, date) key, e.g. SKU '{first['sku']}' on "
            f"{first['date'].date()}{repeated}; set data.duplicates=sum if they are parts of one period's sales "
            "(stores, channels, order types), or keep one row per SKU and period."
        )
    if dup.any():
        before = len(df)
        df = sum_same_period(df)
        if dq is not None:
            dq.repair("rows_summed_into_one_per_sku_and_period", before - len(df))
    # Checked after the summing: a store's net returns inside a period that sold overall are no negative demand.
    if df["demand"].isna().any():  # data.missing has filled or dropped them (missing.resolve_missing)
        raise InputError(f"{path}: {int(df['demand'].isna().sum())} row(s) have no demand; set data.missing=zero.")
    bad = df["demand"] < 0
    if bad.any() and negatives == "zero":
        if dq is not None:
            dq.repair("negative_demand_set_to_zero", int(bad.sum()))
        df["demand"] = df["demand"].clip(lower=0)
    elif bad.any():
        row = df.loc[bad].iloc[0]
        raise InputError(
            f"{path}: {int(bad.sum())} row(s) have negative demand (more returned than sold), e.g. SKU "
            f"'{row['sku']}' on {row['date'].date()} ({row['demand']:g}); set data.negative=zero to count such a "
            "period as no demand (counted in data_quality.json), or fix those rows."
        )
    return df.sort_values(["sku", "date"], kind="stable").reset_index(drop=True)


def build_panel(
    daily: pd.DataFrame, calendar: TradingCalendar | PeriodCalendar, dq: DataQuality, end=None
) -> pd.DataFrame:
    """Place each SKU on the trading days from its first sale to `end` (default: the last date in the data).

    Sales on a day the calendar calls closed move to the next trading day, and trading days without a row
    become zero demand flagged `filled`; both repairs are counted in `dq`.
    """
    end = pd.Timestamp(end if end is not None else daily["date"].max()).normalize()
    daily = daily[daily["date"] <= end]
    days = calendar.trading_days(daily["date"].min(), end)
    if len(days) == 0:
        raise InputError(
            "the calendar leaves no trading day in the data's range; check data.calendar.closed_weekdays and "
            "data.calendar.closed_dates."
        )

    # Position of each date on the trading-day axis; sales on a closed day roll forward to the next open one.
    pos = np.searchsorted(days.asi8, daily["date"].to_numpy().astype("datetime64[ns]").astype(np.int64))
    moved = ~calendar.is_open(pd.DatetimeIndex(daily["date"])) & (pos < len(days)) & (daily["demand"].to_numpy() > 0)
    periods = calendar.unit != "trading day"
    if not periods:  # weeks and months have no closed days
        dq.repair("sales_on_closed_days_moved_to_next_trading_day", int(moved.sum()))
    daily = daily.assign(pos=pos)[pos < len(days)]
    value_cols = [c for c in ("demand", "revenue", "promo", "price") if c in daily]
    agg = {c: {"promo": "max", "price": "mean"}.get(c, "sum") for c in value_cols}
    daily = daily.groupby(["sku", "pos"], observed=True, sort=True).agg(agg).reset_index()
    if "revenue" in daily:
        # The price a period sold at; a period without sales keeps the price its row states (a demand table's
        # price column: list prices set ahead, a price change in a week without sales), else none.
        sold = (daily["demand"] > 0) & (daily["revenue"] > 0)
        stated = daily["price"] if "price" in daily else np.nan
        daily["price"] = np.where(sold, daily["revenue"] / daily["demand"].where(sold), stated)

    first = daily.groupby("sku", observed=True, sort=True)["pos"].min()
    lengths = len(days) - first.to_numpy()
    grid = pd.DataFrame(
        {
            "sku": np.repeat(first.index.to_numpy(), lengths),
            "pos": np.concatenate([np.arange(p, len(days)) for p in first.to_numpy()]),
        }
    )
    panel = grid.merge(daily, on=["sku", "pos"], how="left", sort=False)
    panel["filled"] = panel["demand"].isna()
    dq.repair(f"missing_{calendar.unit.replace(' ', '_')}s_filled_with_zero", int(panel["filled"].sum()))
    panel["demand"] = panel["demand"].fillna(0.0).astype("float64")
    if "price" in panel:
        # The shelf price carries over days without sales; before the first sale use the first known price.
        by_sku = panel.groupby("sku", observed=True, sort=False)["price"]
        panel["price"] = by_sku.ffill()
        panel["price"] = panel["price"].fillna(panel.groupby("sku", observed=True, sort=False)["price"].bfill())
    if "promo" in panel:
        panel["promo"] = panel["promo"].fillna(0.0)
    panel.insert(1, "date", days[panel.pop("pos").to_numpy()])
    panel["sku"] = panel["sku"].astype(str)
    keep = ["sku", "date", "demand", "filled"] + [c for c in ("price", "promo", "revenue") if c in panel]
    panel = panel[keep]
    if "revenue" in panel:
        panel["revenue"] = panel["revenue"].fillna(0.0)
    return panel.sort_values(["sku", "date"], kind="stable").reset_index(drop=True)


def history_filter(panel: pd.DataFrame, min_history_days: int, min_nonzero_days: int) -> pd.Index:
    """SKUs with at least `min_history_days` trading days in range and `min_nonzero_days` days with sales."""
    by_sku = (panel["demand"] > 0).groupby(panel["sku"], observed=True, sort=True)
    stats = pd.DataFrame({"days": by_sku.size(), "nonzero": by_sku.sum()})
    ok = (stats["days"] >= min_history_days) & (stats["nonzero"] >= min_nonzero_days)
    return stats.index[ok]


def top_skus(panel: pd.DataFrame, n: int | None, by: str = "revenue") -> pd.Index:
    """The `n` largest SKUs by revenue (or units when the data has no price); all when `n` is None."""
    col = by if by in panel else "demand"
    totals = panel.groupby("sku", observed=True)[col].sum().sort_values(ascending=False, kind="stable")
    return totals.index if n is None else totals.index[: int(n)]


def sku_series(panel: pd.DataFrame, covariates: Sequence[str] = ()) -> dict[str, pd.Series | pd.DataFrame]:
    """Each SKU's demand indexed by trading date: the unit of per-SKU work. With `covariates` (columns some model
    reads, such as promo and price) that the panel has, a frame of `demand` and those columns instead."""
    columns = [c for c in dict.fromkeys(covariates) if c in panel]
    pick = ["demand", *columns] if columns else "demand"
    return {sku: g.set_index("date")[pick] for sku, g in panel.groupby("sku", observed=True, sort=True)}


def with_periods_ahead(panel: pd.DataFrame, ahead: pd.DataFrame | None) -> pd.DataFrame:
    """`panel` and the rows of the periods after it (sku, date, promo / price; data.periods_ahead), demand empty:
    what a model that reads future covariates is given for the final forecast. The history is unchanged."""
    if ahead is None or ahead.empty:
        return panel
    return pd.concat([panel, ahead.assign(demand=np.nan)], ignore_index=True).sort_values(
        ["sku", "date"], kind="stable", ignore_index=True
    )


def split_covariates(data: pd.Series | pd.DataFrame) -> tuple[pd.Series, pd.DataFrame | None]:
    """A SKU's demand and its covariate rows (None without any), from what `sku_series` gave."""
    if isinstance(data, pd.DataFrame):
        return data["demand"], data.drop(columns="demand")
    return data, None
