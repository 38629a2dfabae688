"""A process lock on a file: held while the process lives, released by the kernel when it dies (kill -9 too).

A second reforecast either stops at once with a clear message or waits up to a timeout.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from forecasting.errors import InputError


class LockedError(InputError):
    """Another process holds the lock."""


@contextmanager
def process_lock(path: str | Path, wait_seconds: float = 0.0):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = open(path, "a+")  # noqa: SIM115 - the handle must outlive this frame while the lock is held
    deadline = time.monotonic() + max(0.0, wait_seconds)
    try:
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    handle.seek(0)
                    holder = handle.read().strip() or "unknown"
                    raise LockedError(
                        f"another reforecast holds {path} ({holder}); wait for it to finish, or set "
                        "reforecast.wait_seconds to queue behind it."
                    ) from None
                time.sleep(0.5)
        handle.seek(0)
        handle.truncate()
        handle.write(json.dumps({"pid": os.getpid(), "since": datetime.now().isoformat(timespec="seconds")}))
        handle.flush()
        yield
    finally:
        handle.close()  # closing the descriptor releases the lock
