"""Number columns as exports write them: "1,540", "1.540", "1.540,5", "1,540.5", "2,5".

A thousands separator and a decimal mark can both be "," or ".", and one value ("1,540") fits either reading,
a thousand times apart. So the reading is decided once per column, from every value in it, never value by
value: a mark is a decimal mark where some value shows it so (not followed by exactly three digits, or after
the other mark), a thousands separator where some value shows that (twice in a value, or before the other
mark). Where only "1,540"-like values carry the mark, the column's plain numbers tell (a formatter that groups
thousands writes 12 but never 1540), else the file's other number column (a price "2,50"); a column where
nothing tells stops the run naming both settings. The decision is then applied as pandas' `thousands` /
`decimal` read options would be, and recorded in data_quality.json.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from forecasting.data.advice import list_override, override
from forecasting.data.quality import row_list
from forecasting.errors import InputError

MARKS = (",", ".")
# One mark in the value followed by exactly three digits, after one to three digits not starting with 0 (a
# thousands group never leads with a zero: "0,250" is a decimal): "1,540", "-12.000".
LEAD = r"[-+]?[1-9]\d{0,2}"
SPACE_GROUPS = r"(?<=\d)[ \u00a0\u202f'](?=\d{3}(?:\D|$))"
ONE_GROUP = {m: re.compile(rf"{LEAD}{re.escape(m)}\d{{3}}") for m in MARKS}
# A currency sign or ISO code before or after an amount ("£2.50", "-$3", "2,50 €", "EUR 12.00", "12.00 USD"):
# ERP price exports carry one; it never changes the number.
CURRENCY = r"[$£€¥₹₽₩₺]|[A-Z]{3}"
CURRENCY_AROUND = re.compile(rf"^([-+]?)\s*(?:{CURRENCY})\s*(?=[-+]?\d)|(?<=[\d.,])\s*(?:{CURRENCY})$")
# A unit word after a count or measure ("29 pcs", "12 EA", "3,5 kg"): a quantity as an ERP displays it. One unit
# throughout a column is only the unit the plan counts in; two ("kg" and "g") would add grams to kilograms.
UNITS = (
    "pcs", "pc", "pce", "pces", "piece", "pieces", "ea", "each", "unit", "units", "u", "un", "st", "stk", "stck",
    "stück", "pz", "pza", "pzs", "szt", "ks", "kg", "g", "lb", "lbs", "l", "ltr", "ml", "m", "cs", "case", "cases",
    "ctn", "box", "boxes", "pk", "pack", "packs", "pr", "pair", "pairs", "dz", "doz",
)  # fmt: skip
UNIT_AFTER = re.compile(rf"(?<=[\d.,])\s*({'|'.join(UNITS)})\.?$", re.IGNORECASE)
# A spreadsheet's formula errors, as a CSV saved from the sheet writes them: the value is unknown, an empty cell
# (data.missing says what an empty quantity is), never text to stop on.
EXCEL_ERRORS = r"#(?:VALUE!|DIV/0!|REF!|NAME\?|NUM!|NULL!|N/A|SPILL!|CALC!|FIELD!|BLOCKED!|GETTING_DATA)"
# A dash alone is zero: Excel's accounting and comma formats display 0 as "-" (" -   "), and a CSV saved from the
# sheet writes what it displays.
DASH_ZERO = r"[-\u2012\u2013\u2014\u2212]"
# Negatives as accounting systems write them: a trailing minus (SAP, COBOL: "36,000-") or parentheses ("(36.00)",
# "(£2.50)"). Neither can mean anything but a negative; both become a leading minus before the marks are decided.
TRAILING_MINUS = re.compile(r"^([^-+()]*\d[^-+()]*?)\s*-$")
PARENTHESES = re.compile(r"^\(\s*([^-+()]*\d[^-+()]*?)\s*\)$")


def parse_numbers(
    values: pd.Series,
    path: Path,
    column: str,
    options: dict | None = None,
    notes: dict | None = None,
    hint: tuple[str, str | None] | None = None,
    money: bool = False,
    na_setting: bool = False,
) -> pd.Series:
    """`values` (text as read, or numbers from Parquet) as float64; `options` holds the user's `decimal` /
    `thousands` read options, which win over what the column shows; `hint` is what the file's other number
    columns show (`file_marks`), used where this column's values fit both readings. In a `money` column (a
    price or cost) a currency sign or code around an amount is dropped; elsewhere it is refused (an amount
    mapped as a quantity would plan on money). `na_setting`: a few placeholder texts ('n.a.') are named with the
    read option that makes them empty (the data table's; a plan file has none)."""
    options = options or {}
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        parsed = values.astype("float64")
        return _finite(parsed, values, path, column)
    text = values.astype("string").str.strip()
    errors = text.str.fullmatch(EXCEL_ERRORS, case=False).fillna(False)
    read = []
    if errors.any():
        read.append(f"{int(errors.sum())} spreadsheet error value(s) (e.g. '{text[errors].iloc[0]}') read as empty")
    text = text.where((text != "") & ~errors)
    # Decided and parsed once per distinct value: a quantity column repeats a few thousand values.
    codes, uniques = pd.factorize(text)
    raw = pd.Series(uniques, dtype="string")
    dash = raw.str.fullmatch(DASH_ZERO).fillna(False)
    signed = _leading_minus(raw.where(~dash, "0"))
    bare = _without_currency(signed) if money else _without_unit(signed, path, column, read)
    distinct = _ungrouped(bare)
    if bool((distinct != bare).any()):
        read.append("spaces or apostrophes between groups of three digits read as thousands separators")
    if bool(dash.any()):
        read.append(f"a dash alone read as zero, as a spreadsheet displays 0 (e.g. '{raw[dash].iloc[0]}')")
    if bool(((signed != raw) & ~dash).any()):
        shown = raw[(signed != raw) & ~dash].iloc[0]
        read.append(f"trailing minus signs or parentheses read as negatives (e.g. '{shown}')")
    if money and bool((bare != signed).any()):
        read.append(f"currency signs or codes around the amounts dropped (e.g. '{raw[bare != signed].iloc[0]}')")
    decimal, thousands = options.get("decimal"), options.get("thousands")
    if decimal is None and thousands is None:
        decimal, thousands = _decide(distinct, path, column, hint)
        if thousands or decimal != ".":
            read.insert(0, f"decimal mark '{decimal}'" + (f", thousands separator '{thousands}'" if thousands else ""))
    elif decimal is None or thousands is None:
        # One set: the other mark can only be the other role (a value that does not fit is still refused).
        given = decimal if decimal is not None else thousands
        other = {",": ".", ".": ","}.get(given)
        decimal, thousands = (decimal, other) if decimal is not None else (other or ".", thousands)
    if read and notes is not None:
        notes.setdefault("numbers", {})[column] = "; ".join(read)
    parsed = pd.Series(_to_float(distinct, decimal or ".", thousands).to_numpy().take(codes), index=values.index)
    parsed[codes < 0] = np.nan
    bad = parsed.isna() & text.notna()
    if bad.any():
        example = str(text[bad].iloc[0])
        fix = "fix them, or map data.columns to the numeric column"
        placeholders = pd.unique(text[bad])
        # A few texts among numbers are placeholders for an unknown value ('n.a.', 'k.A.', '?'), not a wrong column.
        if na_setting and len(placeholders) <= 3 and bad.mean() < 0.5 and all(len(v) <= 20 for v in placeholders):
            typed = list_override("+data.read_options.na_values", placeholders)
            fix = f"if they stand for an unknown quantity, set {typed} to read them as empty cells, or fix them"
        raise InputError(
            f"{path}: column '{column}' has {int(bad.sum())} non-numeric value(s) (e.g. '{example}' at row(s) "
            f"{row_list(bad)}); {fix}."
        )
    return _finite(parsed, values, path, column)


def _to_float(text: pd.Series, decimal: str, thousands: str | None) -> pd.Series:
    """What pandas' read_csv(decimal=, thousands=) makes of the text, NaN where a value does not fit them."""
    cleaned = text
    if thousands:
        # Only where the separator sits between groups of three digits: "1.5" with a '.' separator stays bad.
        grouped = cleaned.str.fullmatch(_grouped(thousands, decimal)).fillna(False)
        cleaned = cleaned.where(~grouped, cleaned.str.replace(thousands, "", regex=False))
    if decimal != ".":
        cleaned = cleaned.where(~cleaned.str.contains(".", regex=False).fillna(False))  # "1.5" is not 1,5
        cleaned = cleaned.str.replace(decimal, ".", regex=False)
    return pd.to_numeric(cleaned, errors="coerce").astype("float64")


def file_marks(columns: list[pd.Series]) -> tuple[str, str | None] | None:
    """(decimal, thousands) as the first number column that tells shows them: a file has one number format, so a
    price column's "2,50" settles a quantity column's "1.540"."""
    for values in columns:
        if pd.api.types.is_numeric_dtype(values):
            continue
        distinct = pd.Series(pd.unique(values.dropna().astype("string").str.strip()), dtype="string")
        distinct = _ungrouped(_without_currency(_leading_minus(distinct)))
        if not distinct.str.contains(r"[.,]").any():
            continue
        try:
            return _decide(distinct, Path(), "")
        except InputError:
            continue
    return None


def _without_unit(distinct: pd.Series, path: Path, column: str, read: list[str]) -> pd.Series:
    """The values without the one unit word (UNITS) written after them; two units in one column are refused."""
    units = distinct.str.extract(UNIT_AFTER)[0].dropna()
    if units.empty:
        return distinct
    kinds = sorted(set(units.str.lower()))
    if len(kinds) > 1:
        raise InputError(
            f"{path}: column '{column}' counts in {len(kinds)} units ('{kinds[0]}' and '{kinds[1]}', e.g. "
            f"'{distinct[units.index[0]]}'), which cannot be added up; export the quantities in one unit."
        )
    read.append(f"the unit '{units.iloc[0]}' after the quantities dropped (e.g. '{distinct[units.index[0]]}')")
    return distinct.str.replace(UNIT_AFTER, "", regex=True)


def _leading_minus(distinct: pd.Series) -> pd.Series:
    return distinct.str.replace(TRAILING_MINUS, r"-\1", regex=True).str.replace(PARENTHESES, r"-\1", regex=True)


def _without_currency(distinct: pd.Series) -> pd.Series:
    return distinct.str.replace(CURRENCY_AROUND, r"\1", regex=True)


def _ungrouped(distinct: pd.Series) -> pd.Series:
    # Spaces and apostrophes between groups of three digits are thousands separators whatever the decimal mark
    # ("1 540", "1'540,5": French, Swiss); they never mean anything else, so they go before the decision.
    return distinct.str.replace(SPACE_GROUPS, "", regex=True)


def _grouped(thousands: str, decimal: str) -> str:
    t, d = re.escape(thousands), re.escape(decimal)
    return rf"{LEAD}(?:{t}\d{{3}})+(?:{d}\d*)?"


def _decide(distinct: pd.Series, path: Path, column: str, hint=None) -> tuple[str, str | None]:
    """(decimal mark, thousands separator or None) from the column's distinct values (or the `hint`, where they
    fit both readings)."""
    roles = {m: _role(distinct, m) for m in MARKS}
    decided = {m: r for m, r in roles.items() if r in ("decimal", "thousands")}
    # A mark read both ways, or both marks read the same way ("1.5" and "2,5"): no one format.
    if "conflict" in roles.values() or len(set(decided.values())) < len(decided):
        return _mixed(distinct, path, column)
    if len(decided) == 2:
        return (",", ".") if roles[","] == "decimal" else (".", ",")
    if len(decided) == 1:
        [(mark, role)] = decided.items()
        other = "." if mark == "," else ","
        return (mark, other if roles[other] != "absent" else None) if role == "decimal" else (other, mark)
    ambiguous = [m for m, r in roles.items() if r == "ambiguous"]
    if not ambiguous:
        return ".", None
    if len(ambiguous) == 2:
        return _mixed(distinct, path, column)
    mark = ambiguous[0]
    # Only "1,540"-like values have the mark. A formatter that groups thousands writes numbers under 1000 without
    # it and never writes 1000 or more without it; an integer of four digits or more says the mark is decimal.
    plain = distinct[~distinct.str.contains(mark, regex=False)]
    whole = pd.to_numeric(plain, errors="coerce").dropna()
    if (whole.abs() >= 1000).any():
        return mark, None
    if len(whole):
        return ("." if mark == "," else ","), mark
    if hint is not None:
        return (mark, None) if hint[0] == mark else (hint[0], mark)
    example = distinct[distinct.str.contains(mark, regex=False)].iloc[0]
    integer, fraction = example.split(mark)
    value = f"{integer.lstrip('+-') + fraction}"
    raise InputError(
        f"{path}: column '{column}' writes every number like '{example}', which reads as {value} with '{mark}' "
        f"as a thousands separator or as {integer}.{fraction} with '{mark}' as a decimal mark; set "
        f"{override('data.read_options.thousands', mark)} for the first or "
        f"{override('data.read_options.decimal', mark)} for the second."
    )


def _role(distinct: pd.Series, mark: str) -> str:
    """What the values say `mark` is: decimal, thousands, ambiguous (only "1,540"-like), absent or conflict."""
    has = distinct[distinct.str.contains(mark, regex=False)]
    if has.empty:
        return "absent"
    other = "." if mark == "," else ","
    both = has[has.str.contains(other, regex=False)]
    single = has[~has.str.contains(other, regex=False)]
    last = both.str.rfind(mark) > both.str.rfind(other)
    decimal = bool(last.any()) or bool(
        ((single.str.count(re.escape(mark)) == 1) & ~single.str.fullmatch(ONE_GROUP[mark])).any()
    )
    thousands = bool((~last).any()) or bool((single.str.count(re.escape(mark)) > 1).any())
    if decimal and thousands:
        return "conflict"
    return "decimal" if decimal else "thousands" if thousands else "ambiguous"


def _mixed(distinct: pd.Series, path: Path, column: str):
    commas = distinct[distinct.str.contains(",", regex=False)]
    dots = distinct[distinct.str.contains(".", regex=False)]
    example = f"'{commas.iloc[0]}' and '{dots.iloc[0]}'" if len(commas) and len(dots) else f"'{distinct.iloc[0]}'"
    raise InputError(
        f"{path}: column '{column}' writes numbers two ways (e.g. {example}), so neither ',' nor '.' reads as one "
        "decimal mark throughout; export the column with one number format, then set "
        f"{override('data.read_options.decimal', ',')} (and {override('data.read_options.thousands', '.')}) if "
        "it uses decimal commas."
    )


def _finite(parsed: pd.Series, values: pd.Series, path: Path, column: str) -> pd.Series:
    infinite = pd.Series(np.isinf(parsed.to_numpy()), index=parsed.index)
    if infinite.any():
        raise InputError(
            f"{path}: column '{column}' has {int(infinite.sum())} infinite value(s) (e.g. '{values[infinite].iloc[0]}' "
            f"at row(s) {row_list(infinite)}); replace them with the real figures or remove those rows."
        )
    return parsed
