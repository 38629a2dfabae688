"""Read a long CSV or Parquet table and map its columns onto the toolkit's names.

Only mapped columns are read, so anything else in the file (customer IDs in particular) never enters the
pipeline. Every problem raises `InputError` with one sentence naming the file, the column and the fix.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from forecasting.data.advice import override, setting_choice
from forecasting.data.codes import joined_codes, scientific_codes
from forecasting.data.covariates import promo_indicator
from forecasting.data.dates import parse_dates
from forecasting.data.numbers import file_marks, parse_numbers
from forecasting.data.quality import row_list
from forecasting.data.sniffing import csv_options
from forecasting.data.sniffing import file_kind as sniff_file_kind
from forecasting.data.total_rows import total_codes
from forecasting.data.wide import melted, period_columns
from forecasting.errors import InputError

# Contract name -> whether a source column must be mapped for each input kind.
REQUIRED = {
    "transactions": ("sku", "date", "quantity"),
    "demand": ("sku", "date", "quantity"),
}
OPTIONAL = ("price", "promo", "category", "invoice", "description")
SUPPORTED_SUFFIXES = {".csv": "csv", ".txt": "csv", ".tsv": "csv", ".parquet": "parquet", ".pq": "parquet"}
COMPRESSION_SUFFIXES = (".gz", ".bz2", ".xz", ".zip")
# What an unset mandatory Hydra value (`???`) arrives as once the config is turned into plain containers.
UNSET_PATHS = ("", "???")


def _file_kind(path: Path) -> str:
    kind = sniff_file_kind(path)
    if kind == "csv" and suffix_kind(path) is None:
        raise InputError(
            f"{path}: unknown file type '{path.suffix or '(none)'}' (and not an Excel workbook); give a .csv, "
            ".parquet or .xlsx file (set data.path to it)."
        )
    return kind


def suffix_kind(path: Path) -> str | None:
    """'csv' or 'parquet' by the file's suffix (a compression suffix aside), None for any other."""
    suffixes = [s.lower() for s in path.suffixes[-2:]]
    if suffixes and suffixes[-1] in COMPRESSION_SUFFIXES:
        suffixes = suffixes[:-1]
    return SUPPORTED_SUFFIXES.get(suffixes[-1]) if suffixes else None


def _read_csv(path: Path, options: dict, notes: dict, guessed: bool, **kwargs) -> pd.DataFrame:
    """`pandas.read_csv`; when a byte past the sniffed sample is not UTF-8 after all, read it as cp1252."""
    try:
        return pd.read_csv(path, **options, **kwargs)
    except UnicodeDecodeError as exc:
        if not (guessed and options["encoding"] == "utf-8"):
            raise InputError(
                f"{path}: the file is not {options.get('encoding')} text (byte {exc.object[exc.start]:#x} at "
                f"position {exc.start} does not decode); set data.read_options.encoding to the file's encoding, "
                "e.g. data.read_options.encoding=latin-1."
            ) from None
        options["encoding"] = notes["encoding"] = "cp1252"
        return _read_csv(path, options, notes, False, **kwargs)
    except pd.errors.EmptyDataError:
        raise InputError(f"{path}: the file is empty; point data.path at a table with a header row and data.") from None
    except pd.errors.ParserError as exc:
        raise InputError(
            f"{path}: the file is not a well-formed CSV table ({str(exc).strip()}); check the export, or set "
            "data.read_options.sep to the file's field separator."
        ) from None


def _read_parquet(path: Path, columns: list[str] | None) -> pd.DataFrame | list[str]:
    """The schema's column names (`columns=None`) or the table; a damaged file is one sentence. A folder is a
    dataset, whose partition columns (sku=A1/) are columns too; so are they for one file of such a dataset (a
    pattern names its files one by one: `lake/item=*/part-*.parquet`)."""
    try:
        if path.is_dir():
            first = next((f.relative_to(path).parent.parts for f in path.rglob("*.parquet")), ())
            hive = _hive_partitioning(_partition_keys(first))
            if columns is None:
                return list(pq.ParquetDataset(path, partitioning=hive).schema.names)
            return _typed_numbers(pq.read_table(path, columns=columns, partitioning=hive))
        source = _partitioned_file(path)
        if source is None:
            return (
                list(pq.read_schema(path).names)
                if columns is None
                else _typed_numbers(pq.read_table(path, columns=columns))
            )
        dataset = ds.dataset(**source)
        return list(dataset.schema.names) if columns is None else _typed_numbers(dataset.to_table(columns=columns))
    except (OSError, pa.ArrowException) as exc:
        raise InputError(f"{path}: the Parquet file cannot be read ({exc}); export the table again.") from None


