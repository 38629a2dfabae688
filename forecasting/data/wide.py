"""A table with one column per period (a planner's sheet: a row per SKU, a column per week or month), read as the
long table it holds: one row per SKU and period, the header's date as the date and the cell as the quantity.

It is told from the header alone: the mapped date and quantity columns are not in it, the SKU column is, and at
least MIN_PERIODS of the other column names are dates (read by `dates` as a date column would be, so month labels,
ISO weeks and day-first dates read as they do in a long table). Columns whose names hold no digit ('Description',
'Total') are left out, as unmapped columns of a long table are.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import pandas as pd

from forecasting.data.dates import parse_dates
from forecasting.errors import InputError

# Fewer date-named columns than this is no period layout: a long table with a mistyped mapping.
MIN_PERIODS = 3
LONG_NAMES = ("date", "quantity")


# A period column named by its number ('d_1', 'Week 12', 'M3'): one prefix shared by all, then the number.
NUMBERED = re.compile(r"(?P<prefix>\D*?)(?P<number>\d+)")
# data.frequency's codes, as the steps between numbered periods.
STEPS = {"D": pd.DateOffset(days=1), "W": pd.DateOffset(weeks=1), "M": pd.DateOffset(months=1)}


def period_columns(
    available: list,
    mapping: Mapping[str, str],
    absent: list[str],
    path=None,
    first_period=None,
    frequency: str | None = None,
) -> tuple[list[str], dict[str, str] | None] | None:
    """The header's period columns where the file is laid out one column per period, else None; with them, the
    date of each where the header numbers them instead of dating them ('d_1' to 'd_1941' in M5's sales file,
    'Week 1' to 'Week 52'): `first_period` for the first, one `frequency` apart (without both the read stops
    saying so), else None (the headers are the dates). `absent`: the contract names whose mapped columns the
    header lacks."""
    if not set(LONG_NAMES) <= set(absent) or any(name.split("@")[0] == "sku" for name in absent):
        return None
    if set(absent) - set(LONG_NAMES):
        return None  # an optional column mapped and missing: named as such by the caller
    used = set(mapping.values())
    periods = [str(a) for a in available if str(a) not in used and re.search(r"\d", str(a))]
    if len(periods) < MIN_PERIODS:
        return None
    try:
        parse_dates(pd.Series(periods, dtype="string"), "", "header", None, {})
    except InputError:
        numbered = _numbered(periods)
        if numbered is None:
            return None
        step = str(frequency or "").upper()
        if first_period is None or step not in STEPS:
            need = f"data.first_period to the date of '{numbered[0]}'" + (
                "" if step in STEPS else " and data.frequency to D, W or M (days, weeks or months)"
            )
            example = "data.first_period=2024-01-01" + ("" if step in STEPS else " data.frequency=D")
            raise InputError(
                f"{path}: the file has one column per period, {len(numbered)} of them numbered from '{numbered[0]}' "
                f"to '{numbered[-1]}' instead of dated; set {need}, e.g. {example}."
            ) from None
        first = pd.Timestamp(str(first_period))
        return numbered, {p: (first + i * STEPS[step]).date().isoformat() for i, p in enumerate(numbered)}
    return periods, None


def _numbered(periods: list[str]) -> list[str] | None:
    """`periods` in number order where they are one prefix and consecutive numbers (none repeated), else None."""
    found = [NUMBERED.fullmatch(p.strip()) for p in periods]
    if not all(found) or len({m["prefix"].strip().lower() for m in found}) != 1:
        return None
    numbers = [int(m["number"]) for m in found]
    if len(set(numbers)) != len(numbers) or max(numbers) - min(numbers) != len(numbers) - 1:
        return None
    return [p for _, p in sorted(zip(numbers, periods, strict=True))]


def melted(
    raw: pd.DataFrame, mapping: Mapping[str, str], periods: list[str], notes: dict, dates: dict[str, str] | None = None
) -> pd.DataFrame:
    """The periods' cells as rows: the mapped date column holds the period's header (or its date in `dates`, for
    numbered periods), the quantity column its cell."""
    keys = [src for name, src in mapping.items() if name not in LONG_NAMES]
    long = raw.melt(
        id_vars=list(dict.fromkeys(keys)), value_vars=periods, var_name=mapping["date"], value_name=mapping["quantity"]
    )
    named = f"{len(periods)} columns from '{periods[0]}' to '{periods[-1]}'"
    if dates is None:
        notes["layout"] = f"one column per period: {named} read as the dates, their cells as the quantities"
        return long
    long[mapping["date"]] = long[mapping["date"]].map(dates)
    notes["layout"] = (
        f"one column per period: {named} numbered, read as the periods from {dates[periods[0]]} "
        f"(data.first_period) to {dates[periods[-1]]}, their cells as the quantities"
    )
    return long
