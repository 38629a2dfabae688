"""A source date column as naive local datetimes, whatever form the export gave it.

Sales days are business days in the shop's own time, so a UTC offset or time zone is dropped and each value
keeps its local wall-clock date (recorded in the notes). Integer dates are read only where their unit is
unambiguous (YYYYMMDD, YYYYMM months, Unix seconds or milliseconds, Excel's day numbers from 1990 on); anything
else raises `InputError` with a bad value. Text that holds only numbers ('20240105', '45292') is read as those
numbers. ISO week labels ('2023-W47') are read as the week's Sunday.

Day and month order ('01/02/2022': 1 February or January 2?) is decided by the whole column, never by its first
value alone: the order every value reads in; where both do (no day above 12), the order in which one field never
changes, which is the day of a monthly table dated on a fixed day ('01/02/2022', '01/03/2022', ...). Otherwise the
run stops naming both formats. Read month first, a British monthly table dated on the 1st became January 1-12 of
each year.
"""

from __future__ import annotations

import re
import warnings

import numpy as np
import pandas as pd
from pandas.tseries.api import guess_datetime_format

from forecasting.data.advice import override
from forecasting.data.quality import row_list
from forecasting.errors import InputError

# A trailing UTC offset after a time of day: 'T00:00:00+01:00', ' 10:30Z', '10:30:00.5 +0200'.
OFFSET = re.compile(r"(\d{1,2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?)\s*(?:Z|UTC|GMT|[+-]\d{2}(?::?\d{2})?)$")
# A time of day after the date ('2024-01-05 13:45', '05.01.2024 13:45:10.5', '1/6/2024 12:00:00 AM',
# '2024-01-05T00:00:00'): split off and read apart, so that a column whose exporter wrote midnight for some rows
# and no time for others is one format, and the date's own format (day-month order) is decided on dates alone.
TIME_OF_DAY = re.compile(r"(?:T|\s+)(\d{1,2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?\s*([AaPp]\.?[Mm]\.?)?$")
# A weekday name before the date ('Mon, 05 Jan 2024', 'Monday, January 5, 2024'): it says nothing the date does not.
WEEKDAY_FIRST = re.compile(r"^(?:mon|tue|wed|thu|fri|sat|sun)[a-z]*\.?,?\s+", re.IGNORECASE)
YYYYMMDD = (19000101, 21001231)
YYYYMM = (190001, 210012)
# Epoch units whose plausible ranges (dates from 1973 to 2103) cannot be mistaken for each other.
EPOCH_UNITS = {"s": (1e8, 4.2e9), "ms": (1e11, 4.2e12)}
# An ISO week label: year, week number, optional weekday ('2023-W47', '2023W47-3', '2023-w47').
ISO_WEEK = r"(\d{4})-?[Ww](\d{2})(?:-?([1-7]))?"
# A year and a calendar week ('2024-37', '2024/37', '2024 37', '202437': an ERP's week key, SAP's CALWEEK), read
# as an ISO week where some week number is above 12 (so no month) and none above 53; all of 1-12 is a month.
YEAR_WEEK = r"((?:19|20)\d{2})[-/. ]?(\d{1,2})"
# Month labels pandas guesses no format for: a month name and a two-digit year ('Jan-23', Excel's "mmm-yy"), a month
# number and a four-digit year with a dot ('01.2023'); ('Sep-2023' and 'January 2023' pandas reads itself).
MONTH_LABELS = (
    (r"[A-Za-z]{3}([-\s/.])\d{2}", "%b{sep}%y"),
    (r"[A-Za-z]{4,9}([-\s/.])\d{2}", "%B{sep}%y"),
    (r"\d{1,2}(\.)\d{4}", "%m{sep}%Y"),
    (r"\d{4}(\.)\d{1,2}", "%Y{sep}%m"),
)
# Text that is a number ('20240105', '1704412800', '45292.5'), read as one unless it is a month label ('01.2024').
NUMBER_TEXT = r"[+-]?\d+(?:\.\d*)?"
# Day and month with a two-digit year, no time: '01/02/22', '1.2.22'.
SHORT_YEAR = re.compile(r"\d{1,2}([/.-])\d{1,2}\1\d{2}")
DIRECTIVE = re.compile(r"%[-#]?.")  # '%-d' / '%#d' are platform flags strptime itself refuses: reported as such
# What datetime.strptime (and so pandas) reads.
STRPTIME = {f"%{c}" for c in "aAwdbBmyYHIpMSfzjUWcxXGuVZ%"}
EPOCH_DAYS = (7305, 47482)  # 1990 to 2099 counted in days: also Excel's day numbers, so never guessed
# Excel's day numbers (days since 1899-12-30, a fraction the time of day) from 1990-01-01 to a year after today:
# read as days since 1970 the same numbers are 2060 or later, no sales history, so the reading is unambiguous.
EXCEL_ORIGIN = pd.Timestamp("1899-12-30")
EXCEL_FIRST = 32874  # 1990-01-01


