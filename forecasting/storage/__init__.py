"""Run-folder storage: atomic writes of tables and documents."""

from forecasting.storage.atomic import atomic_path, write_csv, write_json, write_parquet

__all__ = ["atomic_path", "write_csv", "write_json", "write_parquet"]
