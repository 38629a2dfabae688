"""What a file handed in as a table really holds: Parquet, an Excel workbook, compressed or binary data, and
for text its encoding and field separator.

Users export with whatever tool is at hand, so a `.csv` may be a workbook, gzip, Latin-1 or `;`-separated.
Each is told from the file's first bytes and then either read correctly (and recorded for data_quality.json)
or named in one sentence with the fix.
"""

from __future__ import annotations

import bz2
import codecs
import csv
import gzip
import io
import lzma
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from forecasting.errors import InputError

SAMPLE_BYTES = 64 * 1024
PARQUET_MAGIC = b"PAR1"
XLS_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # OLE2: legacy .xls (and other Office files)
ZIP_MAGIC = b"PK\x03\x04"
COMPRESSED = {b"\x1f\x8b": ("gzip", gzip.open), b"BZh": ("bz2", bz2.open), b"\xfd7zXZ\x00": ("xz", lzma.open)}
BOMS = {codecs.BOM_UTF8: "utf-8-sig", codecs.BOM_UTF16_LE: "utf-16", codecs.BOM_UTF16_BE: "utf-16"}
# Tried in order when the user names no encoding: cp1252 is what Excel on Windows writes for "CSV"; latin-1
# decodes any byte, so the chain always ends in a decoding (binary files were turned away before).
FALLBACK_ENCODINGS = ("utf-8", "cp1252", "latin-1")
SEPARATORS = ",;\t|"
# A report's export often puts lines above the header (a title, the run date, Excel's "sep=;"): the header is
# looked for in the file's first lines, as the line whose fields hold every mapped column name.
HEADER_SEARCH_LINES = 30


def file_kind(path: Path) -> str:
    """'parquet' or 'csv', from the first bytes where they tell (a Parquet file named .csv reads as Parquet)."""
    with path.open("rb") as fh:
        head = fh.read(8)
    if head.startswith(PARQUET_MAGIC):
        return "parquet"
    if head.startswith(XLS_MAGIC):
        raise InputError(
            f"{path}: this is a legacy Excel file (.xls), which cannot be read; save it as an Excel workbook (.xlsx) "
            "or as CSV (File > Save As > CSV UTF-8) and point data.path at that file."
        )
    if head.startswith(ZIP_MAGIC) and is_workbook(path):
        raise InputError(
            f"{path}: this is an Excel file, not a CSV or Parquet table; save the sheet as CSV (File > Save As > "
            "CSV UTF-8) and point data.path at that file."
        )
    if path.suffix.lower() in (".parquet", ".pq"):
        raise InputError(
            f"{path}: the file is named .parquet but is not a Parquet file (it starts with {head[:4]!r}); "
            "point data.path at the real Parquet file, or rename it to .csv if it is a CSV export."
        )
    return "csv"


def is_workbook(path: Path) -> bool:
    """Whether `path` is an Office Open XML workbook (a zip holding xl/), whatever its name."""
    try:
        with zipfile.ZipFile(path) as zf:
            return any(name.startswith("xl/") for name in zf.namelist())
    except (zipfile.BadZipFile, OSError):
        return False


