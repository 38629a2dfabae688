"""The plan's files (stock, open orders, per-SKU overrides), read as the data loader reads its table: encoding,
separator and compression detected, SKU codes stripped as the loader strips them (or joined from the data's SKU
columns where it has several), numbers by the loader's rules for thousands marks and decimal commas. A bad file
stops the run with one sentence naming the file, the lines and values, and the fix."""

from __future__ import annotations

import re
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from forecasting.data.codes import joined_codes, shown_codes
from forecasting.data.numbers import parse_numbers
from forecasting.data.sniffing import csv_options, is_workbook
from forecasting.data.workbooks import sheet_as_csv
from forecasting.errors import InputError
from forecasting.planning.plan_settings import NUMERIC, TEXT, allowed_text, policy_rules

SHOWN = 5  # offending rows named in a message
# A number with thousands marks and nothing else: "2.500", "1,234,567" (whole or decimal? the column decides).
GROUPED = r"[-+]?\d{1,3}(?:[.,]\d{3})+"
# Every column a plan file may hold.
MONEY = ("unit_cost", "order_cost", "stockout_cost")  # amounts that may carry a currency sign ("£2.50")
KNOWN_COLUMNS = ("sku", "on_hand", "quantity", "arrival_date", *NUMERIC, *TEXT)
# The column a plan file names its SKUs in (the data's SKU columns too, where it has several: _read).
SKU_KEY = ("sku",)


