"""Dates no sales history holds, and periods that have not ended.

Spreadsheets and ERPs write placeholders for an empty date: Excel's day 0 (1899-12-30), 1900-01-01, the Unix
epoch (1970-01-01), SQL Server's 1753-01-01. Taken as sales they stretch a table over a century (a daily
calendar then finds every weekday mostly empty and closes it). A date before 1900, or a few rows decades before
the rest, stops the run naming the rows, with `data.start` to ignore them.

A week or month whose end lies after the data's cut-off (`data.end`, else `data.as_of`, else today) has not
ended: its total is part of a period, and read as a whole one it is a drop in demand. Such rows are dropped and
counted (`incomplete_period`), or stop the run with `data.incomplete_period=error`. Rows whose period starts
after the cut-off are dated in the future: an error, as for days.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from forecasting.data.advice import setting_choice
from forecasting.data.frequency import WEEKDAYS
from forecasting.data.quality import DataQuality, row_list
from forecasting.errors import InputError

EARLIEST = pd.Timestamp("1900-01-01")
ISOLATION_YEARS = 10  # a gap this long before the bulk of the dates marks the dates before it as placeholders
ISOLATED_SHARE = 0.05  # ... when they are at most this share of the rows
INCOMPLETE_ACTIONS = ("drop", "error")
# A last week whose total across SKUs is under this share of the median of the weeks before it, while a week that
# starts on its date would still be running at the cut-off: most likely a partial week read as a whole one.
RUNNING_WEEK_SHARE = 0.6
RUNNING_WEEK_BEFORE = 8  # the weeks it is compared with


def refuse_placeholder_dates(frame: pd.DataFrame, path: Path, column: str) -> None:
    dates = frame["date"]
    bad = dates < EARLIEST
    distinct = pd.DatetimeIndex(pd.unique(dates[~bad].dt.normalize().to_numpy())).sort_values()
    if len(distinct) > 1:
        gaps = distinct[1:] - distinct[:-1]
        wide = [i for i, g in enumerate(gaps) if g > pd.Timedelta(days=365 * ISOLATION_YEARS)]
        if wide:
            before = dates < distinct[wide[-1] + 1]
            if before.mean() <= ISOLATED_SHARE:
                bad = bad | before
    if not bad.any():
        return
    rest = dates[~bad]
    first_real = rest.min()
    shown = ", ".join(pd.DatetimeIndex(dates[bad].dt.normalize().unique())[:3].strftime("%Y-%m-%d"))
    raise InputError(
        f"{path}: column '{column}' has {int(bad.sum())} row(s) dated {shown}, long before the other rows "
        f"({first_real:%Y-%m-%d} to {rest.max():%Y-%m-%d}), at row(s) {row_list(bad)}: placeholders for an empty "
        f"date (Excel writes 1899-12-30 for day 0); fix or remove those rows, or set data.start={first_real:%Y-%m-%d} "
        "to ignore rows dated before it."
    )


def note_running_last_week(
    frame: pd.DataFrame, kind: str, limit: pd.Timestamp, source: str, dq: DataQuality
) -> str | None:
    """A weekly table's last week, where its dates may mark each week's first day: then the week dated within 6
    days before the cut-off is still running, and its low total reads as a drop in demand. Nothing in the dates
    tells a week's first day from its last, so it is said (a warning and a data-quality note, with the setting
    that reads the dates as week starts) where the last week sold well under the weeks before it; the message,
    or None."""
    if kind != "weekly" or frame.empty:
        return None
    last = frame["date"].max()
    if not last <= limit < last + pd.Timedelta(days=6):
        return None
    totals = frame.groupby("date")["quantity"].sum()
    before = totals[totals.index < last].tail(RUNNING_WEEK_BEFORE)
    if len(before) < RUNNING_WEEK_BEFORE // 2 or before.median() <= 0:
        return None
    share = float(totals[last] / before.median())
    if share >= RUNNING_WEEK_SHARE:
        return None
    ends = WEEKDAYS[(last.dayofweek - 1) % 7]
    message = (
        f"the last week in the data, dated {last:%Y-%m-%d} (a {WEEKDAYS[last.dayofweek]}), sold {share:.0%} of "
        f"the median of the {len(before)} weeks before it: if the table dates each week on its first day, that week "
        f"is still running ({source}: {limit:%Y-%m-%d}) and its part-week total reads as a drop in demand; set "
        f"data.week_ending={ends} to read each date as the start of the week ending {ends}, which leaves that week "
        "out (counted)"
    )
    dq.notes["last_week"] = message
    return message


def cut_off(end: pd.Timestamp | None, as_of: pd.Timestamp | None) -> tuple[pd.Timestamp, str]:
    """The last day the data can hold, and the setting it comes from (for messages)."""
    if end is not None:
        return end, "data.end"
    if as_of is not None:
        return as_of, "data.as_of"
    return pd.Timestamp.today().normalize(), "today"


def drop_incomplete_periods(
    frame: pd.DataFrame, kind: str, limit: pd.Timestamp, source: str, action: str | None, dq: DataQuality,
    path: Path, column: str,
) -> pd.DataFrame:  # fmt: skip
    """Rows of weeks or months (dated on their last day) that end after `limit`: dropped and counted, or refused."""
    action = setting_choice(action, "incomplete_period", INCOMPLETE_ACTIONS)
    if kind == "daily":
        return frame
    ends = frame["date"]
    starts = ends - pd.Timedelta(days=6) if kind == "weekly" else ends - pd.offsets.MonthBegin(1)
    # A period that starts after the cut-off is no partial period: it is dated in the future (refused later).
    running = (ends > limit) & (starts <= limit)
    if not running.any():
        return frame
    if action == "error":
        raise InputError(
            f"{path}: column '{column}' has {int(running.sum())} row(s) for the {kind[:-2]} that ends "
            f"{ends[running].max():%Y-%m-%d}, after the data's cut-off ({source}: {limit:%Y-%m-%d}), at row(s) "
            f"{row_list(running)}: a period not yet over; remove them, or set data.incomplete_period=drop to "
            "leave them out (counted in data_quality.json)."
        )
    return dq.drop(frame, running, "incomplete_period")
