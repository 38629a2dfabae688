"""How long the loader takes to read a long table whose dates are text, beside pandas told the format by hand.

    python benchmarks/read_speed.py            # the bundled order lines (541,909) as CSV, two date formats

The loader works the format out for itself (day-month order from the whole column, a time of day apart from the
date, number marks, codes as written) and reads each distinct date once; the peer is `pandas.read_csv` with the
date format given, which is what a user writes who already knows the file. Both read the same six columns.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
from omegaconf import OmegaConf

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from forecasting.data.loading import read_table  # noqa: E402
from forecasting.datasets import bundled_path  # noqa: E402

# The bundled data's own mapping (its mapped columns: SKU, date, quantity, price, invoice, description).
COLUMNS = {k: v for k, v in OmegaConf.load(REPO / "conf/data/online_retail.yaml").columns.items() if v}
# The UCI file's own format (month first, no seconds), and ISO with seconds.
FORMATS = {"us_minutes": "%m/%d/%Y %H:%M", "iso_seconds": "%Y-%m-%d %H:%M:%S"}


def best_of(repeats: int, fn) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="best of this many reads")
    args = parser.parse_args()
    lines = pd.read_parquet(bundled_path("online_retail/online_retail_transactions.parquet"))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, fmt in FORMATS.items():
            path = Path(tmp) / f"{name}.csv"
            lines.assign(**{COLUMNS["date"]: lines[COLUMNS["date"]].dt.strftime(fmt)}).to_csv(path, index=False)
            ours = best_of(args.repeats, lambda path=path: read_table(path, COLUMNS))
            peer = best_of(
                args.repeats,
                lambda path=path, fmt=fmt: pd.read_csv(
                    path,
                    usecols=list(COLUMNS.values()),
                    dtype={COLUMNS["sku"]: str, COLUMNS["invoice"]: str},
                    parse_dates=[COLUMNS["date"]],
                    date_format=fmt,
                ),
            )
            rows.append({"dates": name, "rows": len(lines), "loader_s": ours, "pandas_with_format_s": peer})
    table = pd.DataFrame(rows)
    table["ratio"] = table["loader_s"] / table["pandas_with_format_s"]
    print(table.to_string(index=False, float_format=lambda v: f"{v:.2f}"))


if __name__ == "__main__":
    main()
