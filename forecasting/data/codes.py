"""SKU codes as the toolkit compares them: text with the spaces an export pads them with taken off.

ERPs pad codes to a fixed width ("A100   "), spreadsheets leave a leading space or a no-break space, and a BOM
or zero-width space rides along from copy and paste. None of these is part of the code, and none is visible in a
message, so the data loader and every planning file (stock, open orders, overrides) strip codes with this one
function: the same SKU spelled with and without padding is one SKU everywhere.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

# Invisible characters str.strip() keeps (it takes Unicode whitespace, no-break space included): zero-width
# space, zero-width (non-)joiners, word joiner and the byte order mark.
INVISIBLE = "\u200b\u200c\u200d\u2060\ufeff"
EDGES = rf"^[\s{INVISIBLE}]+|[\s{INVISIBLE}]+$"


# A whole number written as a float: "1001.0".
FLOAT_TEXT = r"[+-]?\d+\.0+"


def stripped_codes(values: pd.Series) -> pd.Series:
    """Codes as stripped text with one string object per distinct code: stripping row by row would give each of
    millions of rows its own copy of its SKU's code (about 50 bytes a row, the largest part of a read table).
    Missing codes stay missing. Codes stored as floating-point numbers (a Parquet column of part numbers that had a
    gap, so pandas made it float) are the whole numbers they hold: 1001, not 1001.0, as a stock file writes it;
    so are codes written as such floats in text, where every code of the column is one ("1001.0", "1002.0")."""
    if pd.api.types.is_float_dtype(values):
        known = values.dropna()
        if len(known) and bool(((known % 1) == 0).all()) and bool((known.abs() < 2**53).all()):
            values = values.astype("Int64")
    codes, uniques = pd.factorize(values.astype("string"))
    clean = uniques.str.replace(EDGES, "", regex=True)
    if len(clean) and bool(clean.str.fullmatch(FLOAT_TEXT).all()):
        # The same float column written out as text ("1001.0" in a CSV that pandas or a BI tool exported): every
        # code of the column has the point, unless dropping it would make two codes one ("1.0" and "1.00").
        whole = clean.str.replace(r"\.0+$", "", regex=True)
        clean = whole if whole.nunique() == clean.nunique() else clean
    # The array's take: an Index's take would read code -1 (missing) as "the last code" instead of missing.
    return pd.Series(clean.array.take(codes, allow_fill=True), index=values.index, name=values.name)


# A SKU keyed by several columns (`data.columns.sku=[item,store]`) is their codes joined: FOODS_1_001|CA_1.
SKU_JOIN = "|"


def joined_codes(parts: list[pd.Series]) -> pd.Series:
    """One code per row from the stripped codes of several columns (item and store), missing where any part is."""
    out = stripped_codes(parts[0])
    for part in parts[1:]:
        out = out + SKU_JOIN + stripped_codes(part)
    return out


def shown_codes(codes, limit: int = 5) -> str:
    """Codes for a message: plain codes as they are, any code with a space, an invisible or control character (or
    an empty one) quoted with its escapes (`'A\\u200b1'`), so a message never holds a character the reader cannot
    see."""
    codes = [str(c) for c in codes]
    more = f" and {len(codes) - limit} more" if len(codes) > limit else ""
    return ", ".join(_shown(c) for c in codes[:limit]) + more


def _shown(code: str) -> str:
    plain = code != "" and code.isprintable() and not any(ch.isspace() for ch in code)
    return code if plain else ascii(code)


# A long part number a spreadsheet turned into a number and saved as it displays it: 123456789012 as
# '1.23457E+11'. The digits past the sixth are gone, so different parts may now share one code.
SCIENTIFIC = r"[+-]?\d(?:[.,]\d+)?[eE]\+\d{1,3}"  # Excel writes the + ("4E2" may be a code)


def scientific_codes(codes: pd.Series) -> pd.Series:
    """Which codes are written in scientific notation (SCIENTIFIC)."""
    return codes_matching(codes, SCIENTIFIC)


def codes_matching(codes: pd.Series, pattern: str) -> pd.Series:
    """Which codes `pattern` matches as a whole (False where missing); each distinct code is looked at once."""
    index, uniques = pd.factorize(codes)
    found = pd.Series(uniques, dtype="string").str.fullmatch(pattern).fillna(False).to_numpy(dtype=bool)
    return pd.Series(np.append(found, False)[index], index=codes.index)  # code -1 (missing): the appended False
