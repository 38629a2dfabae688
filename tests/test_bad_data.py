"""Bad sales tables, written as real files: each ends in one sentence (InputError, exit 2) or is read right and
the repair is counted in data_quality.json; none ends in a traceback or is modelled silently."""

from __future__ import annotations

import gzip
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from forecasting.data.prepare import prepare_data
from forecasting.errors import InputError
from tests.conftest import make_demand_table
from tests.test_run import run_cli

ROOT = Path(__file__).resolve().parents[1]
COLS = {"sku": "item", "date": "day", "quantity": "units"}
PANEL = {"min_history_days": 10, "min_nonzero_days": 3}


def table() -> pd.DataFrame:
    return make_demand_table(2, 100)


def csv(path: Path, frame: pd.DataFrame, **kw) -> Path:
    frame.to_csv(path, index=False, **kw)
    return path


def with_units(row: int, value: float):
    def write(path: Path) -> Path:
        t = table()
        t.loc[row, "units"] = value
        return csv(path, t)

    return write


def with_days(days):
    def write(path: Path) -> Path:
        t = table()
        t["day"] = days(t["day"])
        return csv(path, t)

    return write


def unquoted_thousands(path: Path) -> Path:
    # An ERP export that writes 1,540 unquoted in a comma-separated file: the row has a field more than the header.
    lines = table().to_csv(index=False).splitlines()
    item, day, _ = lines[40].split(",")
    lines[40] = f"{item},{day},1,540"
    path.write_text("\n".join(lines) + "\n")
    return path


def trailing_separators(path: Path) -> Path:
    # Every line ends in a separator: an empty last field, not a longer row.
    path.write_text("".join(f"{line}," + "\n" for line in table().to_csv(index=False).splitlines()))
    return path


def legacy_excel(path: Path) -> Path:
    # The OLE2 signature every .xls starts with; pandas cannot write .xls any more.
    path.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504))
    return path


def binary(path: Path) -> Path:
    path.write_bytes(np.random.default_rng(0).bytes(4000))
    return path


def mixed_formats(path: Path) -> Path:
    t = table()
    t["day"] = t["day"].dt.strftime("%Y-%m-%d")
    t.loc[150, "day"] = "31/01/2024"
    return csv(path, t)


def semicolons_with_decimal_commas(path: Path) -> Path:
    t = table()
    t["units"] = t["units"].map(lambda v: f"{v:.1f}".replace(".", ","))
    return csv(path, t, sep=";")


def latin1(path: Path) -> Path:
    t = table()
    t["item"] = t["item"].str.replace("SKU", "Café ")
    return csv(path, t, encoding="latin-1")


def csv_named_parquet(path: Path) -> Path:
    return csv(path.with_suffix(".parquet"), table())


def truncated_parquet(path: Path) -> Path:
    whole = path.with_suffix(".parquet")
    table().to_parquet(whole, index=False)
    whole.write_bytes(whole.read_bytes()[:300])
    return whole


def all_zero_sku(path: Path) -> Path:
    t = table()
    t.loc[t["item"] == "SKU1", "units"] = 0.0
    return csv(path, t)


