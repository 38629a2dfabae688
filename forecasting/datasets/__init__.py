"""Data sets shipped with the package (see each folder's README for its source and licence)."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent


def bundled_path(name: str) -> str:
    """Absolute path of a shipped file, e.g. 'online_retail/online_retail_transactions.parquet'."""
    path = ROOT / name
    if not path.exists():
        raise FileNotFoundError(f"no bundled data set '{name}' under {ROOT}")
    return str(path)