HIVE_FOLDER = re.compile(r"[^=/\\]+=[^=/\\]*")  # a partition's folder name: item=A1


def _partition_keys(folders) -> list[str]:
    """The partition columns the `folders` of a dataset's file name (item=A1/store=3/...), in order."""
    return list(dict.fromkeys(part.split("=", 1)[0] for part in folders if HIVE_FOLDER.fullmatch(part)))


def _hive_partitioning(keys: list[str]) -> ds.Partitioning | str:
    """The partitioning of `keys`, their values read as text: pyarrow would infer integers where every value is
    digits, and part 00123 would become 123. "hive" (inferred) where none is named."""
    return ds.partitioning(pa.schema([(key, pa.string()) for key in keys]), flavor="hive") if keys else "hive"


def _partitioned_file(path: Path) -> dict | None:
    """How pyarrow reads `path` with the partition values its folders name (`.../item=A1/part-0.parquet`), as a
    dataset's folder is read; None where no folder above it names one, or where a name it gives is already a
    column of the file (the file's own values win)."""
    folders = path.parent.parts
    first = len(folders)
    while first > 0 and HIVE_FOLDER.fullmatch(folders[first - 1]):
        first -= 1
    keys = _partition_keys(folders[first:])
    if not keys or set(keys) & set(pq.read_schema(path).names):
        return None
    base = Path(*folders[:first]) if first else Path(".")
    hive = _hive_partitioning(keys)
    return {"source": str(path), "format": "parquet", "partitioning": hive, "partition_base_dir": str(base)}


def _typed_numbers(table: pa.Table) -> pd.DataFrame:
    """The table as pandas, a decimal column (an ERP's NUMERIC(12,3)) as float64: pandas would hold it as Python
    Decimal objects, which read as text ('29.000') whose marks are then ambiguous, though the file's type says
    what the number is."""
    for i, field in enumerate(table.schema):
        if pa.types.is_decimal(field.type):
            table = table.set_column(i, field.name, table.column(i).cast(pa.float64()))
    return table.to_pandas()


def _source_columns(path: Path, kind: str, options: dict, notes: dict, guessed: bool) -> list[str]:
    if kind == "parquet":
        return _read_parquet(path, None)
    return list(_read_csv(path, options, notes, guessed, nrows=0).columns)


