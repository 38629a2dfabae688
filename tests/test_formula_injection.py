"""Hostile SKU codes and descriptions reach no spreadsheet as a formula, and read back exactly as they were."""

from __future__ import annotations

import csv
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from markupsafe import escape
from openpyxl import load_workbook

from forecasting.pipeline.plan_task import previous_plan_p50
from forecasting.pipeline.reforecast_task import read_plan
from forecasting.reports.run_folder import load_run
from forecasting.storage import read_csv, write_csv
from forecasting.storage.formula_guard import TRIGGERS, neutralise, restore

ROOT = Path(__file__).resolve().parents[1]
HYPERLINK = '=HYPERLINK("http://x","click")'
# The loader strips whitespace around SKU codes, so tab- and CR-led values are descriptions here. "NA" and
# "#N/A" are text pandas would read as missing; "=bell\x07" holds a control character a worksheet cannot store.
SKUS = [HYPERLINK, "+1+1", "-2+3", "@SUM(A1)", "'=already", "NA", "#N/A"]
DESCRIPTIONS = ["\t=1", "\r=1", "@SUM(A1)", "-2+3", "'=already", HYPERLINK, "=bell\x07"]
CATEGORY = "+1+1"


def hostile_table(days: int = 150, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    dates = pd.date_range("2024-01-01", periods=days, freq="D")
    return pd.concat(
        [
            pd.DataFrame(
                {"item": sku, "day": dates, "units": rng.poisson(2.0 + i, days).astype(float), "desc": desc}
            ).assign(cat=CATEGORY)
            for i, (sku, desc) in enumerate(zip(SKUS, DESCRIPTIONS, strict=True))
        ],
        ignore_index=True,
    )


@pytest.fixture(scope="module")
def hostile_run(tmp_path_factory) -> Path:
    """A plan run through run.py on a demand table whose SKU codes, descriptions and category are hostile."""
    base = tmp_path_factory.mktemp("hostile")
    data = base / "hostile.parquet"
    hostile_table().to_parquet(data, index=False)
    out = base / "experiment" / "run1"
    res = subprocess.run(
        [
            sys.executable,
            str(ROOT / "run.py"),
            "task=plan",
            "data=daily_demand",
            f"data.path={data}",
            "data.columns.sku=item",
            "data.columns.date=day",
            "data.columns.quantity=units",
            "data.columns.description=desc",
            "data.columns.category=cat",
            "model=[croston]",
            "backtest.folds=2",
            "num_samples=50",
            "parallel.n_jobs=1",
            "plan.unit_cost=1",
            "plan.replay.weeks=4",
            "plan.replay.targets=[0.9]",
            "plan.min_calibration_windows=2",
            f"hydra.run.dir={out}",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert res.returncode == 0, res.stderr[-3000:]
    return out


def test_workbook_holds_hostile_text_as_strings_never_formulas(hostile_run):
    path = hostile_run / "plan.xlsx"
    with zipfile.ZipFile(path) as book:
        sheets = [n for n in book.namelist() if n.startswith("xl/worksheets/")]
        assert sheets and not any(b"<f>" in book.read(n) or b"<f " in book.read(n) for n in sheets)
    wb = load_workbook(path)
    assert {"Orders to place", "Exceptions", "Plan", "Accuracy by segment"} <= set(wb.sheetnames)
    for ws in wb:
        for row in ws.iter_rows():
            for cell in row:
                assert cell.data_type != "f", (ws.title, cell.coordinate, cell.value)
                if isinstance(cell.value, str):
                    assert cell.data_type == "s", (ws.title, cell.coordinate, cell.value)
                    if cell.value[:1] in TRIGGERS | {"\n"}:  # XML reads a stored CR back as LF
                        assert cell.quotePrefix, (ws.title, cell.coordinate, cell.value)
    plan = wb["Plan"]
    header = [c.value for c in plan[1]]
    rows = [dict(zip(header, (c.value for c in r), strict=True)) for r in plan.iter_rows(min_row=2)]
    assert {r["SKU"] for r in rows} == set(SKUS)
    shown = {r["Description"] for r in rows}
    assert shown == {d.replace("\r", "\n").replace("\x07", "\ufffd") for d in DESCRIPTIONS}


def test_no_csv_cell_starts_with_a_formula_trigger(hostile_run):
    csvs = sorted(hostile_run.glob("*.csv"))
    assert {"plan.csv", "segments.csv", "metrics_by_sku.csv", "replay_by_sku.csv"} <= {p.name for p in csvs}
    for path in csvs:
        with path.open(newline="") as f:
            for row in csv.reader(f):
                for cell in row:
                    if cell[:1] in TRIGGERS:
                        float(cell)  # only a number (a negative one) may start so; text would raise here
    with (hostile_run / "plan.csv").open(newline="") as f:
        written = {r["sku"] for r in csv.DictReader(f)}
    assert written == {"'" + s if s[0] in "=+-@'" else s for s in SKUS}


def test_outputs_read_back_with_the_original_text(hostile_run):
    plan = read_csv(hostile_run / "plan.csv", dtype={"sku": str})
    assert sorted(plan["sku"]) == sorted(SKUS)
    segments = read_csv(hostile_run / "segments.csv", dtype={"sku": str}).set_index("sku")
    assert segments["description"].to_dict() == dict(zip(SKUS, DESCRIPTIONS, strict=True))
    assert set(segments["category"]) == {CATEGORY}
    assert set(read_csv(hostile_run / "metrics_by_sku.csv", dtype={"sku": str})["sku"]) == set(SKUS)
    assert set(read_csv(hostile_run / "replay_by_sku.csv", dtype={"sku": str})["sku"]) == set(SKUS)
    # What the report and the workbook are built from, what the warehouse stores, what FORECAST_MOVED compares.
    assert set(load_run(hostile_run, with_backtest=False).plan["sku"]) == set(SKUS)
    assert set(read_plan(hostile_run / "plan.csv")["sku"]) == set(SKUS)
    previous = previous_plan_p50(hostile_run.parent / "run2", pd.Index(SKUS))
    assert previous.notna().all() and (previous > 0).all()


def test_report_shows_the_original_text_escaped(hostile_run):
    html = (hostile_run / "report.html").read_text()
    for sku in SKUS:
        assert str(escape(sku)) in html, sku
    assert str(escape("'" + HYPERLINK)) not in html  # the CSV's protective quote is not shown


@pytest.mark.parametrize(
    "text",
    ["=1", "+1", "-1", "@a", "\t=1", "\r=1", "'", "''", "'a", "'=a", "''=a", "'''", "a=1", "", "plain", "22423"],
)
def test_neutralise_is_safe_and_reversible(text):
    written = neutralise(text)
    assert written[:1] not in TRIGGERS
    assert restore(written) == text


def test_write_csv_round_trip_keeps_numbers_and_text(tmp_path):
    frame = pd.DataFrame(
        {
            "sku": ["=1", "22423", "NA", "'=x", "a\r=1"],
            "bias": [-0.5, -np.inf, np.nan, 1.0, -2.0],
            "segment": pd.Categorical(["-A", "B", "-A", "B", "B"]),
            "=header": ["@x", None, "y", "+", "-"],
        }
    )
    path = write_csv(frame, tmp_path / "t.csv")
    with path.open(newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["sku", "bias", "segment", "'=header"]
    assert rows[1][:3] == ["'=1", "-0.5", "'-A"]  # numbers stay numbers
    back = read_csv(path, dtype={"sku": str})
    assert back.columns.tolist() == frame.columns.tolist()
    assert back["sku"].tolist() == frame["sku"].tolist()
    assert back["bias"].equals(frame["bias"])
    assert back["segment"].tolist() == frame["segment"].tolist()
    assert back["=header"].fillna("<na>").tolist() == frame["=header"].fillna("<na>").tolist()
