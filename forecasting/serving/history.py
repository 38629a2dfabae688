"""Runs by id from the DuckDB warehouse: read-only connections (forecasting.storage.readonly), bound values."""

from __future__ import annotations

import pandas as pd

from forecasting.storage.readonly import query

#: runs columns a client sees (run_dir, a path on the server, is left out)
RUN_COLUMNS = (
    "run_id, task, status, started_at, finished_at, data_cutoff, alert, config_hash, code_version, data_fingerprint"
)


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
