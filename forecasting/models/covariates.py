"""Covariates for global models, on the panel's axis (trading days, weeks or months).

Calendar features are known ahead and may be used as future covariates. Price is only known up to a cutoff:
after it the last observed price is carried forward, so no realised future price reaches a model.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

CALENDAR_FEATURES = (
    "dow_sin",
    "dow_cos",
    "month_sin",
    "month_cos",
    "woy_sin",
    "woy_cos",
    "gap_before",
    "gap_after",
    "holiday_next_7d",
)


def calendar_features(
    days: pd.DatetimeIndex, holiday_country: str | None = None, frequency: str = "daily"
) -> pd.DataFrame:
    """Cyclical day-of-week, month and week-of-year; closures around each trading day; holidays ahead.

    `gap_before` / `gap_after` count closed calendar days just before / after the trading day (a Monday after a
    closed Saturday-Sunday has 1 before it here; the day before Christmas shows the coming shutdown). Weekly
    and monthly panels keep the same columns (one model layout) with what a period cannot carry set to zero:
    the weekday and closures, and for months the week of year; `holiday_next_7d` there flags a holiday inside
    the period.
    """
    days = pd.DatetimeIndex(days)
    out = pd.DataFrame(index=days)
    for name, value, period in (
        ("dow", days.dayofweek, 7),
        ("month", days.month - 1, 12),
        ("woy", days.isocalendar().week.to_numpy() - 1, 53),
    ):
        angle = 2 * np.pi * np.asarray(value, dtype=float) / period
        out[f"{name}_sin"] = np.sin(angle)
        out[f"{name}_cos"] = np.cos(angle)
    stamps = days.asi8 // 86_400_000_000_000
    gaps = np.diff(stamps) - 1
    out["gap_before"] = np.concatenate([[0], gaps]).astype(float)
    out["gap_after"] = np.concatenate([gaps, [0]]).astype(float)
    out["holiday_next_7d"] = 0.0
    if holiday_country:
        import holidays

        public = holidays.country_holidays(holiday_country, years=range(days.year.min(), days.year.max() + 2))
        hol = pd.DatetimeIndex(list(public.keys())).sort_values().asi8 // 86_400_000_000_000
        nxt = np.searchsorted(hol, stamps, side="right")
        ahead = np.where(nxt < len(hol), hol[np.minimum(nxt, len(hol) - 1)] - stamps, 999)
        out["holiday_next_7d"] = (ahead <= 7).astype(float)
    if frequency != "daily":
        out[["dow_sin", "dow_cos", "gap_before", "gap_after"]] = 0.0
        if frequency == "monthly":
            out[["woy_sin", "woy_cos"]] = 0.0
        if holiday_country:
            first = np.concatenate([[stamps[0] - 6 if len(stamps) else 0], stamps[:-1] + 1])
            inside = np.searchsorted(hol, stamps, side="right") - np.searchsorted(hol, first, side="left")
            out["holiday_next_7d"] = (inside > 0).astype(float)
    return out


def carried_price(price: pd.Series, cutoff: pd.Timestamp, until: pd.DatetimeIndex) -> pd.Series:
    """Price observed up to `cutoff`, then held at its last value over `until` (no future prices)."""
    known = price[price.index <= cutoff]
    out = known.reindex(known.index.union(until[until > cutoff]))
    return out.ffill().bfill()
