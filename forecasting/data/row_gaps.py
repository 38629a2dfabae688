"""Stretches without a row inside a SKU's history, where its file writes the periods without sales as 0 rows.

A period without a row is a period without sales: most exports list only what sold. But where a SKU's file
writes its periods without sales as rows of 0 (most of them), weeks on end without any row are the export's
gap (a system change, a store's data lost for half a year), not weeks without demand. Read as zeros they would
teach every model a collapse that never happened, and a replay over them would judge policies on demand that
was never recorded. Such gaps are named (`data.gaps=zero`, the default, plans them as no sales, as before, and
says so), or with `data.gaps=restart` each SKU's history starts after its last gap (counted).
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from forecasting.data.advice import setting_choice
from forecasting.data.quality import DataQuality

log = logging.getLogger(__name__)

GAP_RULES = ("zero", "restart")
# The shortest stretch without rows that is named: four weeks, in the table's periods (two at least).
GAP_DAYS = 28


def row_gaps(panel: pd.DataFrame, written_zero: pd.Series, period_days: float) -> pd.DataFrame:
    """Per gap (sku, first, last, periods): a run of at least GAP_DAYS of periods without a row (`filled`) that a
    later row ends, in a SKU whose file writes its periods without sales as rows of 0: `written_zero` (its rows
    of 0 in the file, per SKU, closed days included) at least as many as its other periods without a row."""
    columns = ["sku", "first", "last", "periods"]
    sku = panel["sku"].to_numpy()
    # Only the rows without a row in the file (few, in a table that writes its zeros) are looked at: their runs
    # of consecutive positions within one SKU.
    writers = written_zero.index[written_zero > 0]
    at = np.flatnonzero(panel["filled"].to_numpy(dtype=bool) & panel["sku"].isin(writers).to_numpy())
    if not len(at):
        return pd.DataFrame(columns=columns)
    starts = np.r_[True, (np.diff(at) != 1) | (sku[at][1:] != sku[at][:-1])]
    run = np.cumsum(starts) - 1
    first, last = at[starts], at[np.r_[starts[1:], True]]
    runs = pd.DataFrame({"sku": sku[first], "periods": np.bincount(run)})
    runs["first"], runs["last"] = panel["date"].to_numpy()[first], panel["date"].to_numpy()[last]
    # A run the SKU's history ends with is not inside it: the SKU stopped selling, or has not sold since.
    after = last + 1
    inside = (after < len(sku)) & (sku[np.minimum(after, len(sku) - 1)] == runs["sku"].to_numpy())
    long = inside & (runs["periods"].to_numpy() >= gap_periods(period_days))
    # Where a SKU leaves out more periods (outside its long runs) than it writes as 0, a missing row is its way
    # of saying "no sales", and a long run of them is a quiet spell, not a gap.
    other = runs[~long].groupby("sku")["periods"].sum()
    writes = written_zero.reindex(runs["sku"]).to_numpy() >= other.reindex(runs["sku"]).fillna(0).to_numpy()
    found = runs[long & writes]
    return found[columns].reset_index(drop=True)


def resolve_gaps(
    panel: pd.DataFrame, gaps: pd.DataFrame, rule: str | None, unit: str, period_days: float, dq: DataQuality
) -> pd.DataFrame:
    """`panel` as `data.gaps` says: gaps planned as no sales (named in the log and data_quality.json), or each
    SKU's history from the period after its last gap on."""
    rule = setting_choice(rule, "gaps", GAP_RULES)
    if gaps.empty:
        return panel
    longest = gaps.sort_values("periods", ascending=False, kind="stable").iloc[0]
    example = (
        f"SKU '{longest['sku']}' {longest['first'].date()} to {longest['last'].date()}, {longest['periods']} {unit}s"
    )
    done = (
        "their history starts after their last gap (data.gaps=restart)"
        if rule == "restart"
        else "planned as no sales (data.gaps=zero)"
    )
    dq.notes["row_gaps"] = (
        f"{gaps['sku'].nunique()} SKU(s) had {gap_periods(period_days)} or more {unit}s without a row inside their "
        f"history though their file writes {unit}s without sales as rows of 0 (longest: {example}): {done}"
    )
    if rule == "restart":
        after = gaps.groupby("sku")["last"].max()
        before = panel["date"] <= panel["sku"].map(after)
        dq.repair(f"{unit.replace(' ', '_')}s_before_a_row_gap_left_out", int(before.sum()))
        return panel[~before].reset_index(drop=True)
    log.warning(
        "%d SKU(s) have %d or more %ss without a row inside their history, though their file writes %ss without "
        "sales as rows of 0 (e.g. %s): those %ss are planned as no sales; if the export lost them, set "
        "data.gaps=restart to start each such SKU's history after its last gap (counted in data_quality.json)",
        gaps["sku"].nunique(),
        gap_periods(period_days),
        unit,
        unit,
        example,
        unit,
    )
    return panel


def gap_periods(period_days: float) -> int:
    """The fewest periods without a row that make a gap: GAP_DAYS, two at least."""
    return max(2, int(np.ceil(GAP_DAYS / period_days)))
