"""Weekly and monthly demand end to end: real run.py processes on small generated tables, and the day-window
arithmetic plans rely on."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from forecasting.data.prepare import prepare_data
from forecasting.storage import read_csv
from forecasting.vocabulary.windows import spread_to_days, window_sums
from tests.frequency_tables import monthly_parts, weekly
from tests.test_run import run_cli

ROOT = Path(__file__).resolve().parents[1]
FAST = ("parallel.n_jobs=1", "num_samples=40", "plan.replay.targets=[0.8,0.95]")


@pytest.fixture(scope="module")
def monthly_run(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("monthly")
    monthly_parts(n_parts=12, months=36).to_csv(tmp / "parts.csv", index=False)
    mapping = ("data.columns.sku=part", "data.columns.date=month", "data.columns.quantity=units")
    res = run_cli(
        "data=demand_table", f"data.path={tmp / 'parts.csv'}", *mapping,
        "model=[croston,adida,imapa,lightgbm,lightgbm_level]", *FAST, f"hydra.run.dir={tmp / 'run'}",
    )  # fmt: skip
    assert res.returncode == 0, res.stderr[-3000:]
    return tmp / "run"


@pytest.fixture(scope="module")
def weekly_run(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("weekly")
    weekly(n_skus=6, weeks=80).to_csv(tmp / "weekly.csv", index=False)
    mapping = ("data.columns.sku=item", "data.columns.date=week_ending", "data.columns.quantity=qty")
    res = run_cli(
        "data=demand_table", f"data.path={tmp / 'weekly.csv'}", *mapping,
        "model=[ets,imapa]", *FAST, f"hydra.run.dir={tmp / 'run'}",
    )  # fmt: skip
    assert res.returncode == 0, res.stderr[-3000:]
    return tmp / "run"


def test_monthly_parts_backtest_plan_and_report_count_months(monthly_run):
    quality = json.loads((monthly_run / "data_quality.json").read_text())
    assert quality["calendar"]["frequency"] == "monthly" and quality["calendar"]["season_length"] == 12
    assert "sales_on_closed_days_moved_to_next_trading_day" not in quality["repairs"]
    # Backtest defaults for months: 6-month horizon, cutoffs 3 months apart on month ends.
    config = yaml.safe_load((monthly_run / "config.yaml").read_text())
    assert (config["backtest"]["horizon"], config["backtest"]["step"]) == (6, 3)
    folds = read_csv(monthly_run / "folds.csv", parse_dates=["cutoff"])
    assert folds["cutoff"].dt.is_month_end.all()
    # Cutoffs 3 months apart within each role; the validation folds' horizons end by the first test cutoff.
    for _, role in folds.groupby("role"):
        assert role["cutoff"].diff().dt.days.dropna().between(89, 92).all()
    backtest = pd.read_parquet(monthly_run / "backtest.parquet")
    assert backtest.groupby(["sku", "cutoff", "model"]).size().eq(6).all()
    board = read_csv(monthly_run / "leaderboard.csv")
    global_and_local = {"adida", "imapa", "croston", "lightgbm", "lightgbm_level", "seasonal_naive"}
    assert global_and_local <= set(board["model"])
    assert board["rmsse"].notna().all()
    # The plan: one row per part (8-digit codes kept as written), order-by dates in days from the month end.
    plan = read_csv(monthly_run / "plan.csv", dtype={"sku": str})
    assert plan["sku"].str.fullmatch(r"\d{8}").all() and len(plan) == plan["sku"].nunique()
    assert (plan["lead_time_days"] == 14).all()
    ordered = plan[plan["order_qty"] > 0]
    assert len(ordered) and (ordered["order_by"] == "2025-12-31").all()
    assert (plan["demand_60d_p50"] <= plan["demand_60d_p90"] + 1e-9).all()
    forecast = pd.read_parquet(monthly_run / "forecast.parquet")
    assert pd.DatetimeIndex(forecast["date"]).is_month_end.all()
    assert forecast["date"].min() == pd.Timestamp("2026-01-31")
    assert len(read_csv(monthly_run / "replay.csv")) == 4  # champion, naive, empirical, oracle
    # Service levels rehearsed on a year of months before each decision (the replay's 12 weeks hold 3 of them),
    # the replay's rehearsal ending where the replay starts.
    rehearsal = read_csv(monthly_run / "rehearsal.csv", parse_dates=["start", "decided_on"])
    spans = rehearsal.groupby("decision")[["start", "decided_on"]].first()
    assert ((spans["decided_on"] - spans["start"]).dt.days >= 365).all()
    protocol = json.loads((monthly_run / "metrics.json").read_text())["plan"]["protocol"]
    assert spans.loc["replay", "decided_on"] == pd.Timestamp(protocol["replay_start"])
    assert protocol["service_levels"]["plan"]["start"] == str(spans.loc["plan", "start"].date())
    html = (monthly_run / "report.html").read_text()
    assert "6 months" in html and "trading day" not in html


def test_weekly_backtest_plan_and_report_count_weeks(weekly_run):
    quality = json.loads((weekly_run / "data_quality.json").read_text())
    assert quality["calendar"]["period"] == "W-SAT"
    # 80 weeks is shorter than two yearly seasons: no season rather than a 52-week one fitted on one year.
    assert quality["calendar"]["season_length"] == 1
    folds = read_csv(weekly_run / "folds.csv", parse_dates=["cutoff"])
    assert (folds["cutoff"].dt.dayofweek == 5).all() and (folds["cutoff"].diff().dt.days.dropna() == 91).all()
    board = read_csv(weekly_run / "leaderboard.csv")
    assert {"ets", "imapa"} <= set(board["model"])
    forecast = pd.read_parquet(weekly_run / "forecast.parquet")
    assert (forecast["date"].dt.dayofweek == 5).all()
    plan = read_csv(weekly_run / "plan.csv", dtype={"sku": str})
    assert len(plan) == 6 and plan["demand_30d_p50"].gt(0).all()
    html = (weekly_run / "report.html").read_text()
    assert "13 weeks" in html and "trading day" not in html


def test_irregular_weekly_dates_fail_naming_two_of_them(tmp_path):
    table = weekly(n_skus=2, weeks=40)
    table.loc[table["week_ending"] == "2025-10-04", "week_ending"] = pd.Timestamp("2025-10-05")
    table.to_csv(tmp_path / "w.csv", index=False)
    res = run_cli(
        "data=demand_table", f"data.path={tmp_path / 'w.csv'}", "data.columns.sku=item",
        "data.columns.date=week_ending", "data.columns.quantity=qty", f"hydra.run.dir={tmp_path / 'run'}",
    )  # fmt: skip
    assert res.returncode == 2
    said = res.stdout + res.stderr
    assert "2 row(s) on Sundays (SKU(s) SYN0, SYN1, row(s) 28, 68); date those rows on a Saturday" in said
    assert "Traceback" not in said


def test_daily_table_aggregates_to_complete_months(tmp_path):
    days = pd.date_range("2024-01-01", "2025-03-14", freq="D")
    table = pd.DataFrame({"sku": "A", "date": days, "demand": 1.0})
    table.to_csv(tmp_path / "d.csv", index=False)
    cols = {"sku": "sku", "date": "date", "quantity": "demand"}
    data = prepare_data(tmp_path / "d.csv", "demand", cols, aggregate_to="M", panel={"min_history_days": 1})
    assert data.calendar.frequency == "monthly" and data.calendar.season_length == 1  # 14 months < 2 years
    # March 2025 is incomplete (data ends on the 14th): left out and counted, not read as a demand drop.
    assert data.panel["date"].max() == pd.Timestamp("2025-02-28")
    assert data.quality.dropped["incomplete_last_period"] == 14
    assert data.panel.set_index("date")["demand"].loc["2024-02-29"] == 29


def test_window_sums_prorate_months_and_weeks():
    months = pd.date_range("2026-01-31", periods=4, freq="ME")
    paths = np.array([[31.0, 28.0, 31.0, 30.0]])  # one unit a day
    # 45 days from 2025-12-31: all of January and 14 of February's 28 days.
    assert window_sums(paths, months, pd.Timestamp("2025-12-31"), 45) == pytest.approx([45.0])
    weeks = pd.date_range("2026-01-03", periods=3, freq="W-SAT")
    assert window_sums(np.array([[7.0, 14.0, 70.0]]), weeks, pd.Timestamp("2025-12-27"), 10) == pytest.approx([13.0])
    daily = spread_to_days(pd.Series([31.0, 28.0], index=months[:2]))
    assert len(daily) == 59 and daily.eq(1.0).all()


def test_daily_demand_alias_keeps_daily_tables_daily(tmp_path):
    days = pd.date_range("2025-01-01", periods=150, freq="D")
    rng = np.random.default_rng(0)
    pd.DataFrame({"sku": "A", "date": days, "demand": rng.poisson(3, 150)}).to_csv(tmp_path / "d.csv", index=False)
    res = run_cli(
        "data=daily_demand", f"data.path={tmp_path / 'd.csv'}", "task=backtest", "model=[ets]", "backtest.folds=1",
        *FAST[:2], f"hydra.run.dir={tmp_path / 'run'}",
    )  # fmt: skip
    assert res.returncode == 0, res.stderr[-2000:]
    config = yaml.safe_load((tmp_path / "run" / "config.yaml").read_text())
    assert config["backtest"]["horizon"] == 30 and config["data"]["cleaning"] == {}
    quality = json.loads((tmp_path / "run" / "data_quality.json").read_text())
    assert quality["calendar"]["frequency"] == "daily" and quality["calendar"]["trading_days_per_week"] == 7


def test_two_years_of_months_run_the_default_models_without_falling_back(tmp_path):
    # 24 months: the first cutoff has 12. The per-SKU models fit from the monthly min_train_days (not 28
    # periods, four weeks of a daily table) and lightgbm holds out what the history allows for its dispersion.
    monthly_parts(n_parts=10, months=24).to_csv(tmp_path / "parts.csv", index=False)
    mapping = ("data.columns.sku=part", "data.columns.date=month", "data.columns.quantity=units")
    res = run_cli(
        "data=demand_table", f"data.path={tmp_path / 'parts.csv'}", *mapping, "task=backtest", *FAST,
        f"hydra.run.dir={tmp_path / 'run'}",
    )  # fmt: skip
    assert res.returncode == 0, res.stderr[-3000:]
    board = pd.read_csv(tmp_path / "run" / "leaderboard.csv")
    assert {"arima", "ets", "lightgbm"} <= set(board["model"])
    failures = tmp_path / "run" / "failures.csv"
    failed = set(pd.read_csv(failures)["model"]) if failures.exists() else set()
    assert not failed & {"arima", "ets"}, failed
