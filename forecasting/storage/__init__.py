"""Run-folder storage: atomic writes of tables and documents, text safe to open in a spreadsheet."""

from forecasting.storage.atomic import atomic_path, write_csv, write_json, write_parquet
from forecasting.storage.formula_guard import read_csv

__all__ = ["atomic_path", "read_csv", "write_csv", "write_json", "write_parquet"]
