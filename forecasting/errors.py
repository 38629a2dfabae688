"""User-facing errors: one sentence that names the problem and the fix, shown without a traceback."""

from __future__ import annotations

import errno
import os


class InputError(ValueError):
    """Bad input data or configuration; `run.py` prints the message and exits with status 2."""


class TooLittleHistory(InputError):
    """A model cannot learn from the history the data gives it; `model` names it, so that the run, which knows
    the other models, can print the model list to type without it."""

    def __init__(self, problem: str, model: str) -> None:
        super().__init__(f"{problem}; give the data more history, or leave {model} out of model=[...].")
        self.problem, self.model = problem, model


class StorageError(OSError):
    """A file could not be written (disk full, read-only, no permission); `run.py` prints the message, exit 5.

    `path` names the file or folder that failed; nothing was published half when it is raised.
    """

    # What the user does about each errno that means "this storage cannot take the write".
    FIXES = {
        errno.ENOSPC: "free space there",
        errno.EDQUOT: "free space there (the disk quota is used up)",
        errno.EROFS: "the file system is read-only: remount it read-write or point the path elsewhere",
        errno.EACCES: "give this user write permission there or point the path elsewhere",
        errno.EPERM: "give this user write permission there or point the path elsewhere",
    }

    def __init__(self, message: str, path: str | os.PathLike, code: int | None = None) -> None:
        super().__init__(message)
        self.path = str(path)
        self.errno = code

    @classmethod
    def from_os_error(cls, exc: OSError, path: str | os.PathLike | None = None) -> StorageError | None:
        """The user-facing error for a failed write, or None when `exc` is not about the storage."""
        if isinstance(exc, StorageError):
            return exc
        if exc.errno not in cls.FIXES:
            return None
        return cls.build(exc.errno, path or exc.filename or "?")

    @classmethod
    def from_message(cls, message: str, path: str | os.PathLike) -> StorageError | None:
        """The same for libraries (DuckDB) that report a failed write as text, not as an OSError."""
        code = next((c for c in cls.FIXES if os.strerror(c).lower() in message.lower()), None)
        return None if code is None else cls.build(code, path)

    @classmethod
    def build(cls, code: int, path: str | os.PathLike) -> StorageError:
        return cls(
            f"could not write {path}: {os.strerror(code).lower()}; {cls.FIXES[code]}, then run again.",
            path,
            code,
        )
