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
from forecasting.data.frequency import aggregate_code
from forecasting.data.quality import DataQuality
from forecasting.data.table_frequency import resolve_frequency

log = logging.getLogger(__name__)

FREQUENCY_CODES = {"daily": "D", "weekly": "W", "monthly": "M"}


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


def ahead_on_periods(ahead: pd.DataFrame, kind: str, week_ending, path: Path, column: str) -> pd.DataFrame:
    """The rows ahead dated as the panel's periods are (each week or month on its last day), by the same rule."""
    scratch = DataQuality(source=str(path))  # the table's own repairs are counted once, on its sales rows
    return resolve_frequency(ahead, path, column, FREQUENCY_CODES[kind], week_ending, scratch)[1]


def ahead_summed(ahead: pd.DataFrame, kind: str, week_end_day: int | None) -> pd.DataFrame:
    """Daily rows ahead as the weeks or months a daily table is summed to (`data.aggregate_to`), as
    `frequency.aggregate_daily` sums the history: promoted where any day is; the price, the days' mean."""
    ends = ahead["date"].dt.to_period(aggregate_code(kind, week_end_day)).dt.end_time.dt.normalize()
    agg = {c: ("max" if c == "promo" else "mean") for c in FUTURE_COLUMNS if c in ahead}
    return ahead.assign(date=ends).groupby(["sku", "date"], observed=True, sort=True).agg(agg).reset_index()
