"""Level, trend and weekly season of each SKU's forecast, read from the forecast's own mean path.

The published forecast of an ETS or ARIMA champion is its level and trend carried forward with its seasonal
profile on top; the fitted models themselves are not kept after the run. The mean path shows the same three
parts in a planner's units: the level (units a day over the first four weeks), the trend (the change of that
level per week over the horizon) and the season (each weekday's share of the week's average). For any other
model the same reading describes what the forecast does, which is what a planner asks about it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
LEVEL_DAYS = 28


def forecast_components(forecast: pd.DataFrame) -> pd.DataFrame:
    """Per SKU: level (units/day), trend (units/day per week), season (weekday index, 1 = average), peak and
    low weekday. `forecast` has sku, date, mean (one model per SKU, as published)."""
    f = forecast[["sku", "date", "mean"]].sort_values(["sku", "date"], kind="stable")
    f = f.assign(step=f.groupby("sku").cumcount(), weekday=f["date"].dt.dayofweek)
    first = f[f["step"] < LEVEL_DAYS]
    level = first.groupby("sku")["mean"].mean()
    # Trend: least-squares slope of the weekly means over the horizon's whole weeks, per week.
    weeks = f.assign(week=f["step"] // 7)
    weekly = weeks.groupby(["sku", "week"])["mean"].agg(["mean", "size"]).reset_index()
    weekly = weekly[weekly["size"] == 7]
    trend = _slopes(weekly)
    by_day = first.groupby(["sku", "weekday"])["mean"].mean().unstack("weekday")
    season = by_day.div(level.replace(0, np.nan), axis=0)
    out = pd.DataFrame({"level": level, "trend_per_week": trend.reindex(level.index)})
    out["season"] = [
        {WEEKDAYS[d]: _round(season.loc[sku, d]) for d in season.columns if pd.notna(season.loc[sku, d])}
        for sku in out.index
    ]
    out["peak_day"] = season.idxmax(axis=1).map(lambda d: WEEKDAYS[int(d)] if pd.notna(d) else None)
    out["low_day"] = season.idxmin(axis=1).map(lambda d: WEEKDAYS[int(d)] if pd.notna(d) else None)
    out["seasonal_range"] = (season.max(axis=1) - season.min(axis=1)).reindex(out.index)
    return out.rename_axis("sku").reset_index()


def _slopes(weekly: pd.DataFrame) -> pd.Series:
    """Least-squares slope of mean on week per SKU, from sums (one pass for every SKU at once)."""
    x, y = weekly["week"].astype(float), weekly["mean"].astype(float)
    sums = pd.DataFrame({"sku": weekly["sku"], "n": 1.0, "x": x, "y": y, "xy": x * y, "xx": x * x})
    s = sums.groupby("sku").sum()
    spread = s["n"] * s["xx"] - s["x"] ** 2
    return ((s["n"] * s["xy"] - s["x"] * s["y"]) / spread.where(spread > 0)).fillna(0.0)


def _round(value: float) -> float:
    return round(float(value), 3)


def components_sentence(row: pd.Series) -> str:
    """The components in words, e.g. 'Level 4.2 a day, rising 0.1 a week; Saturdays 1.3x, Sundays 0.6x.'"""
    level, trend = float(row["level"]), float(row["trend_per_week"] or 0.0)
    if level <= 0:
        return "The forecast is zero: no demand expected."
    moving = "flat" if abs(trend) < 0.02 * level else f"{'rising' if trend > 0 else 'falling'} {abs(trend):.2g} a week"
    text = f"Level {level:.3g} a day, {moving}"
    if row.get("seasonal_range") is not None and float(row["seasonal_range"] or 0) > 0.1:
        season = row["season"]
        peak, low = row["peak_day"], row["low_day"]
        text += f"; weekly season: {peak} {season[peak]:.2f}x, {low} {season[low]:.2f}x the average day"
    return text + "."