def parse_dates(values: pd.Series, path, column: str, date_format: str | None, notes: dict) -> pd.Series:
    """Parse `values` to datetime64 (time of day kept), noting in `notes` what had to be interpreted."""
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        notes["timezone"] = (
            f"column '{column}' was in time zone {values.dt.tz}; each date kept its local date and time there"
        )
        return values.dt.tz_localize(None).astype("datetime64[ns]")
    if pd.api.types.is_datetime64_any_dtype(values):
        return values.astype("datetime64[ns]")
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        known = values.dropna()
        if not bool((known == known.round()).all()):
            return _from_numbers(values, path, column, notes)
        values = values.astype("Int64")  # whole numbers as their digits: a week key 202437 is read as text is
    # Order lines repeat their dates: each distinct value is read once (a tenth of the rows, or fewer). A value
    # that stops the read is read again over every row, so that the message gives the file's row numbers.
    codes, uniques = pd.factorize(values)
    distinct = pd.Series(uniques, dtype="string").str.strip()
    if len(distinct) == len(values):
        return _parse_text(distinct.set_axis(values.index), path, column, date_format, notes)
    try:
        parsed = _parse_text(distinct, path, column, date_format, notes, np.bincount(codes[codes >= 0]))
    except InputError:
        return _parse_text(values.astype("string").str.strip(), path, column, date_format, notes)
    out = parsed.to_numpy().take(codes)
    out[codes < 0] = np.datetime64("NaT")
    return pd.Series(out, index=values.index, dtype="datetime64[ns]")


def _parse_text(
    text: pd.Series, path, column: str, date_format: str | None, notes: dict, counts: np.ndarray | None = None
) -> pd.Series:
    """The text path of parse_dates; `counts`: the rows each value stands for (None: one each)."""
    counts = np.ones(len(text), dtype=int) if counts is None else counts
    weeks = _year_weeks(text, path, column) if date_format is None else None
    written = text
    if weeks is not None:
        text = weeks
    if date_format is None and _number_text(text):
        return _from_numbers(pd.to_numeric(text.where(text != "")), path, column, notes)
    local = text.str.replace(OFFSET, r"\1", regex=True)
    offsets = (local != text).fillna(False)
    if offsets.any():
        notes["timezone"] = (
            f"{int(counts[offsets.to_numpy()].sum())} date(s) in column '{column}' carried a UTC offset (e.g. "
            f"'{text[offsets].iloc[0]}'); "
            "each kept its own local date and time and the offset was dropped"
        )
    times = None
    if date_format is None:
        local = local.str.replace(WEEKDAY_FIRST, "", regex=True)
    if date_format is None or not re.search(r"%[HIMSfpTXc]", date_format):
        local, times = _time_of_day(local)  # a format of the date alone (as messages print) reads dated times too
    local, read_format = _iso_weeks(local, date_format, path, column, notes)
    if weeks is not None:
        notes["dates"] = (
            f"year and week numbers in column '{column}' (e.g. '{_written(written).iloc[0]}') read "
            "as ISO weeks, each dated on its last day (Sunday)"
        )
    if read_format is None:
        read_format = _month_label(local) or _day_month_order(local, path, column, notes)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pandas warns when it falls back to parsing value by value
            parsed = pd.to_datetime(local, format=read_format, errors="coerce")
    except ValueError as exc:  # a format pandas cannot use at all (not a value that does not fit it)
        raise InputError(_bad_format_message(date_format, exc)) from None
    if not pd.api.types.is_datetime64_any_dtype(parsed):
        raise InputError(
            f"{path}: column '{column}' mixes time zones that cannot be read as one column (e.g. "
            f"'{text.dropna().iloc[0]}'); write the dates without time zones."
        )
    bad = parsed.isna() & local.notna() & (local != "")
    if bad.any():
        raise InputError(_bad_dates_message(local, bad, path, column, date_format))
    parsed = parsed.astype("datetime64[ns]")
    return parsed if times is None else parsed + times


