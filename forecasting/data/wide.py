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


def period_columns(available: list, mapping: Mapping[str, str], absent: list[str]) -> list[str] | None:
    """The header's period columns where the file is laid out one column per period, else None. `absent`: the
    contract names whose mapped columns the header lacks."""
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
        return None
    return periods


def melted(raw: pd.DataFrame, mapping: Mapping[str, str], periods: list[str], notes: dict) -> pd.DataFrame:
    """The periods' cells as rows: the mapped date column holds the period's header, the quantity column its cell."""
    keys = [src for name, src in mapping.items() if name not in LONG_NAMES]
    long = raw.melt(
        id_vars=list(dict.fromkeys(keys)), value_vars=periods, var_name=mapping["date"], value_name=mapping["quantity"]
    )
    notes["layout"] = (
        f"one column per period: {len(periods)} columns from '{periods[0]}' to '{periods[-1]}' read as the dates, "
        "their cells as the quantities"
    )
    return long
