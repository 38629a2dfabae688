"""What an explanation reads: the previous plan (warehouse), the latest weeks' demand and the champion decisions
(the run folder). Each returns None where its source is missing (a first run, a pruned run folder)."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import pandas as pd

from forecasting.storage import read_csv
from forecasting.storage.readonly import WarehouseUnavailable, query

log = logging.getLogger(__name__)


def previous_run(
    warehouse: str | os.PathLike | None, run_id: str, data_cutoff
) -> tuple[pd.DataFrame | None, pd.DataFrame | None]:
    """The plan and forecast means of the last complete reforecast before `run_id` (cut-off no later)."""
    if warehouse is None:
        return None, None
    try:
        found = query(
            warehouse,
            "SELECT run_id FROM runs WHERE status = 'complete' AND task = 'reforecast' AND run_id <> ? "
            "AND data_cutoff <= ? ORDER BY finished_at DESC LIMIT 1",
            [run_id, pd.Timestamp(data_cutoff).date()],
        )
        if found.empty:
            return None, None
        previous = str(found["run_id"].iloc[0])
        plan = query(warehouse, "SELECT * FROM plans WHERE run_id = ?", [previous])
        forecast = query(warehouse, "SELECT sku, date, mean FROM forecasts WHERE run_id = ?", [previous])
        return plan, forecast
    except (WarehouseUnavailable, ValueError) as exc:
        log.warning("why: no previous plan to compare with (%s)", exc)
        return None, None


def recent_demand(run_dir: Path) -> pd.DataFrame | None:
    """The actual demand of the backtest's last test window (the weeks up to the cut-off), one row per day."""
    path = run_dir / "backtest.parquet"
    if not path.is_file():
        return None
    backtest = pd.read_parquet(path)
    columns = ["sku", "date", "model", "cutoff", "role", "demand"] + (["promo"] if "promo" in backtest else [])
    test = backtest.loc[backtest["role"] == "test", columns]
    if test.empty:
        return None
    last = test[(test["cutoff"] == test["cutoff"].max()) & (test["model"] == test["model"].iloc[0])]
    return last.drop(columns=["model", "cutoff", "role"]).assign(sku=lambda f: f["sku"].astype(str))


def champions(run_dir: Path) -> pd.DataFrame | None:
    path = run_dir / "champions.csv"
    return read_csv(path, dtype={"segment": str, "model": str}) if path.is_file() else None


def ensembles(run_dir: Path) -> dict[str, dict]:
    """The run's ensembles as metrics.json records them: name -> {combine, members, weights}; {} where absent."""
    try:
        metrics = json.loads((Path(run_dir) / "metrics.json").read_text())
    except (OSError, ValueError):
        return {}
    return dict(metrics.get("ensembles") or {})
