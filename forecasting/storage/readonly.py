"""Reading the warehouse from outside the nightly job: read-only, one connection per query, bound parameters.

Readers (the HTTP API, the report's "why" section) use the verified copy the job keeps beside the warehouse
(`<warehouse>.backup`, replaced in one rename after each complete run) where there is one. DuckDB locks its
file per process: a reader holding the live warehouse open, even read-only, would make the nightly job stop as
"locked" (exit 3), and the job holds it for the whole run, so the live file would also be unreadable half the
night. The copy is seconds behind the live file after a run. A connection lives for one query only, so no
reader holds a file the job replaces.
"""

from __future__ import annotations

import os
from pathlib import Path

import duckdb
import pandas as pd

from forecasting.storage.warehouse import backup_path


class WarehouseUnavailable(Exception):
    """The warehouse cannot be read now (none yet, or damaged); the message is safe to show a client."""


def readable_copy(warehouse: str | os.PathLike) -> Path:
    backup = backup_path(warehouse)
    return backup if backup.is_file() else Path(warehouse)


def query(warehouse: str | os.PathLike, sql: str, params: list | None = None) -> pd.DataFrame:
    path = readable_copy(warehouse)
    if not path.is_file():
        raise WarehouseUnavailable("no warehouse has been written yet; the scheduled reforecast writes one.")
    try:
        with duckdb.connect(str(path), read_only=True) as con:
            return con.execute(sql, params or []).df()
    except duckdb.Error as exc:
        raise WarehouseUnavailable("the warehouse cannot be read now; try again after the scheduled run.") from exc