ERRORS = [
    ("inf", with_units(5, np.inf), {}, r"column 'units' has 1 infinite value\(s\) \(e.g. 'inf' at row\(s\) 6\)"),
    (
        "minus_inf",
        with_units(7, -np.inf),
        {},
        r"column 'units' has 1 infinite value\(s\) \(e.g. '-inf' at row\(s\) 8\)",
    ),
    (
        "nan_demand",
        with_units(7, np.nan),
        {},
        r"column 'units' is empty in 1 row\(s\) after their SKU's first recorded quantity, e.g. SKU 'SKU0' on "
        r"2024-01-08 \(row\(s\) 8\); set data.missing=zero",
    ),
    (
        "implausible",
        with_units(5, 1e18),
        {},
        r"column 'units' has 1 implausible day\(s\), e.g. SKU 'SKU0' on 2024-01-06 with 1e\+18 units, over 500x"
        r".*set data.panel.outlier_action=cap",
    ),
    ("xls_named_csv", legacy_excel, {}, r"this is a legacy Excel file \(.xls\).*point data.path at that file"),
    ("binary", binary, {}, r"t.csv: this is not a CSV file: it holds binary data"),
    ("csv_named_parquet", csv_named_parquet, {}, r"t.parquet: the file is named .parquet but is not a Parquet file"),
    ("truncated_parquet", truncated_parquet, {}, r"t.parquet: the Parquet file cannot be read \(.*\); export the"),
    (
        "mixed_date_formats",
        mixed_formats,
        {},
        r"column 'day' mixes date formats: it reads as '%Y-%m-%d' .* e.g. '31/01/2024' at row\(s\) 151; "
        r".*data.date_format='%d/%m/%Y'",
    ),
    (
        "epoch_days",
        with_days(lambda d: (d - pd.Timestamp(0)).dt.days),
        {},
        r"column 'day' holds numbers, not dates \(e.g. 19723 at row\(s\) 1, 101\) \(as days since 1970-01-01 19723 "
        r"would be 2024-01-01\)",
    ),
    (
        "future_dates",
        with_days(lambda d: d + pd.DateOffset(years=20)),
        {},
        r"column 'day' has 200 row\(s\) dated after today \(\d{4}-\d\d-\d\d\), up to 2044-04-09 .*set data.end .*"
        r"data.as_of",
    ),
    (
        "after_as_of",
        lambda p: csv(p, table()),
        {"as_of": "2024-03-01"},
        r"has 78 row\(s\) dated after data.as_of \(2024-03-01\), up to 2024-04-09",
    ),
    (
        "mapped_price_absent",
        lambda p: csv(p, table()),
        {"columns": {**COLS, "price": "cost"}},
        r"data.columns.price='cost' is not a column of the file \(it has: item, day, units\); set "
        r"data.columns.price to one of them, or data.columns.price=null",
    ),
    ("end_not_a_date", lambda p: csv(p, table()), {"end": "last friday"}, r"^data.end is 'last friday', which is not"),
    ("path_missing", None, {}, r"^data.path is missing: set data.path=/path/to/sales.csv"),
    (
        "separator_forced_wrong",
        lambda p: csv(p, table(), sep=";"),
        {"read_options": {"sep": ","}},
        r"are not columns of the file \(it has: item;day;units\); the file seems to use another field separator: "
        r".*data.read_options.sep=';'",
    ),
    (
        "unquoted_thousands",
        unquoted_thousands,
        {},
        r"1 row\(s\) have more fields than the header's 3 columns \(first: data row 40, extra field '540'\).*"
        r"export the table again with such values quoted",
    ),
    (
        "encoding_named_wrong",
        latin1,
        {"read_options": {"encoding": "utf-8"}},
        r"the file is not utf-8 text .*data.read_options.encoding=latin-1",
    ),
]


@pytest.mark.parametrize("name, write, kwargs, message", ERRORS, ids=[e[0] for e in ERRORS])
def test_bad_table_is_one_sentence(name, write, kwargs, message, tmp_path):
    path = write(tmp_path / "t.csv") if write else None
    options = {"kind": "demand", "columns": COLS, "panel": PANEL, **kwargs}
    with pytest.raises(InputError, match=message) as err:
        prepare_data(path, **options)
    assert "\n" not in str(err.value)


def local_offsets(days: pd.Series) -> pd.Series:
    """ISO timestamps with the Berlin offset of each day: +01:00 in winter, +02:00 after the DST change."""
    offsets = days.dt.tz_localize("Europe/Berlin").dt.strftime("%z").str.replace(r"(\d\d)$", r":\1", regex=True)
    return days.dt.strftime("%Y-%m-%dT%H:%M:%S") + offsets


def tz_parquet(path: Path) -> Path:
    t = table()
    t["day"] = t["day"].dt.tz_localize("Europe/Berlin")
    t.to_parquet(path, index=False)
    return path


def gzipped(path: Path) -> Path:
    path.write_bytes(gzip.compress(table().to_csv(index=False).encode()))
    return path


def zipped(path: Path) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("export/sales.csv", table().to_csv(index=False))
    return path


def parquet_named_csv(path: Path) -> Path:
    table().to_parquet(path, index=False)
    return path