def read_table(
    path: str | Path | None,
    columns: Mapping[str, str | None],
    input_kind: str = "transactions",
    read_options: Mapping | None = None,
    date_format: str | None = None,
    notes: dict | None = None,
    empty_dates: str | None = None,
    first_period=None,
    frequency: str | None = None,
) -> pd.DataFrame:
    """Load `path` with source columns renamed to contract names (`sku`, `date`, `quantity`, ...).

    `columns` maps contract names to source column names; unmapped optional columns are left out.
    Dates are parsed (and kept with their time of day: aggregation to days happens later). What had to be
    detected to read the file (compression, encoding, separator, time zones, date units) goes into `notes`.
    A sheet with one column per period whose headers number the periods (wide.period_columns) dates them from
    `first_period` (data.first_period), one `frequency` (data.frequency: D, W or M) apart.
    """
    notes = {} if notes is None else notes
    if path is None or str(path).strip() in UNSET_PATHS:
        raise InputError("data.path is missing: set data.path=/path/to/sales.csv (a CSV or Parquet file).")
    path = Path(path)
    if input_kind not in REQUIRED:
        raise InputError(f"data.kind '{input_kind}' is unknown; use 'transactions' or 'demand'.")
    if path.is_dir():  # a folder of Parquet files (data.table_sources): one dataset
        file_kind = "parquet"
    elif not path.is_file():
        raise InputError(f"{path}: no such file; set data.path to an existing CSV or Parquet file.")
    elif path.stat().st_size == 0:
        raise InputError(f"{path}: the file is empty; point data.path at a table with a header row and data.")
    else:
        file_kind = _file_kind(path)

    mapping = _flat_mapping(columns)
    missing_map = [name for name in REQUIRED[input_kind] if name not in mapping]
    if missing_map:
        raise InputError(
            f"data.columns has no mapping for {', '.join(missing_map)}; "
            f"add e.g. data.columns.{missing_map[0]}=<your column>."
        )
    # Keys the config declares with null defaults (so `data.read_options.encoding=latin-1` works as typed) are
    # unset; the number marks are applied by `numbers`, which reads number columns as text to decide them.
    user_options = {k: v for k, v in dict(read_options or {}).items() if v is not None}
    marks = {k: user_options.pop(k) for k in ("decimal", "thousands") if k in user_options}
    # Markers of an unknown value the user adds to the loader's own (which every mapped column is read with).
    extra_na = user_options.pop("na_values", None)
    extra_na = (
        [] if extra_na is None else [str(v) for v in (extra_na if isinstance(extra_na, list | tuple) else [extra_na])]
    )
    for key in OWN_READ_OPTIONS:
        if key in user_options:
            raise InputError(
                f"data.read_options.{key} is set by the loader itself (it reads each mapped column as written, then "
                f"decides its format); remove +data.read_options.{key} and map the columns with data.columns."
            )
    options, guessed = {}, False
    if file_kind == "csv":
        options, detected = csv_options(path, user_options, list(mapping.values()), mapped_columns(columns))
        notes.update(detected)
        guessed = "encoding" not in user_options
    available = _source_columns(path, file_kind, options, notes, guessed)
    mapping = _padding_aside(mapping, available)
    _refuse_duplicate_names(path, file_kind, options, notes, guessed, mapping)
    absent = [name for name, src in mapping.items() if src not in available]
    layout = period_columns(available, mapping, absent, path, first_period, frequency) if absent else None
    if absent and layout is None:
        raise InputError(_absent_columns_message(path, absent, mapping, available))
    periods, period_dates = layout or (None, None)

    read = {n: src for n, src in mapping.items() if n not in absent}
    wanted = list(dict.fromkeys([*read.values(), *(periods or [])]))
    if file_kind == "parquet":
        raw = _read_parquet(path, wanted)
    else:
        text = _text_as_written({**read, **{f"quantity@{p}": p for p in periods or []}}, extra_na)
        raw = _read_csv(path, options, notes, guessed, usecols=wanted, **text)
        _refuse_rows_longer_than_the_header(path, options, len(available))
    if raw.empty:
        raise InputError(f"{path}: the table has a header but no rows; point data.path at a file with data.")
    if periods:
        raw = melted(raw, mapping, periods, notes, period_dates)

    frame = pd.DataFrame({name: raw[src] for name, src in mapping.items()})
    # A key of several columns (item and store): one code per row, empty where any part is.
    frame["sku"] = joined_codes([frame["sku"], *(frame.pop(n) for n in list(mapping) if n.startswith(SKU_PART))])
    _refuse_scientific_codes(frame["sku"], path, column_label(columns, "sku"))
    if frame["sku"].isna().all() or frame["sku"].eq("").all():
        raise InputError(
            f"{path}: column '{mapping['sku']}' (data.columns.sku) is empty in every row; map data.columns.sku to "
            f"the column that holds the SKU codes (the file has: {_listed(available)})."
        )
    parts = [frame.pop(n) for n in list(mapping) if n.startswith(DATE_PART)]
    if parts:
        frame["date"] = _joined_date([frame["date"], *parts])
    else:
        _refuse_period_numbers_without_year(frame["date"], path, mapping["date"], available)
    frame["date"] = _parse_dates(
        frame["date"], path, column_label(columns, "date"), date_format, notes, empty_dates, total_codes(frame["sku"])
    )
    hint = file_marks([frame[name] for name in ("quantity", "price") if name in frame])
    frame["quantity"] = parse_numbers(
        frame["quantity"], path, mapping["quantity"], marks, notes, hint, na_setting=file_kind == "csv"
    )
    if "price" in frame:
        frame["price"] = parse_numbers(frame["price"], path, mapping["price"], marks, notes, hint, money=True)
    if "promo" in frame:
        frame["promo"] = promo_indicator(frame["promo"], path, mapping["promo"], notes)
    for text in ("invoice", "category", "description"):
        if text in frame:
            frame[text] = frame[text].astype("string")
    return frame


