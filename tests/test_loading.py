"""Bad input fails with one sentence that names the file, the column or rows, and the fix."""

from __future__ import annotations

import pandas as pd
import pytest

from forecasting.data.loading import read_table
from forecasting.data.prepare import prepare_data
from forecasting.errors import InputError
from tests.conftest import make_demand_table

DEMAND_COLS = {"sku": "item", "date": "day", "quantity": "units"}


def prepare_demand(path, **kw):
    return prepare_data(
        path, kind="demand", columns=DEMAND_COLS, panel={"min_history_days": 1, "min_nonzero_days": 1}, **kw
    )


def write(tmp_path, frame: pd.DataFrame, name="t.csv"):
    path = tmp_path / name
    frame.to_csv(path, index=False) if name.endswith(".csv") else frame.to_parquet(path, index=False)
    return path


def test_demand_csv_loads_through_column_mapping(demand_csv):
    data = prepare_demand(demand_csv)
    assert list(data.panel.columns[:4]) == ["sku", "date", "demand", "filled"]
    assert data.panel["sku"].nunique() == 3
    assert data.quality.rows_in == 360 and data.quality.rows_kept == 360


def test_parquet_reads_only_mapped_columns(retail_slice_path):
    frame = read_table(retail_slice_path, {"sku": "StockCode", "date": "InvoiceDate", "quantity": "Quantity"})
    assert set(frame.columns) == {"sku", "date", "quantity"}  # CustomerID never enters the pipeline


def test_missing_column_names_the_column_and_fix(demand_csv):
    msg = r"data.columns.quantity='qty' is not a column of the file \(it has: item, day, units\); set data.columns"
    with pytest.raises(InputError, match=msg):
        read_table(demand_csv, {"sku": "item", "date": "day", "quantity": "qty"}, "demand")


def test_unmapped_required_column(demand_csv):
    with pytest.raises(InputError, match="no mapping for quantity"):
        read_table(demand_csv, {"sku": "item", "date": "day"}, "demand")


def test_unparseable_dates_name_the_rows(tmp_path):
    t = make_demand_table(1, 10).astype({"day": str})
    t.loc[3, "day"] = "not a date"
    with pytest.raises(InputError, match=r"'day' has 1 unparseable date.*'not a date' at row\(s\) 4"):
        read_table(write(tmp_path, t), DEMAND_COLS, "demand")


def test_duplicate_keys_in_demand_table(tmp_path):
    t = make_demand_table(1, 10)
    t = pd.concat([t, t.iloc[[2]]])
    with pytest.raises(InputError, match=r"2 rows share a \(SKU, date\) key, e.g. SKU 'SKU0' on 2024-01-03"):
        prepare_demand(write(tmp_path, t))


@pytest.mark.parametrize(
    "bad, says",
    [
        (-1.0, r"1 row\(s\) have negative demand \(more returned than sold\), e.g. SKU 'SKU0' on 2024-01-06"),
        (float("nan"), "empty in 1 row.* after their SKU's first recorded quantity, e.g. SKU 'SKU0' on 2024-01-06"),
    ],
)
def test_negative_or_missing_demand(tmp_path, bad, says):
    t = make_demand_table(1, 10)
    t.loc[5, "units"] = bad
    with pytest.raises(InputError, match=says):
        prepare_demand(write(tmp_path, t))


def test_empty_file(tmp_path):
    path = tmp_path / "empty.csv"
    path.write_text("")
    with pytest.raises(InputError, match="the file is empty"):
        read_table(path, DEMAND_COLS, "demand")


def test_header_only_file(tmp_path):
    path = tmp_path / "header.csv"
    path.write_text("item,day,units\n")
    with pytest.raises(InputError, match="header but no rows"):
        read_table(path, DEMAND_COLS, "demand")


