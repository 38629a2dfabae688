"""A table given as one file, a folder or a glob pattern: an ERP's monthly exports, a Spark or dask Parquet dataset,
a workbook (data.workbooks).

A folder of Parquet files (partitioned by a column, `sku=A1/part-0.parquet`, or not) is one dataset: pyarrow reads
it with its partition columns (a pattern of its files keeps them too: data.loading reads each file with the
values its folders name). A folder or pattern of CSV files is read file by file, each with its own format
detected (encodings and separators change between exports), and the rows put together in file-name order; rows
two overlapping exports repeat are then what `data.duplicates` rules on. Files whose names start with '.' or '_'
(`_SUCCESS`, `.part-0.crc`) are a writer's bookkeeping, not data.
"""

from __future__ import annotations

import glob
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

import pandas as pd

from forecasting.data.advice import override
from forecasting.data.loading import UNSET_PATHS, suffix_kind
from forecasting.data.sniffing import is_workbook
from forecasting.data.workbooks import WORKBOOK_SUFFIXES, sheet_as_csv
from forecasting.errors import InputError

PATTERN_MARKS = "*?["


def table_files(path: Path) -> list[Path] | None:
    """The files `path` stands for, in name order, where it is a folder or a glob pattern; None for a file (or a
    path that names nothing, which the reader reports). A folder of Parquet files is itself the one source."""
    pattern = any(mark in str(path) for mark in PATTERN_MARKS) and not path.exists()
    if not (path.is_dir() or pattern):
        return None
    found = sorted(Path(p) for p in glob.glob(str(path), recursive=True)) if pattern else sorted(path.rglob("*"))
    files = [
        f
        for f in found
        if f.is_file() and not any(part[:1] in "._" for part in f.relative_to(_base(path, pattern)).parts)
    ]
    kinds = [_kind(f) for f in files]
    where = f"data.path='{path}'" if pattern else str(path)
    tables = [k for k in kinds if k is not None]
    if not tables:
        raise InputError(
            f"{where} holds no CSV or Parquet file; point data.path at a table, a folder of them or a pattern such "
            f"as {override('data.path', str(_base(path, pattern) / '*.csv'))}."
        )
    # The kind most of its files are: the pattern that reads them only.
    usual = max(set(tables), key=tables.count)
    only = override("data.path", str(_base(path, pattern) / ("**/*.parquet" if usual == "parquet" else "*.csv")))
    # A Parquet dataset's folder is one source, read with the partitions its folders name (item=A1/).
    dataset = usual == "parquet" and path.is_dir()
    if None in kinds:
        odd = files[kinds.index(None)]
        fix = "move it out of the folder" if dataset else f"set {only}"
        raise InputError(f"{where} also holds '{odd.name}', which is not a CSV or Parquet table; {fix}.")
    if len(set(kinds)) > 1:
        fix = "move the others out of the folder" if dataset else f"set {only} to read those only"
        raise InputError(f"{where} mixes CSV and Parquet files, mostly {usual.title()}; {fix}.")
    return [path] if dataset else files


def read_sources(
    path, read_one: Callable[[Path, dict], pd.DataFrame], notes: dict, sku_names: Sequence[str] = ()
) -> pd.DataFrame:
    """The table at `path` (a file, a folder or a pattern: table_files), each file read by `read_one(file,
    its notes)`, a workbook as its sheet that holds the `sku_names` column (data.workbooks); `notes` gains the
    files read, and the first file's notes. An unset path goes to `read_one` as it is, which names the setting."""
    if path is None or str(path).strip() in UNSET_PATHS:
        return read_one(path, notes)
    path = Path(path)
    files = table_files(path)
    if files is None or len(files) == 1:
        return _read_file(files[0] if files else path, read_one, notes, sku_names)
    frames, first = [], None
    for file in files:
        own: dict = {}
        frames.append(_read_file(file, read_one, own, sku_names))
        first = own if first is None else first
    notes.update(first or {})
    names = ", ".join(f.name for f in files[:12]) + (f" and {len(files) - 12} more" if len(files) > 12 else "")
    notes["files"] = f"{len(files)} files, in name order: {names}"
    return pd.concat(frames, ignore_index=True)


def _read_file(path: Path, read_one, notes: dict, sku_names: Sequence[str]) -> pd.DataFrame:
    """`read_one(path, notes)`; a workbook through the CSV of its sheet, every message naming the workbook."""
    if not (path.is_file() and is_workbook(path)):
        return read_one(path, notes)
    with tempfile.TemporaryDirectory(prefix="workbook_") as folder:
        csv, sheet = sheet_as_csv(path, Path(folder), sku_names)
        notes["sheet"] = f"sheet '{sheet}' of the workbook"
        try:
            return read_one(csv, notes)
        except InputError as exc:
            raise InputError(str(exc).replace(str(csv), f"{path} (sheet '{sheet}')")) from None


def _base(path: Path, pattern: bool) -> Path:
    """The folder a pattern's matches lie under (the part before its first wildcard), or the folder itself."""
    if not pattern:
        return path
    parts = []
    for part in path.parts:
        if any(mark in part for mark in PATTERN_MARKS):
            break
        parts.append(part)
    return Path(*parts) if parts else Path(".")


def _kind(file: Path) -> str | None:
    """'csv' (a workbook too: read as its sheet's CSV) or 'parquet' by the file's suffix (a compression suffix
    aside), None for anything else."""
    return "csv" if file.suffix.lower() in WORKBOOK_SUFFIXES else suffix_kind(file)
