"""An export's gap (weeks without any row for a SKU whose file writes its days without sales as 0) is named, and
with data.gaps=restart the SKU's history starts after it; a table that lists only what sold has no gaps."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from forecasting.data.prepare import prepare_data
from tests.test_real_tables import SHORT, apply_typed, printed_settings

COLUMNS = {"sku": "store", "date": "day", "quantity": "sales"}


def store_days(stores: int = 4, seed: int = 0) -> pd.DataFrame:
    """Daily sales per store for two years, a row every day: Sundays closed, written as rows of 0."""
    days = pd.date_range("2023-01-02", "2024-12-29")
    rng = np.random.default_rng(seed)
    rows = [
        {"store": f"S{s}", "day": d, "sales": 0 if d.dayofweek == 6 else int(rng.poisson(40))}
        for s in range(stores)
        for d in days
    ]
    return pd.DataFrame(rows)


def test_a_stretch_without_rows_in_a_table_that_writes_zeros_is_named_and_restart_starts_after_it(tmp_path, caplog):
    table = store_days()
    lost = (table["store"] == "S1") & table["day"].between("2024-03-01", "2024-05-31")
    path = tmp_path / "stores.csv"
    table[~lost].to_csv(path, index=False)
    with caplog.at_level(logging.WARNING):
        named = prepare_data(path, kind="demand", columns=COLUMNS, panel=SHORT)
    gaps = named.quality.as_dict()["row_gaps"]
    assert gaps.startswith("1 SKU(s) had 28 or more trading days without a row") and "SKU 'S1' 2024-03-01 to" in gaps
    [message] = [r.getMessage() for r in caplog.records if "without a row" in r.getMessage()]
    # Planned as no sales by default, as before; the printed setting starts S1 after the gap.
    s1 = named.panel[named.panel["sku"] == "S1"]
    assert s1["date"].min() == pd.Timestamp("2023-01-02") and s1.loc[s1["filled"], "demand"].eq(0).all()
    kwargs = apply_typed(message, "gaps", columns=COLUMNS)
    restarted = prepare_data(path, kind="demand", **{**kwargs, "panel": SHORT})
    firsts = restarted.panel.groupby("sku")["date"].min()
    assert firsts["S1"] == pd.Timestamp("2024-06-01") and (firsts.drop("S1") == pd.Timestamp("2023-01-02")).all()
    assert restarted.quality.as_dict()["repairs"]["trading_days_before_a_row_gap_left_out"] > 300
    assert [text for text in printed_settings(message)] == ["data.gaps=restart"]


def test_a_table_of_sales_only_has_quiet_spells_not_gaps(tmp_path):
    # The same stores written as most exports do, only the days that sold, and one store that sold nothing for
    # three months: a quiet spell, planned as no sales, nothing named.
    table = store_days()
    quiet = (table["store"] == "S1") & table["day"].between("2024-03-01", "2024-05-31")
    path = tmp_path / "sold.csv"
    table[~quiet & (table["sales"] > 0)].to_csv(path, index=False)
    data = prepare_data(path, kind="demand", columns=COLUMNS, panel=SHORT)
    assert "row_gaps" not in data.quality.as_dict()