def test_unknown_file_type(tmp_path):
    path = tmp_path / "sales.xlsx"
    path.write_bytes(b"PK")
    with pytest.raises(
        InputError, match=r"unknown file type '.xlsx' \(and not an Excel workbook\); give a .csv, .parquet or .xlsx"
    ):
        read_table(path, DEMAND_COLS, "demand")


def test_weekly_data_set_to_daily_is_rejected(tmp_path):
    t = make_demand_table(2, 20)
    t = t[t["day"].dt.dayofweek == 0]
    with pytest.raises(InputError, match="set to daily .* every SKU has one row a week; set data.frequency=W"):
        prepare_demand(write(tmp_path, t), frequency="D")


def test_intraday_timestamps_in_demand_table(tmp_path):
    t = make_demand_table(1, 10)
    t["day"] = t["day"] + pd.Timedelta(hours=9)
    with pytest.raises(InputError, match="carries times of day"):
        prepare_demand(write(tmp_path, t))


def test_non_numeric_quantity(tmp_path):
    t = make_demand_table(1, 10).astype({"units": str})
    t.loc[1, "units"] = "lots"
    with pytest.raises(InputError, match=r"'units' has 1 non-numeric value.*'lots'"):
        read_table(write(tmp_path, t), DEMAND_COLS, "demand")


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        read_table(tmp_path / "nope.parquet", DEMAND_COLS, "demand")


def test_codes_are_read_as_written(tmp_path):
    """Part numbers keep leading zeros, and a SKU called "NA" is a SKU, not a missing value."""
    from forecasting.data.loading import read_table

    path = tmp_path / "codes.csv"
    path.write_text("item,day,units\n00123,2024-01-01,3\nNA,2024-01-01,2\n00123,2024-01-02,\n")
    frame = read_table(path, {"sku": "item", "date": "day", "quantity": "units"}, "demand", None, None)
    assert list(frame["sku"]) == ["00123", "NA", "00123"]
    assert frame["quantity"].isna().tolist() == [False, False, True]


def test_part_numbers_stored_as_floats_in_parquet_are_the_whole_numbers(tmp_path):
    # A Parquet export turns a part-number column with a gap into floats; its codes must match a stock file's.
    from forecasting.data.codes import stripped_codes
    from forecasting.data.loading import read_table

    path = tmp_path / "parts.parquet"
    pd.DataFrame(
        {"part": [1001.0, 1002.0, None], "day": pd.to_datetime(["2024-01-01"] * 3), "units": [1.0, 2.0, 3.0]}
    ).to_parquet(path)
    frame = read_table(path, {"sku": "part", "date": "day", "quantity": "units"}, "demand", None, None)
    assert frame["sku"].tolist()[:2] == ["1001", "1002"] and pd.isna(frame["sku"].iloc[2])
    assert stripped_codes(pd.Series(["1001"])).tolist() == ["1001"]  # the stock file's spelling
    assert stripped_codes(pd.Series([1.5, 2.0])).tolist() == ["1.5", "2.0"]  # not whole numbers: as they are


def test_parquet_decimal_and_date_columns_read_as_their_types(tmp_path):
    # An ERP's NUMERIC(12,3) quantity arrives as a Parquet decimal: 29.000 is 29 units, not a number whose marks
    # are ambiguous; a DATE column (date32) is a day.
    import decimal

    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "erp.parquet"
    table = pa.table(
        {
            "item": ["A", "A", "B"],
            "day": pa.array(pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-01"]).date, pa.date32()),
            "units": pa.array([decimal.Decimal("29.000"), decimal.Decimal("1540.500"), None], pa.decimal128(12, 3)),
        }
    )
    pq.write_table(table, path)
    frame = read_table(path, {"sku": "item", "date": "day", "quantity": "units"}, "demand", None, None)
    assert frame["quantity"].tolist()[:2] == [29.0, 1540.5] and pd.isna(frame["quantity"].iloc[2])
    assert frame["date"].tolist() == list(pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-01"]))
