"""An export's total rows: a pivot table or report saved with its "Grand Total" (or "Summe", "Totaal") as one more
row per period, or one more row in a sheet of one column per period.

Planned as a SKU, a total is the assortment's largest item (ABC class A by far) and orders a second copy of every
unit the other SKUs order. It is told by two things together: its code reads as a total, and in every period its
quantity is the sum of the other SKUs' quantities. A SKU whose code only reads as one ("Total Care Shampoo"
selling its own units) is kept.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from forecasting.data.codes import codes_matching
from forecasting.data.quality import DataQuality

TOTAL_WORDS = r"(?:grand\s*)?(?:total|totals|sum|summe|gesamt|gesamtsumme|totaal|totale|totalt|suma|somme|summa)"
# The code as a whole: a total word, maybe with a label before or after it ("Grand Total", "Total:", "Sum of units").
TOTAL_CODE = rf"(?i)(?:.*\s)?{TOTAL_WORDS}(?:[\s:].*)?"


def total_codes(skus: pd.Series) -> pd.Series:
    """Which rows' SKU codes read as a total (TOTAL_CODE)."""
    return codes_matching(skus, TOTAL_CODE)


def drop_dateless_totals(frame: pd.DataFrame, dq: DataQuality) -> pd.DataFrame:
    """A report's "Total" line at the bottom: a code that reads as a total and no date. No sale can lack a date,
    so it is left out and counted (`total_row`), not refused as an empty date."""
    totals = frame["date"].isna() & total_codes(frame["sku"])
    if totals.any():
        dq.notes["total_rows"] = f"{int(totals.sum())} row(s) without a date whose code reads as a total left out"
    return dq.drop(frame, totals, "total_row")


def drop_total_rows(frame: pd.DataFrame, dq: DataQuality) -> pd.DataFrame:
    """`frame` (sku, date, quantity) without the rows of any SKU that is the other SKUs' total in every period it
    has, counted under `total_row` and named in the notes."""
    labels = total_codes(frame["sku"])
    if not labels.any():
        return frame
    quantity = frame["quantity"].astype(float).fillna(0.0)
    others = quantity[~labels].groupby(frame.loc[~labels, "date"]).sum()
    totals = []
    for sku, rows in frame[labels].groupby("sku", observed=True):
        own = quantity[rows.index].groupby(rows["date"]).sum()
        expected = others.reindex(own.index, fill_value=0.0)
        if len(own) and np.allclose(own.to_numpy(), expected.to_numpy(), rtol=1e-6, atol=1e-6):
            totals.append(str(sku))
    if not totals:
        return frame
    dq.notes["total_rows"] = (
        f"rows of {', '.join(repr(t) for t in totals[:3])} left out: in every period they hold the sum of the other "
        "SKUs, an export's total, not a SKU"
    )
    return dq.drop(frame, frame["sku"].astype("string").isin(totals).fillna(False).to_numpy(), "total_row")
