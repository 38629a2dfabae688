"""Empty quantities in a demand table: a catalogue lists parts before they sell, and gaps inside a history.

An ERP exports a row for every part and period, with the quantity empty until the part is first recorded; such
rows say the part was not yet listed, not that demand was unknown, so they are dropped (`not_yet_listed`). An
empty quantity after a SKU's first recorded one (a zero counts as recorded) is a gap in its history, and what
it means differs between systems, so `data.missing` says: `error` (the default: stop and name the rows), `zero`
(no sales that period; counted as a repair) or `drop` (the row is left out and counted; the panel then fills
the period with zero, flagged `filled`).

Rows dated after the table's last recorded quantity (any SKU's) with the quantity empty are the periods ahead: a
promo calendar or price list exported with the sales. Read as missing sales, `data.missing=zero` would have
planned on weeks of zero demand. `rows_ahead` takes them out first; the loader keeps them as the final forecast's
promo and price where `data.future_covariates=known`, else counts them set aside.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from forecasting.data.advice import setting_choice
from forecasting.data.quality import DataQuality, row_list
from forecasting.errors import InputError

RULES = ("error", "zero", "drop")


def rows_ahead(frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(`frame` without them, the rows dated after the table's last recorded quantity that have none)."""
    empty = frame["quantity"].isna()
    if not empty.any() or empty.all():
        return frame, frame.iloc[:0]
    ahead = empty & (frame["date"] > frame.loc[~empty, "date"].max())
    return frame[~ahead], frame[ahead]


def resolve_missing(frame: pd.DataFrame, rule: str | None, dq: DataQuality, path: Path, column: str) -> pd.DataFrame:
    """`frame` (sku, date, quantity, ...) with every empty quantity dropped, zeroed or refused, and counted."""
    rule = setting_choice(rule, "missing", RULES)
    empty = frame["quantity"].isna()
    if not empty.any():
        return frame
    if empty.all():
        raise InputError(
            f"{path}: column '{column}' (data.columns.quantity) is empty in every row; map data.columns.quantity "
            "to the column that holds the quantities sold."
        )
    first = frame.loc[~empty].groupby("sku", observed=True)["date"].min()
    listed_from = frame["sku"].map(first)
    # A SKU without any quantity was never listed in the period the file covers.
    before = empty & (listed_from.isna() | (frame["date"] < listed_from))
    frame = dq.drop(frame, before, "not_yet_listed")
    inside = frame["quantity"].isna()
    if not inside.any():
        return frame
    if rule == "zero":
        dq.repair("missing_quantity_set_to_zero", int(inside.sum()))
        return frame.assign(quantity=frame["quantity"].fillna(0.0))
    if rule == "drop":
        return dq.drop(frame, inside, "missing_quantity")
    row = frame.loc[inside].iloc[0]
    raise InputError(
        f"{path}: column '{column}' is empty in {int(inside.sum())} row(s) after their SKU's first recorded "
        f"quantity, e.g. SKU '{row['sku']}' on {row['date']:%Y-%m-%d} (row(s) {row_list(inside)}); set "
        "data.missing=zero if an empty quantity means no sales, or data.missing=drop to leave those rows out "
        "(either is counted in data_quality.json), or fill them in the file."
    )