def _time_of_day(text: pd.Series) -> tuple[pd.Series, pd.Series | None]:
    """The dates without their time of day (TIME_OF_DAY), and the times as timedeltas (0 where a value has none);
    None where no value has one."""
    parts = text.str.extract(TIME_OF_DAY)
    has = parts[0].notna()
    if not has.any():
        return text, None
    hours = pd.to_numeric(parts[0]).fillna(0)
    half = parts[4].fillna("").str.replace(".", "", regex=False).str.lower()
    hours = hours.where(half != "pm", hours % 12 + 12).where(half != "am", hours % 12)
    fraction = pd.to_numeric("0." + parts[3].fillna("0"))
    seconds = hours * 3600 + pd.to_numeric(parts[1]).fillna(0) * 60 + pd.to_numeric(parts[2]).fillna(0) + fraction
    return text.str.replace(TIME_OF_DAY, "", regex=True), pd.to_timedelta(seconds.round(6), unit="s")


def _year_weeks(text: pd.Series, path, column: str) -> pd.Series | None:
    """Year-and-week values (YEAR_WEEK) as ISO week labels ('2024-W37'); None where the column is not one."""
    known = _written(text)
    if not len(known) or not known.str.fullmatch(YEAR_WEEK).all():
        return None
    week = known.str.extract(YEAR_WEEK)[1].astype(int)
    if not (week.between(1, 53).all() and (week > 12).any()):
        return None
    parts = text.str.extract(YEAR_WEEK)
    _refuse_weeks_iso_lacks(parts, text, path, column)
    return (parts[0] + "-W" + parts[1].str.zfill(2)).where(text.str.fullmatch(YEAR_WEEK).fillna(False), text)


def _number_text(text: pd.Series) -> bool:
    """Whether every written value is a number ('20240105', '45292.5') and the column no month label ('01.2024')."""
    written = _written(text)
    if not len(written) or not re.fullmatch(NUMBER_TEXT, str(written.iloc[0])):
        return False  # the first value decides for most columns without reading them all
    return bool(written.str.fullmatch(NUMBER_TEXT).all()) and _month_label(text) is None


def _written(text: pd.Series) -> pd.Series:
    """The values of a date column that hold something (neither missing nor empty)."""
    return text[text.notna() & (text != "")]


def _month_label(text: pd.Series) -> str | None:
    """The format of month labels pandas guesses none for ('Jan-23', Excel's month format; 'January 2023' reads
    already; '01.2023'), taken from the first value; None for anything else. Each is the month's first day."""
    known = _written(text)
    if not len(known):
        return None
    first = str(known.iloc[0])
    for pattern, fmt in MONTH_LABELS:
        found = re.fullmatch(pattern, first)
        if found:
            return fmt.format(sep=found.group(1))
    return None


def _day_month_order(text: pd.Series, path, column: str, notes: dict) -> str | None:
    """The format of a column of day-month or month-day dates, decided by every value (see the module's
    docstring); None where the first value is not such a date (pandas then infers the format)."""
    known = _written(text)
    if not len(known):
        return None
    first = known.iloc[0]
    known = pd.Series(known.unique())  # order lines repeat their dates: each read once
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pandas warns of the day-first reading it is asked to guess
        month_first, day_first = guess_datetime_format(first), guess_datetime_format(first, dayfirst=True)
        short = SHORT_YEAR.fullmatch(str(first))
        if month_first is None and short:  # '01/02/22': pandas guesses no format and reads each value alone
            sep = short.group(1)
            month_first, day_first = f"%m{sep}%d{sep}%y", f"%d{sep}%m{sep}%y"
        if not month_first or not month_first.startswith("%m") or month_first == day_first:
            return None  # year first (ISO), a month name, or a value only one order reads
        readings = {f: pd.to_datetime(known, format=f, errors="coerce") for f in (month_first, day_first)}
    whole = [f for f, parsed in readings.items() if parsed.notna().all()]
    if len(whole) == 1:
        chosen = whole[0]
    elif not whole:
        return month_first  # neither reads every value: the error names the values that do not fit
    else:
        fixed = [f for f, parsed in readings.items() if parsed.dt.day.nunique() == 1 and parsed.nunique() > 1]
        if len(fixed) != 1:
            example = readings[month_first].iloc[0], readings[day_first].iloc[0]
            raise InputError(
                f"{path}: column '{column}' reads both month first ('{first}' as {example[0]:%Y-%m-%d}) and day "
                f"first (as {example[1]:%Y-%m-%d}), and no value tells which; set "
                f"{override('data.date_format', day_first)} or {override('data.date_format', month_first)}."
            )
        chosen = fixed[0]
    if chosen == day_first:
        notes["date_order"] = f"column '{column}' read day first ('{first}' as {readings[chosen].iloc[0]:%Y-%m-%d})"
    return chosen