def csv_options(
    path: Path, read_options: Mapping, names: Sequence[str] = (), key_names: Sequence[str] = ()
) -> tuple[dict, dict]:
    """Options for `pandas.read_csv` (compression, encoding, separator, lines above the header) and what was
    detected, as notes. `names`: the column names the header must hold; where no line holds them all, the line
    that holds `key_names` (the SKU's: a sheet of one column per period has no date or quantity column to find).

    Options the user set in `data.read_options` win; only what is left unset is detected.
    """
    options = dict(read_options)
    notes: dict[str, str] = {}
    with path.open("rb") as fh:
        head = fh.read(SAMPLE_BYTES)
    opener = None
    for magic, (name, open_fn) in COMPRESSED.items():
        if head.startswith(magic):
            options.setdefault("compression", name)
            opener = open_fn
    if head.startswith(ZIP_MAGIC):
        options.setdefault("compression", "zip")
        head = _first_zip_member(path)
    if "compression" in options and options["compression"] != "infer":
        notes["compression"] = str(options["compression"])
    if opener is not None:
        try:
            with opener(path, "rb") as fh:
                head = fh.read(SAMPLE_BYTES)
        except (OSError, EOFError, lzma.LZMAError) as exc:
            raise InputError(
                f"{path}: the file is {options['compression']}-compressed but cannot be decompressed ({exc}); "
                "export the table again."
            ) from None

    if "encoding" not in options:
        options["encoding"] = _detect_encoding(path, head)
    if options["encoding"] not in ("utf-8", "utf-8-sig"):
        notes["encoding"] = str(options["encoding"])
    text = head.decode(options["encoding"], errors="replace")
    header = _header_line(text, names, options) or _header_line(text, key_names, options)
    if header is not None and header[0] > 0:
        line, sep = header
        options["skiprows"] = line
        notes["header_line"] = f"the header is on line {line + 1}: the {line} line(s) above it were skipped"
        if "sep" not in options and "delimiter" not in options and sep != ",":
            options["sep"] = notes["separator"] = sep
    if "sep" not in options and "delimiter" not in options:
        sep = _detect_separator(text)
        if sep != ",":
            options["sep"] = sep
            notes["separator"] = sep
    return options, notes


def _header_line(text: str, names: Sequence[str], options: Mapping) -> tuple[int, str] | None:
    """(line index, separator) of the first of the file's first lines whose fields hold every name of `names`;
    None where none does (or the user laid the file out with read options)."""
    if not names or {"skiprows", "header", "names"} & set(options):
        return None
    wanted = {str(n).strip().lower() for n in names}  # case aside: the mapping's own check names a near name
    given = options.get("sep", options.get("delimiter"))
    lines = io.StringIO(text).readlines()[:HEADER_SEARCH_LINES]
    for i, line in enumerate(lines):
        for sep in [given] if given else SEPARATORS:
            fields = {f.strip().lower() for f in next(csv.reader([line.rstrip("\r\n")], delimiter=sep), [])}
            if wanted <= fields:
                return i, sep
    return None


def _first_zip_member(path: Path) -> bytes:
    with zipfile.ZipFile(path) as zf:
        names = [n for n in zf.namelist() if not n.endswith("/")]
        if len(names) != 1:
            raise InputError(
                f"{path}: the file is a zip archive of {len(names)} files; unzip it and point data.path at the "
                "one table."
            )
        with zf.open(names[0]) as fh:
            return fh.read(SAMPLE_BYTES)


def _detect_encoding(path: Path, head: bytes) -> str:
    for bom, name in BOMS.items():
        if head.startswith(bom):
            return name
    # Text exports never hold NUL or most other control bytes; random or binary data does, often.
    control = sum(head.count(bytes([b])) for b in range(32) if b not in (9, 10, 13))
    if b"\x00" in head or control > len(head) // 200:
        raise InputError(
            f"{path}: this is not a CSV file: it holds binary data, not text; point data.path at a CSV or "
            "Parquet export of the sales table."
        )
    for name in FALLBACK_ENCODINGS:
        try:
            # Incremental, so a character cut at the sample's end is not taken for a decoding error.
            codecs.getincrementaldecoder(name)().decode(head, final=False)
            return name
        except UnicodeDecodeError:
            continue
    return FALLBACK_ENCODINGS[-1]


def _detect_separator(text: str) -> str:
    lines = text.splitlines()[:20]
    if not lines:
        return ","
    try:
        sep = csv.Sniffer().sniff("\n".join(lines), delimiters=SEPARATORS).delimiter
    except csv.Error:
        return ","

    # The sniffer guesses; only trust it where the header splits into more fields than on commas.
    def fields(d: str) -> int:
        return len(next(csv.reader([lines[0]], delimiter=d)))

    return sep if fields(sep) > fields(",") else ","
