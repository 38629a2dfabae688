"""The DuckDB warehouse: runs, forecasts, plans, metrics, champion decisions, forecast accuracy, published files.

Every run writes its rows in ONE transaction together with its `complete` status, so a process killed at any
point leaves either the whole run or none of its rows (a `running` row at most, marked `failed` by the next
run). Every table exists from the first run, empty or not, so the README's queries work at once. After each
complete run a verified copy (`<name>.backup`) is kept beside the file: a warehouse that no longer opens is
set aside (never deleted) and the copy restored by `recover`. Planners query it with SQL (README has examples).
"""

from __future__ import annotations

import shutil
from contextlib import suppress
from datetime import datetime
from pathlib import Path

import duckdb
import pandas as pd

from forecasting.errors import InputError, StorageError
from forecasting.storage.atomic import atomic_path
from forecasting.storage.lock import LockedError

# The columns every run writes. forecasts and plans also take whatever other columns the run's tables have
# (quantiles from config, plan fields added later): they are added to the table when first seen.
SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id VARCHAR PRIMARY KEY, task VARCHAR, started_at TIMESTAMP, finished_at TIMESTAMP,
    data_cutoff DATE, config_hash VARCHAR, code_version VARCHAR, status VARCHAR, run_dir VARCHAR,
    alert VARCHAR, data_fingerprint VARCHAR
);
-- Warehouses written before runs recorded the data's fingerprint: their runs match no fingerprint, so the
-- first run after the upgrade plans again once.
ALTER TABLE runs ADD COLUMN IF NOT EXISTS data_fingerprint VARCHAR;
CREATE TABLE IF NOT EXISTS champions (
    decided_at TIMESTAMP, run_id VARCHAR, segment VARCHAR, model VARCHAR, previous_model VARCHAR,
    metric VARCHAR, value DOUBLE, previous_value DOUBLE, reason VARCHAR
);
CREATE TABLE IF NOT EXISTS forecasts (
    sku VARCHAR, date TIMESTAMP_NS, model VARCHAR, mean DOUBLE, fallback BOOLEAN, run_id VARCHAR
);
CREATE TABLE IF NOT EXISTS plans (
    sku VARCHAR, description VARCHAR, segment VARCHAR, model VARCHAR, order_qty DOUBLE, order_by VARCHAR,
    exceptions VARCHAR, run_id VARCHAR
);
CREATE TABLE IF NOT EXISTS metrics (model VARCHAR, metric VARCHAR, value DOUBLE, run_id VARCHAR);
CREATE TABLE IF NOT EXISTS accuracy (
    forecast_run_id VARCHAR, model VARCHAR, data_cutoff DATE, points BIGINT, wape DOUBLE, bias DOUBLE,
    tracking_signal DOUBLE, run_id VARCHAR
);
CREATE TABLE IF NOT EXISTS published (name VARCHAR, sha256 VARCHAR, bytes BIGINT, run_id VARCHAR);
"""
# What DuckDB raises on reading a damaged file (a block past the end of the file, a wrong checksum).
DAMAGE = (duckdb.IOException, duckdb.SerializationException, duckdb.InternalException)
# Tables a run's commit writes (runs and champions have their own statements).
RUN_TABLES = ("forecasts", "plans", "metrics", "accuracy", "published")


class CorruptWarehouseError(InputError):
    """The warehouse file does not open as a DuckDB database."""


def backup_path(path: str | Path) -> Path:
    return Path(f"{path}.backup")


class Warehouse:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise (StorageError.from_os_error(exc, self.path.parent) or exc) from exc
        try:
            self.con = duckdb.connect(str(self.path))
            self.con.execute(SCHEMA)
            self.con.execute("SELECT * FROM runs").fetchall()  # a damaged file often opens, then fails to read
        except duckdb.Error as exc:
            raise opening_error(self.path, exc) from exc

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> Warehouse:
        return self

    def __exit__(self, kind, exc, traceback) -> None:
        with suppress(duckdb.Error):
            self.close()
        if isinstance(exc, DAMAGE):  # a damaged block found later than the opening check: the same sentence
            raise opening_error(self.path, exc) from exc

    def query(self, sql: str, params: list | None = None) -> pd.DataFrame:
        return self.con.execute(sql, params or []).df()

    def tables(self) -> set[str]:
        return set(self.query("SELECT table_name FROM information_schema.tables")["table_name"])

    def fail_stale_runs(self) -> int:
        """Runs left `running` by a killed process (call while holding the reforecast lock)."""
        stale = self.query("SELECT count(*) AS n FROM runs WHERE status = 'running'")["n"].iloc[0]
        self.con.execute("UPDATE runs SET status = 'failed', finished_at = now() WHERE status = 'running'")
        return int(stale)

    def completed_run(self, data_cutoff, config_hash: str, data_fingerprint: str | None = None) -> str | None:
        """The last complete reforecast of this cut-off and config (and, given one, this data fingerprint)."""
        same_data = "" if data_fingerprint is None else " AND data_fingerprint = ?"
        found = self.query(
            "SELECT run_id FROM runs WHERE status = 'complete' AND task = 'reforecast' AND data_cutoff = ? "
            f"AND config_hash = ?{same_data} ORDER BY finished_at DESC LIMIT 1",
            [pd.Timestamp(data_cutoff).date(), config_hash, *([data_fingerprint] if same_data else [])],
        )
        return None if found.empty else str(found["run_id"].iloc[0])

    def last_complete(self) -> dict | None:
        """The last complete reforecast (the plan published now): run_id, data_cutoff, data_fingerprint."""
        last = self.query(
            "SELECT run_id, data_cutoff, data_fingerprint FROM runs WHERE status = 'complete' "
            "AND task = 'reforecast' ORDER BY finished_at DESC LIMIT 1"
        )
        if last.empty:
            return None
        row = last.iloc[0]
        fingerprint = row["data_fingerprint"]
        return {
            "run_id": str(row["run_id"]),
            "data_cutoff": pd.Timestamp(row["data_cutoff"]),
            "data_fingerprint": None if pd.isna(fingerprint) else str(fingerprint),
        }

    def start_run(
        self,
        run_id: str,
        task: str,
        data_cutoff,
        config_hash: str,
        code_version: str,
        run_dir: str,
        data_fingerprint: str | None = None,
    ) -> None:
        self.con.execute(
            "INSERT INTO runs (run_id, task, started_at, data_cutoff, config_hash, code_version, status, run_dir, "
            "data_fingerprint) VALUES (?, ?, ?, ?, ?, ?, 'running', ?, ?)",
            [
                run_id,
                task,
                datetime.now(),
                pd.Timestamp(data_cutoff).date(),
                config_hash,
                code_version,
                run_dir,
                data_fingerprint,
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
            for name, frame in tables.items():
                if name not in RUN_TABLES:
                    raise ValueError(f"unknown warehouse table {name}")
                if frame is None or frame.empty:
                    continue
                self.con.register("incoming", frame.assign(run_id=run_id))
                self.add_new_columns(name)
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
        except BaseException as exc:
            self.con.execute("ROLLBACK")
            if isinstance(exc, duckdb.IOException):
                raise (StorageError.from_message(str(exc), self.path) or exc) from exc
            raise

    def add_new_columns(self, name: str) -> None:
        """Columns of the registered `incoming` frame that table `name` lacks, with the types DuckDB reads."""
        have = set(self.query(f"SELECT * FROM {name} LIMIT 0").columns)
        incoming = self.query("DESCRIBE SELECT * FROM incoming")
        for column, kind in incoming[["column_name", "column_type"]].itertuples(index=False):
            if column not in have:
                self.con.execute(f'ALTER TABLE {name} ADD COLUMN "{column}" {kind}')

    def last_published(self) -> tuple[dict, pd.DataFrame] | None:
        """The last complete reforecast (run_id, run_dir, data_cutoff, completed_at) and its published files."""
        last = self.query(
            "SELECT run_id, run_dir, data_cutoff, finished_at FROM runs WHERE status = 'complete' "
            "AND task = 'reforecast' ORDER BY finished_at DESC LIMIT 1"
        )
        if last.empty:
            return None
        row = last.iloc[0]
        files = self.query("SELECT name, sha256, bytes FROM published WHERE run_id = ? ORDER BY name", [row.run_id])
        if files.empty:
            return None  # committed before files were recorded: nothing to check against
        source = {
            "run_id": str(row.run_id),
            "run_dir": str(row.run_dir),
            "data_cutoff": str(pd.Timestamp(row.data_cutoff).date()),
            "completed_at": pd.Timestamp(row.finished_at).isoformat(timespec="seconds"),
        }
        return source, files

    def backup(self) -> Path:
        """A verified copy of the warehouse as it is now (call after a complete run, holding the lock)."""
        target = backup_path(self.path)
        complete = self.query("SELECT count(*) AS n FROM runs WHERE status = 'complete'")["n"].iloc[0]
        try:
            self.con.execute("CHECKPOINT")  # everything in the main file, nothing left in the WAL
            with atomic_path(target) as tmp:
                shutil.copyfile(self.path, tmp)
                if verified_runs(tmp) != complete:
                    raise OSError(f"the copy {tmp} of {self.path} does not read back the same runs")
        except OSError as exc:
            raise (StorageError.from_os_error(exc, target) or exc) from exc
        except duckdb.IOException as exc:
            raise (StorageError.from_message(str(exc), target) or exc) from exc
        return target


def verified_runs(path: str | Path) -> int:
    """Complete runs in a warehouse file, reading every row of every table; raises duckdb.Error when damaged."""
    with duckdb.connect(str(path), read_only=True) as con:
        for (table,) in con.execute("SELECT table_name FROM information_schema.tables").fetchall():
            con.execute(f'SELECT max(hash("{table}")) FROM "{table}"').fetchall()  # hashing reads every column
        return int(con.execute("SELECT count(*) FROM runs WHERE status = 'complete'").fetchall()[0][0])


def opening_error(path: Path, exc: duckdb.Error) -> Exception:
    """The one sentence for a warehouse that does not open: locked, not writable, or damaged."""
    message = str(exc)
    if "Conflicting lock" in message:
        holder = message.split("Conflicting lock is held in", 1)[-1].split(". See also")[0].strip()
        return LockedError(
            f"the warehouse {path} is open in another program ({holder}); close it (a duckdb shell or notebook "
            "holding it) and run again."
        )
    storage = StorageError.from_message(message, path)
    if storage is not None:
        return storage
    backup = backup_path(path)
    restore = f"restores the verified copy {backup}" if backup.exists() else "starts an empty warehouse"
    return CorruptWarehouseError(
        f"the warehouse {path} is damaged and does not open ({message.splitlines()[0]}); "
        f"`python run.py experiment=reforecast reforecast.recover=true` sets it aside and {restore}."
    )


def recover(path: str | Path) -> str:
    """Set a damaged warehouse aside (kept, never deleted) and restore the verified copy, or start empty.

    Returns one line saying what was done. A warehouse that opens is left as it is.
    """
    path = Path(path)
    if not path.exists() or opens(path):
        return f"the warehouse {path} opens; nothing to recover"
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    aside = path.with_name(f"{path.name}.corrupt-{stamp}")
    wal = Path(f"{path}.wal")
    try:
        path.rename(aside)
        if wal.exists():
            wal.rename(Path(f"{aside}.wal"))  # a WAL replayed onto the restored copy would damage it again
        backup = backup_path(path)
        if not (backup.exists() and opens(backup)):
            return f"set the damaged warehouse aside as {aside}; no verified copy, so a new empty one starts"
        with atomic_path(path) as tmp:
            shutil.copyfile(backup, tmp)
    except OSError as exc:
        raise (StorageError.from_os_error(exc, path) or exc) from exc
    return (
        f"set the damaged warehouse aside as {aside} and restored the verified copy {backup} "
        f"({verified_runs(path)} complete runs; runs after it are redone from their data)"
    )


def opens(path: Path) -> bool:
    try:
        verified_runs(path)
    except duckdb.Error:
        return False
    return True