def _iso_weeks(
    text: pd.Series, date_format: str | None, path, column: str, notes: dict
) -> tuple[pd.Series, str | None]:
    """ISO week labels ('2023-W47', '2023W47', '2023-W47-3') as the week's Sunday (its last day; a weekday
    given in the label is kept), and a `%G`/`%V` format without a weekday given the Sunday likewise: pandas
    parses ISO weeks only with a weekday."""
    if date_format is None:
        known = _written(text)
        if len(known) == 0 or not known.str.fullmatch(ISO_WEEK).all():
            return text, None
        parts = text.str.extract(ISO_WEEK)
        _refuse_weeks_iso_lacks(parts, text, path, column)
        notes["dates"] = (
            f"ISO week labels in column '{column}' (e.g. '{known.iloc[0]}') read as each week's last day (Sunday), "
            "or as the weekday the label gives"
        )
        return parts[0] + "-" + parts[1] + "-" + parts[2].fillna("7"), "%G-%V-%u"
    _check_directives(date_format)
    iso = {"%G", "%V"} & set(DIRECTIVE.findall(date_format))
    if iso and not {"%u", "%a", "%A", "%w"} & set(DIRECTIVE.findall(date_format)):
        notes["dates"] = f"ISO weeks in column '{column}' read as each week's last day (Sunday)"
        return text + "|7", date_format + "|%u"
    return text, date_format


def _refuse_weeks_iso_lacks(parts: pd.DataFrame, text: pd.Series, path, column: str) -> None:
    """A week 53 in a year of 52 ISO weeks: pandas would read '2024-W53' as 2025's first week, which the file may
    hold too; the file numbers its weeks some other way (US weeks from Sunday, weeks from January 1)."""
    year, week = pd.to_numeric(parts[0]), pd.to_numeric(parts[1])
    last = year.map(lambda y: pd.Timestamp(int(y), 12, 28).isocalendar().week, na_action="ignore")
    bad = (week > last).fillna(False)
    if bad.any():
        raise InputError(
            f"{path}: column '{column}' has week {int(week[bad].iloc[0])} of {int(year[bad].iloc[0])} (e.g. "
            f"'{text[bad].iloc[0]}' at row(s) {row_list(bad)}), which ISO 8601 weeks do not have (that year has "
            f"{int(last[bad].iloc[0])}), so the file numbers its weeks another way; write each week's last day as "
            "YYYY-MM-DD instead."
        )


def _check_directives(date_format: str) -> None:
    unknown = [d for d in DIRECTIVE.findall(date_format) if d not in STRPTIME]
    if unknown:
        raise InputError(
            f"data.date_format='{date_format}' uses {unknown[0]}, which is not a date directive pandas reads; "
            "use strptime directives such as %Y %m %d %b %G %V, e.g. "
            f"{override('data.date_format', '%d/%m/%Y')}, or data.date_format=null to let the dates be read as written."
        )


def _bad_format_message(date_format: str | None, exc: ValueError) -> str:
    reason = str(exc).split(". ")[0].split("\n")[0].rstrip(".")
    return (
        f"data.date_format='{date_format}' cannot read dates ({reason}); correct it (strptime directives, e.g. "
        f"{override('data.date_format', '%d/%m/%Y')}), or set data.date_format=null to let the dates be read as "
        "written."
    )


