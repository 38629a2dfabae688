"""A token unique to this process, for run folder names (`${run_token:}` in conf/config.yaml).

Two runs started in the same second got the same `experiments/<name>/<timestamp>/` and wrote into each other's
folder. The process id tells apart runs on one machine; the random part, runs on machines that share a disk
and a reused process id. Drawn once per process, so every job of a sweep resolves the same folder.
"""

from __future__ import annotations

import os
import secrets

_TOKEN = f"{os.getpid()}-{secrets.token_hex(2)}"


def run_token() -> str:
    """`<pid>-<4 hex digits>`, the same for every call in this process."""
    return _TOKEN
