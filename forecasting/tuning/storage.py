"""The sweep's Optuna storage, checked before the first trial: a URL that is no database URL, a driver that is
not installed (exit 2), or an SQLite file that cannot be written (exit 5), each named with its fix.

Unchecked, these surfaced as "a bug": SQLAlchemy's ArgumentError, sqlite's "unable to open database file", or
Optuna's "invalid data in the commit, e.g. exceeding max length" for a study file on a read-only disk.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

from forecasting.errors import InputError, StorageError

KEY = "hydra.sweeper.storage"
EXAMPLE = f"{KEY}=sqlite:///experiments/optuna.db"
# pip's name for the driver modules SQLAlchemy's backends import by default, where it differs.
PIP_NAMES = {"psycopg": "psycopg[binary]", "psycopg2": "psycopg2-binary", "MySQLdb": "mysqlclient"}


def check_storage(url: object) -> None:
    """Raise InputError or StorageError for a storage the sweep could not use; None (in memory) is fine."""
    if url is None or url == "":
        return
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    try:  # SQLAlchemy's parser, the one Optuna's RDBStorage uses
        parsed = make_url(str(url))
    except ArgumentError:
        raise InputError(
            f"{KEY}={url} is not a database URL: give an SQLAlchemy URL such as dialect://user@host/db, e.g. {EXAMPLE}."
        ) from None
    shown = parsed.render_as_string(hide_password=True)
    backend = parsed.get_backend_name()
    try:
        parsed.get_dialect().import_dbapi()
    except NoSuchModuleError:
        raise InputError(f"{KEY}={shown}: SQLAlchemy knows no database '{backend}'; e.g. {EXAMPLE}.") from None
    except ImportError as exc:
        module = exc.name or backend
        raise InputError(
            f"{KEY}={shown}: the {backend} driver ({module}) is not installed; pip install "
            f"'{PIP_NAMES.get(module, module)}', or use SQLite: {EXAMPLE}."
        ) from None
    if backend == "sqlite" and parsed.database not in (None, "", ":memory:"):
        check_study_file(Path(parsed.database))


def check_study_file(path: Path) -> None:
    """The SQLite file's folder exists (made if need be) and the file can be written (exit 5 if not)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # Appending nothing opens the file for writing without changing it: an existing study on a read-only
        # disk fails here, not at the first commit, and a new file is left empty (SQLite starts an empty file).
        with open(path, "ab"):
            pass
    except OSError as exc:
        raise study_file_error(path, exc) from exc


def study_file_error(path: Path, exc: OSError | None = None, why: str | None = None) -> StorageError:
    code = exc.errno if exc is not None else None
    why = why or (os.strerror(code).lower() if code else "it cannot be written")
    if code in (errno.ENOTDIR, errno.EEXIST):
        why = f"a part of {path.parent} is a file, not a folder"
    return StorageError(
        f"could not write the Optuna study file {path}: {why}; point the sweep at a writable place, e.g. "
        f"{EXAMPLE}, then run again.",
        path,
        code,
    )


def storage_failure(url: object, exc: BaseException) -> Exception | None:
    """The user-facing error for a storage failure met during the sweep (disk full or read-only half way, a
    server that went away), or None when `exc` is something else."""
    from optuna.exceptions import StorageInternalError
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import OperationalError

    if not isinstance(exc, StorageInternalError | OperationalError):
        return None
    cause = exc.__cause__ if isinstance(exc, StorageInternalError) and exc.__cause__ is not None else exc
    detail = str(getattr(cause, "orig", None) or cause).splitlines()[0]
    parsed = make_url(str(url))
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        return study_file_error(Path(parsed.database), why=detail)
    return InputError(
        f"{KEY}={parsed.render_as_string(hide_password=True)}: the database refused the study ({detail}); check "
        f"that the server runs and the URL's host, port, user and password, or use SQLite: {EXAMPLE}."
    )
