"""Backtest records of cumulative demand over a planning window (lead time + review period).

They let planning check the quantiles it orders from, the quantiles of a SUM over the window, against what
was actually sold over the same window after each cutoff.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from forecasting.models.base import Forecast
from forecasting.planning.cover import window_fractions, window_sums

COVER_LEVELS = (0.5, 0.8, 0.9, 0.95, 0.98, 0.99)


def cover_record(
    sku: str,
    model: str,
    cutoff: pd.Timestamp,
    forecast: Forecast,
    test: pd.Series,
    days: int,
    levels: Sequence[float] = COVER_LEVELS,
) -> dict | None:
    """Actual and forecast demand summed over the `days` calendar days after `cutoff` (None when the
    backtest horizon is shorter than the window)."""
    dates = pd.DatetimeIndex(test.index)
    if pd.Timestamp(cutoff) + pd.Timedelta(days=days) > dates[-1]:
        return None
    # Weeks and months the window ends inside count pro rata, in the actuals as in the paths.
    share = window_fractions(dates, cutoff, [days])[0]
    sums = window_sums(forecast.paths, dates, cutoff, days)
    record = {
        "sku": sku,
        "model": model,
        "cutoff": cutoff,
        "window_days": days,
        "actual": float(test.to_numpy() @ share),
        "mean": float(sums.mean()),
    }
    for q, v in zip(levels, np.quantile(sums, levels), strict=True):
        record[f"q{round(q * 100, 6):g}"] = float(v)
    return record
