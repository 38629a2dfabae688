"""Reports on a real debug=tiny run folder: report.html, plan.xlsx, comparisons, the report in Chromium."""

from __future__ import annotations

import json
import re
import shutil
import struct
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from xml.etree import ElementTree

import numpy as np
import pandas as pd
import pytest
from openpyxl import load_workbook

from forecasting.errors import InputError
from forecasting.reports import find_runs, write_comparison, write_plan_workbook, write_report
from forecasting.reports.formatting import format_value
from forecasting.reports.svg import Window, forecast_chart, hbar_chart, xy_chart

ROOT = Path(__file__).resolve().parents[1]
ACCURACY_IDS = {
    "summary",
    "leaderboard",
    "segments",
    "bias",
    "coverage",
    "forecast-charts",
    "top-revenue",
    "worst-forecast",
    "data-quality",
}
PLAN_IDS = {"orders", "exceptions", "champions", "replay"}
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
# What makes a browser fetch: src, href, url() or @import to an absolute or protocol-relative URL.
EXTERNAL = re.compile(
    r"""(?:\b(?:src|href)\s*=\s*["']?|url\(\s*["']?|@import\s+["']?)\s*(?:[a-z][a-z0-9+.-]*:)?//""", re.I
)


class ReportParser(HTMLParser):
    """Collects element ids, charts with the ids around them, figures' keys and table cells by row key."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.stack: list[tuple[str, str | None]] = []
        self.charts: list[tuple[str, ...]] = []
        self.figures: dict[str, list[str]] = {}
        self.rows: dict[str, list[dict]] = {}
        self.row: dict | None = None
        self.cell: dict | None = None

    def enclosing(self) -> tuple[str, ...]:
        return tuple(i for _, i in self.stack if i)

    def handle_starttag(self, tag, attrs):
        self.open(tag, attrs, push=tag not in VOID)

    def handle_startendtag(self, tag, attrs):  # <line .../> in SVG: opened and closed at once
        self.open(tag, attrs, push=False)

    def open(self, tag, attrs, push: bool) -> None:
        a = dict(attrs)
        if a.get("id"):
            self.ids.add(a["id"])
        if push:
            self.stack.append((tag, a.get("id")))
        if tag == "svg" and "chart" in (a.get("class") or "").split():
            self.charts.append(self.enclosing())
        if tag == "figure" and a.get("data-key"):
            self.figures.setdefault(self.enclosing()[-1], []).append(a["data-key"])
        if tag == "tr":
            self.row = {"key": a.get("data-key"), "class": a.get("class") or "", "cells": {}}
            self.rows.setdefault(self.enclosing()[0] if self.enclosing() else "", []).append(self.row)
        if tag == "td" and self.row is not None:
            self.cell = {"value": a.get("data-value"), "text": ""}
            self.row["cells"][a.get("data-col")] = self.cell

    def handle_endtag(self, tag):
        if tag == "td":
            self.cell = None
        if all(t != tag for t, _ in self.stack):
            return
        while self.stack:
            if self.stack.pop()[0] == tag:
                break

    def handle_data(self, data):
        if self.cell is not None:
            self.cell["text"] += data


def parse(html: str) -> ReportParser:
    p = ReportParser()
    p.feed(html)
    return p


def section_rows(parsed: ReportParser, section: str) -> list[dict]:
    return [r for r in parsed.rows.get(section, []) if r["cells"]]


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory) -> Path:
    """A real backtest run folder (`python run.py debug=tiny task=backtest`: 8 SKUs, 2 folds), made once."""
    out = tmp_path_factory.mktemp("reports") / "tiny"
    res = subprocess.run(
        [sys.executable, str(ROOT / "run.py"), "debug=tiny", "task=backtest", f"hydra.run.dir={out}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert res.returncode == 0, res.stderr[-3000:]
    return out


@pytest.fixture
def run_copy(tiny_run, tmp_path) -> Path:
    return Path(shutil.copytree(tiny_run, tmp_path / "run"))


def fake_plan(segments: pd.DataFrame) -> pd.DataFrame:
    """A plan.csv as the planning stage writes it: every column, some orders, some exceptions, gaps."""
    n = len(segments)
    i = np.arange(n)
    on_hand = 40.0 + 25 * i
    order_qty = np.where(i % 3 == 2, 0.0, 120.0 + 12 * i)
    order_by = pd.Series(pd.Timestamp("2011-12-12") + pd.to_timedelta((n - i) % 5, unit="D"))
    order_by[order_qty == 0] = pd.NaT
    order_by.iloc[1] = pd.NaT  # something to order with no date yet: listed last
    codes = [""] * n
    codes[0] = "STOCKOUT_BEFORE_RECEIPT;FORECAST_MOVED"
    codes[2] = "EXCESS_STOCK"
    codes[3] = "NO_RECENT_SALES;SHORT_HISTORY"
    unit_cost = 1.5 + 0.25 * i
    return pd.DataFrame(
        {
            "sku": segments["sku"],
            "description": segments["description"],
            "segment": segments["segment"],
            "abc": segments["abc"],
            "demand_class": segments["demand_class"],
            "model": "ets",
            "policy": "order_up_to",
            "service_measure": "fill_rate",
            "service_target": 0.95,
            "lead_time_days": 14,
            "review_period_days": 7,
            "on_hand": on_hand,
            "on_order": 10.0,
            "inventory_position": on_hand + 10,
            "demand_cover_p50": 150.5,
            "demand_cover_target": 190.25,
            "safety_stock": 40.4,
            "reorder_point": 160.0,
            "order_up_to": 260.0,
            "order_qty": order_qty,
            "moq": 12,
            "pack_size": 6,
            "unit_cost": unit_cost,
            "order_value": order_qty * unit_cost,
            "order_by": order_by.dt.strftime("%Y-%m-%d"),
            "stockout_date_p50": (pd.Timestamp("2011-12-20") + pd.to_timedelta(i, unit="D")).strftime("%Y-%m-%d"),
            "stockout_date_p90": (pd.Timestamp("2011-12-15") + pd.to_timedelta(i, unit="D")).strftime("%Y-%m-%d"),
            "days_of_cover": 5.5 + i,
            "demand_30d_p10": 80.0,
            "demand_30d_p50": 120.0,
            "demand_30d_p90": 170.0,
            "demand_60d_p10": 170.0,
            "demand_60d_p50": 240.0,
            "demand_60d_p90": 330.0,
            "calibration_factor": 1.07,
            "exceptions": codes,
        }
    )


@pytest.fixture
def planned_run(run_copy) -> Path:
    segments = pd.read_csv(run_copy / "segments.csv", dtype={"sku": str})
    plan = fake_plan(segments)
    # the planner's champion per segment: the overall champion, except for the top seller
    board = pd.read_csv(run_copy / "leaderboard.csv").sort_values("rank")
    plan["model"] = board["model"].iloc[0]
    plan.loc[plan["sku"] == segments.loc[segments["value"].idxmax(), "sku"], "model"] = board["model"].iloc[1]
    plan.to_csv(run_copy / "plan.csv", index=False)
    pd.DataFrame(
        {
            "policy": ["champion", "naive", "oracle"],
            "target_fill_rate": 0.95,
            "fill_rate": [0.94, 0.9, 0.99],
            "cycle_service_level": [0.88, 0.8, 0.97],
            "stockout_days": [12, 25, 2],
            "avg_stock_units": [900.0, 1100.0, 700.0],
            "avg_stock_value": [4100.5, 5200.0, 3300.25],
            "orders": [40, 44, 38],
            "total_cost": [5000.0, 6400.0, 4100.0],
        }
    ).to_csv(run_copy / "replay.csv", index=False)
    pd.DataFrame(
        {
            "decision": ["plan", "plan", "plan", "replay"],
            "segment": ["A-smooth", "B-lumpy", "C-lumpy", "A-smooth"],
            "model": ["ets", "ets", "croston", "arima"],
            "windows": [300, 120, 12, 150],
            "pooled": [False, False, True, False],
            "plan_pinball": [12.5, 4.25, 3.0, 13.0],
            "chosen_by": ["segment", "overall", "segment", "segment"],
            "margin_se": [3.25, 1.4, float("nan"), float("nan")],
            "runner_up": ["arima", "croston", "ets", "ets"],
        }
    ).to_csv(run_copy / "champion_choice.csv", index=False)
    targets = [0.8, 0.9, 0.95, 0.98]
    pd.DataFrame(
        {
            "policy": ["champion"] * 4 + ["naive"] * 4,
            "target": targets * 2,
            "fill_rate": [0.82, 0.9, 0.94, 0.97, 0.78, 0.86, 0.9, 0.93],
            "avg_stock_value": [2500, 3300, 4100, 5200, 3000, 4000, 5200, 6800],
        }
    ).to_csv(run_copy / "service_curve.csv", index=False)
    return run_copy


def test_report_is_self_contained_with_every_section(run_copy):
    path = write_report(run_copy)
    assert path == run_copy / "report.html"
    html = path.read_text(encoding="utf-8")
    parsed = parse(html)
    assert ACCURACY_IDS <= parsed.ids
    assert not PLAN_IDS & parsed.ids  # no plan yet: no plan sections
    assert not EXTERNAL.findall(html)
    for tag in ("<script", "<link", "<img", "<iframe", "@font-face"):
        assert tag not in html.lower()
    assert path.stat().st_size < 1_500_000
    assert not list(run_copy.glob(".*.tmp"))
    # every chart is an inline svg.chart: leaderboard FVA, segments, 2 bias, coverage, 6 + 6 SKU charts
    assert len(parsed.charts) == 5 + 12
    assert sum("top-revenue" in c for c in parsed.charts) == 6
    assert sum("worst-forecast" in c for c in parsed.charts) == 6


def test_report_says_how_the_file_was_read_escaped(run_copy):
    # What the loader interpreted (a day-first column, currency signs) and warned about (a week maybe still
    # running) is part of the proof a planner checks; it quotes the file's own text, so it is escaped.
    quality = json.loads((run_copy / "data_quality.json").read_text())
    quality["read"] = {"date_order": "column '<b>day</b>' read day first", "numbers": {"price": "'£2.50' read as 2.5"}}
    quality["last_week"] = "the last week in the data, dated 2024-11-25, sold 47% of the median of the 8 weeks"
    (run_copy / "data_quality.json").write_text(json.dumps(quality))
    html = write_report(run_copy).read_text(encoding="utf-8")
    assert "How the file was read" in html and "<b>day</b>" not in html and "&lt;b&gt;day&lt;/b&gt;" in html
    assert "Numbers, column &#39;price&#39;: &#39;£2.50&#39; read as 2.5" in html
    assert "sold 47% of the median" in html


def test_report_leaderboard_numbers_are_leaderboard_csv(run_copy):
    parsed = parse(write_report(run_copy).read_text(encoding="utf-8"))
    board = pd.read_csv(run_copy / "leaderboard.csv").set_index("model")
    rows = section_rows(parsed, "leaderboard")
    assert [r["key"] for r in rows] == board.sort_values("rank").index.tolist()
    for row in rows:
        for col, cell in row["cells"].items():
            expected = board.loc[row["key"], col] if col != "model" else row["key"]
            if cell["value"] is not None:
                assert float(cell["value"]) == pytest.approx(float(expected), rel=1e-12, abs=0), (
                    row["key"],
                    col,
                )
        assert row["cells"]["rmsse"]["text"] == format_value(board.loc[row["key"], "rmsse"], "metric")
    assert [r["key"] for r in rows if "champion" in r["class"].split()] == [board["rank"].idxmin()]


def test_report_charts_the_top_sellers_and_the_worst_forecasts(run_copy):
    parsed = parse(write_report(run_copy).read_text(encoding="utf-8"))
    segments = pd.read_csv(run_copy / "segments.csv", dtype={"sku": str})
    assert parsed.figures["top-revenue"] == segments.sort_values("value", ascending=False)["sku"].head(6).tolist()
    # worst: the champion's RMSSE per SKU at the last test cutoff, computed here from backtest.parquet
    champion = pd.read_csv(run_copy / "leaderboard.csv").sort_values("rank")["model"].iloc[0]
    bt = pd.read_parquet(run_copy / "backtest.parquet")
    bt = bt[(bt["model"] == champion) & (bt["role"] == "test")]
    bt = bt[bt["cutoff"] == bt["cutoff"].max()]
    rmsse = ((bt["mean"] - bt["demand"]) ** 2 / bt["scale"]).groupby(bt["sku"].astype(str)).mean() ** 0.5
    assert parsed.figures["worst-forecast"] == rmsse.dropna().sort_values(ascending=False).head(6).index.tolist()


def test_report_plan_sections(planned_run):
    html = write_report(planned_run).read_text(encoding="utf-8")
    parsed = parse(html)
    assert ACCURACY_IDS | PLAN_IDS <= parsed.ids
    plan = pd.read_csv(planned_run / "plan.csv", dtype={"sku": str}, parse_dates=["order_by"])
    expected = plan[plan["order_qty"] > 0].sort_values(["order_by", "stockout_date_p90", "sku"], na_position="last")
    orders = section_rows(parsed, "orders")
    assert [r["key"] for r in orders] == expected["sku"].tolist()
    assert orders[-1]["cells"]["order_by"]["text"] == "–"  # the order with no date comes last
    assert "urgent" in next(r for r in orders if r["key"] == plan["sku"][0])["class"]
    flagged = [r["key"] for r in section_rows(parsed, "exceptions") if r["key"] in set(plan["sku"])]
    assert flagged == [plan["sku"][0], plan["sku"][2], plan["sku"][3]]  # most urgent code first
    # Each segment's plan champion and why: the plan's decision rows, not the replay's.
    champions = {r["key"]: r["cells"] for r in section_rows(parsed, "champions")}
    assert set(champions) == {"A-smooth", "B-lumpy", "C-lumpy"} and champions["A-smooth"]["model"]["text"] == "ets"
    assert "3.2 standard errors ahead" in champions["A-smooth"]["how_chosen"]["text"]
    assert "croston scored better" in champions["B-lumpy"]["how_chosen"]["text"]
    assert "too few windows" in champions["C-lumpy"]["how_chosen"]["text"]
    replay = {r["key"]: r for r in section_rows(parsed, "replay")}
    assert set(replay) == {"champion", "naive", "oracle"} and "champion" in replay["champion"]["class"]
    assert float(replay["naive"]["cells"]["fill_rate"]["value"]) == 0.9
    # The trade-off curve of every policy heads the replay section.
    assert any("replay" in c for c in parsed.charts) and "Trade-off: fill rate against average stock value" in html
    # SKUs are charted with their model in the plan, which need not be the overall champion
    segments = pd.read_csv(planned_run / "segments.csv", dtype={"sku": str})
    top = plan.set_index("sku").loc[segments.loc[segments["value"].idxmax(), "sku"]]
    figure = re.search(rf'<figure data-key="{top.name}">.*?</figcaption>', html, re.S).group(0)
    assert f"model {top['model']};" in figure


def test_plan_workbook(planned_run, run_copy):
    path = write_plan_workbook(planned_run)
    assert path == planned_run / "plan.xlsx"
    wb = load_workbook(path)
    assert wb.sheetnames == ["Orders to place", "Exceptions", "Plan", "Accuracy by segment"]
    plan = pd.read_csv(planned_run / "plan.csv", dtype={"sku": str})
    for ws in wb.worksheets:
        assert ws.freeze_panes == "A2"
        assert all(c.font.b for c in ws[1])
    sheet_rows = {
        "Orders to place": (plan["order_qty"] > 0).sum(),
        "Plan": len(plan),
        "Exceptions": plan["exceptions"].fillna("").str.count("[A-Z_]+").sum(),
    }
    for name, n in sheet_rows.items():
        assert wb[name].max_row == n + 1, name

    def column_cells(ws, label):
        headers = [c.value for c in ws[1]]
        return [
            row[0]
            for row in ws.iter_rows(min_row=2, min_col=headers.index(label) + 1, max_col=headers.index(label) + 1)
        ]

    orders = wb["Orders to place"]
    assert {c.number_format for c in column_cells(orders, "Order qty")} == {"#,##0"}
    assert {c.number_format for c in column_cells(orders, "Order value")} == {"#,##0.00"}
    dated = [c for c in column_cells(orders, "Order by") if c.value is not None]
    assert dated and all(c.is_date and c.number_format == "yyyy-mm-dd" for c in dated)
    assert column_cells(orders, "Order by")[-1].value is None  # undated order last, as an empty cell
    ws = wb["Plan"]
    assert {c.number_format for c in column_cells(ws, "Service target")} == {"0.0%"}
    assert {c.number_format for c in column_cells(ws, "Unit cost")} == {"#,##0.00"}
    assert column_cells(ws, "Service target")[0].value == 0.95
    assert ws.column_dimensions["B"].width > len("Description")  # fitted to the descriptions
    exceptions = wb["Exceptions"]
    assert column_cells(exceptions, "Exception")[0].value == "STOCKOUT_BEFORE_RECEIPT"
    acc = wb["Accuracy by segment"]
    assert {c.number_format for c in column_cells(acc, "FVA RMSSE")} == {"+0.0%;-0.0%;0.0%"}
    assert not list(planned_run.glob(".*.tmp"))
    # the report links the workbook once it exists
    assert 'href="plan.xlsx"' in write_report(planned_run).read_text(encoding="utf-8")


HOSTILE = ["<script>alert(1)</script>", '=HYPERLINK("http://x","click")', "$\\alpha$ & <b>", 'a" onload="x']


def test_chart_text_is_escaped_and_kept_as_written():
    """Hostile SKU codes and model names reach a chart as text: escaped, never markup, never mathtext."""
    days = pd.date_range("2024-01-01", periods=10, freq="D")
    window = Window(days[5:], np.arange(5.0), np.zeros(5), np.arange(5.0) + 2)
    charts = {
        hbar_chart(HOSTILE[0], HOSTILE, {"bias": [1.0, -0.5, float("nan"), 2.0]}, str, [(1.5, HOSTILE[1], "red")]): (
            HOSTILE[0],
            set(HOSTILE),
        ),
        forecast_chart(HOSTILE[3], days, np.arange(10.0), [window], [days[4]], HOSTILE[2]): (HOSTILE[3], {HOSTILE[2]}),
        xy_chart(HOSTILE[1], {HOSTILE[0]: ([1.0, 2.0], [0.5, 0.9], HOSTILE[2:])}, str, str, "x", "y"): (
            HOSTILE[1],
            {HOSTILE[0], HOSTILE[2], HOSTILE[3]},
        ),
    }
    for chart, (label, texts) in charts.items():
        assert "<script" not in chart and "<b>" not in chart and not EXTERNAL.findall(chart)
        root = ElementTree.fromstring(chart)  # well-formed: nothing in a label opened or closed an element
        assert {e.tag for e in root.iter()} <= {"svg", "title", "path", "text", "defs", "clipPath", "rect", "use", "g"}
        assert root.get("class") == "chart" and root.get("aria-label") == root.find("title").text == label
        assert texts <= {t.text for t in root.iter("text")}


def test_no_workbook_without_a_plan(run_copy):
    assert write_plan_workbook(run_copy) is None
    assert not (run_copy / "plan.xlsx").exists()


def test_find_runs_and_compare(tiny_run, tmp_path):
    root = tmp_path / "experiments"
    a = Path(shutil.copytree(tiny_run, root / "default" / "2026-01-01_00-00-00"))
    b = Path(shutil.copytree(tiny_run, root / "arima" / "multirun" / "2026-01-02_00-00-00" / "3"))
    (root / "tuned").mkdir()
    (root / "tuned" / "study.yaml").write_text("model: {}\n")  # not a run folder
    # make run b's croston best in one segment, so the best model per segment comes from different runs
    seg = pd.read_csv(b / "metrics_by_segment.csv")
    first = seg[["abc", "demand_class"]].iloc[0]
    target = (seg["model"] == "croston") & (seg["abc"] == first["abc"]) & (seg["demand_class"] == first["demand_class"])
    seg.loc[target, "rmsse"] = seg["rmsse"].min() / 2
    seg.to_csv(b / "metrics_by_segment.csv", index=False)

    runs = find_runs(root)
    assert runs == sorted([a, b])
    out = tmp_path / "comparison"
    path = write_comparison(runs, out)
    assert path == out / "comparison.html"
    table = pd.read_csv(out / "comparison.csv")
    board = pd.read_csv(tiny_run / "leaderboard.csv")
    assert len(table) == 2 * len(board)
    assert set(table["run"]) == {"arima/multirun/2026-01-02_00-00-00/3", "default/2026-01-01_00-00-00"}
    merged = table.merge(board, on="model", suffixes=("", "_csv"))
    assert np.allclose(merged["rmsse"], merged["rmsse_csv"]) and np.allclose(merged["wape"], merged["wape_csv"])
    assert table.groupby("run")["champion"].sum().eq(1).all()
    best = pd.read_csv(out / "comparison_by_segment.csv")
    row = best[(best["abc"] == first["abc"]) & (best["demand_class"] == first["demand_class"])].iloc[0]
    assert (row["best_model"], row["best_run"]) == ("croston", "arima/multirun/2026-01-02_00-00-00/3")
    html = path.read_text(encoding="utf-8")
    parsed = parse(html)
    assert {"runs", "side-by-side", "best-by-segment", "all-models"} <= parsed.ids
    assert not EXTERNAL.findall(html) and "<script" not in html
    assert len(section_rows(parsed, "all-models")) == len(table)
    with pytest.raises(InputError):
        write_comparison([], out)


def chromium() -> str | None:
    return next((p for p in ("/usr/bin/chromium", shutil.which("chromium")) if p and Path(p).is_file()), None)


def png_size(path: Path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", head[16:24])


def test_report_renders_in_headless_chromium(planned_run, tmp_path):
    browser = chromium()
    if browser is None:
        pytest.skip("chromium not installed; apt-get install chromium chromium-driver")
    write_plan_workbook(planned_run)
    report = write_report(planned_run)
    base = [
        browser,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}",
    ]
    shot = tmp_path / "report.png"
    res = subprocess.run(
        [*base, f"--screenshot={shot}", "--window-size=1280,2000", report.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == 0, res.stderr[-2000:]
    assert png_size(shot) == (1280, 2000)
    assert shot.stat().st_size > 50_000  # a blank page compresses to a few kB
    res = subprocess.run(
        [*base, "--enable-logging=stderr", "--v=0", "--dump-dom", report.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == 0, res.stderr[-2000:]
    dom = parse(res.stdout)
    assert ACCURACY_IDS | PLAN_IDS <= dom.ids
    assert len(dom.charts) >= 17
    # the page has no scripts, so any console message (an error included) means something is wrong
    assert not [line for line in res.stderr.splitlines() if ":CONSOLE" in line]
