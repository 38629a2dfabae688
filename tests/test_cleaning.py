"""Cleaning rules on the real file's quirks and on generated edge cases; every row accounted for."""

from __future__ import annotations

import pandas as pd

from forecasting.data.cleaning import BulkRule, CleaningRules, bulk_outliers, clean_transactions
from forecasting.data.loading import read_table
from forecasting.data.panel import aggregate_lines
from forecasting.data.prepare import prepare_data
from forecasting.data.quality import DataQuality
from tests.conftest import RETAIL_COLUMNS

RULES = CleaningRules.from_dict(
    {
        "cancellation_prefix": "C",  # the bundled retailer's, as conf/data/online_retail.yaml sets it
        "non_product_codes": ["POST", "DOT", "M"],
        "product_code_pattern": r"\d{5}[A-Za-z]{0,3}",
    }
)


def clean(frame):
    dq = DataQuality("test", rows_in=len(frame))
    return clean_transactions(frame, RULES, dq), dq


def test_rules_on_real_slice(retail_slice_path, retail):
    lines = read_table(retail_slice_path, RETAIL_COLUMNS)
    kept, dq = clean(lines)
    raw = retail[retail["StockCode"].isin(lines["sku"].unique())]
    assert dq.dropped["cancellation"] == int(raw["InvoiceNo"].str.startswith("C").sum())
    assert dq.dropped["non_product_code"] == int(
        (
            raw["StockCode"].isin(["POST", "DOT", "M"]) & ~raw["InvoiceNo"].str.startswith("C") & (raw["Quantity"] > 0)
        ).sum()
    )
    # Both bulk orders of the real file (74,215 of 23166 and 80,995 of 23843) go, nothing else does.
    assert dq.dropped["bulk_outlier"] == 2
    assert kept["quantity"].max() < 10000
    assert (kept["quantity"] > 0).all() and (kept["price"] > 0).all()
    assert not kept["invoice"].str.startswith("C").any()
    assert dq.rows_kept + dq.rows_dropped == dq.rows_in == len(lines)
    assert len(kept) == dq.rows_kept


def test_edge_cases():
    t = pd.Timestamp("2024-03-04 10:00")
    lines = pd.DataFrame(
        {
            "sku": ["10001", "10001", "10001", "10001", "POST", "10002", "10002", "gift_0001_10", "10003"],
            "date": [t] * 9,
            "quantity": [5.0, 5.0, -2.0, 3.0, 1.0, 4.0, 2.0, 1.0, 1.0],
            "price": [1.0, 1.0, 1.0, 0.0, 18.0, 2.0, 2.0, 10.0, 1.0],
            "invoice": ["1", "1", "2", "3", "4", "C5", "6", "7", "8"],
        }
    )
    kept, dq = clean(lines)
    assert dq.dropped == {
        "missing_sku": 0,
        "missing_quantity": 0,
        "cancellation": 1,  # C5
        "return_or_adjustment": 1,  # -2 without a C invoice
        "non_product_code": 2,  # POST (listed) and gift_0001_10 (pattern)
        "non_positive_price": 1,
        "exact_duplicate": 1,  # the second identical 5-unit line
        "bulk_outlier": 0,
    }
    assert sorted(kept["quantity"]) == [1.0, 2.0, 5.0]


def test_bulk_rule_needs_both_size_and_ratio():
    df = pd.DataFrame(
        {"sku": ["a"] * 4 + ["b"] * 3 + ["c"], "quantity": [10, 12, 8, 20000, 9000, 9500, 12000, 15000.0]}
    )
    flagged = bulk_outliers(df, BulkRule(min_units=10000, ratio=50))
    # a: 20000 >= 50 x median(10) -> bulk; b: 12000 is only ~1.3x its usual 9250 -> kept;
    # c: a SKU sold once, in one huge line -> bulk.
    assert flagged.tolist() == [False, False, False, True, False, False, False, True]


def test_data_quality_accounts_for_every_row_of_the_real_slice(retail_slice_path):
    data = prepare_data(
        retail_slice_path,
        columns=RETAIL_COLUMNS,
        cleaning={"product_code_pattern": r"\d{5}[A-Za-z]{0,3}"},
        panel={"min_history_days": 90, "min_nonzero_days": 10, "max_skus": 3},
    )
    q = data.quality.as_dict()
    assert q["rows_in"] == q["rows_kept"] + q["rows_dropped"]
    assert q["rows_dropped"] == sum(q["dropped_by_reason"].values())
    assert q["dropped_by_reason"]["outside_max_skus"] > 0
    assert data.panel["sku"].nunique() == 3
    # Kept rows are exactly the order lines behind the panel's demand.
    assert q["rows_kept"] > 0 and data.panel["demand"].sum() > 0


def test_another_shops_identical_lines_are_sales_and_its_c_orders_no_cancellations():
    """Without the rules of conf/data/online_retail.yaml: two customers buying one unit at one price on one day
    write identical rows (no order number to tell them apart), and order numbers may start with C."""
    day = pd.Timestamp("2024-03-04")
    lines = pd.DataFrame({"sku": ["A", "A", "B"], "date": [day] * 3, "quantity": [1.0, 1.0, 2.0], "price": [5.0] * 3})
    dq = DataQuality("test", rows_in=3)
    kept = clean_transactions(lines, CleaningRules.from_dict({}), dq)
    assert kept["quantity"].sum() == 4 and dq.dropped.get("exact_duplicate", 0) == 0
    # With the order on each line, a line repeated in every column is the export's duplicate.
    with_orders = lines.assign(invoice=["C100", "C100", "C101"])
    dq = DataQuality("test", rows_in=3)
    kept = clean_transactions(with_orders, CleaningRules.from_dict({}), dq)
    assert kept["quantity"].sum() == 3 and dq.dropped["exact_duplicate"] == 1
    assert dq.dropped.get("cancellation", 0) == 0


def test_a_line_whose_price_the_export_left_empty_is_still_a_sale_at_the_days_price():
    t = pd.Timestamp("2024-03-04 10:00")
    lines = pd.DataFrame(
        {
            "sku": ["10001", "10001", "10001", "10002"],
            "date": [t, t, t + pd.Timedelta(days=1), t],
            "quantity": [4.0, 6.0, 3.0, 2.0],
            "price": [2.5, float("nan"), float("nan"), 0.0],
        }
    )
    kept, dq = clean(lines)
    assert dq.dropped["non_positive_price"] == 1  # 10002's free line; 10001's empty prices are sales
    daily = aggregate_lines(kept).set_index(["sku", "date"])
    day = t.normalize()
    first, second = daily.loc[("10001", day)], daily.loc[("10001", day + pd.Timedelta(days=1))]
    assert first["demand"] == 10.0 and first["price"] == 2.5 and first["revenue"] == 25.0
    assert second["demand"] == 3.0 and pd.isna(second["price"])  # unknown: the panel carries the SKU's price
