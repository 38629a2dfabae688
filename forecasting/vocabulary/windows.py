"""Demand over a window of calendar days, taken from sample paths on trading days, weeks or months.

Quantiles of a sum come from summing each path first and taking quantiles after: adding daily quantiles would
overstate the spread (daily highs do not all happen together) and mis-state intermittent demand.

A forecast date is the last day of the period it holds: a trading day holds itself (closed days before it
hold nothing), a week the 7 days ending on it, a month its own days. A window that ends inside a week or
month takes that period's demand pro rata to the days it covers (demand spread evenly over the period).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

DAY = 86_400_000_000_000  # nanoseconds
#: how a backtest window's sample sums are stored: float32 halves the records' memory and keeps 7 significant
#: digits of a sum; scores are taken from float64 sums before that, and calibration computes in float64 from them.
SUMS_DTYPE = np.float32


def as_index(dates) -> pd.DatetimeIndex:
    # pd.DatetimeIndex(index) re-validates even an index (a third of a millisecond), and the replay asks often.
    return dates if isinstance(dates, pd.DatetimeIndex) else pd.DatetimeIndex(dates)


def period_lengths(dates: pd.DatetimeIndex) -> np.ndarray:
    """Days each forecast date holds: 1 for daily dates, 7 for weeks, the month's length for months (dates a
    week or more apart are periods; they come from the panel's calendar, which dates them on their last day)."""
    dates = as_index(dates)
    gaps = np.diff(dates.asi8) // DAY
    if len(dates) < 2 or gaps.min() < 7:
        return np.ones(len(dates), dtype=np.int64)
    if dates.is_month_end.all() and gaps.min() >= 28:
        return dates.days_in_month.to_numpy().astype(np.int64)
    return np.full(len(dates), int(gaps.min()), dtype=np.int64)


def window_fractions(dates: pd.DatetimeIndex, start: pd.Timestamp, days) -> np.ndarray:
    """Share of each forecast period inside (start, start + days], per window length in `days`:
    shape (len(days), len(dates)); 0 or 1 for daily dates."""
    dates = as_index(dates)
    lengths = period_lengths(dates) * DAY
    ends = pd.Timestamp(start).normalize().value + np.asarray(days, dtype=np.int64).reshape(-1, 1) * DAY
    return np.clip((ends - (dates.asi8 - lengths)) / lengths, 0.0, 1.0)


def window_counts(dates: pd.DatetimeIndex, start: pd.Timestamp, days: np.ndarray) -> np.ndarray:
    """How many of the forecast periods fall in (start, start + days] for each window length in `days`
    (whole trading days; weeks and months count the share of them the window covers)."""
    return window_fractions(dates, start, np.atleast_1d(days)).sum(axis=1)


def window_sums(paths: np.ndarray, dates: pd.DatetimeIndex, start: pd.Timestamp, days) -> np.ndarray:
    """Per path, demand summed over the periods in (start, start + days]; `days` is one number or one
    per path (a sampled lead time per path)."""
    n = paths.shape[0]
    days = np.broadcast_to(np.asarray(days, dtype=np.int64), (n,))
    if pd.Timestamp(start).normalize() + pd.Timedelta(days=int(days.max())) > dates[-1]:
        raise ValueError(
            f"the forecast ends on {dates[-1].date()}, before the {int(days.max())}-day window from {start.date()}"
        )
    if np.all(days == days[0]):
        return paths @ window_fractions(dates, start, days[:1])[0]
    return np.einsum("ij,ij->i", paths, window_fractions(dates, start, days))


def spread_to_days(series: pd.Series) -> pd.Series:
    """Demand per calendar day: a week's or month's demand spread evenly over its days (daily series as
    they are), so a day-by-day stock simulation does not see a period's demand arrive all on its last day."""
    dates = pd.DatetimeIndex(series.index)
    lengths = period_lengths(dates)
    if (lengths == 1).all():
        return series
    days = [pd.date_range(end=d, periods=n, freq="D") for d, n in zip(dates, lengths, strict=True)]
    days = pd.DatetimeIndex(np.concatenate(days))
    return pd.Series(np.repeat(series.to_numpy() / lengths, lengths), index=days)
