"""A promo calendar exported with the sales (rows after the last sale, quantity empty): the final forecast reads it
with data.future_covariates=known, and nothing reads it as sales."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from forecasting.data.prepare import prepare_data

ROOT = Path(__file__).resolve().parents[1]
COLUMNS = {"sku": "item", "date": "week", "quantity": "units", "promo": "on_promo"}


def promo_table(n_skus: int = 8, weeks: int = 100, ahead: int = 8, seed: int = 0) -> tuple[pd.DataFrame, pd.Timestamp]:
    """Weekly sales that treble on promoted weeks (a fifth of them), then `ahead` weeks of calendar only."""
    rng = np.random.default_rng(seed)
    dates = pd.date_range("2023-01-01", periods=weeks + ahead, freq="W-SUN")
    rows = []
    for i in range(n_skus):
        promo = (rng.random(len(dates)) < 0.2).astype(int)
        units = rng.poisson(20 * (1 + 2 * promo)).astype(float)
        units[weeks:] = np.nan
        rows.append(pd.DataFrame({"item": f"G{i}", "week": dates, "units": units, "on_promo": promo}))
    return pd.concat(rows, ignore_index=True), dates[weeks - 1]


def test_the_calendar_ahead_is_kept_with_known_and_counted_aside_otherwise(tmp_path):
    table, last = promo_table()
    path = tmp_path / "t.csv"
    table.to_csv(path, index=False)
    known = prepare_data(path, kind="demand", columns=COLUMNS, future_covariates="known", as_of="2030-01-01")
    assert known.panel["date"].max() == last and known.panel["demand"].notna().all()
    assert len(known.ahead) == 8 * 8 and set(known.ahead.columns) == {"sku", "date", "promo"}
    assert known.ahead["date"].min() > last
    assert known.quality.as_dict()["dropped_by_reason"]["promo_calendar_ahead"] == 64
    carried = prepare_data(path, kind="demand", columns=COLUMNS, as_of="2030-01-01")
    assert carried.ahead is None
    assert carried.quality.as_dict()["dropped_by_reason"]["ahead_of_the_history"] == 64
    pd.testing.assert_frame_equal(known.panel, carried.panel)


@pytest.mark.parametrize("champion", ["arima_x", "lightgbm"])
def test_the_final_forecast_reads_the_promo_calendar(champion, tmp_path):
    table, _ = promo_table()
    path = tmp_path / "t.csv"
    table.to_csv(path, index=False)
    out = tmp_path / "run"
    args = [sys.executable, str(ROOT / "run.py"), "data=demand_table", f"data.path={path}", "data.as_of=2030-01-01"]
    args += [f"data.columns.{k}={v}" for k, v in COLUMNS.items()]
    args += ["data.future_covariates=known", "model=[arima_x,lightgbm]", f"plan.candidates=[{champion}]"]
    args += ["parallel.n_jobs=1", "num_samples=50", "plan.replay.enabled=false", f"hydra.run.dir={out}"]
    res = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, (res.stdout + res.stderr)[-3000:]
    forecast = pd.read_parquet(out / "forecast.parquet")
    calendar = table[table["units"].isna()].rename(columns={"item": "sku", "week": "date"})
    ahead = forecast.merge(calendar[["sku", "date", "on_promo"]], on=["sku", "date"])
    assert len(ahead) == len(calendar) and set(ahead["model"]) == {champion}
    by_promo = ahead.groupby("on_promo")["mean"].mean()
    # Promoted weeks sell three times as much; a forecast that ignored the calendar would show no difference.
    assert by_promo[1] > 2 * by_promo[0], by_promo


def test_a_daily_calendar_is_summed_to_the_weeks_the_history_is_summed_to(tmp_path):
    # data.aggregate_to=W: the calendar's days count in the weeks ending Sunday, promoted where any day is.
    days = pd.date_range("2024-01-01", "2024-06-30", freq="D")  # a Monday to a Sunday
    rows = [pd.DataFrame({"item": f"G{i}", "week": days, "units": 5.0 + i, "on_promo": 0}) for i in range(3)]
    ahead_days = pd.date_range("2024-07-01", periods=14, freq="D")
    rows += [pd.DataFrame({"item": "G0", "week": ahead_days, "units": np.nan, "on_promo": (ahead_days.day == 10)})]
    path = tmp_path / "t.csv"
    pd.concat(rows, ignore_index=True).astype({"on_promo": int}).to_csv(path, index=False)
    data = prepare_data(
        path, kind="demand", columns=COLUMNS, future_covariates="known", aggregate_to="W", as_of="2030-01-01"
    )
    assert data.ahead["date"].tolist() == [pd.Timestamp("2024-07-07"), pd.Timestamp("2024-07-14")]
    assert data.ahead["promo"].tolist() == [0, 1]  # July 10th is in the week ending the 14th


def test_a_calendar_listing_only_its_promoted_days_is_read_as_it_is(tmp_path):
    # The calendar need not be regular: only the promoted days of a daily table, a week apart. As history they
    # would read as weekly rows among daily ones; as a calendar they are read day by day, never refused.
    days = pd.date_range("2024-01-01", "2024-06-30", freq="D")
    rows = [pd.DataFrame({"item": f"G{i}", "week": days, "units": 5.0 + i, "on_promo": 0}) for i in range(3)]
    promoted = pd.date_range("2024-07-03", periods=4, freq="7D")
    rows += [pd.DataFrame({"item": "G1", "week": promoted, "units": np.nan, "on_promo": 1})]
    path = tmp_path / "t.csv"
    pd.concat(rows, ignore_index=True).to_csv(path, index=False)
    data = prepare_data(path, kind="demand", columns=COLUMNS, future_covariates="known", as_of="2030-01-01")
    assert data.ahead["date"].tolist() == list(promoted) and set(data.ahead["promo"]) == {1}
