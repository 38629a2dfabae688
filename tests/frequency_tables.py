"""Weekly and monthly demand tables for the frequency tests, aggregated up from the synthetic daily test bed.

`python -m tests.frequency_tables OUT_DIR [--parts 300 --months 48 --skus 200 --weeks 156]` writes
`parts_monthly.csv` (columns part, month, units: spare-parts-like, mostly intermittent and lumpy) and
`weekly.csv` (columns item, week_ending, qty, weeks ending Saturday) for the README and the leaderboards.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from forecasting.datasets.synthetic import synthetic_demand


def monthly_parts(n_parts: int = 40, months: int = 40, seed: int = 0, end: str = "2025-12-31") -> pd.DataFrame:
    """Monthly demand per part number (8-digit codes, month-start dates): a few fast movers, mostly slow ones.

    Daily synthetic demand is thinned per part (a part sells on a small share of the days the process would)
    and summed to months, so most parts have zero months and lumpy sizes, as spare parts do."""
    start = (pd.Timestamp(end) - pd.DateOffset(months=months) + pd.Timedelta(days=1)).normalize()
    days = (pd.Timestamp(end) - start).days + 1
    syn = synthetic_demand(
        n_parts,
        days,
        seed=seed,
        start=str(start.date()),
        promo=False,
        classes=("intermittent", "lumpy", "intermittent", "smooth"),
    )
    rng = np.random.default_rng(seed + 1)
    keep = rng.uniform(0.005, 0.1, n_parts)
    keep[3::4] = 1.0  # the smooth quarter: fast movers
    table = syn.table.assign(sku=syn.table["sku"].astype(str))
    codes = table["sku"].cat.codes if hasattr(table["sku"], "cat") else pd.factorize(table["sku"])[0]
    table = table[rng.random(len(table)) < keep[np.asarray(codes)]]
    month = table["date"].dt.to_period("M").dt.start_time
    out = table.groupby([table["sku"], month])["demand"].sum().reset_index()
    out["sku"] = out["sku"].str.replace("SYN", "", regex=False).astype(int).map(lambda i: f"{40110000 + i:08d}")
    # Zero months are written, as an ERP export does, except before a part's first sale.
    grid = pd.MultiIndex.from_product([out["sku"].unique(), pd.date_range(start, end, freq="MS")])
    out = out.set_index(["sku", "date"])["demand"].reindex(grid, fill_value=0.0).rename_axis(["sku", "date"])
    out = out.reset_index()
    first = out[out["demand"] > 0].groupby("sku")["date"].min()
    out = out[out["date"] >= out["sku"].map(first)]
    return out.rename(columns={"sku": "part", "date": "month", "demand": "units"}).reset_index(drop=True)


def weekly(n_skus: int = 12, weeks: int = 110, seed: int = 0, end: str = "2025-12-27") -> pd.DataFrame:
    """Weekly demand per item, weeks ending Saturday, with the synthetic test bed's classes, trend and promos."""
    last = pd.Timestamp(end)
    start = last - pd.Timedelta(days=7 * weeks - 1)
    syn = synthetic_demand(n_skus, 7 * weeks, seed=seed, start=str(start.date()))
    table = syn.table.assign(sku=syn.table["sku"].astype(str))
    week = table["date"] + pd.to_timedelta((5 - table["date"].dt.dayofweek) % 7, unit="D")
    out = table.groupby(["sku", week])["demand"].sum().reset_index()
    return out.rename(columns={"sku": "item", "date": "week_ending", "demand": "qty"})


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--parts", type=int, default=300)
    parser.add_argument("--months", type=int, default=48)
    parser.add_argument("--skus", type=int, default=200)
    parser.add_argument("--weeks", type=int, default=156)
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    monthly_parts(args.parts, args.months).to_csv(args.out / "parts_monthly.csv", index=False)
    weekly(args.skus, args.weeks).to_csv(args.out / "weekly.csv", index=False)


if __name__ == "__main__":
    main()