# pandas' default missing-value markers (read_csv docs), kept for number and date columns only.
NA_MARKERS = [
    "",
    "#N/A",
    "#N/A N/A",
    "#NA",
    "-1.#IND",
    "-1.#QNAN",
    "-NaN",
    "-nan",
    "1.#IND",
    "1.#QNAN",
    "<NA>",
    "N/A",
    "NA",
    "NULL",
    "NaN",
    "None",
    "n/a",
    "nan",
    "null",
]
TEXT_COLUMNS = ("sku", "invoice", "category", "description")
# pandas.read_csv options the loader sets for every read (see _text_as_written and read_table).
OWN_READ_OPTIONS = ("dtype", "keep_default_na", "na_filter", "usecols", "converters")
NUMBER_COLUMNS = ("quantity", "price", "promo")
# `data.columns.sku=[item,store]`: the SKU is the columns' codes joined (codes.joined_codes); the columns after
# the first are read under these names.
SKU_PART = "sku@"
# `data.columns.date=[year,week]` (or [year,month], [year,month,day]): an ERP's period in columns of its own, read
# as one date written '2024-37' (a year and ISO week, dates.YEAR_WEEK), '2024-5' or '2024-5-17'.
DATE_PART = "date@"
PARTS = {"sku": SKU_PART, "date": DATE_PART}
# Names a year column goes by, to print the setting that maps it with a week or month number column.
YEAR_NAMES = re.compile(r"year|yr|jahr|año|ano|annee|année|anno|jaar|år|rok", re.IGNORECASE)


def mapped_columns(columns: Mapping, name: str = "sku") -> list[str]:
    """The source columns `data.columns.<name>` names: one, or several (a list such as [item,store] or
    [year,week])."""
    src = columns.get(name)
    return [str(p) for p in (src if isinstance(src, list | tuple) else [src]) if p]


def column_label(columns: Mapping, name: str) -> str:
    """The source column(s) of `name` as messages quote them inside '...': year', 'week for a date of two."""
    return "', '".join(mapped_columns(columns, name))


def _flat_mapping(columns: Mapping) -> dict[str, str]:
    """Contract name -> one source column, the mapped ones only; a SKU (or date) of several columns (a list) maps
    `sku` to the first and `sku@1`, `sku@2`, ... to the others."""
    mapping = {}
    for name, src in columns.items():
        if name in PARTS:
            parts = mapped_columns(columns, name)
            if name == "date" and len(parts) > 3:
                raise InputError(
                    f"data.columns.date names {len(parts)} columns; a date is one column or a year with its week or "
                    f"month (and day), e.g. 'data.columns.date=[{','.join(parts[:2])}]'."
                )
            mapping |= {name: parts[0]} if parts else {}
            mapping |= {f"{PARTS[name]}{i}": p for i, p in enumerate(parts[1:], start=1)}
        elif isinstance(src, list | tuple):
            raise InputError(
                f"data.columns.{name} names several columns, which only data.columns.sku (e.g. [item,store]) and "
                f"data.columns.date (e.g. [year,week]) may; map it to one, e.g. "
                f"{override(f'data.columns.{name}', str(src[0]))}."
            )
        elif src:
            mapping[name] = src
    return mapping


def _text_as_written(mapping: Mapping[str, str], extra_na: list[str] = ()) -> dict:
    """read_csv options that keep codes as written: part number 00123 keeps its zeros, SKU "NA" stays a SKU."""
    text = {src for name, src in mapping.items() if _contract_name(name) in TEXT_COLUMNS}
    # Numbers as text too: pandas would read "1.540" as 1.54 before `numbers` could see the column's format; and
    # dates: the month label '01.2024' read as a number is 1.2024 (`dates` reads number-like text as numbers).
    numbers = {src for name, src in mapping.items() if _contract_name(name) in (*NUMBER_COLUMNS, "date")}
    return {
        "dtype": dict.fromkeys(text | numbers, str),
        "keep_default_na": False,
        "na_values": {src: ([""] if src in text else NA_MARKERS) + list(extra_na) for src in set(mapping.values())},
    }


def _refuse_scientific_codes(codes: pd.Series, path: Path, column: str) -> None:
    """Codes a spreadsheet saved in scientific notation have lost digits: parts that differ only there would be
    planned as one."""
    scientific = scientific_codes(codes)
    if scientific.any():
        raise InputError(
            f"{path}: column '{column}' holds {int(scientific.sum())} code(s) in scientific notation (e.g. "
            f"'{codes[scientific].iloc[0]}' at row(s) {row_list(scientific)}), as a spreadsheet saves a long number: "
            "their last digits are lost, so different SKUs may share a code; export the table again with that column "
            "formatted as text."
        )