REPAIRED = [
    ("utc_offsets_across_dst", with_days(local_offsets), ("read", "timezone"), "offset was dropped"),
    ("tz_aware_parquet", tz_parquet, ("read", "timezone"), "time zone Europe/Berlin"),
    ("gzip_named_csv", gzipped, ("read", "compression"), "gzip"),
    ("zip_named_csv", zipped, ("read", "compression"), "zip"),
    ("parquet_named_csv", parquet_named_csv, None, None),
    ("semicolons", lambda p: csv(p, table(), sep=";"), ("read", "separator"), ";"),
    ("trailing_separators", trailing_separators, None, None),
    ("tabs", lambda p: csv(p, table(), sep="\t"), ("read", "separator"), "\t"),
    ("decimal_commas", semicolons_with_decimal_commas, ("read", "numbers"), "units"),
    ("epoch_seconds", with_days(lambda d: d.astype("int64") // 10**9), ("read", "dates"), "Unix epoch seconds"),
    ("epoch_milliseconds", with_days(lambda d: d.astype("int64") // 10**6), ("read", "dates"), "milliseconds"),
    ("yyyymmdd_numbers", with_days(lambda d: d.dt.strftime("%Y%m%d").astype(int)), ("read", "dates"), "YYYYMMDD"),
]


@pytest.mark.parametrize("name, write, note, says", REPAIRED, ids=[r[0] for r in REPAIRED])
def test_odd_file_reads_as_the_plain_csv_and_says_what_it_did(name, write, note, says, tmp_path):
    expected = prepare_data(csv(tmp_path / "plain.csv", table()), kind="demand", columns=COLS, panel=PANEL)
    got = prepare_data(write(tmp_path / "t.csv"), kind="demand", columns=COLS, panel=PANEL)
    pd.testing.assert_frame_equal(got.panel, expected.panel)
    if note:
        assert says in got.quality.as_dict()[note[0]][note[1]]


def test_latin1_text_is_decoded_and_recorded(tmp_path):
    data = prepare_data(latin1(tmp_path / "t.csv"), kind="demand", columns=COLS, panel=PANEL)
    assert set(data.panel["sku"]) == {"Café 0", "Café 1"}
    assert data.quality.as_dict()["read"]["encoding"] == "cp1252"


@pytest.mark.parametrize("action", ["cap", "drop"])
def test_implausible_day_is_a_counted_repair_when_configured(action, tmp_path):
    path = with_units(5, 1e18)(tmp_path / "t.csv")
    data = prepare_data(path, kind="demand", columns=COLS, panel={**PANEL, "outlier_action": action})
    dq = data.quality.as_dict()
    assert dq["implausible_days"][0]["sku"] == "SKU0" and dq["implausible_days"][0]["date"] == "2024-01-06"
    limit = dq["implausible_days"][0]["limit"]
    if action == "cap":
        assert dq["repairs"]["implausible_quantity_capped"] == 1
        assert data.panel["demand"].max() == limit
    else:
        assert dq["dropped_by_reason"]["implausible_quantity"] == 1 and dq["rows_kept"] == 199
        assert data.panel["demand"].max() < 100


def test_implausible_lines_are_capped_in_proportion_for_transactions(tmp_path):
    """Order lines: the day's lines shrink by one factor, so the day's total lands on the limit."""
    t = table().rename(columns={"units": "qty"})
    t = pd.concat([t, pd.DataFrame({"item": ["SKU0"] * 2, "day": [pd.Timestamp("2024-02-01")] * 2, "qty": [3e6, 1e6]})])
    path = csv(tmp_path / "lines.csv", t[t["qty"] > 0])
    cols = {"sku": "item", "date": "day", "quantity": "qty"}
    bulk_off = {"bulk": {"enabled": False}}  # the bulk-line rule would take these first
    data = prepare_data(path, "transactions", cols, cleaning=bulk_off, panel={**PANEL, "outlier_action": "cap"})
    [day] = data.quality.as_dict()["implausible_days"]
    on_day = data.panel.set_index(["sku", "date"]).loc[("SKU0", pd.Timestamp("2024-02-01")), "demand"]
    assert day["quantity"] > 4e6 and on_day == pytest.approx(day["limit"])


def test_missing_quantities_in_order_lines_are_dropped_and_counted(tmp_path):
    t = table()
    t.loc[[3, 4], "units"] = np.nan
    data = prepare_data(csv(tmp_path / "lines.csv", t), "transactions", COLS, panel=PANEL)
    assert data.quality.dropped["missing_quantity"] == 2


def test_infinite_price_is_an_error(tmp_path):
    t = table().assign(cost=2.5)
    t.loc[9, "cost"] = -np.inf
    with pytest.raises(InputError, match=r"column 'cost' has 1 infinite value\(s\) \(e.g. '-inf' at row\(s\) 10\)"):
        prepare_data(csv(tmp_path / "t.csv", t), kind="demand", columns={**COLS, "price": "cost"}, panel=PANEL)


def test_all_zero_sku_is_dropped_as_all_zero(tmp_path):
    data = prepare_data(all_zero_sku(tmp_path / "t.csv"), kind="demand", columns=COLS, panel=PANEL)
    assert set(data.panel["sku"]) == {"SKU0"}
    assert data.quality.dropped["all_zero"] == 100 and data.quality.dropped["short_history"] == 0


def test_bundled_file_flags_no_implausible_day_beyond_the_known_bulk_order(retail_slice_path):
    """With the bulk rule off, only 23166's 74,215-unit order is implausible (23843 sold once, nothing to judge)."""
    from tests.conftest import RETAIL_COLUMNS

    data = prepare_data(
        retail_slice_path,
        columns=RETAIL_COLUMNS,
        cleaning={"product_code_pattern": r"\d{5}[A-Za-z]{0,3}", "bulk": {"enabled": False}},
        calendar={"holiday_country": None},
        panel={"min_history_days": 1, "min_nonzero_days": 1, "outlier_action": "drop"},
    )
    days = data.quality.as_dict()["implausible_days"]
    assert [(d["sku"], d["date"], d["quantity"]) for d in days] == [("23166", "2011-01-18", 74215.0)]


CLI = [
    ("path_missing", None, "data.path is missing: set data.path=/path/to/sales.csv"),
    ("legacy_excel", legacy_excel, "this is a legacy Excel file (.xls), which cannot be read"),
    ("inf", with_units(5, np.inf), "column 'units' has 1 infinite value(s)"),
    ("future", with_days(lambda d: d + pd.DateOffset(years=20)), "dated after today"),
]


@pytest.mark.parametrize("name, write, message", CLI, ids=[c[0] for c in CLI])
def test_run_py_exits_2_with_one_line(name, write, message, tmp_path):
    data = [f"data.path={write(tmp_path / 'sales.csv')}"] if write else []
    cols = [f"data.columns.{k}={v}" for k, v in COLS.items()]
    res = run_cli("data=daily_demand", *data, *cols, "debug=tiny", f"hydra.run.dir={tmp_path / 'run'}")
    out = res.stdout + res.stderr
    assert res.returncode == 2, out
    assert "Traceback" not in out
    assert len([line for line in out.splitlines() if message in line]) == 1, out


def test_week_ending_sets_the_weeks_a_daily_table_is_summed_to_and_is_refused_where_no_week_is_made(tmp_path):
    path = csv(tmp_path / "t.csv", table())
    options = {"kind": "demand", "columns": COLS, "panel": {"min_history_days": 4, "min_nonzero_days": 2}}
    weeks = prepare_data(path, aggregate_to="W", week_ending="saturday", **options).panel
    assert set(weeks["date"].dt.day_name()) == {"Saturday"}
    assert weeks["demand"].sum() <= table()["units"].sum()  # incomplete first and last weeks are dropped, counted
    sundays = prepare_data(path, aggregate_to="W", **options).panel
    assert set(sundays["date"].dt.day_name()) == {"Sunday"}
    with pytest.raises(
        InputError,
        match=r"data.week_ending=saturday names the day weeks end on, but .* is planned "
        r"in daily periods; set data.week_ending=null, or data.aggregate_to=W to sum its days to "
        r"weeks ending saturday\.$",
    ):
        prepare_data(path, week_ending="saturday", **options)
