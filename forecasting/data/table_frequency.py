"""A demand table's frequency, decided SKU by SKU, and its dates put on one grid of period ends.

Pooling every SKU's dates hides what each SKU holds: weekly rows dated Monday for some SKUs and Sunday for
others pool into "daily", and a few SKUs with weekly totals among daily ones vanish in the pool. So each SKU
with a few dates says what its dates look like (one weekday: weekly; first or last days of months: monthly;
else daily), the table is what most SKUs are (or `data.frequency`), and every SKU must fit it:

- daily: a SKU with a weekly or monthly shape (6+ dates) stops the run naming it (its totals would read as one
  sale a week or month); `data.frequency=D` says such SKUs really sell on one day only;
- weekly: every date is the last day of its week, all on one weekday; dates on several weekdays stop the run
  naming them, unless `data.week_ending` names the weekday weeks end on: each date then counts in the week
  ending that day that holds it (a Monday that starts a Monday-Sunday week goes to its Sunday);
- monthly: every date is the first or the last day of its month (mixing both is fine) and is moved to its
  month's last day; with `data.frequency=M` any day counts in its calendar month.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from forecasting.data.advice import override
from forecasting.data.codes import shown_codes
from forecasting.data.frequency import WEEKDAYS, frequency_kind
from forecasting.data.quality import DataQuality, row_list
from forecasting.errors import InputError

MIN_VOTE = 3  # distinct dates before a SKU's shape counts toward the table's frequency
MIN_SHAPED = 6  # ... and before a weekly or monthly shape among daily SKUs is taken for one
SHAPE_SHARE = 0.8  # share of a SKU's dates on one weekday (or on month boundaries) that makes it weekly (monthly)


def resolve_frequency(
    frame: pd.DataFrame, path: Path, column: str, requested=None, week_ending=None, dq: DataQuality | None = None
) -> tuple[str, pd.DataFrame]:
    """('daily' | 'weekly' | 'monthly', `frame` with each date on its period's last day)."""
    kind = frequency_kind(requested)
    explicit = kind is not None  # 'auto' (the config's default) and null are not a choice
    end_day = week_end_day(week_ending)
    shapes = _shapes(frame)
    if kind is None:
        kind = _vote(shapes, frame["date"], path, column)
    dq = dq if dq is not None else DataQuality(source=str(path))
    if kind == "daily":
        _check_daily(frame, shapes, path, column, explicit=explicit)
        return kind, frame
    if kind == "weekly":
        return kind, _weeks(frame, shapes, path, column, end_day, dq)
    return kind, _months(frame, path, column, explicit=explicit, dq=dq)


def week_end_day(value) -> int | None:
    """The weekday number (Monday 0) `data.week_ending` names, or None where it is unset."""
    if value is None or str(value).strip().lower() in ("", "none", "null"):
        return None
    name = str(value).strip().lower()
    match = [i for i, day in enumerate(WEEKDAYS) if day.startswith(name[:3]) and len(name) >= 3]
    if not match:
        raise InputError(f"data.week_ending is '{value}'; use a weekday, e.g. data.week_ending=sunday, or null.")
    return match[0]


def _shapes(frame: pd.DataFrame) -> pd.DataFrame:
    """Per SKU: distinct dates, how far apart they mostly are, the share on the most common weekday and on month
    boundaries, and the shape they make. Shares, not all-or-nothing: one mistyped date must not turn a weekly
    SKU daily, and the message about the mistyped date is the useful one."""
    # In integer arrays (SKU codes, day numbers): a table of 30,000 SKUs x 2 years is 22 million rows, and this
    # runs on all of them before anything is dropped.
    codes, skus = pd.factorize(frame["sku"])
    known = codes >= 0
    code = codes[known]
    day = frame["date"].to_numpy()[known].astype("datetime64[D]").astype(np.int64)
    key = code * (int(day.max() - day.min()) + 1) + (day - day.min()) if len(day) else day
    if len(key) and not (key[1:] >= key[:-1]).all():  # an export sorted by SKU and date needs no sort
        order = np.argsort(key, kind="stable")
        code, day = code[order], day[order]
    first = np.ones(len(code), dtype=bool)
    first[1:] = (code[1:] != code[:-1]) | (day[1:] != day[:-1])
    code, day = code[first], day[first]
    k = len(skus)
    dates = np.bincount(code, minlength=k)
    per_weekday = np.bincount(code * 7 + (day + 3) % 7, minlength=7 * k).reshape(k, 7)  # 1970-01-01: a Thursday
    as_date = day.astype("datetime64[D]")
    month = as_date.astype("datetime64[M]")
    dom = (as_date - month).astype(np.int64)
    boundary = (dom == 0) | ((as_date + 1).astype("datetime64[M]") != month)
    per_dom = np.bincount(code * 31 + dom, minlength=31 * k).reshape(k, 31)
    same = code[1:] == code[:-1]
    gap, gap_code = np.diff(day)[same], code[1:][same]
    gaps = np.bincount(gap_code, minlength=k)
    with np.errstate(invalid="ignore", divide="ignore"):
        shapes = pd.DataFrame(
            {
                "dates": dates,
                "weekday": per_weekday.argmax(axis=1),
                "weekday_share": per_weekday.max(axis=1) / dates,
                "boundary_share": np.bincount(code, weights=boundary, minlength=k) / dates,
                "day_of_month_share": per_dom.max(axis=1) / dates,
                # Where the median gap lies, without sorting each SKU's gaps: the share at least a week or a
                # month (28 days) apart.
                "week_gaps": np.bincount(gap_code[gap >= 6], minlength=k) / gaps,
                "month_gaps": np.bincount(gap_code[gap >= 28], minlength=k) / gaps,
            },
            index=pd.Index(skus, name="sku"),
        )
    weeks, months = shapes["week_gaps"] >= 0.5, shapes["month_gaps"] >= 0.5
    shapes["shape"] = np.select(
        [
            # Months dated on one day of the month that is no boundary (the 15th) are still months: the table is
            # monthly, and `_months` asks for data.frequency=M before it counts them in their calendar months.
            months & (shapes[["boundary_share", "day_of_month_share"]].max(axis=1) >= SHAPE_SHARE),
            weeks & ~months & (shapes["weekday_share"] >= SHAPE_SHARE),
        ],
        ["monthly", "weekly"],
        "daily",
    )
    return shapes


def _vote(shapes: pd.DataFrame, dates: pd.Series, path: Path, column: str) -> str:
    voters = shapes[shapes["dates"] >= MIN_VOTE]
    distinct = pd.DatetimeIndex(pd.unique(dates.to_numpy())).sort_values()
    if voters.empty:
        gaps = np.diff(distinct.asi8) // 86_400_000_000_000
        typical = int(np.median(gaps)) if len(gaps) else 1
        kind = "daily" if typical < 7 else "weekly" if typical < 28 else "monthly"
    else:
        # Most SKUs; on a tie the shape with more rows (daily SKUs among as many weekly ones hold 7x the rows).
        votes = voters.groupby("shape")["dates"].agg(["size", "sum"]).sort_values(["size", "sum"], ascending=False)
        kind = str(votes.index[0])
    if kind == "monthly":  # quarters dated on month starts look monthly SKU by SKU
        months = distinct.to_period("M").unique()
        typical = float(np.median(np.diff(months.asi8))) if len(months) > 2 else 1.0
        if typical > 1:
            raise InputError(
                f"{path}: column '{column}' has dates {typical:.0f} months apart (median), e.g. "
                f"{distinct[0]:%Y-%m-%d} then {distinct[1]:%Y-%m-%d}; "
                "the toolkit forecasts daily, weekly or monthly demand: aggregate the table to one of those."
            )
    return kind


def _check_daily(frame: pd.DataFrame, shapes: pd.DataFrame, path: Path, column: str, explicit: bool) -> None:
    if explicit:
        # The user says days; only a table with no daily SKU at all is surely not daily.
        if len(shapes) and (shapes["shape"] != "daily").all() and (shapes["dates"] >= MIN_VOTE).any():
            kind = shapes["shape"].value_counts().idxmax()
            raise InputError(
                f"{path}: column '{column}' is set to daily (data.frequency), but every SKU has one row a "
                f"{kind[:-2]}; set data.frequency={kind[0].upper()} (or auto), or supply one row per SKU and day."
            )
        return
    odd = shapes[(shapes["shape"] != "daily") & (shapes["dates"] >= MIN_SHAPED)]
    if odd.empty:
        return
    kind = odd["shape"].value_counts().idxmax()
    skus = odd.index[odd["shape"] == kind]
    if kind == "weekly":
        what = f"one row a week (e.g. every {WEEKDAYS[int(odd.loc[skus[0], 'weekday'])].title()})"
    else:
        what = "one row a month"
    rows = frame["sku"].isin(skus)
    raise InputError(
        f"{path}: column '{column}' has daily rows for most SKUs, but {len(skus)} SKU(s) have {what}: "
        f"{shown_codes(skus)} (row(s) {row_list(rows)}), whose {kind} totals would read as single days' sales; "
        "give those SKUs one row per day (or remove them), or set data.frequency=D if they really sell on "
        "that one day only."
    )


def _weeks(
    frame: pd.DataFrame, shapes: pd.DataFrame, path: Path, column: str, end_day: int | None, dq: DataQuality
) -> pd.DataFrame:
    weekday = frame["date"].dt.dayofweek
    if end_day is not None:
        ahead = (end_day - weekday) % 7
        moved = int((ahead > 0).sum())
        if moved:
            dq.repair(f"weekly_dates_moved_to_week_ending_{WEEKDAYS[end_day]}", moved)
        return frame.assign(date=frame["date"] + pd.to_timedelta(ahead, unit="D"))
    if weekday.nunique() == 1:
        return frame
    several = shapes.index[(shapes["shape"] == "daily") & (shapes["dates"] >= MIN_VOTE)]
    if len(several):
        rows = frame["sku"].isin(several)
        raise InputError(
            f"{path}: column '{column}' holds weekly rows, but {len(several)} SKU(s) have rows on several weekdays, "
            f"as daily data does: {shown_codes(several)} (row(s) {row_list(rows)}); give them one row per week "
            "dated on its last day, or remove them."
        )
    counts = weekday.value_counts()
    parts = []
    for i, (day, n) in enumerate(counts.items()):
        on_day = weekday == day
        rows = f", row(s) {row_list(on_day)}" if i else ""  # the odd ones out, where a typo hides
        skus = frame.loc[on_day, "sku"].unique()
        parts.append(f"{n} row(s) on {WEEKDAYS[int(day)].title()}s (SKU(s) {shown_codes(skus, 3)}{rows})")
    days = sorted(int(d) for d in counts.index)
    # Two neighbouring weekdays (Sunday and Monday) are most likely weeks' last and first days: suggest the
    # earlier as the week's end, so the later day, a week's start, moves to the end of the week it starts.
    if len(days) == 2 and (days[1] - days[0]) in (1, 6):
        ending = days[0] if days[1] - days[0] == 1 else days[1]
    else:
        ending = int(counts.index[0])
    moved = frame["date"] + pd.to_timedelta((ending - weekday) % 7, unit="D")
    if moved.groupby(frame["sku"]).apply(lambda d: d.duplicated().any()).any():
        # Counting the odd dates in their weeks would give a SKU two rows for one week: they are typos, not
        # another convention, so no setting helps.
        fix = f"date those rows on a {WEEKDAYS[int(counts.index[0])].title()}, as the others"
    else:
        fix = (
            f"date every week on its last day, or set {override('data.week_ending', WEEKDAYS[ending])} to count "
            "each date in the week ending that day that holds it (a date that starts its week then moves to its end)"
        )
    raise InputError(
        f"{path}: column '{column}' dates its weekly rows on {len(counts)} different weekdays: {'; '.join(parts)}; "
        f"{fix}."
    )


def _months(frame: pd.DataFrame, path: Path, column: str, explicit: bool, dq: DataQuality) -> pd.DataFrame:
    dates = frame["date"]
    starts, ends = dates.dt.is_month_start, dates.dt.is_month_end
    off = ~(starts | ends)
    if off.any() and not explicit:
        row = frame.loc[off].iloc[0]
        skus = shown_codes(frame.loc[off, "sku"].unique())
        raise InputError(
            f"{path}: column '{column}' holds monthly rows, but {int(off.sum())} date(s) are neither the first nor "
            f"the last day of their month, e.g. {row['date']:%Y-%m-%d}, in SKU(s) {skus} (row(s) {row_list(off)}); "
            "date every month on its first or last day, or set data.frequency=M to count each date in its "
            "calendar month."
        )
    moved = dates + pd.offsets.MonthEnd(0)
    if (starts & ~ends).any() and (ends & ~starts).any():
        dq.notes.setdefault("read", {})["months"] = (
            f"column '{column}' dates {int((starts & ~ends).sum())} month(s) on the first day and "
            f"{int((ends & ~starts).sum())} on the last; each is the month it falls in, dated on its last day"
        )
    if explicit and off.any():
        dq.notes.setdefault("read", {})["months"] = (
            f"{int(off.sum())} date(s) in column '{column}' fall inside their month; each counts in its calendar month"
        )
    return frame.assign(date=moved)