def _joined_date(parts: list[pd.Series]) -> pd.Series:
    """A year, week or month (and day) in columns of their own as one text '2024-37', '2024-5-17'; empty where
    any part is."""
    texts = []
    for part in parts:
        if pd.api.types.is_float_dtype(part) and bool((part.dropna() % 1 == 0).all()):
            part = part.astype("Int64")  # a Parquet year column with a gap is float: 2024, not 2024.0
        texts.append(part.astype("string").str.strip())
    joined = texts[0].str.cat(texts[1:], sep="-")  # missing where any part is
    return joined.where(~pd.concat(texts, axis=1).eq("").any(axis=1))


def _refuse_period_numbers_without_year(values: pd.Series, path: Path, column: str, available: list) -> None:
    """A date column of week or month numbers alone (1-53) cannot be dated: the year is in another column, which
    the printed setting maps with it."""
    if pd.api.types.is_datetime64_any_dtype(values):
        return
    distinct = pd.Series(pd.unique(values.dropna())).astype("string").str.strip()  # a few hundred, not every row
    distinct = distinct[distinct.ne("")]
    known = pd.to_numeric(distinct, errors="coerce")
    if not len(known) or known.isna().any():
        return
    if not (bool((known % 1 == 0).all()) and known.between(1, 53).all()):
        return
    years = [str(a) for a in available if YEAR_NAMES.search(str(a)) and str(a) != column]
    year = years[0] if len(years) == 1 and re.fullmatch(r"[\w.-]+", years[0]) else "<year column>"
    raise InputError(
        f"{path}: column '{column}' holds week or month numbers ({known.min():g} to {known.max():g}), which need "
        f"their year; map the year column with it, as in 'data.columns.date=[{year},{column}]'."
    )


def _listed(available: list) -> str:
    return ", ".join(map(str, available[:20])) + (f" and {len(available) - 20} more" if len(available) > 20 else "")


def _refuse_duplicate_names(path: Path, kind: str, options: dict, notes: dict, guessed: bool, mapping) -> None:
    """Two columns under a mapped name: pandas would read the first and call the other 'name.1', silently."""
    if kind == "parquet":
        header = _read_parquet(path, None)
    else:
        header = _read_csv(path, options, notes, guessed, header=None, nrows=1, dtype=str).iloc[0].tolist()
    header = [str(h) for h in header]
    for name, src in mapping.items():
        where = [i + 1 for i, h in enumerate(header) if h == src]
        if len(where) > 1:
            fix = (
                f"rename one of them in the file, or set {override(f'data.columns.{name}', f'{src}.1')} to read the "
                "second"
                if kind == "csv"
                else "rename one of them in the file"
            )
            raise InputError(
                f"{path}: {len(where)} columns are named '{src}' (columns {', '.join(map(str, where))}), the column "
                f"data.columns.{name} names, so which one holds the {name} is unclear; {fix}."
            )


def _refuse_rows_longer_than_the_header(path: Path, options: dict, width: int) -> None:
    """A row with more fields than the header: reading only the mapped columns, pandas drops the extra fields
    silently, so an unquoted `1,540` in a comma-separated file would sell 1 instead of 1,540. One more pass, with
    the options the table was just read with, that reads only the field past the header's last (empty where a
    row has none, or ends in a separator)."""
    above = options.get("skiprows", 0)  # lines above the header (sniffing found it below a title, or the user said)
    if {"header", "names", "usecols"} & set(options) or not isinstance(above, int):
        return  # a layout of the user's own (read options): the header is not simply one line
    options = {k: v for k, v in options.items() if k != "skiprows"}
    try:
        past = pd.read_csv(
            path, **options, header=None, skiprows=above + 1, names=range(width + 1), usecols=[width], dtype=str
        )
    except pd.errors.ParserError:
        # pandas' way of saying that no row has a field past the header's ("Too many columns specified"). The
        # table itself was just read with these options, so a parser error here can mean nothing else, whatever
        # its wording in another pandas version.
        return
    values = past[width].astype("string").str.strip()
    longer = values.notna() & values.ne("")
    if longer.any():
        first = int(np.flatnonzero(longer.to_numpy())[0])
        raise InputError(
            f"{path}: {int(longer.sum())} row(s) have more fields than the header's {width} columns (first: data "
            f"row {first + 1}, extra field '{values.iloc[first][:40]}'): an unquoted number whose thousands mark is "
            "the field separator (1,540 in a comma-separated file) or an unquoted text holding a separator; export "
            "the table again with such values quoted, or without thousands marks."
        )


