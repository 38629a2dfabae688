"""An Excel workbook (.xlsx, .xlsm) read as the CSV its sheet would be saved as.

Planners keep sales in workbooks. openpyxl (through pandas) reads the cells: dates as dates, numbers as numbers,
text as text, formulas as the values Excel last computed. The sheet is written to a CSV the loader then reads as
any export, so title lines above the header, one column per week, number marks in text cells and every other
rule of the loader apply unchanged. The sheet read is the first whose first lines hold the mapped column names
(a workbook's other sheets are often notes or a pivot of the same data); where none does, the first sheet with
cells, whose header the loader then judges.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path

import pandas as pd

from forecasting.data.sniffing import HEADER_SEARCH_LINES
from forecasting.errors import InputError

WORKBOOK_SUFFIXES = (".xlsx", ".xlsm")


def sheet_as_csv(path: Path, folder: Path, names: Sequence[str]) -> tuple[Path, str]:
    """The workbook's sheet that holds the mapped column `names` (see the module), written as a CSV in `folder`,
    and the sheet's name."""
    try:
        sheets = pd.read_excel(path, sheet_name=None, header=None, dtype=object, engine="openpyxl")
    except Exception as exc:  # noqa: BLE001 - openpyxl's errors on a damaged workbook are of many kinds
        raise InputError(
            f"{path}: the workbook cannot be read ({exc}); save the sheet as CSV and point data.path at that file."
        ) from None
    filled = {name: sheet.dropna(how="all").dropna(axis=1, how="all") for name, sheet in sheets.items()}
    filled = {name: sheet for name, sheet in filled.items() if not sheet.empty}
    if not filled:
        raise InputError(f"{path}: the workbook's sheets are empty; point data.path at a table with a header row.")
    wanted = {str(n).strip().lower() for n in names}
    holding = [name for name, sheet in filled.items() if _holds(sheet, wanted)]
    name = holding[0] if holding else next(iter(filled))
    out = folder / f"{path.stem}.csv"
    filled[name].map(_cell).to_csv(out, index=False, header=False)
    return out, str(name)


def _holds(sheet: pd.DataFrame, wanted: set[str]) -> bool:
    """Whether one of the sheet's first lines holds every name of `wanted` (case and spacing aside)."""
    for _, row in sheet.head(HEADER_SEARCH_LINES).iterrows():
        if wanted <= {str(v).strip().lower() for v in row if v is not None and v == v}:
            return True
    return False


def _cell(value):
    """A cell as its CSV text: a date without a time of day as the date alone, a whole float as an integer (Excel
    stores every number as a float: 29 is 29.0)."""
    if isinstance(value, datetime):
        stamp = pd.Timestamp(value)
        return stamp.date().isoformat() if stamp == stamp.normalize() else stamp.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value
