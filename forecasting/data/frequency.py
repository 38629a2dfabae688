"""The frequency of a demand table: daily, weekly (any anchor day) or monthly (dated at month start or end).

A weekly date is the last day of its week (pandas' `W-<day>` convention: the week ending that day); a monthly
date is moved to its month's last day, so every panel date is the last day of the period it holds and day
arithmetic (lead times, order-by dates) is exact. How a demand table's frequency is found: `table_frequency`.
"""

from __future__ import annotations

import pandas as pd

from forecasting.errors import InputError

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")  # as settings name them
WEEKDAY_CODES = ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")
# data.frequency / data.aggregate_to spellings -> the kind of period.
ALIASES = {
    "d": "daily",
    "day": "daily",
    "daily": "daily",
    "w": "weekly",
    "week": "weekly",
    "weekly": "weekly",
    "m": "monthly",
    "ms": "monthly",
    "me": "monthly",
    "month": "monthly",
    "monthly": "monthly",
}
# The yearly (weekly for days) season in periods.
SEASON = {"daily": 7, "weekly": 52, "monthly": 12}
# Calendar days per period (a month on average): for rules stated in days that must hold on any table.
PERIOD_DAYS = {"daily": 1.0, "weekly": 7.0, "monthly": 365.25 / 12}
# What data.aggregate_to makes of a daily panel: weeks ending Sunday, calendar months.
AGGREGATE_CODES = {"weekly": "W-SUN", "monthly": "M"}


def frequency_kind(value, key: str = "data.frequency") -> str | None:
    """'daily', 'weekly', 'monthly', or None for auto/null."""
    if value is None or str(value).strip().lower() in ("", "auto", "none", "null"):
        return None
    kind = ALIASES.get(str(value).strip().lower())
    if kind is None:
        raise InputError(f"{key} is '{value}'; use D, W or M (daily, weekly or monthly), or auto.")
    return kind


def period_code(kind: str, dates: pd.DatetimeIndex) -> str:
    """The pandas offset alias of the periods: 'D', 'W-<day of the dates>' or 'ME'."""
    if kind == "weekly":
        return f"W-{WEEKDAY_CODES[int(dates[0].dayofweek)]}"
    return {"daily": "D", "monthly": "ME"}[kind]


def period_alias(code: str) -> str:
    """The pandas Period spelling of a date offset alias (months are 'ME' for dates, 'M' for periods)."""
    return "M" if code == "ME" else code


def to_period_ends(dates: pd.Series, kind: str) -> pd.Series:
    """Each date moved to the last day of its period (weekly dates are already)."""
    if kind == "monthly":
        return dates + pd.offsets.MonthEnd(0)
    return dates


def aggregate_code(kind: str, week_end_day: int | None = None) -> str:
    """The period alias daily data is summed to: weeks ending Sunday (or on `week_end_day`, Monday 0), months."""
    if kind == "weekly" and week_end_day is not None:
        return f"W-{WEEKDAY_CODES[week_end_day]}"
    return AGGREGATE_CODES[kind]


def complete_periods(dates: pd.Series, kind: str, week_end_day: int | None = None) -> pd.Series:
    """Whether each date's week (ending Sunday or on `week_end_day`) or month ends by the data's last day."""
    ends = dates.dt.to_period(aggregate_code(kind, week_end_day)).dt.end_time.dt.normalize()
    return ends <= dates.max().normalize()


def aggregate_daily(daily: pd.DataFrame, kind: str, week_end_day: int | None = None) -> pd.DataFrame:
    """Sum a daily SKU table to weeks ending Sunday (or on `week_end_day`) or calendar months, each dated on its
    last day."""
    ends = daily["date"].dt.to_period(aggregate_code(kind, week_end_day)).dt.end_time.dt.normalize()
    df = daily.assign(date=ends)
    agg = {c: ("max" if c == "promo" else "sum") for c in ("demand", "revenue", "promo") if c in df}
    out = df.groupby(["sku", "date"], observed=True, sort=True).agg(**{c: (c, f) for c, f in agg.items()})
    out = out.reset_index()
    if "revenue" in out:
        out["price"] = out["revenue"] / out["demand"].where(out["demand"] > 0)
    return out