def _bad_dates_message(text: pd.Series, bad: pd.Series, path, column: str, date_format: str | None) -> str:
    example = text[bad].iloc[0]
    first = _written(text).iloc[0]
    expected = date_format or guess_datetime_format(first)
    # The bad value's format in the column's own day-month order: a year-first '2024-01-06 10:00' guessed day
    # first would print '%Y-%d-%m ...', a setting that misreads every date.
    day_first = expected is None or ("%d" in expected and expected.index("%d") < expected.find("%m"))
    found = guess_datetime_format(example, dayfirst=day_first)
    if expected and found and found != expected:
        return (
            f"{path}: column '{column}' mixes date formats: it reads as '{expected}' (e.g. '{first}') but "
            f"{int(bad.sum())} value(s) do not, e.g. '{example}' at row(s) {row_list(bad)}; write every date in one "
            f"format and set data.date_format to it (e.g. {override('data.date_format', found)})."
        )
    try:
        year = pd.Timestamp(example).year  # pandas holds such a date alone, not in a datetime64[ns] column
    except (ValueError, OverflowError):
        year = None
    # A placeholder such as 9999-12-31 or 0001-01-01 (written with four digits: 'Sept-23' is no year 23).
    if year is not None and not 1677 < year < 2262 and re.search(r"\d{4}", str(example)):
        return (
            f"{path}: column '{column}' has {int(bad.sum())} date(s) outside the years 1677-2262, e.g. '{example}' at "
            f"row(s) {row_list(bad)}: placeholders for a missing date, not sales; fix or remove those rows."
        )
    return (
        f"{path}: column '{column}' has {int(bad.sum())} unparseable date(s) (e.g. '{example}' at row(s) "
        f"{row_list(bad)}); fix those values or set data.date_format to the file's format."
    )


def _from_numbers(values: pd.Series, path, column: str, notes: dict) -> pd.Series:
    known = values.dropna()
    whole = bool((known == known.round()).all()) if len(known) else False
    lo, hi = (float(known.min()), float(known.max())) if len(known) else (0.0, 0.0)
    if whole and YYYYMMDD[0] <= lo and hi <= YYYYMMDD[1]:
        digits = values.astype("Int64").astype("string")
        parsed = pd.to_datetime(digits, format="%Y%m%d", errors="coerce")
        if not (parsed.isna() & values.notna()).any():
            notes["dates"] = f"numbers in column '{column}' read as YYYYMMDD dates"
            return parsed.astype("datetime64[ns]")
    if whole and YYYYMM[0] <= lo and hi <= YYYYMM[1] and known.astype("int64").mod(100).between(1, 12).all():
        # Six digits with a month 01-12 at the end: year and month (an ERP's period key); no other reading
        # (YYYYMMDD, epoch seconds or days) reaches this range.
        digits = values.astype("Int64").astype("string")
        notes["dates"] = f"numbers in column '{column}' read as YYYYMM months (each its month's first day)"
        return pd.to_datetime(digits, format="%Y%m").astype("datetime64[ns]")
    for unit, (a, b) in EPOCH_UNITS.items():
        if whole and a <= lo and hi <= b:
            unit_name = "seconds" if unit == "s" else "milliseconds"
            notes["dates"] = f"numbers in column '{column}' read as Unix epoch {unit_name} (UTC)"
            return pd.to_datetime(values, unit=unit).astype("datetime64[ns]")
    excel_last = (pd.Timestamp.today().normalize() - EXCEL_ORIGIN).days + 366
    if len(known) and EXCEL_FIRST <= lo and hi <= excel_last:
        notes["dates"] = f"numbers in column '{column}' read as Excel day numbers (days since 1899-12-30)"
        return (EXCEL_ORIGIN + pd.to_timedelta(values, unit="D")).astype("datetime64[ns]")
    example = known.iloc[0] if len(known) else values.iloc[0]
    first_row = row_list(values == example) if len(known) else "1"
    as_days = ""
    if whole and EPOCH_DAYS[0] <= lo and hi <= EPOCH_DAYS[1]:
        as_date = pd.Timestamp(0) + pd.Timedelta(days=example)
        as_days = f" (as days since 1970-01-01 {example:.0f} would be {as_date:%Y-%m-%d})"
    raise InputError(
        f"{path}: column '{column}' holds numbers, not dates (e.g. {example:g} at row(s) {first_row}){as_days}; "
        "write the dates as YYYY-MM-DD (numbers are read only as YYYYMMDD, YYYYMM, Excel day numbers from 1990 on or "
        "Unix epoch seconds or milliseconds)."
    )
