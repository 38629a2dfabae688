"""Runs by id from the DuckDB warehouse: read-only connections, every value a bound parameter.

The server reads the verified copy the nightly job keeps beside the warehouse (`<warehouse>.backup`, replaced
in one rename after each complete run) where there is one. DuckDB locks its file per process: a reader holding
the live warehouse open, even read-only, would make the nightly job stop as "locked" (exit 3), and the job
holds it for the whole run, so the live file would also be unreadable half the night. The copy lags the live
file by the seconds between publication and backup, which history can afford; the plan itself is served from
the published folder. A connection lives for one request only, so no reader holds a file the job replaces.
"""

from __future__ import annotations

import os
from pathlib import Path

import duckdb
import pandas as pd

from forecasting.storage.warehouse import backup_path

#: runs columns a client sees (run_dir, a path on the server, is left out)
RUN_COLUMNS = (
    "run_id, task, status, started_at, finished_at, data_cutoff, alert, config_hash, code_version, data_fingerprint"
)


class HistoryUnavailable(Exception):
    """The warehouse cannot be read now (none yet, or damaged); the message is safe to show."""


def readable_copy(warehouse: str | os.PathLike) -> Path:
    backup = backup_path(warehouse)
    return backup if backup.is_file() else Path(warehouse)


def query(warehouse: str | os.PathLike, sql: str, params: list | None = None) -> pd.DataFrame:
    path = readable_copy(warehouse)
    if not path.is_file():
        raise HistoryUnavailable("no warehouse has been written yet; the scheduled reforecast writes one.")
    try:
        with duckdb.connect(str(path), read_only=True) as con:
            return con.execute(sql, params or []).df()
    except duckdb.Error as exc:
        raise HistoryUnavailable("the warehouse cannot be read now; try again after the scheduled run.") from exc


def runs(warehouse, status: str | None, limit: int, offset: int) -> tuple[int, pd.DataFrame]:
    where, params = ("WHERE status = ?", [status]) if status else ("", [])
    total = query(warehouse, f"SELECT count(*) AS n FROM runs {where}", params)["n"].iloc[0]
    rows = query(
        warehouse,
        f"SELECT {RUN_COLUMNS} FROM runs {where} ORDER BY started_at DESC, run_id LIMIT ? OFFSET ?",
        [*params, limit, offset],
    )
    return int(total), rows


def run(warehouse, run_id: str) -> dict | None:
    """One run: its record, leaderboard, champion decisions, realised accuracy and a summary of its plan."""
    found = query(warehouse, f"SELECT {RUN_COLUMNS} FROM runs WHERE run_id = ?", [run_id])
    if found.empty:
        return None
    metrics = query(warehouse, "SELECT model, metric, value FROM metrics WHERE run_id = ? ORDER BY model", [run_id])
    board = (
        metrics.pivot_table(index="model", columns="metric", values="value", aggfunc="first").reset_index()
        if not metrics.empty
        else metrics
    )
    if "rank" in board:
        board = board.sort_values("rank")
    champions = query(
        warehouse,
        "SELECT segment, model, previous_model, metric, value, previous_value, reason FROM champions "
        "WHERE run_id = ? ORDER BY segment",
        [run_id],
    )
    accuracy = query(
        warehouse,
        "SELECT forecast_run_id, model, data_cutoff, points, wape, bias, tracking_signal FROM accuracy "
        "WHERE run_id = ? ORDER BY data_cutoff, model",
        [run_id],
    )
    plan = query(
        warehouse,
        "SELECT count(*) AS skus, count(*) FILTER (WHERE order_qty > 0) AS orders, "
        "count(*) FILTER (WHERE coalesce(exceptions, '') <> '') AS exceptions FROM plans WHERE run_id = ?",
        [run_id],
    )
    return {
        "run": found.iloc[0].to_dict(),
        "plan": plan.iloc[0].to_dict(),
        "leaderboard": board,
        "champions": champions,
        "accuracy": accuracy,
    }
