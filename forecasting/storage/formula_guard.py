"""Text bound for a spreadsheet never runs as a formula (OWASP "CSV injection"), and reads back as written.

A spreadsheet evaluates a cell whose text starts with `= + - @` (tab and carriage return too, which some
programs skip before looking), so a SKU code or description from a data supplier could run in a planner's
Excel. CSV text cells that start so get a leading single quote, which spreadsheets show as text. The mapping is
reversible: a value that already starts with a quote followed by a trigger or another quote gets one more, so
`restore` strips exactly the quote that `neutralise` added. Numbers are never touched (a negative number stays a
number). XLSX cells are typed: `as_text_cell` keeps a string a string.
"""

from __future__ import annotations

import os

import pandas as pd
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

TRIGGERS = frozenset("=+-@\t\r")
QUOTE = "'"
_AFTER_QUOTE = TRIGGERS | {QUOTE}


def starts_with_trigger(value: object) -> bool:
    return isinstance(value, str) and value[:1] in TRIGGERS


def _is_escaped(text: str) -> bool:
    """True when `text` starts with a quote that protects what follows (the form `neutralise` writes)."""
    return text[:1] == QUOTE and text[1:2] in _AFTER_QUOTE


def neutralise(value):
    """The text a CSV cell holds for `value`: quoted when a spreadsheet would evaluate it; non-text as is."""
    if isinstance(value, str) and (value[:1] in TRIGGERS or _is_escaped(value)):
        return QUOTE + value
    return value


def restore(value):
    """The original of a value `neutralise` wrote: one leading quote removed where it added one."""
    if isinstance(value, str) and _is_escaped(value):
        return value[1:]
    return value


def _text_positions(frame: pd.DataFrame) -> list[int]:
    return [
        i
        for i, dtype in enumerate(frame.dtypes)
        if pd.api.types.is_object_dtype(dtype)
        or pd.api.types.is_string_dtype(dtype)
        or isinstance(dtype, pd.CategoricalDtype)
    ]


def _map_text(frame: pd.DataFrame, func) -> pd.DataFrame:
    out = frame.copy(deep=False)
    # By position, so duplicate column names map too; a categorical maps its categories and stays categorical.
    for i in _text_positions(out):
        out.isetitem(i, out.iloc[:, i].map(func))
    out.columns = [func(c) for c in out.columns]
    return out


def neutralise_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of `frame` whose text cells and column headers are safe to open in a spreadsheet."""
    return _map_text(frame, neutralise)


def restore_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """The inverse of `neutralise_frame` on a table read back from CSV."""
    return _map_text(frame, restore)


def read_csv(path: str | os.PathLike, **kwargs) -> pd.DataFrame:
    """Read a CSV this project wrote (`write_csv`), with its text as it was before neutralising.

    Only an empty cell is missing: pandas would otherwise read SKU codes such as "NA" or "#N/A" as NaN.
    """
    kwargs.setdefault("keep_default_na", False)
    kwargs.setdefault("na_values", [""])
    return restore_frame(pd.read_csv(path, **kwargs))


def worksheet_text(text: str) -> str:
    """`text` as a worksheet can hold it: control characters XML forbids shown as U+FFFD (the CSV keeps them)."""
    return ILLEGAL_CHARACTERS_RE.sub("\ufffd", text)


def as_text_cell(cell) -> None:
    """Store an openpyxl cell holding a str as a string, never a formula or an error code.

    openpyxl types any str starting with "=" as a formula and "#N/A"-like text as an error; the quote-prefix
    style makes Excel and LibreOffice keep a trigger-led text as text when the cell is edited.
    """
    if not isinstance(cell.value, str):
        return
    cell.data_type = "s"
    if starts_with_trigger(cell.value):
        cell.quotePrefix = True
