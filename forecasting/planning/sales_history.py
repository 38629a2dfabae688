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
    them, a month that ends in the window holding all its days). A SKU first sold inside the window is averaged
    over its own days, as the replay averages it (replay_sku.trailing_means): over the whole window a SKU launched
    14 days ago would read a quarter of its rate, and its assumed stock cover and order cycle with it."""
    today = panel["date"].max()
    recent = panel[panel["date"] > today - pd.Timedelta(days=RECENT_DAYS)]
    if frequency == "daily":
        # Calendar days from the SKU's first day to today, at most the window's (closed days count: its days do).
        first = panel.groupby("sku", observed=True)["date"].min()
        known = ((today - first).dt.days + 1).clip(upper=RECENT_DAYS)
    else:
        # The days of the SKU's own periods in the window: the panel holds a row for each from its first on.
        dates = pd.DatetimeIndex(panel["date"].drop_duplicates().sort_values())
        days = recent["date"].map(pd.Series(period_lengths(dates), index=dates))
        known = days.groupby(recent["sku"], observed=True).sum()
    return recent.groupby("sku", observed=True)["demand"].sum().div(known.astype(float)).dropna()


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
