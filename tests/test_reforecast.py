"""The scheduled reforecast with real processes: idempotency, a new cut-off, kill -9 at several points,
two concurrent runs, and a drift alert on data made to drift."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from tests.test_run import ROOT

START = pd.Timestamp("2024-01-01")


def demand_file(tmp_path: Path, drift_from: int | None = None, days: int = 200) -> Path:
    rng = np.random.default_rng(3)
    dates = pd.date_range(START, periods=days, freq="D")
    frames = []
    for i in range(5):
        level = np.full(days, 4.0 + 2 * i)
        if drift_from is not None:
            level[drift_from:] *= 6  # demand jumps: yesterday's forecasts are now far too low
        frames.append(
            pd.DataFrame({"item": f"S{i}", "day": dates, "units": rng.poisson(level).astype(float)})
        )
    path = tmp_path / "sales.csv"
    pd.concat(frames).to_csv(path, index=False)
    return path


def args(tmp_path: Path, data: Path, end: str | None = None, *extra: str) -> list[str]:
    return [
        str(ROOT / "run.py"),
        "experiment=reforecast",
        "data=daily_demand",
        f"data.path={data}",
        "data.columns.sku=item",
        "data.columns.date=day",
        "data.columns.quantity=units",
        "data.panel.min_history_days=60",
        f"data.end={end or 'null'}",
        "model=[ets]",
        "backtest.folds=1",
        "backtest.horizon=14",
        "backtest.step=14",
        "num_samples=40",
        "parallel.n_jobs=1",
        "plan.unit_cost=2.0",  # the generated table has no prices
        f"reforecast.warehouse={tmp_path}/wh.duckdb",
        f"reforecast.lock_path={tmp_path}/reforecast.lock",
        f"reforecast.publish_dir={tmp_path}/latest",
        f"hydra.run.dir={tmp_path}/runs/${{now:%H-%M-%S-%f}}",
        *extra,
    ]


def run(tmp_path, data, end=None, *extra, env=None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *args(tmp_path, data, end, *extra)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **(env or {})},
    )


def start(tmp_path, data, log: Path, *extra, env=None) -> subprocess.Popen:
    out = open(log, "w")  # noqa: SIM115 - closed when the test ends
    return subprocess.Popen(
        [sys.executable, *args(tmp_path, data, None, *extra)],
        cwd=ROOT,
        stdout=out,
        stderr=subprocess.STDOUT,
        env={**os.environ, **(env or {})},
        start_new_session=True,
    )


def wait_for(log: Path, text: str, proc: subprocess.Popen, seconds: float = 180) -> None:
    deadline = time.time() + seconds
    while time.time() < deadline:
        if log.exists() and text in log.read_text():
            return
        if proc.poll() is not None:
            raise AssertionError(f"process ended before '{text}':\n{log.read_text()[-3000:]}")
        time.sleep(0.3)
    raise AssertionError(f"'{text}' not seen in {seconds}s")


def runs(tmp_path) -> pd.DataFrame:
    with duckdb.connect(str(tmp_path / "wh.duckdb"), read_only=True) as con:
        return con.execute("SELECT * FROM runs ORDER BY started_at").df()


def count(tmp_path, table) -> int:
    with duckdb.connect(str(tmp_path / "wh.duckdb"), read_only=True) as con:
        return int(con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0])


def test_rerun_on_same_cutoff_does_nothing_and_new_cutoff_adds_a_run(tmp_path):
    data = demand_file(tmp_path)
    first = run(tmp_path, data, "2024-06-15")
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    forecasts = count(tmp_path, "forecasts")
    again = run(tmp_path, data, "2024-06-15")
    assert again.returncode == 0 and "nothing to do" in again.stdout + again.stderr
    assert len(runs(tmp_path)) == 1 and count(tmp_path, "forecasts") == forecasts
    forced = run(tmp_path, data, "2024-06-15", "reforecast.force=true")
    assert forced.returncode == 0 and len(runs(tmp_path)) == 2

    later = run(tmp_path, data, "2024-07-10")
    assert later.returncode == 0, later.stdout[-3000:]
    table = runs(tmp_path)
    assert list(table["status"]) == ["complete"] * 3
    assert sorted(table["data_cutoff"].astype(str).unique()) == ["2024-06-15", "2024-07-10"]
    # Earlier forecasts met their actuals: the new run measured them.
    run_dir = Path(table["run_dir"].iloc[-1])
    accuracy = pd.read_csv(run_dir / "accuracy.csv")
    assert (
        set(accuracy["forecast_run_id"]) == set(table["run_id"].iloc[:2]) and (accuracy["points"] > 0).all()
    )
    plan = pd.read_csv(tmp_path / "latest" / "plan.csv", dtype={"sku": str})
    assert len(plan) == 5 and json.loads((tmp_path / "latest" / "SOURCE.json").read_text())["run_dir"] == str(
        run_dir
    )
    with duckdb.connect(str(tmp_path / "wh.duckdb"), read_only=True) as con:
        decisions = con.execute("SELECT reason FROM champions").df()["reason"]
    assert decisions.str.contains("first champion").any() and decisions.str.contains("kept").any()


@pytest.mark.parametrize("stage", ["started", "planned", "outputs_written"])
def test_kill_9_leaves_last_plan_and_warehouse_intact(tmp_path, stage):
    data = demand_file(tmp_path)
    assert run(tmp_path, data).returncode == 0
    published = (tmp_path / "latest" / "plan.csv").read_bytes()
    forecasts = count(tmp_path, "forecasts")

    log = tmp_path / "killed.log"
    proc = start(tmp_path, data, log, "reforecast.force=true", env={"FORECASTING_PAUSE_AT": stage})
    wait_for(log, f"paused at {stage}", proc)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)

    assert (tmp_path / "latest" / "plan.csv").read_bytes() == published  # the last good plan, untouched
    assert not list((tmp_path / "latest").glob(".*.tmp"))
    table = runs(tmp_path)  # the warehouse opens and holds only whole runs
    assert list(table["status"]) == ["complete", "running"]
    assert count(tmp_path, "forecasts") == forecasts

    rerun = run(tmp_path, data, None, "reforecast.force=true")
    assert rerun.returncode == 0, rerun.stdout[-3000:]
    assert list(runs(tmp_path)["status"]) == ["complete", "failed", "complete"]
    assert count(tmp_path, "forecasts") == 2 * forecasts


def test_second_concurrent_run_stops_or_waits(tmp_path):
    data = demand_file(tmp_path)
    log = tmp_path / "first.log"
    first = start(
        tmp_path, data, log, env={"FORECASTING_PAUSE_AT": "started", "FORECASTING_PAUSE_SECONDS": "15"}
    )
    wait_for(log, "paused at started", first)
    second = run(tmp_path, data)
    assert second.returncode == 3
    assert "another reforecast holds" in second.stdout + second.stderr
    waiting = run(tmp_path, data, None, "reforecast.wait_seconds=200")
    assert first.wait(timeout=200) == 0
    assert waiting.returncode == 0 and "nothing to do" in waiting.stdout + waiting.stderr
    assert list(runs(tmp_path)["status"]) == ["complete"]


def test_drift_raises_an_alert(tmp_path):
    data = demand_file(tmp_path, drift_from=160)
    assert run(tmp_path, data, "2024-06-01").returncode == 0
    res = run(tmp_path, data, "2024-07-15")
    assert res.returncode == 4, res.stdout[-3000:]
    assert "DRIFT ALERT" in res.stdout + res.stderr
    table = runs(tmp_path)
    assert table["status"].tolist() == ["complete", "complete"] and table["alert"].iloc[-1]
    alert = json.loads((Path(table["run_dir"].iloc[-1]) / "alerts.json").read_text())
    assert alert["alert"] == "drift" and "tracking signal" in alert["detail"]
    assert (tmp_path / "latest" / "plan.csv").exists()  # the plan is still written


def test_dry_run_changes_nothing(tmp_path):
    data = demand_file(tmp_path)
    res = run(tmp_path, data, None, "reforecast.dry_run=true")
    assert res.returncode == 0 and '"would_run": true' in res.stdout + res.stderr
    assert not (tmp_path / "latest").exists()
