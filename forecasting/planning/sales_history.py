"""What the plan reads of each SKU's past sales besides its forecast: its recent daily demand (which an assumed
stock cover is sized from) and its length of history and last sale (the SHORT_HISTORY and NO_RECENT_SALES rules)."""

from __future__ import annotations

import pandas as pd

from forecasting.vocabulary.windows import period_lengths

#: the window of recent sales a SKU's mean daily demand is taken over, in days
RECENT_DAYS = 56
#: days the short-history rule counts for a SKU's first week or month (a month as 30 days, whatever its length)
FIRST_PERIOD_DAYS = {"weekly": 7, "monthly": 30}


def mean_daily_demand(panel: pd.DataFrame, frequency: str) -> pd.Series:
    """Per SKU, the demand of the last RECENT_DAYS days per day known (weeks and months: of the periods ending in
    them). A SKU first sold inside the window is averaged over its own days, as the replay averages it
    (replay_sku.trailing_means): over the whole window a SKU launched 14 days ago would read a quarter of its rate,
    and its assumed stock cover and order cycle with it."""
    today = panel["date"].max()
    recent = panel[panel["date"] > today - pd.Timedelta(days=RECENT_DAYS)]
    days = recent_days(panel, recent, frequency)
    first = panel.groupby("sku", observed=True)["date"].min()
    if frequency == "daily":
        # Calendar days from the SKU's first day to today (closed days count: the window's days do).
        known = ((today - first).dt.days + 1).clip(upper=days)
    else:
        # The whole weeks or months of the window from the SKU's first one on.
        lengths = pd.Series(_period_days(panel), name="days")
        periods = recent[["sku", "date"]].drop_duplicates().join(lengths, on="date")
        known = periods.groupby("sku", observed=True)["days"].sum()
        known = known.reindex(first.index).fillna(days).clip(upper=days)
    return recent.groupby("sku", observed=True)["demand"].sum().div(known.astype(float)).dropna()


def _period_days(panel: pd.DataFrame) -> dict:
    """Days each of the panel's dates holds (its week or month)."""
    dates = pd.DatetimeIndex(panel["date"].drop_duplicates().sort_values())
    return dict(zip(dates, period_lengths(dates), strict=True))


def recent_days(panel: pd.DataFrame, recent: pd.DataFrame, frequency: str) -> float:
    """Days the `recent` rows cover: the RECENT_DAYS window for trading days, the whole weeks or months ending in it
    otherwise (a month that ends in the window holds all its days)."""
    if frequency == "daily" or recent.empty:
        return float(RECENT_DAYS)
    lengths = _period_days(panel)
    return float(sum(lengths[d] for d in pd.DatetimeIndex(recent["date"].unique())))


def sku_history(panel: pd.DataFrame, frequency: str) -> pd.DataFrame:
    """Per SKU: trading days of history (days, for weekly and monthly data), the last day with a sale, and the
    recent mean daily demand (an economic order cycle is sized from it: policy.order_cycle_days)."""
    today = panel["date"].max()
    by_sku = panel.groupby("sku", observed=True, sort=True)
    history = pd.DataFrame({"trading_days": by_sku.size()})
    history["last_sale"] = panel.loc[panel["demand"] > 0].groupby("sku", observed=True)["date"].max()
    history["recent_daily_demand"] = mean_daily_demand(panel, frequency).reindex(history.index).fillna(0.0)
    if frequency != "daily":
        # The short-history rule counts days: from the first day of the SKU's first week or month.
        history["trading_days"] = (today - by_sku["date"].min()).dt.days + FIRST_PERIOD_DAYS[frequency]
    return history
