"""Demand over a window of calendar days, taken from sample paths on trading days.

Quantiles of a sum come from summing each path first and taking quantiles after: adding daily quantiles would
overstate the spread (daily highs do not all happen together) and mis-state intermittent demand.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def window_counts(dates: pd.DatetimeIndex, start: pd.Timestamp, days: np.ndarray) -> np.ndarray:
    """How many of the forecast `dates` fall in (start, start + days] for each window length in `days`."""
    ends = pd.Timestamp(start).normalize().value + np.asarray(days, dtype=np.int64) * 86_400_000_000_000
    return np.searchsorted(pd.DatetimeIndex(dates).asi8, ends, side="right")


def window_sums(paths: np.ndarray, dates: pd.DatetimeIndex, start: pd.Timestamp, days) -> np.ndarray:
    """Per path, demand summed over the trading days in (start, start + days]; `days` is one number or one
    per path (a sampled lead time per path)."""
    n = paths.shape[0]
    days = np.broadcast_to(np.asarray(days, dtype=np.int64), (n,))
    counts = window_counts(dates, start, days)
    if (counts >= paths.shape[1]).any() and pd.Timestamp(start) + pd.Timedelta(days=int(days.max())) > dates[
        -1
    ]:
        raise ValueError(
            f"the forecast ends on {dates[-1].date()}, before the {int(days.max())}-day window from {start.date()}"
        )
    cum = np.concatenate([np.zeros((n, 1)), np.cumsum(paths, axis=1)], axis=1)
    return cum[np.arange(n), counts]


def sample_lead_times(mean_days: float, std_days: float, n: int, rng: np.random.Generator) -> np.ndarray:
    """Lead times in whole days: gamma-distributed (positive, right-skewed like real delays) when they vary."""
    if std_days <= 0:
        return np.full(n, int(round(mean_days)))
    shape = (mean_days / std_days) ** 2
    return np.maximum(1, np.rint(rng.gamma(shape, mean_days / shape, n))).astype(int)


def cumulative_quantiles(paths: np.ndarray, levels) -> np.ndarray:
    """Quantiles of cumulative demand up to each step: shape (len(levels), horizon)."""
    return np.quantile(np.cumsum(paths, axis=1), levels, axis=0)
