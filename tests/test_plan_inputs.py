"""Plan inputs and run settings: every bad one is one sentence (exit 2) before the backtest, and what the plan
assumes (stock a file lacks, orders already overdue) is said on each row, never a made-up figure."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from forecasting.datasets import bundled_path
from forecasting.errors import InputError
from forecasting.pipeline.common import check_sampling, load_data
from forecasting.pipeline.plan_task import plan_inputs
from forecasting.planning.inputs import policy_table, stock_position
from forecasting.planning.plan import plan_sku
from forecasting.planning.plan_files import check_files
from forecasting.planning.plan_settings import check_settings

ROOT = Path(__file__).resolve().parents[1]
OmegaConf.register_new_resolver("bundled", bundled_path, replace=True)
PLAN = OmegaConf.to_container(OmegaConf.load(ROOT / "conf/plan/default.yaml"))  # the shipped defaults
TODAY = pd.Timestamp("2024-01-07")
SKUS = pd.Index(["a", "b", "c"], name="sku")
DEMAND = pd.Series({"a": 2.0, "b": 1.0, "c": 0.5})


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def composed(*overrides: str):
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        return compose(config_name="config", overrides=["debug=tiny", *overrides])


@pytest.fixture(scope="module")
def tiny():
    """The debug=tiny panel (8 real SKUs of the bundled file), loaded once."""
    return load_data(composed())


# ---- stock file ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "rows, message",
    [
        ("a,12\nb,abc\nc,3\n", r"on_hand is not a number on line\(s\) 3 \(SKU b: 'abc'\)"),
        ("a,12\nb,-4\nc,3\n", r"on_hand is empty, negative or infinite on line\(s\) 3 \(SKU b: -4\)"),
        ("a,12\nb,\nc,3\n", r"on_hand is empty, negative or infinite on line\(s\) 3 \(SKU b: empty\)"),
        ("a,12\nb,inf\nc,3\n", r"on_hand is empty, negative or infinite on line\(s\) 3 \(SKU b: inf\)"),
        ("a,12\na,3\nc,3\n", r"SKU\(s\) a appear on more than one row \(lines 2, 3\)"),
        ("a,12\nzz,3\n", r"SKU\(s\) zz are not in the planned panel"),
    ],
)
def test_bad_stock_file_names_the_lines_and_values(tmp_path, rows, message):
    stock = write(tmp_path / "stock.csv", "sku,on_hand\n" + rows)
    with pytest.raises(InputError, match=message) as err:
        stock_position(SKUS, DEMAND, stock, today=TODAY)
    assert str(stock) in str(err.value) and "\n" not in str(err.value)


def test_partial_stock_file_is_an_error_by_default(tmp_path):
    stock = write(tmp_path / "stock.csv", "sku,on_hand\na,12\n")
    with pytest.raises(InputError, match=r"2 of the 3 planned SKUs are not in the stock file \(b, c\)") as err:
        stock_position(SKUS, DEMAND, stock, assumed_cover_days=10, today=TODAY)
    assert "plan.missing_stock=assumed_cover" in str(err.value)


def test_partial_stock_file_with_assumed_cover_flags_each_row(tmp_path):
    stock = write(tmp_path / "stock.csv", "sku,on_hand\na,12\n")
    on_hand, _, source = stock_position(
        SKUS, DEMAND, stock, assumed_cover_days=10, today=TODAY, missing_stock="assumed_cover"
    )
    # The listed SKU keeps its count; the others get 10 days of their mean demand, never 0.
    assert on_hand.to_dict() == {"a": 12.0, "b": 10.0, "c": 5.0}
    assert source["a"] == f"stock file {stock}; no open-orders file"
    assert source["b"] == f"assumed: 10 days of mean demand on hand (not in stock file {stock}); no open-orders file"


# ---- open orders -----------------------------------------------------------------------------------------------


def orders_file(tmp_path) -> Path:
    return write(
        tmp_path / "open_orders.csv",
        "sku,quantity,arrival_date\na,5,2001-01-05\na,7,2024-01-20\nb,9,2024-01-10\n",
    )


@pytest.mark.parametrize("treatment, on_order", [("count", 12.0), ("ignore", 7.0)])
def test_overdue_order_is_flagged_and_treated_as_configured(tmp_path, treatment, on_order):
    on_hand, orders, source = stock_position(
        SKUS, DEMAND, open_orders_csv=orders_file(tmp_path), today=TODAY, overdue_orders=treatment
    )
    said = "counted as arriving now" if treatment == "count" else "ignored"
    assert source["a"].endswith(
        f"2 open order(s) (12 units) from {tmp_path / 'open_orders.csv'}, 1 overdue (due 2001-01-05, 5 units) {said}"
    )
    assert source["c"].endswith("no open orders in " + str(tmp_path / "open_orders.csv"))
    paths = np.full((20, 90), 1.0)
    dates = pd.date_range(TODAY + pd.Timedelta(days=1), periods=90, freq="D")
    p = {**PLAN, "unit_cost": 1.0, "stockout_cost": 1.0, "lead_time_std_days": 0}
    rows = {
        sku: plan_sku(sku, paths, dates, TODAY, p, on_hand[sku], orders[orders["sku"] == sku], np.random.default_rng(0))
        for sku in SKUS
    }
    assert rows["a"]["on_order"] == on_order
    assert "OVERDUE_ORDER" in rows["a"]["exceptions"].split(";")
    assert "OVERDUE_ORDER" not in rows["b"]["exceptions"] and rows["b"]["on_order"] == 9.0


@pytest.mark.parametrize(
    "rows, message",
    [
        ("a,5,2024-02-01\nb,x,2024-02-01\n", r"quantity is not a number on line\(s\) 3 \(SKU b: 'x'\)"),
        ("a,0,2024-02-01\n", r"quantity is empty, not positive or infinite on line\(s\) 2 \(SKU a: 0\)"),
        ("a,5,2024-02-01\nb,5,soon\n", r"arrival_date is empty or not a date on line\(s\) 3 \(SKU b: 'soon'\)"),
        ("a,5,2024-02-01T00:00+01:00\n", r"arrival_date carries a time zone"),
    ],
)
def test_bad_open_orders_name_the_lines_and_values(tmp_path, rows, message):
    path = write(tmp_path / "oo.csv", "sku,quantity,arrival_date\n" + rows)
    with pytest.raises(InputError, match=message):
        check_files({**PLAN, "open_orders_csv": str(path)})


# ---- policy settings, in config and in the override file -----------------------------------------------------


@pytest.mark.parametrize(
    "key, value, allowed",
    [
        ("lead_time_days", 100000, "allowed 0 to 74 days, so that lead time + review period + 3 x"),
        ("lead_time_days", -1, "allowed 0 to 74 days"),
        ("lead_time_days", 80, "fits in the forecast (plan.horizon_days=90)"),
        ("review_period_days", 0, "allowed 1 to 90 days"),
        ("service_target", 1.5, "allowed 0.5 to 0.9999"),
        ("service_target", 0, "allowed 0.5 to 0.9999"),
        ("pack_size", 0, "allowed more than 0 units"),
        ("moq", -3, "allowed 0 units or more"),
        ("lead_time_std_days", -1, "allowed 0 days or more"),
        ("horizon_days", 60, "allowed 70 to 730 calendar days"),
        ("policy", "kanban", "allowed periodic, continuous_sq, continuous_ss"),
    ],
)
def test_config_values_out_of_range_say_the_allowed_range(key, value, allowed):
    with pytest.raises(InputError, match=re.escape(f"plan.{key}={value} is out of range: allowed")) as err:
        check_settings({**PLAN, key: value})
    assert allowed in str(err.value) and str(err.value).endswith(f"(plan.{key}=...).")


@pytest.mark.parametrize(
    "settings, message",
    [
        ({"lead_time_days": "abc"}, "plan.lead_time_days='abc' is not a number"),
        ({"lead_time_days": None}, "plan.lead_time_days=None is missing: allowed 0 to 74 days"),
        ({"missing_stock": "zero"}, "plan.missing_stock='zero' is unknown; use one of: error, assumed_cover"),
        ({"overdue_orders": "maybe"}, "plan.overdue_orders='maybe' is unknown; use one of: count, ignore"),
        ({"replay": {**PLAN["replay"], "targets": [0.5, 1.2]}}, "plan.replay.targets=\\[0.5, 1.2\\] is not allowed"),
    ],
)
def test_config_values_of_the_wrong_kind(settings, message):
    with pytest.raises(InputError, match=message):
        check_settings({**PLAN, **settings})


@pytest.mark.parametrize(
    "rows, message",
    [
        ("sku,lead_time_days\na,14\nb,100000\n", r"lead_time_days is out of range on line\(s\) 3 \(SKU b: 100000\)"),
        # The spread of this row, not the config's, sets its bound: 90 - 7 - 3 x 10.
        ("sku,lead_time_days,lead_time_std_days\na,60,10\n", r"\(SKU a: 60\): allowed 0 to 53 days"),
        ("sku,review_period_days\na,0\n", r"review_period_days is out of range on line\(s\) 2 \(SKU a: 0\)"),
        ("sku,service_target\na,1.5\n", r"service_target is out of range .*allowed 0.5 to 0.9999"),
        ("sku,pack_size\na,0\n", r"pack_size is out of range on line\(s\) 2 \(SKU a: 0\): allowed more than 0"),
        ("sku,moq\na,5\nb,abc\n", r"moq is not a number on line\(s\) 3 \(SKU b: 'abc'\)"),
    ],
)
def test_override_values_out_of_range_name_the_lines(tmp_path, rows, message):
    over = write(tmp_path / "overrides.csv", rows)
    with pytest.raises(InputError, match=message) as err:
        check_files({**PLAN, "overrides_csv": str(over)})
    assert str(err.value).startswith(f"{over}: ") and "empty to use plan." in str(err.value)
    with pytest.raises(InputError, match=message):  # the plan itself runs the same check
        policy_table(SKUS, {**PLAN, "unit_cost": 1.0}, pd.Series(dtype=float), over)


# ---- run settings --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [0, -5, 2.5, "abc", None])
def test_num_samples_must_be_a_whole_number_of_paths(n):
    with pytest.raises(InputError, match=f"num_samples={n} is not allowed: give a whole number of sample paths"):
        check_sampling(n, [0.1, 0.5, 0.9])


@pytest.mark.parametrize("q", [[0.0, 0.5], [0.5, 1.2], [0.9, 0.1], [0.5, 0.5], [], 0.5, ["a"]])
def test_quantiles_must_be_distinct_increasing_levels_in_the_unit_interval(q):
    with pytest.raises(InputError, match="is not allowed: give distinct levels between 0 and 1"):
        check_sampling(200, q)


def test_shipped_settings_pass():
    check_sampling(200, OmegaConf.load(ROOT / "conf/config.yaml").quantiles)
    check_settings(PLAN)


# ---- against the panel, before the backtest ------------------------------------------------------------------------


def test_plan_inputs_check_the_files_against_the_panel(tiny, tmp_path):
    skus = sorted(tiny.segments["sku"])
    partial = write(tmp_path / "stock.csv", f"sku,on_hand\n{skus[0]},40\n")
    with pytest.raises(InputError, match=f"{len(skus) - 1} of the {len(skus)} planned SKUs are not in the stock file"):
        plan_inputs(composed(f"plan.stock_csv={partial}"), tiny)
    inputs = plan_inputs(composed(f"plan.stock_csv={partial}", "plan.missing_stock=assumed_cover"), tiny)
    assert inputs.on_hand[skus[0]] == 40.0 and (inputs.on_hand[skus[1:]] > 0).all()
    assert inputs.stock_source[skus[1:]].str.contains("not in stock file").all()


# ---- through run.py ------------------------------------------------------------------------------------------------


def run_cli(out: Path, *overrides: str) -> tuple[subprocess.CompletedProcess, float]:
    started = time.perf_counter()
    res = subprocess.run(
        [sys.executable, str(ROOT / "run.py"), "debug=tiny", "task=plan", f"hydra.run.dir={out}", *overrides],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    return res, time.perf_counter() - started


@pytest.mark.parametrize(
    "override, message",
    [
        ("plan.stock_csv={dir}/mixed.csv", "mixed.csv: on_hand is not a number on line(s) 3"),
        ("plan.stock_csv={dir}/empty.csv", "planned SKUs are not in the stock file"),  # known only with the panel
        ("plan.lead_time_days=100000", "plan.lead_time_days=100000 is out of range: allowed 0 to 74 days"),
        ("num_samples=0", "num_samples=0 is not allowed"),
    ],
)
def test_bad_plan_input_exits_2_in_seconds_before_the_backtest(tmp_path, override, message):
    write(tmp_path / "mixed.csv", "sku,on_hand\n22423,12\n47566,abc\n")
    write(tmp_path / "empty.csv", "sku,on_hand\n")
    out = tmp_path / "run"
    res, seconds = run_cli(out, override.format(dir=tmp_path))
    screen = res.stdout + res.stderr
    assert res.returncode == 2, screen[-3000:]
    assert "Traceback" not in screen
    said = [line for line in screen.splitlines() if message in line]
    assert len(said) == 1 and said[0].rstrip().endswith("."), screen[-3000:]  # one line: the whole sentence
    assert not (out / "backtest.parquet").exists() and "backtest:" not in (out / "run.log").read_text()
    assert seconds < 60  # loading the tiny panel takes a few seconds; the full plan run several times that


def test_plan_run_states_assumed_stock_and_overdue_orders(tmp_path, tiny):
    skus = sorted(tiny.segments["sku"])
    stock = write(tmp_path / "stock.csv", f"sku,on_hand\n{skus[0]},40\n")
    orders = write(tmp_path / "oo.csv", f"sku,quantity,arrival_date\n{skus[0]},25,2001-01-05\n")
    out = tmp_path / "run"
    res, _ = run_cli(
        out,
        f"plan.stock_csv={stock}",
        "plan.missing_stock=assumed_cover",
        f"plan.open_orders_csv={orders}",
        "model=[croston]",
        "plan.replay.enabled=false",
    )
    assert res.returncode == 0, (res.stdout + res.stderr)[-3000:]
    plan = pd.read_csv(out / "plan.csv", dtype={"sku": str}, keep_default_na=False).set_index("sku")
    first = plan.loc[skus[0]]
    assert first["on_hand"] == 40 and first["on_order"] == 25  # overdue, counted (the default)
    assert "OVERDUE_ORDER" in first["exceptions"].split(";")
    assert "1 overdue (due 2001-01-05, 25 units) counted as arriving now" in first["stock_source"]
    others = plan.drop(index=skus[0])
    assert not others["exceptions"].str.contains("OVERDUE_ORDER").any()
    assert others["stock_source"].str.startswith("assumed: 28 days of mean demand on hand (not in stock file").all()
    assert (others["on_hand"] > 0).all()
    sheet = openpyxl.load_workbook(out / "plan.xlsx")["Exceptions"]
    rows = [[c.value for c in r] for r in sheet.iter_rows()]
    overdue = [r for r in rows if "OVERDUE_ORDER" in r]
    assert len(overdue) == 1 and any("past its arrival date" in str(v) for v in overdue[0])


def test_an_open_order_due_after_the_cycle_is_named_when_an_order_is_placed_without_it():
    # Lead time 14 + review 7: an order due on day 30 cannot serve this cycle, so today's order is sized without it
    # and the planner is told (one due on day 10 counts, and reduces the order).
    paths = np.full((20, 90), 1.0)
    dates = pd.date_range(TODAY + pd.Timedelta(days=1), periods=90, freq="D")
    p = {**PLAN, "unit_cost": 1.0, "stockout_cost": 1.0, "lead_time_std_days": 0}

    def plan(days_out: int) -> dict:
        orders = pd.DataFrame({"quantity": [40.0], "arrival_date": [TODAY + pd.Timedelta(days=days_out)]})
        return plan_sku("a", paths, dates, TODAY, p, 5.0, orders, np.random.default_rng(0))

    late, soon = plan(30), plan(10)
    assert late["order_qty"] > 0 and "OPEN_ORDER_AFTER_CYCLE" in late["exceptions"].split(";")
    assert "OPEN_ORDER_AFTER_CYCLE" not in soon["exceptions"] and soon["order_qty"] < late["order_qty"]
