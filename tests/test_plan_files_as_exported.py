"""Planning files as ERPs export them: SKU codes padded with spaces (stripped as the data loader strips them) and
open orders due far beyond the plan (not counted as on order). Checked against the same files written cleanly."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from forecasting.data.codes import shown_codes, stripped_codes
from forecasting.errors import InputError
from forecasting.pipeline.common import load_data
from forecasting.planning.inputs import policy_table, stock_position
from forecasting.planning.plan import plan_sku
from tests.test_plan_inputs import PLAN, composed, run_cli

TODAY = pd.Timestamp("2024-01-07")
SKUS = pd.Index(["A100", "B200", "00123"], name="sku")
DEMAND = pd.Series({"A100": 2.0, "B200": 1.0, "00123": 0.5})


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_one_function_strips_codes_for_the_loader_and_the_plan_files():
    raw = pd.Series([" A100 ", "A100\t", "\ufeffA100\u200b", "A100\u00a0", None, "00123 "])
    assert stripped_codes(raw).tolist()[:4] == ["A100"] * 4
    assert stripped_codes(raw).isna().tolist() == [False] * 4 + [True, False]  # missing stays missing
    assert stripped_codes(raw).iloc[5] == "00123"  # leading zeros are part of the code
    assert shown_codes(["A1", "B 2", "C\u200b3", ""]) == "A1, 'B 2', 'C\\u200b3', ''"


def test_padded_codes_in_stock_orders_and_overrides_match_the_panel(tmp_path):
    stock = write(tmp_path / "stock.csv", "sku,on_hand\nA100   ,12\n  B200,3\n00123\u00a0,7\n")
    clean_stock = write(tmp_path / "clean_stock.csv", "sku,on_hand\nA100,12\nB200,3\n00123,7\n")
    orders = write(tmp_path / "oo.csv", "sku,quantity,arrival_date\n A100 ,5,2024-01-20\n")
    on_hand, listed, _ = stock_position(SKUS, DEMAND, stock, orders, today=TODAY)
    clean, _, _ = stock_position(SKUS, DEMAND, clean_stock, today=TODAY)
    pd.testing.assert_series_equal(on_hand, clean)
    assert listed["sku"].tolist() == ["A100"]
    over = write(tmp_path / "over.csv", "sku,moq\nB200 ,40\n")
    table = policy_table(SKUS, PLAN, pd.Series({"A100": 2.0, "B200": 3.0, "00123": 4.0}), over)
    assert table.loc["B200", "moq"] == 40 and table.loc["A100", "moq"] == PLAN["moq"]


def test_unknown_code_message_shows_no_invisible_character(tmp_path):
    stock = write(tmp_path / "stock.csv", "sku,on_hand\nA100,12\nB200,3\n00123,7\nZ\u200b9 ,1\n")
    with pytest.raises(InputError) as err:
        stock_position(SKUS, DEMAND, stock, today=TODAY)
    message = str(err.value)
    assert "'Z\\u200b9'" in message and "\u200b" not in message and "Z\u200b9 " not in message
    assert "not in the planned panel of 3 SKUs (e.g. A100, B200, 00123)" in message


def test_order_due_after_the_horizon_is_not_on_order(tmp_path, caplog):
    orders = write(
        tmp_path / "oo.csv",
        "sku,quantity,arrival_date\nA100,5,2024-01-20\nA100,500,2099-01-20\nB200,9,2024-04-05\nB200,8,2024-04-07\n",
    )
    on_hand, listed, source = stock_position(SKUS, DEMAND, None, orders, today=TODAY, horizon_days=90)
    # The horizon ends 2024-04-06 (today + 90 days): due on it counts, due the day after does not.
    assert listed["beyond_horizon"].tolist() == [False, True, False, True]
    assert listed["counted"].tolist() == [True, False, True, False]
    assert "1 due after the plan horizon (due 2099-01-20, 500 units) not counted" in source["A100"]
    assert "arrive after the plan horizon" in caplog.text and "line(s) 3, 5" in caplog.text
    # The plan row equals the one planned from a file without the far orders.
    clean_file = write(tmp_path / "clean.csv", "sku,quantity,arrival_date\nA100,5,2024-01-20\nB200,9,2024-04-05\n")
    _, clean, _ = stock_position(SKUS, DEMAND, None, clean_file, today=TODAY, horizon_days=90)
    paths = np.full((20, 90), 1.0)
    dates = pd.date_range(TODAY + pd.Timedelta(days=1), periods=90, freq="D")
    p = {**PLAN, "unit_cost": 1.0, "stockout_cost": 1.0, "lead_time_std_days": 0}
    for sku in ("A100", "B200"):
        row = plan_sku(
            sku, paths, dates, TODAY, p, on_hand[sku], listed[listed["sku"] == sku], np.random.default_rng(0)
        )
        ref = plan_sku(sku, paths, dates, TODAY, p, on_hand[sku], clean[clean["sku"] == sku], np.random.default_rng(0))
        assert row["on_order"] == ref["on_order"] and row["order_qty"] == ref["order_qty"]
        assert row["stockout_date_p50"] == ref["stockout_date_p50"]


def test_plan_run_with_exported_files_equals_the_clean_files(tmp_path):
    """Through run.py: padded codes and a 2099 order give the plan the clean files give."""
    skus = sorted(load_data(composed()).segments["sku"])[:2]
    files = {
        "exported": (
            "sku,on_hand\n" + "".join(f" {s}   ,{10 + i}\n" for i, s in enumerate(skus)),
            f"sku,quantity,arrival_date\n{skus[0]}\t,25,2099-12-31\n{skus[1]} ,7,2011-12-20\n",
            f"sku,moq\n{skus[1]}  ,30\n",
        ),
        "clean": (
            "sku,on_hand\n" + "".join(f"{s},{10 + i}\n" for i, s in enumerate(skus)),
            f"sku,quantity,arrival_date\n{skus[1]},7,2011-12-20\n",
            f"sku,moq\n{skus[1]},30\n",
        ),
    }
    plans = {}
    for name, (stock, orders, over) in files.items():
        folder = tmp_path / name
        folder.mkdir()
        out = tmp_path / f"run_{name}"
        res, _ = run_cli(
            out,
            f"plan.stock_csv={write(folder / 'stock.csv', stock)}",
            f"plan.open_orders_csv={write(folder / 'oo.csv', orders)}",
            f"plan.overrides_csv={write(folder / 'over.csv', over)}",
            "plan.missing_stock=assumed_cover",
            "model=[croston]",
            "plan.replay.enabled=false",
        )
        assert res.returncode == 0, (res.stdout + res.stderr)[-3000:]
        plans[name] = pd.read_csv(out / "plan.csv", dtype={"sku": str}).set_index("sku")
    numbers = plans["clean"].select_dtypes("number").columns
    pd.testing.assert_frame_equal(plans["exported"][numbers], plans["clean"][numbers])
    assert plans["exported"].loc[skus[0], "on_order"] == 0
    assert "due after the plan horizon" in plans["exported"].loc[skus[0], "stock_source"]


def test_files_keyed_by_item_and_store_match_a_panel_keyed_by_both(tmp_path):
    # With data.columns.sku=[item,store] the panel's codes are the pairs (FOODS_1|CA_1); a stock, orders or
    # overrides file exported per item and store matches them as a file with the joined codes in `sku` does.
    skus = pd.Index(["FOODS_1|CA_1", "FOODS_1|TX_2", "00123|CA_1"], name="sku")
    demand = pd.Series(1.0, index=skus)
    key = ("item", "store")
    stock = write(tmp_path / "stock.csv", "store,item,on_hand\nCA_1,FOODS_1,4\nTX_2, FOODS_1 ,5\nCA_1,00123,6\n")
    joined = write(tmp_path / "joined.csv", "sku,on_hand\nFOODS_1|CA_1,4\nFOODS_1|TX_2,5\n00123|CA_1,6\n")
    orders = write(tmp_path / "oo.csv", "item,store,quantity,arrival_date\nFOODS_1,TX_2,9,2024-01-20\n")
    on_hand, listed, _ = stock_position(skus, demand, stock, orders, today=TODAY, key=key)
    expected, _, _ = stock_position(skus, demand, joined, today=TODAY)
    pd.testing.assert_series_equal(on_hand, expected)
    assert listed["sku"].tolist() == ["FOODS_1|TX_2"]
    over = write(tmp_path / "over.csv", "item,store,lead_time_days\n00123,CA_1,21\n")
    table = policy_table(skus, PLAN, pd.Series(2.0, index=skus), over, key=key)
    assert table.loc["00123|CA_1", "lead_time_days"] == 21 and table.loc["FOODS_1|CA_1", "lead_time_days"] != 21
    # A file with neither names both ways of giving the SKU.
    bad = write(tmp_path / "bad.csv", "item,on_hand\nFOODS_1,4\n")
    with pytest.raises(InputError, match="no 'sku' column; name the SKU column 'sku', or give the data's SKU columns"):
        stock_position(skus, demand, bad, today=TODAY, key=key)


def test_stock_and_orders_files_in_an_erps_european_format(tmp_path):
    # The same ERP that writes the sales table writes the stock file: a BOM, ';' between fields, thousands
    # marks and decimal commas. Read as the data loader reads its table, it gives the clean file's numbers.
    stock = tmp_path / "stock.csv"
    stock.write_bytes("\ufeffsku;on_hand\nA100;1.234\nB200;3,5\n00123;7\n".encode())
    orders = tmp_path / "oo.csv"
    orders.write_bytes("sku;quantity;arrival_date\nA100;2.500;2024-01-20\nB200;7;2024-01-21\n".encode("cp1252"))
    clean = write(tmp_path / "clean.csv", "sku,on_hand\nA100,1234\nB200,3.5\n00123,7\n")
    on_hand, listed, _ = stock_position(SKUS, DEMAND, stock, orders, today=TODAY)
    expected, _, _ = stock_position(SKUS, DEMAND, clean, today=TODAY)
    pd.testing.assert_series_equal(on_hand, expected)
    assert listed["quantity"].tolist() == [2500.0, 7.0]
    # "2.500" alone reads both ways: refused, not guessed.
    alone = write(tmp_path / "alone.csv", "sku,on_hand\nA100,2.500\nB200,1.000\n00123,3.000\n")
    with pytest.raises(InputError, match="on_hand writes every number like '2.500'"):
        stock_position(SKUS, DEMAND, alone, today=TODAY)


def test_headers_and_settings_in_a_spreadsheets_case_read_as_the_known_names(tmp_path):
    # 'On_Hand', 'Lead_Time_Days', 'Fill_Rate ' as a spreadsheet writes them are the names and values the plan knows.
    stock = write(tmp_path / "stock.csv", "SKU,On_Hand\nA100,12\nB200,3\n00123,7\n")
    clean = write(tmp_path / "clean.csv", "sku,on_hand\nA100,12\nB200,3\n00123,7\n")
    on_hand, _, _ = stock_position(SKUS, DEMAND, stock, today=TODAY)
    pd.testing.assert_series_equal(on_hand, stock_position(SKUS, DEMAND, clean, today=TODAY)[0])
    over = write(tmp_path / "over.csv", "Sku,Lead_Time_Days,Service_Measure\nB200,21, Fill_Rate \n")
    table = policy_table(SKUS, PLAN, pd.Series(dtype=float), over)
    assert table.loc["B200", "lead_time_days"] == 21 and table.loc["B200", "service_measure"] == "fill_rate"
    # Without prices the plan counts units; the overridden SKU still says its parameters came from the file.
    assert table.loc["B200", "param_source"].startswith("overrides; no prices in the data")
    assert table.loc["A100", "param_source"].startswith("config; no prices in the data")


def test_costs_with_a_currency_sign_read_as_amounts(tmp_path):
    over = write(tmp_path / "over.csv", 'sku,unit_cost,moq\nA100,£2.50,4\nB200,"£1,250.00",6\n00123,£0.40,1\n')
    table = policy_table(SKUS, PLAN, pd.Series(dtype=float), over)
    assert table.loc["A100", "unit_cost"] == 2.5 and table.loc["B200", "unit_cost"] == 1250.0
    # A count is no amount: a sign before an MOQ is refused, not read.
    signed = write(tmp_path / "signed.csv", "sku,moq\nA100,£4\n")
    with pytest.raises(InputError, match="moq"):
        policy_table(SKUS, PLAN, pd.Series(dtype=float), signed)


def test_a_stock_report_with_title_lines_reads_as_the_clean_file(tmp_path):
    # An ERP's stock report: a title and the report date above the header, ';' between fields.
    title = "Stock on hand;\nas of 07.01.2024;\n\n"
    report = write(tmp_path / "stock.csv", title + "SKU;On_Hand\nA100;12\nB200;3\n00123;7\n")
    clean = write(tmp_path / "clean.csv", "sku,on_hand\nA100,12\nB200,3\n00123,7\n")
    on_hand, _, _ = stock_position(SKUS, DEMAND, report, today=TODAY)
    pd.testing.assert_series_equal(on_hand, stock_position(SKUS, DEMAND, clean, today=TODAY)[0])


def test_a_stock_workbook_reads_as_the_clean_file(tmp_path):
    # The stock kept in a workbook: a cover sheet first, the stock below a title, codes as text cells.
    book = tmp_path / "stock.xlsx"
    with pd.ExcelWriter(book) as sheets:
        pd.DataFrame({"About": ["weekly stock count"]}).to_excel(sheets, sheet_name="Cover", index=False)
        pd.DataFrame({"Stock on hand": ["07.01.2024"]}).to_excel(sheets, sheet_name="Stock", index=False)
        stock = pd.DataFrame({"SKU": ["A100", "B200", "00123"], "On_Hand": [12, 3.5, 7]})
        stock.to_excel(sheets, sheet_name="Stock", index=False, startrow=3)
    clean = write(tmp_path / "clean.csv", "sku,on_hand\nA100,12\nB200,3.5\n00123,7\n")
    on_hand, _, _ = stock_position(SKUS, DEMAND, book, today=TODAY)
    pd.testing.assert_series_equal(on_hand, stock_position(SKUS, DEMAND, clean, today=TODAY)[0])


def test_codes_written_as_floats_in_a_csv_match_a_stock_file_of_whole_numbers(tmp_path):
    # A part-number column with a gap, exported by pandas or a BI tool to CSV: 1001.0, 1002.0. The stock file
    # the ERP writes says 1001: the same parts.
    from forecasting.data.loading import read_table

    path = write(tmp_path / "sales.csv", "part,day,units\n1001.0,2024-01-01,3\n1002.0,2024-01-01,2\n,2024-01-02,1\n")
    frame = read_table(path, {"sku": "part", "date": "day", "quantity": "units"}, "demand", None, None)
    assert frame["sku"].tolist()[:2] == ["1001", "1002"] and pd.isna(frame["sku"].iloc[2])
    skus = pd.Index(["1001", "1002"])
    stock = write(tmp_path / "stock.csv", "sku,on_hand\n1001.0,12\n1002.0,3\n")  # and the other way round
    on_hand, _, _ = stock_position(skus, pd.Series({"1001": 1.0, "1002": 1.0}), stock, today=TODAY)
    assert on_hand.to_dict() == {"1001": 12.0, "1002": 3.0}
    # Not every code a float, or two codes that would become one: as written.
    assert stripped_codes(pd.Series(["1001.0", "A7"])).tolist() == ["1001.0", "A7"]
    assert stripped_codes(pd.Series(["1.0", "1.00"])).tolist() == ["1.0", "1.00"]


def test_a_table_without_prices_is_planned_in_units_and_the_log_says_what_would_plan_value(tmp_path, caplog):
    import logging

    with caplog.at_level(logging.WARNING, logger="forecasting.planning.inputs"):
        table = policy_table(SKUS, PLAN, pd.Series(dtype=float))
    assert (table["unit_cost"] == 1.0).all()
    assert "every SKU gets the same service level" in caplog.text and "plan.overrides_csv" in caplog.text
    caplog.clear()
    costs = write(tmp_path / "costs.csv", "sku,unit_cost\nA100,2.5\nB200,0.4\n00123,9\n")
    with caplog.at_level(logging.WARNING, logger="forecasting.planning.inputs"):
        table = policy_table(SKUS, PLAN, pd.Series(dtype=float), costs)
    assert table["unit_cost"].tolist() == [2.5, 0.4, 9.0] and "same service level" not in caplog.text
