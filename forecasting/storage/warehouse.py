"""The DuckDB warehouse: runs, forecasts, plans, metrics, champion decisions and forecast accuracy.

Every run writes its rows in ONE transaction together with its `complete` status, so a process killed at any
point leaves either the whole run or none of its rows (a `running` row at most, marked `failed` by the next
run). Planners query it with SQL (README has examples).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import duckdb
import pandas as pd

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id VARCHAR PRIMARY KEY, task VARCHAR, started_at TIMESTAMP, finished_at TIMESTAMP,
    data_cutoff DATE, config_hash VARCHAR, code_version VARCHAR, status VARCHAR, run_dir VARCHAR,
    alert VARCHAR
);
CREATE TABLE IF NOT EXISTS champions (
    decided_at TIMESTAMP, run_id VARCHAR, segment VARCHAR, model VARCHAR, previous_model VARCHAR,
    metric VARCHAR, value DOUBLE, previous_value DOUBLE, reason VARCHAR
);
"""
# Tables whose columns follow the DataFrames written to them (created on first write).
FLEXIBLE = ("forecasts", "plans", "metrics", "accuracy")


class Warehouse:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.con = duckdb.connect(str(self.path))
        self.con.execute(SCHEMA)

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> Warehouse:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def query(self, sql: str, params: list | None = None) -> pd.DataFrame:
        return self.con.execute(sql, params or []).df()

    def tables(self) -> set[str]:
        return set(self.query("SELECT table_name FROM information_schema.tables")["table_name"])

    def fail_stale_runs(self) -> int:
        """Runs left `running` by a killed process (call while holding the reforecast lock)."""
        stale = self.query("SELECT count(*) AS n FROM runs WHERE status = 'running'")["n"].iloc[0]
        self.con.execute("UPDATE runs SET status = 'failed', finished_at = now() WHERE status = 'running'")
        return int(stale)

    def completed_run(self, data_cutoff, config_hash: str) -> str | None:
        found = self.query(
            "SELECT run_id FROM runs WHERE status = 'complete' AND task = 'reforecast' AND data_cutoff = ? "
            "AND config_hash = ? ORDER BY finished_at DESC LIMIT 1",
            [pd.Timestamp(data_cutoff).date(), config_hash],
        )
        return None if found.empty else str(found["run_id"].iloc[0])

    def start_run(
        self, run_id: str, task: str, data_cutoff, config_hash: str, code_version: str, run_dir: str
    ) -> None:
        self.con.execute(
            "INSERT INTO runs VALUES (?, ?, ?, NULL, ?, ?, ?, 'running', ?, NULL)",
            [
                run_id,
                task,
                datetime.now(),
                pd.Timestamp(data_cutoff).date(),
                config_hash,
                code_version,
                run_dir,
            ],
        )

    def fail_run(self, run_id: str) -> None:
        self.con.execute("UPDATE runs SET status = 'failed', finished_at = now() WHERE run_id = ?", [run_id])

    def current_champions(self) -> pd.DataFrame:
        """The latest decision per segment: segment, model, value."""
        return self.query(
            "SELECT segment, model, metric, value FROM champions "
            "QUALIFY row_number() OVER (PARTITION BY segment ORDER BY decided_at DESC) = 1"
        )

    def forecasts_before(self, data_cutoff) -> pd.DataFrame:
        """Forecasts of complete runs made before `data_cutoff`, with each run's own cutoff."""
        if "forecasts" not in self.tables():
            return pd.DataFrame()
        return self.query(
            "SELECT f.*, r.data_cutoff FROM forecasts f JOIN runs r USING (run_id) "
            "WHERE r.status = 'complete' AND r.data_cutoff < ?",
            [pd.Timestamp(data_cutoff).date()],
        )

    def commit_run(
        self, run_id: str, tables: dict[str, pd.DataFrame], champions: pd.DataFrame | None, alert: str | None
    ) -> None:
        """Write every table of the run and mark it complete, all or nothing."""
        self.con.execute("BEGIN TRANSACTION")
        try:
            existing = self.tables()
            for name, frame in tables.items():
                if name not in FLEXIBLE:
                    raise ValueError(f"unknown warehouse table {name}")
                if frame is None or frame.empty:
                    continue
                frame = frame.assign(run_id=run_id)
                self.con.register("incoming", frame)
                if name not in existing:
                    self.con.execute(f"CREATE TABLE {name} AS SELECT * FROM incoming")
                else:
                    self.con.execute(f"INSERT INTO {name} BY NAME SELECT * FROM incoming")
                self.con.unregister("incoming")
            if champions is not None and not champions.empty:
                self.con.register("decisions", champions.assign(run_id=run_id, decided_at=datetime.now()))
                self.con.execute("INSERT INTO champions BY NAME SELECT * FROM decisions")
                self.con.unregister("decisions")
            self.con.execute(
                "UPDATE runs SET status = 'complete', finished_at = ?, alert = ? WHERE run_id = ?",
                [datetime.now(), alert, run_id],
            )
            self.con.execute("COMMIT")
        except BaseException:
            self.con.execute("ROLLBACK")
            raise
