"""Read a long CSV or Parquet table and map its columns onto the toolkit's names.

Only mapped columns are read, so anything else in the file (customer IDs in particular) never enters the
pipeline. Every problem raises `InputError` with one sentence naming the file, the column and the fix.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from forecasting.errors import InputError

# Contract name -> whether a source column must be mapped for each input kind.
REQUIRED = {
    "transactions": ("sku", "date", "quantity"),
    "demand": ("sku", "date", "quantity"),
}
OPTIONAL = ("price", "promo", "category", "invoice", "description")
SUPPORTED_SUFFIXES = {".csv": "csv", ".txt": "csv", ".tsv": "csv", ".parquet": "parquet", ".pq": "parquet"}


def _file_kind(path: Path) -> str:
    kind = SUPPORTED_SUFFIXES.get(path.suffix.lower())
    if kind is None:
        raise InputError(
            f"{path}: unknown file type '{path.suffix or '(none)'}'; give a .csv or .parquet file "
            "(set data.path to it)."
        )
    return kind


def _source_columns(path: Path, kind: str, read_options: Mapping) -> list[str]:
    if kind == "parquet":
        return list(pq.read_schema(path).names)
    try:
        return list(pd.read_csv(path, nrows=0, **read_options).columns)
    except pd.errors.EmptyDataError:
        raise InputError(f"{path}: the file is empty; point data.path at a table with a header row and data.") from None


def read_table(
    path: str | Path,
    columns: Mapping[str, str | None],
    input_kind: str = "transactions",
    read_options: Mapping | None = None,
    date_format: str | None = None,
) -> pd.DataFrame:
    """Load `path` with source columns renamed to contract names (`sku`, `date`, `quantity`, ...).

    `columns` maps contract names to source column names; unmapped optional columns are left out.
    Dates are parsed (and kept with their time of day: aggregation to days happens later).
    """
    path = Path(path)
    read_options = dict(read_options or {})
    if input_kind not in REQUIRED:
        raise InputError(f"data.kind '{input_kind}' is unknown; use 'transactions' or 'demand'.")
    if not path.exists():
        raise InputError(f"{path}: no such file; set data.path to an existing CSV or Parquet file.")
    file_kind = _file_kind(path)
    if path.stat().st_size == 0:
        raise InputError(f"{path}: the file is empty; point data.path at a table with a header row and data.") from None

    mapping = {name: src for name, src in columns.items() if src}
    missing_map = [name for name in REQUIRED[input_kind] if name not in mapping]
    if missing_map:
        raise InputError(
            f"data.columns has no mapping for {', '.join(missing_map)}; "
            f"add e.g. data.columns.{missing_map[0]}=<your column>."
        )
    available = _source_columns(path, file_kind, read_options)
    absent = [f"{name} -> '{src}'" for name, src in mapping.items() if src not in available]
    if absent:
        raise InputError(
            f"{path}: column(s) {', '.join(absent)} not found (the file has: {', '.join(map(str, available[:20]))}); "
            "fix data.columns to name the file's columns."
        )

    wanted = list(dict.fromkeys(mapping.values()))
    if file_kind == "parquet":
        raw = pd.read_parquet(path, columns=wanted)
    else:
        raw = pd.read_csv(path, usecols=wanted, **read_options)
    if raw.empty:
        raise InputError(f"{path}: the table has a header but no rows; point data.path at a file with data.")

    frame = pd.DataFrame({name: raw[src] for name, src in mapping.items()})
    frame["sku"] = frame["sku"].astype("string").str.strip()
    frame["date"] = _parse_dates(frame["date"], path, mapping["date"], date_format)
    frame["quantity"] = _parse_numbers(frame["quantity"], path, mapping["quantity"])
    if "price" in frame:
        frame["price"] = _parse_numbers(frame["price"], path, mapping["price"])
    if "promo" in frame:
        frame["promo"] = _parse_numbers(frame["promo"], path, mapping["promo"]).fillna(0.0)
    for text in ("invoice", "category", "description"):
        if text in frame:
            frame[text] = frame[text].astype("string")
    return frame


def _parse_dates(values: pd.Series, path: Path, column: str, date_format: str | None) -> pd.Series:
    if pd.api.types.is_datetime64_any_dtype(values):
        parsed = values
    else:
        parsed = pd.to_datetime(values, format=date_format, errors="coerce")
    parsed = parsed.astype("datetime64[ns]") if parsed.dt.tz is None else parsed.dt.tz_localize(None)
    bad = parsed.isna() & values.notna()
    if bad.any():
        rows = _row_list(bad)
        raise InputError(
            f"{path}: column '{column}' has {int(bad.sum())} unparseable date(s) (e.g. '{values[bad].iloc[0]}' "
            f"at row(s) {rows}); fix those values or set data.date_format to the file's format."
        )
    if parsed.isna().any():
        raise InputError(
            f"{path}: column '{column}' has {int(parsed.isna().sum())} empty date(s) at row(s) "
            f"{_row_list(parsed.isna())}; fill or remove those rows."
        )
    return parsed


def _parse_numbers(values: pd.Series, path: Path, column: str) -> pd.Series:
    parsed = pd.to_numeric(values, errors="coerce").astype("float64")
    bad = parsed.isna() & values.notna()
    if bad.any():
        raise InputError(
            f"{path}: column '{column}' has {int(bad.sum())} non-numeric value(s) (e.g. '{values[bad].iloc[0]}' "
            f"at row(s) {_row_list(bad)}); fix them or map data.columns to the numeric column."
        )
    return parsed


def _row_list(mask: pd.Series, limit: int = 5) -> str:
    """Row numbers as a user sees them in the file: 1-based, after the header."""
    idx = [int(i) + 1 for i in mask[mask].index[:limit]]
    more = int(mask.sum()) - len(idx)
    return ", ".join(map(str, idx)) + (f" and {more} more" if more > 0 else "")