def _read(path: str | Path, what: str, key: Sequence[str] = SKU_KEY) -> pd.DataFrame:
    """A plan file with its SKU codes in `sku`: that column, or where the data's SKU is several columns (`key`,
    data.columns.sku=[item,store]) those columns, joined as the data loader joins them."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such {what} file; fix plan.{what}_csv or set it to null.")
    names = key if len(key) > 1 else ("sku",)
    if is_workbook(path):  # a workbook: its sheet that holds the SKU column, as the CSV it would save to
        with tempfile.TemporaryDirectory(prefix="workbook_") as folder:
            return _read_text(sheet_as_csv(path, Path(folder), names)[0], path, what, key, names)
    return _read_text(path, path, what, key, names)


def _read_text(source: Path, path: Path, what: str, key: Sequence[str], names: Sequence[str]) -> pd.DataFrame:
    """_read of the CSV `source` (the file at `path`, or its workbook's sheet)."""
    # Read as the data loader reads its table (the same ERP writes both): encoding, separator and compression
    # detected, every cell as text, numbers parsed by _numbers with the loader's rules for thousands and decimals.
    options, _ = csv_options(source, {}, names=names)
    try:
        frame = pd.read_csv(source, dtype=str, keep_default_na=False, na_values=[""], **options)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise InputError(
            f"{path}: not a readable comma-separated {what} file ({str(exc).splitlines()[0]}); save it as CSV."
        ) from exc
    # Headers as a spreadsheet writes them ('On_Hand ', 'Lead_Time_Days'): the known names in any case.
    known = {name.lower(): name for name in (*KNOWN_COLUMNS, *key)}
    frame.columns = [known.get(str(c).strip().lower(), str(c).strip()) for c in frame.columns]
    if "sku" in frame:
        parts = ["sku"]
    elif len(key) > 1 and all(c in frame for c in key):
        parts = list(key)
    else:
        given = f", or give the data's SKU columns {', '.join(key)}" if len(key) > 1 else ""
        raise InputError(f"{path}: no 'sku' column; name the SKU column 'sku'{given}.")
    # Codes padded by an ERP export (" A100 ") are the data's "A100": stripped (and joined) as the loader does.
    frame.insert(0, "sku", joined_codes([frame.pop(c) for c in parts]))
    blank = frame["sku"].isna() | (frame["sku"] == "")
    if blank.any():
        raise InputError(f"{path}: line(s) {file_lines(blank)} have no sku; fill in or remove them.")
    frame["sku"] = frame["sku"].astype(str)
    return frame


def file_lines(mask: pd.Series, frame: pd.DataFrame | None = None, column: str | None = None) -> str:
    """'3 (SKU b: 'abc'), 5 (...)': file line numbers (the header is line 1) of the first offending rows."""
    rows = np.flatnonzero(np.asarray(mask))
    shown = []
    for i in rows[:SHOWN]:
        detail = ""
        if frame is not None:  # codes quoted where they hold a space or an invisible character
            detail = f" (SKU {shown_codes([frame['sku'].iloc[i]])}: {_show(frame[column].iloc[i])})"
        shown.append(f"{i + 2}{detail}")
    more = f" and {len(rows) - SHOWN} more" if len(rows) > SHOWN else ""
    return ", ".join(shown) + more


def _show(value) -> str:
    """A cell as a message shows it: numbers plain (read as text, "-4" is the number -4), other text quoted."""
    if isinstance(value, str) and re.fullmatch(r"\s*[-+]?(\d+(\.\d*)?|\.\d+|inf|nan)\s*", value, re.IGNORECASE):
        value = float(value)
    if isinstance(value, int | float | np.number) and not isinstance(value, bool):
        return "empty" if pd.isna(value) else f"{float(value):g}"
    return "empty" if pd.isna(value) else repr(str(value))


def _numbers(frame: pd.DataFrame, column: str, path, fix: str) -> pd.Series:
    """The column as floats, by the data loader's rules for thousands marks and decimal commas (decided by the
    whole column: "1.234" beside "3,5" is 1234); text that is not a number is an error naming the lines, never a
    silent NaN, and a column that reads both ways ("2.500" alone) is refused."""
    cells = frame[column]
    try:
        values = (
            parse_numbers(cells.astype("string"), Path(path), column, money=column in MONEY)
            if cells.notna().any()
            else pd.to_numeric(cells, errors="coerce")
        )
    except InputError:
        known = cells.dropna().astype(str).str.strip()
        if len(known) and known.str.fullmatch(GROUPED).all():
            raise InputError(
                f"{path}: {column} writes every number like '{known.iloc[0]}', which reads as a whole number with a "
                "thousands mark or as a decimal; write the numbers plainly (e.g. 2500 or 2.5)."
            ) from None
        values = pd.to_numeric(cells, errors="coerce")  # the lines that are not numbers are named below
    text = cells.notna() & values.isna()
    if text.any():
        raise InputError(f"{path}: {column} is not a number on line(s) {file_lines(text, frame, column)}; {fix}.")
    return values.astype(float)


def _unique(frame: pd.DataFrame, path) -> None:
    dup = frame["sku"].duplicated(keep=False)
    if dup.any():
        raise InputError(
            f"{path}: SKU(s) {shown_codes(frame.loc[dup, 'sku'].unique(), SHOWN)} appear on more than one row "
            f"(lines {file_lines(dup)}); keep one row per SKU."
        )


def check_known(frame: pd.DataFrame, known: pd.Index, path) -> None:
    unknown = pd.Index(frame["sku"].unique()).difference(known)
    if len(unknown):
        raise InputError(
            f"{path}: SKU(s) {shown_codes(unknown, SHOWN)} are not in the planned panel of {len(known)} SKUs (e.g. "
            f"{shown_codes(known[:3], 3)}); remove those rows, or if they are SKUs of the data left out by its "
            "filters, widen the panel (data.panel.max_skus=null, a lower data.panel.min_history_days)."
        )


def read_overrides(path: str | Path, defaults: Mapping, key: Sequence[str] = SKU_KEY) -> pd.DataFrame:
    """The override file as one row per listed SKU: its non-empty cells over the config defaults, checked by the
    same rules as the config (the defaults must have passed `check_policy_defaults`)."""
    over = _read(path, "overrides", key)
    _unique(over, path)
    extra = [c for c in over.columns if c not in NUMERIC + TEXT + ("sku",)]
    if extra:
        raise InputError(f"{path}: unknown column(s) {', '.join(extra)}; use {', '.join(NUMERIC + TEXT)}.")
    for col in over.columns.intersection(NUMERIC):
        over[col] = _numbers(over, col, path, f"write numbers only, or leave the cell empty to use plan.{col}")
    for col in over.columns.intersection(TEXT):  # 'Fill_Rate ' as a spreadsheet writes it is fill_rate
        over[col] = over[col].str.strip().str.lower()
    merged = pd.DataFrame({col: [defaults.get(col)] * len(over) for col in NUMERIC + TEXT}, index=over.index)
    merged[list(NUMERIC)] = merged[list(NUMERIC)].apply(pd.to_numeric).astype(float)
    for col in over.columns.drop("sku"):
        given = over[col].notna()
        merged.loc[given, col] = over.loc[given, col]
    merged["param_source"] = np.where(over.drop(columns="sku").notna().any(axis=1), "overrides", "config")
    horizon = float(defaults["horizon_days"])
    for col, ok, allowed in policy_rules(merged, horizon, bool(defaults.get("require_moq_multiple_of_pack"))):
        if not ok.all():
            shown = merged.assign(sku=over["sku"])
            raise InputError(
                f"{path}: {col} is out of range on line(s) {file_lines(~ok, shown, col)}: allowed "
                f"{allowed_text(allowed, ok)}; fix those cells, or leave them empty to use plan.{col}."
            )
    return merged.set_index(over["sku"].rename("sku"))


def read_stock(path: str | Path, key: Sequence[str] = SKU_KEY) -> pd.Series:
    """On hand per SKU from a stock file (sku, on_hand)."""
    stock = _read(path, "stock", key)
    _unique(stock, path)
    if "on_hand" not in stock:
        raise InputError(f"{path}: no 'on_hand' column; give columns sku, on_hand (units on hand).")
    on_hand = _numbers(stock, "on_hand", path, "give units on hand as numbers")
    bad = ~np.isfinite(on_hand) | (on_hand < 0)
    if bad.any():
        raise InputError(
            f"{path}: on_hand is empty, negative or infinite on line(s) {file_lines(bad, stock, 'on_hand')}; give "
            "units on hand of 0 or more for every SKU listed."
        )
    return pd.Series(on_hand.to_numpy(), index=pd.Index(stock["sku"], name="sku"), name="on_hand")


def read_open_orders(path: str | Path, key: Sequence[str] = SKU_KEY) -> pd.DataFrame:
    """Open orders (sku, quantity, arrival_date), several per SKU allowed."""
    orders = _read(path, "open_orders", key)
    missing = [c for c in ("quantity", "arrival_date") if c not in orders]
    if missing:
        raise InputError(f"{path}: column(s) {', '.join(missing)} missing; give sku, quantity, arrival_date.")
    quantity = _numbers(orders, "quantity", path, "give order quantities as numbers")
    bad = ~np.isfinite(quantity) | (quantity <= 0)
    if bad.any():
        raise InputError(
            f"{path}: quantity is empty, not positive or infinite on line(s) {file_lines(bad, orders, 'quantity')}; "
            "give units on order above 0, or remove the row."
        )
    arrival = pd.to_datetime(orders["arrival_date"], errors="coerce", format="mixed")
    if isinstance(arrival.dtype, pd.DatetimeTZDtype):
        raise InputError(f"{path}: arrival_date carries a time zone; give plain dates such as 2024-02-01.")
    bad = arrival.isna()
    if bad.any():
        raise InputError(
            f"{path}: arrival_date is empty or not a date on line(s) {file_lines(bad, orders, 'arrival_date')}; give "
            "dates such as 2024-02-01."
        )
    return pd.DataFrame({"sku": orders["sku"], "quantity": quantity, "arrival_date": arrival.dt.normalize()})


def check_files(p: Mapping, key: Sequence[str] = SKU_KEY) -> None:
    """The plan's files on their own (columns, numbers, ranges, dates), before the data is loaded."""
    if p.get("overrides_csv"):
        read_overrides(p["overrides_csv"], p, key)
    if p.get("stock_csv"):
        read_stock(p["stock_csv"], key)
    if p.get("open_orders_csv"):
        read_open_orders(p["open_orders_csv"], key)