def _padding_aside(mapping: dict[str, str], available: list) -> dict[str, str]:
    """`mapping` with each name the file lacks replaced by the file's one column that is that name with spaces
    around it (' sku', 'qty '): exports pad headers to a width, and no one tells such names apart."""
    padded: dict[str, list[str]] = {}
    for column in available:
        padded.setdefault(str(column).strip(), []).append(column)
    return {
        name: padded[str(src).strip()][0]
        if src not in available and len(padded.get(str(src).strip(), [])) == 1
        else src
        for name, src in mapping.items()
    }


def _absent_columns_message(path: Path, absent: list[str], mapping: Mapping[str, str], available: list) -> str:
    listed = _listed(available)
    names = ", ".join(f"data.columns.{_contract_name(name)}='{mapping[name]}'" for name in absent)
    if len(available) == 1 and any(sep in str(available[0]) for sep in ";\t|"):
        fix = f"the file seems to use another field separator: set it, e.g. {override('data.read_options.sep', ';')}"
    else:
        name = _contract_name(absent[0])
        key = f"data.columns.{name}"
        # A name that differs in case, spacing or a letter or two, or that the file's name holds among other words
        # ('Order Date'): the setting to type, not a list to pick from; every absent column's where each has one.
        nears = {part: _near_name(mapping[part], available) for part in absent}
        near = nears[absent[0]]
        if len(absent) > 1 and name != "sku" and None not in nears.values():
            fix = "set " + " ".join(override(f"data.columns.{part}", col) for part, col in nears.items())
        else:
            fix = f"set {override(key, near)}" if near is not None else f"set {key} to one of them"
        parts = [src for part, src in mapping.items() if _contract_name(part) == "sku"]
        if name == "sku" and len(parts) > 1:  # one column of a SKU of several: the whole list, as typed
            corrected = [near if src == mapping[absent[0]] and near else src for src in parts]
            plain = near is not None and all(re.fullmatch(r"[\w.-]+", c) for c in corrected)
            fix = f"set '{key}=[{','.join(corrected)}]'" if plain else f"set {key} to a list of them"
        if all(name in OPTIONAL for name in absent):
            fix += f", or {key}=null if the file has none"
    verb = "is not a column" if len(absent) == 1 else "are not columns"
    return f"{path}: {names} {verb} of the file (it has: {listed}); {fix}."


def _contract_name(name: str) -> str:
    """`sku` for the columns of a SKU of several (sku@1, ...), `date` likewise, else the name itself."""
    return name.split("@")[0]


def _near_name(wanted, available: list) -> str | None:
    """The file's one column whose name is close to `wanted` (case and spacing aside), else its one column whose
    name holds every word of `wanted` among others ('Order Date' or 'OrderDate' for date, 'Net Sales (EUR)' for
    sales), or None."""
    lowered = {str(a).strip().lower(): str(a) for a in available}
    near = difflib.get_close_matches(str(wanted).strip().lower(), list(lowered), n=1, cutoff=0.75)
    if near:
        return lowered[near[0]]
    words = _words(wanted)
    holding = [str(a) for a in available if words and words <= _words(a)]
    return holding[0] if len(holding) == 1 else None


def _words(name) -> set[str]:
    """The words of a column name, lower case: 'Net Sales (EUR)' and 'netSalesEUR' -> {net, sales, eur}."""
    return {w.lower() for w in re.findall(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+", str(name))}


EMPTY_DATE_RULES = ("error", "drop")


def _parse_dates(
    values: pd.Series,
    path: Path,
    column: str,
    date_format: str | None,
    notes: dict,
    empty_dates: str | None = None,
    totals: pd.Series | None = None,
) -> pd.Series:
    """The column as datetimes; empty dates stop the read, or with `empty_dates` "drop" stay empty (NaT) for the
    caller to leave out and count (an export's "Total" row has a SKU text and no date). `totals`: rows whose code
    reads as a total, whose empty dates the caller leaves out whatever the rule."""
    rule = setting_choice(empty_dates, "empty_dates", EMPTY_DATE_RULES)
    parsed = parse_dates(values, path, column, date_format, notes)
    empty = parsed.isna() & ~(totals if totals is not None else False)
    if empty.any() and rule == "error":
        raise InputError(
            f"{path}: column '{column}' has {int(empty.sum())} empty date(s) at row(s) "
            f"{row_list(empty)}; set data.empty_dates=drop to leave those rows out (counted in "
            "data_quality.json, e.g. a total row), or fill them in the file."
        )
    return parsed
