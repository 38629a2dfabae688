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
    """Per SKU, the demand of the last RECENT_DAYS days per day (weeks and months: of the periods ending in them)."""
    today = panel["date"].max()
    recent = panel[panel["date"] > today - pd.Timedelta(days=RECENT_DAYS)]
    return recent.groupby("sku")["demand"].sum() / recent_days(panel, recent, frequency)


def recent_days(panel: pd.DataFrame, recent: pd.DataFrame, frequency: str) -> float:
    """Days the `recent` rows cover: the RECENT_DAYS window for trading days, the whole weeks or months ending in it
    otherwise (a month that ends in the window holds all its days)."""
    if frequency == "daily" or recent.empty:
        return float(RECENT_DAYS)
    dates = pd.DatetimeIndex(panel["date"].drop_duplicates().sort_values())
    return float(period_lengths(dates)[dates.isin(recent["date"].unique())].sum())


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
