"""A demand table's price and promo columns: the mapped price is kept in the panel (revenue = price x demand) and
checked like quantity; promo reads as a 0/1 indicator whatever the export wrote (0/5/20, Y/N, TRUE/FALSE), or
stops the run naming the column. Each valid table is checked against the same data written the clean way (order
lines with a 0/1 promo), through prepare_data and through run.py."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from forecasting.data.covariates import promo_indicator
from forecasting.data.prepare import prepare_data
from forecasting.errors import InputError
from tests.test_run import ROOT

DAYS = 200
START = pd.Timestamp("2024-01-01")
DEMAND_COLUMNS = {"sku": "item", "date": "day", "quantity": "units", "price": "unit_price", "promo": "on_promo"}
LINE_COLUMNS = {"sku": "item", "date": "day", "quantity": "units", "price": "unit_price", "promo": "on_promo"}
PANEL = {"min_history_days": 60}


def sales(seed: int = 5) -> pd.DataFrame:
    """Five SKUs, a sale every day (so a table of order lines holds the same days), prices changing monthly,
    promotions of 5 or 20 percent on some days."""
    rng = np.random.default_rng(seed)
    dates = pd.date_range(START, periods=DAYS, freq="D")
    frames = []
    for i in range(5):
        price = np.round(2.0 + i + 0.5 * (dates.month % 3), 2)
        promo = np.where(rng.random(DAYS) < 0.15, rng.choice([5, 20], DAYS), 0)
        units = 1 + rng.poisson(3.0 + 2 * i + (promo > 0) * 4)
        frames.append(pd.DataFrame({"item": f"P{i}", "day": dates, "units": units, "unit_price": price, "pct": promo}))
    return pd.concat(frames, ignore_index=True)


def demand_table(tmp_path: Path, table: pd.DataFrame, promo_as, name: str = "table.csv") -> Path:
    out = table.assign(on_promo=promo_as(table["pct"])).drop(columns="pct")
    path = tmp_path / name
    out.to_csv(path, index=False)
    return path


def order_lines(tmp_path: Path, table: pd.DataFrame) -> Path:
    """The clean way: one order line per sale, promo 0/1."""
    path = tmp_path / "lines.csv"
    table.assign(on_promo=(table["pct"] > 0).astype(int)).drop(columns="pct").to_csv(path, index=False)
    return path


def prepared(path: Path, kind: str):
    return prepare_data(path, kind=kind, columns=DEMAND_COLUMNS if kind == "demand" else LINE_COLUMNS, panel=PANEL)


ENCODINGS = {
    "percent": lambda pct: pct,
    "yes_no": lambda pct: np.where(pct > 0, "Y", "N"),
    "true_false": lambda pct: np.where(pct > 0, "TRUE", "FALSE"),
    "empty_or_x": lambda pct: np.where(pct > 0, "x", ""),
}


@pytest.mark.parametrize("encoding", list(ENCODINGS))
def test_demand_table_keeps_price_and_reads_promo_as_the_order_lines_do(tmp_path, encoding):
    table = sales()
    data = prepared(demand_table(tmp_path, table, ENCODINGS[encoding]), "demand")
    clean = prepared(order_lines(tmp_path, table), "transactions")
    columns = ["sku", "date", "demand", "price", "promo", "revenue"]
    assert set(columns) <= set(data.panel.columns)
    pd.testing.assert_frame_equal(data.panel[columns], clean.panel[columns])
    pd.testing.assert_frame_equal(data.segments, clean.segments)  # ABC ranks on revenue, as for order lines
    assert set(data.panel["promo"].unique()) == {0.0, 1.0}
    assert ("promo" in data.quality.notes.get("read", {})) == (encoding == "percent")


def test_price_of_a_period_without_sales_is_the_table_s(tmp_path):
    table = pd.DataFrame(
        {
            "item": "A",
            "day": pd.date_range(START, periods=120, freq="D"),
            "units": [3, 0, 2] * 40,
            "unit_price": [2.0] * 60 + [2.5] * 60,
        }
    )
    table.loc[60, "units"] = 0  # the price changes on a day without sales
    other = table.assign(item="B", units=4)  # sells every day: no day is closed for the whole business
    path = tmp_path / "t.csv"
    pd.concat([table, other]).to_csv(path, index=False)
    data = prepare_data(path, kind="demand", columns={**DEMAND_COLUMNS, "promo": None}, panel=PANEL)
    a = data.panel[data.panel["sku"] == "A"]
    assert a["price"].tolist() == table["unit_price"].tolist()
    assert np.allclose(a["revenue"], table["units"] * table["unit_price"])


def test_zero_or_empty_prices_are_carried_and_counted(tmp_path):
    table = sales()
    table["unit_price"] = table["unit_price"].astype(object)
    table.loc[[3, 4], "unit_price"] = 0
    table.loc[[7], "unit_price"] = ""
    first = table.index[table["item"] == "P1"][0]
    table.loc[first, "unit_price"] = ""  # the SKU's first row: taken from its next price
    path = demand_table(tmp_path, table, ENCODINGS["percent"])
    data = prepared(path, "demand")
    assert data.quality.repairs["price_zero_or_missing_carried_from_nearest_period"] == 4
    p0 = data.panel[data.panel["sku"] == "P0"].reset_index(drop=True)
    assert p0.loc[3, "price"] == p0.loc[2, "price"] and p0.loc[7, "price"] == p0.loc[6, "price"]
    p1 = data.panel[data.panel["sku"] == "P1"].reset_index(drop=True)
    assert p1.loc[0, "price"] == p1.loc[1, "price"]


def test_sku_without_any_price_keeps_none_and_is_counted(tmp_path):
    table = sales()
    table["unit_price"] = table["unit_price"].astype(object)
    table.loc[table["item"] == "P2", "unit_price"] = ""
    data = prepared(demand_table(tmp_path, table, ENCODINGS["percent"]), "demand")
    assert data.quality.repairs.get("price_zero_or_missing_carried_from_nearest_period", 0) == 0
    assert data.quality.notes["skus_without_price"] == 1
    p2 = data.panel[data.panel["sku"] == "P2"]
    assert p2["price"].isna().all() and (p2["revenue"] == 0).all()
    assert data.segments.set_index("sku").loc["P2", "abc"] == "C"


def test_negative_price_names_the_rows_and_the_fix(tmp_path):
    table = sales()
    table.loc[[10, 11], "unit_price"] = -3.0
    path = demand_table(tmp_path, table, ENCODINGS["percent"])
    with pytest.raises(InputError) as err:
        prepared(path, "demand")
    message = str(err.value)
    assert "column 'unit_price' (data.columns.price) has 2 negative price(s) at row(s) 11, 12" in message
    assert "data.columns.price=null" in message and "\n" not in message


@pytest.mark.parametrize(
    "values, expected",
    [
        (pd.Series([0, 5, 20, 1]), [0, 1, 1, 1]),
        (pd.Series(["0", "5", "20", None]), [0, 1, 1, 0]),
        (pd.Series(["Y", "n", " yes ", "No"]), [1, 0, 1, 0]),
        (pd.Series(["TRUE", "false", "True", ""]), [1, 0, 1, 0]),
        (pd.Series([True, False, True, False]), [1, 0, 1, 0]),
        (pd.Series(["0,5", "0,0", "1", "0"]), [1, 0, 1, 0]),
    ],
)
def test_promo_is_an_indicator(values, expected):
    assert promo_indicator(values, "f.csv", "promo").tolist() == expected


@pytest.mark.parametrize(
    "values, said",
    [
        (pd.Series(["0", "BOGO", "1"]), "1 value(s) that are not a promotion flag (e.g. 'BOGO' at row(s) 2)"),
        (pd.Series([0.0, -1.0, 1.0]), "1 negative or infinite value(s) (e.g. -1.0 at row(s) 2)"),
    ],
)
def test_promo_that_is_no_flag_is_refused(values, said):
    with pytest.raises(InputError) as err:
        promo_indicator(values, "f.csv", "promo")
    assert said in str(err.value) and "data.columns.promo=null" in str(err.value)


# ---- through run.py --------------------------------------------------------------------------------------------


def run_plan(out: Path, data: Path, kind: str, *extra: str) -> subprocess.CompletedProcess:
    columns = DEMAND_COLUMNS if kind == "demand" else LINE_COLUMNS
    return subprocess.run(
        [
            sys.executable,
            str(ROOT / "run.py"),
            "task=plan",
            "data=demand_table",
            f"data.kind={kind}",
            f"data.path={data}",
            *[f"data.columns.{k}={v}" for k, v in columns.items()],
            "data.panel.min_history_days=60",
            "model=[croston]",
            "backtest.folds=1",
            "backtest.horizon=14",
            "backtest.step=14",
            "num_samples=40",
            "parallel.n_jobs=1",
            "plan.replay.enabled=false",
            f"hydra.run.dir={out}",
            *extra,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_plan_from_a_priced_demand_table_equals_the_order_lines_plan(tmp_path):
    table = sales()
    runs = {
        "demand": demand_table(tmp_path, table, ENCODINGS["yes_no"]),
        "transactions": order_lines(tmp_path, table),
    }
    plans = {}
    for kind, path in runs.items():
        res = run_plan(tmp_path / kind, path, kind)
        assert res.returncode == 0, (res.stdout + res.stderr)[-3000:]
        plans[kind] = pd.read_csv(tmp_path / kind / "plan.csv", dtype={"sku": str}).set_index("sku").sort_index()
    plan = plans["demand"]
    last_price = table.sort_values("day").groupby("item")["unit_price"].last()
    # Costs come from the prices (0.6 x the last selling price), not from units.
    assert np.allclose(plan["unit_cost"], 0.6 * last_price.reindex(plan.index))
    assert not plan["param_source"].str.contains("no prices").any()
    numbers = plan.select_dtypes("number").columns
    pd.testing.assert_frame_equal(plan[numbers], plans["transactions"][numbers])
    pd.testing.assert_series_equal(plan["abc"], plans["transactions"]["abc"])


@pytest.mark.parametrize(
    "change, said",
    [
        (lambda t: t.assign(pct=t["pct"].astype(object).where(t.index != 4, "BOGO")), "'BOGO' at row(s) 5"),
        (lambda t: t.assign(unit_price=t["unit_price"].where(t.index != 6, -1.0)), "negative price(s) at row(s) 7"),
    ],
)
def test_bad_price_or_promo_exits_2_with_one_sentence(tmp_path, change, said):
    path = demand_table(tmp_path, change(sales()), ENCODINGS["percent"])
    res = run_plan(tmp_path / "run", path, "demand")
    text = res.stdout + res.stderr
    assert res.returncode == 2, text[-3000:]
    assert said in text and "Traceback" not in text
    line = next(line for line in text.splitlines() if said in line)
    assert line.rstrip().endswith(".")


def test_promo_magnitudes_are_recorded_in_data_quality(tmp_path):
    path = demand_table(tmp_path, sales(), ENCODINGS["percent"])
    res = run_plan(tmp_path / "run", path, "demand", "task=backtest")
    assert res.returncode == 0, (res.stdout + res.stderr)[-3000:]
    quality = json.loads((tmp_path / "run" / "data_quality.json").read_text())
    assert "read as on promotion: promo is an indicator" in quality["read"]["promo"]
