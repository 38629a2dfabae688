"""Promo and price of the periods ahead: the rows a demand table holds after its last sale, quantity empty.

A planner's export often carries the promo calendar (and list prices) of the coming weeks in the sales table
itself, as rows dated after the last sale with no quantity. They are no sales (`missing.rows_ahead` takes them
out before empty quantities are judged). With `data.future_covariates=known` they are the final forecast's promo
and price on those periods (what `known` reads in a backtest from the days after each cutoff); counted under
`promo_calendar_ahead`, they never enter the panel; a daily table summed to weeks or months (`data.aggregate_to`)
has its calendar summed alike. Otherwise nothing may read them (`carried`: no model learns promo or price), so
they are counted as `ahead_of_the_history` and said.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from forecasting.data.covariates import FUTURE_COLUMNS
from forecasting.data.frequency import aggregate_code, to_period_ends
from forecasting.data.quality import DataQuality

log = logging.getLogger(__name__)


def keep_ahead(ahead: pd.DataFrame, mode: str | None, dq: DataQuality, path: Path) -> pd.DataFrame | None:
    """The rows ahead as the final forecast's promo and price (sku, date, promo and/or price), or None where
    nothing reads them; counted either way."""
    if ahead.empty:
        return None
    columns = [c for c in FUTURE_COLUMNS if c in ahead]
    dates = f"{ahead['date'].min():%Y-%m-%d} to {ahead['date'].max():%Y-%m-%d}"
    if str(mode).strip().lower() == "known" and columns:
        dq.drop(ahead, pd.Series(True, index=ahead.index), "promo_calendar_ahead")
        log.info("%s: %d row(s) ahead of the last sale (%s) read as the final forecast's %s", path, len(ahead),
                 dates, " and ".join(columns))  # fmt: skip
        return ahead[["sku", "date", *columns]]
    dq.drop(ahead, pd.Series(True, index=ahead.index), "ahead_of_the_history")
    use = (
        "set data.future_covariates=known to forecast with their " + " and ".join(columns)
        if columns
        else "they hold no promo or price column (data.columns.promo, data.columns.price)"
    )
    log.warning(
        "%s: %d row(s) dated after the last recorded quantity have none (%s): the periods ahead, set aside and "
        "counted as 'ahead_of_the_history' in data_quality.json, not read as periods without sales; %s",
        path, len(ahead), dates, use,
    )  # fmt: skip
    return None


def ahead_on_periods(ahead: pd.DataFrame, kind: str, week_end_day: int | None) -> pd.DataFrame:
    """The rows ahead dated as the panel's periods are: a month on its last day; a week on `week_end_day` where
    `data.week_ending` names one (the week that holds the date), else as written (weeks dated on their last day);
    days as they are. Never refused: a calendar is no history, and a date that is no period of the forecast is
    simply not read."""
    dates = ahead["date"].dt.normalize()
    if kind == "weekly" and week_end_day is not None:
        dates = dates + pd.to_timedelta((week_end_day - dates.dt.dayofweek) % 7, unit="D")
    return _per_period(ahead.assign(date=to_period_ends(dates, kind)))


def ahead_summed(ahead: pd.DataFrame, kind: str, week_end_day: int | None) -> pd.DataFrame:
    """Daily rows ahead as the weeks or months a daily table is summed to (`data.aggregate_to`), as
    `frequency.aggregate_daily` sums the history."""
    ends = ahead["date"].dt.to_period(aggregate_code(kind, week_end_day)).dt.end_time.dt.normalize()
    return _per_period(ahead.assign(date=ends))


def _per_period(ahead: pd.DataFrame) -> pd.DataFrame:
    """One row per SKU and period: promoted where any of its rows is; the price, their mean."""
    agg = {c: ("max" if c == "promo" else "mean") for c in FUTURE_COLUMNS if c in ahead}
    return ahead.groupby(["sku", "date"], observed=True, sort=True).agg(agg).reset_index()
