"""Per-SKU ETS and ARIMA with and without the yearly profile, on tables with two years of history or more.

    python benchmarks/yearly_profile.py --skus 120 --n-jobs 2

Four generated tables (values drawn here, in the shapes users bring; none is the bundled data):
- `synthetic yearly`: forecasting.datasets.synthetic, four demand classes, 900 days, a yearly season of amplitude
  0.2-0.4 per SKU;
- `synthetic flat`: the same generator without a yearly season (where the profile must cost nothing);
- `item-store daily`: an M5-like table, 5 years daily, about half the days zero, a wandering level, temporary
  price cuts, a Christmas peak and closure, a yearly season of amplitude 0-0.35;
- `store-department weekly`: a Walmart-like table, 4 years of weekly sales in dollars dated Fridays, a smooth
  season of amplitude 0-0.3 and Thanksgiving and Christmas peaks.
Each model runs through the project's backtest (`forecasting.backtest.runner.backtest`) on the same cutoffs (the
last `--folds` of a horizon each: 30 days or 13 weeks), fitted on the trailing window the run uses (104 weeks of
days, 4 years of weeks), with `yearly_season` off (as before) and on; scored by the project's `score`.
`sum err`: the volume-weighted |forecast - actual| of each series' horizon total, in % of the actual.
`seconds`: wall time of the model's backtest call.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # this checkout's package

from forecasting.backtest.folds import make_cutoffs  # noqa: E402
from forecasting.backtest.metrics import score  # noqa: E402
from forecasting.datasets.synthetic import synthetic_demand  # noqa: E402
from forecasting.models import yearly_profile  # noqa: E402
from forecasting.models.naive import SeasonalNaive  # noqa: E402
from forecasting.models.statsforecast_adapter import StatsForecastModel  # noqa: E402

ETS = dict(model_class="AutoETS", model="ANA")
ARIMA = dict(model_class="ARIMA", order=[1, 0, 1], seasonal_order=[1, 0, 0], include_mean=True, tol=1e-3)
QUANTILES = [0.05, 0.1, 0.5, 0.9, 0.95]


def item_store(n_items: int, stores: int, seed: int) -> pd.DataFrame:
    """The M5-like table: sku, date, demand (see the module docstring)."""
    rng = np.random.default_rng(seed)
    days = pd.date_range("2011-01-29", "2016-04-24", freq="D")
    t, doy = np.arange(len(days)), days.dayofyear.to_numpy()
    frames = []
    for i in range(n_items):
        item_rate, amp, phase, xmas = (
            rng.lognormal(-0.6, 0.9),
            rng.uniform(0, 0.35),
            rng.uniform(0, 6.28),
            rng.uniform(0, 0.6),
        )
        for s in range(stores):
            weekly = np.array([1.0, 0.9, 0.85, 0.85, 1.0, 1.25, 1.3]) * rng.lognormal(0, 0.05, 7)
            walk = np.exp(np.cumsum(rng.normal(0, 0.02, len(days) // 7 + 1)))[t // 7]
            year = (1 + amp * np.sin(2 * np.pi * t / 365.25 + phase)) * (
                1 + xmas * np.exp(-0.5 * ((doy - 352) / 8) ** 2)
            )
            price = np.ones(len(days))
            for _ in range(rng.poisson(8)):
                a = rng.integers(0, len(days) - 28)
                price[a : a + rng.integers(7, 29)] *= rng.uniform(0.75, 0.9)
            mu = item_rate * rng.lognormal(0, 0.3) * weekly[days.dayofweek.to_numpy()] * walk * year * price**-2.0
            k = rng.uniform(0.5, 3.0)
            y = rng.negative_binomial(k, k / (k + mu)).astype(float)
            keep = ~((days.month == 12) & (days.day == 25))  # closed on Christmas Day: no row
            frames.append(pd.DataFrame({"sku": f"ITEM_{i:03d}|ST_{s}", "date": days[keep], "demand": y[keep]}))
    return pd.concat(frames, ignore_index=True)


def store_department(n: int, seed: int) -> pd.DataFrame:
    """The Walmart-like weekly table: sku, date, demand (see the module docstring)."""
    rng = np.random.default_rng(seed)
    weeks = pd.date_range("2009-02-06", "2013-01-25", freq="W-FRI")
    doy = weeks.dayofyear.to_numpy()
    frames = []
    for i in range(n):
        season = 1 + rng.uniform(0, 0.3) * np.sin(2 * np.pi * doy / 365.25 + rng.uniform(0, 6.28))
        holiday = (
            1
            + rng.uniform(0, 1.5) * np.exp(-0.5 * ((doy - 358) / 6.0) ** 2)
            + rng.uniform(0, 0.6) * np.exp(-0.5 * ((doy - 330) / 3.0) ** 2)
        )
        trend = np.exp(np.cumsum(rng.normal(0.0005, 0.02, len(weeks))))
        y = rng.lognormal(9.0, 1.0) * season * holiday * trend * rng.lognormal(0, 0.12, len(weeks))
        frames.append(pd.DataFrame({"sku": f"S{i:03d}", "date": weeks, "demand": np.round(y, 2)}))
    return pd.concat(frames, ignore_index=True)


def tables(skus: int, seed: int) -> dict[str, tuple[pd.DataFrame, int, int, int]]:
    """name -> (panel, season, horizon, trailing window in periods)."""
    yearly = synthetic_demand(skus, 900, seed, yearly=0.4).table[["sku", "date", "demand"]]
    flat = synthetic_demand(skus, 900, seed).table[["sku", "date", "demand"]]
    return {
        "synthetic yearly (daily)": (yearly, 7, 30, 728),
        "synthetic flat (daily)": (flat, 7, 30, 728),
        "item-store (daily)": (item_store(max(skus // 4, 1), 4, seed), 7, 30, 728),
        "store-department (weekly)": (store_department(skus, seed), 52, 13, 208),
    }


def with_stockouts(panel: pd.DataFrame, share: float, first_cutoff: pd.Timestamp, seed: int) -> pd.DataFrame:
    """`panel` with a `share` of its series out of stock once: 30-120 days of zeros (as M5's items have them),
    ending at least 30 days before the first cutoff, so every fold's horizon holds the demand as drawn."""
    rng = np.random.default_rng(seed + 1)
    demand, dates = panel["demand"].to_numpy(copy=True), panel["date"].to_numpy()
    for rows in panel.groupby("sku").indices.values():
        days = dates[rows]
        if rng.random() >= share:
            continue
        length = pd.Timedelta(days=int(rng.integers(30, 121)))
        room = (first_cutoff - pd.Timedelta(days=30) - length - pd.Timestamp(days.min())).days
        if room <= 0:
            continue
        start = pd.Timestamp(days.min()) + pd.Timedelta(days=int(rng.integers(0, room)))
        demand[rows[(days >= start) & (days < start + length)]] = 0.0
    return panel.assign(demand=demand)


def sum_error(table: pd.DataFrame) -> float:
    """Volume-weighted |forecast - actual| of each (SKU, cutoff) horizon total, in % of the actual."""
    sums = table.groupby(["sku", "cutoff"])[["mean", "demand"]].sum()
    return float(100 * (sums["mean"] - sums["demand"]).abs().sum() / max(sums["demand"].sum(), 1e-9))


def main() -> None:
    from forecasting.backtest.runner import backtest
    from forecasting.backtest.settings import BacktestSettings

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skus", type=int, default=120)
    parser.add_argument("--folds", type=int, default=4)
    parser.add_argument("--n-jobs", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--only", nargs="*", help="table names to run (a substring each)")
    parser.add_argument("--days", type=int, help="keep each table's last DAYS calendar days (shorter histories)")
    parser.add_argument("--min-span", type=int, help="the profile's MIN_SPAN_DAYS for this run (default: the module's)")
    parser.add_argument(
        "--stockouts", type=float, default=0.0, help="share of series given one 30-120 day stretch of zeros (no stock)"
    )
    parser.add_argument("--no-gap-guard", action="store_true", help="fit the profile through stretches of zeros too")
    args = parser.parse_args()
    if args.no_gap_guard:  # forked workers inherit it; a chance this small leaves no run out
        yearly_profile.GAP_CHANCE = 1e-300
    min_span = yearly_profile.MIN_SPAN_DAYS if args.min_span is None else args.min_span

    rows = []
    for name, (panel, season, horizon, window) in tables(args.skus, args.seed).items():
        if args.only and not any(o in name for o in args.only):
            continue
        if args.days:
            panel = panel[panel["date"] > panel["date"].max() - pd.Timedelta(days=args.days)]
        panel = panel.assign(sku=panel["sku"].astype(str), filled=False)
        dates = pd.DatetimeIndex(np.sort(panel["date"].unique()))
        cutoffs = make_cutoffs(dates, horizon, args.folds, horizon, unit="period")
        if args.stockouts:
            panel = with_stockouts(panel, args.stockouts, cutoffs["cutoff"].iloc[0], args.seed)
        fallback = SeasonalNaive(season if season <= 7 else 1)
        for family, params in (("ets", ETS), ("arima", ARIMA)):
            for yearly in (False, True):
                model = (
                    StatsForecastModel(yearly_season=yearly, yearly_min_days=min_span, **params)
                    .with_season(season)
                    .with_history(window)
                )
                settings = BacktestSettings(horizon, QUANTILES, 200, args.seed, n_jobs=args.n_jobs)
                t0 = time.perf_counter()
                run = backtest(panel, cutoffs, {family: model}, fallback, settings)
                seconds = time.perf_counter() - t0
                every = score(run.table, ["model"], QUANTILES).iloc[0]
                rows.append(
                    {
                        "table": name,
                        "model": family,
                        "yearly profile": "on" if yearly else "off",
                        "rmsse": every["rmsse"],
                        "bias": every["bias"],
                        "sum err %": sum_error(run.table),
                        "pinball": every["pinball"],
                        "fallbacks": len(run.failures),
                        "seconds": seconds,
                    }
                )
        cut = ", ".join(f"{c:%Y-%m-%d}" for c in cutoffs["cutoff"])
        span = (cutoffs["cutoff"].iloc[0] - dates[0]).days, (cutoffs["cutoff"].iloc[-1] - dates[0]).days
        print(
            f"{name}: {panel['sku'].nunique()} series, cutoffs {cut} ({span[0]}-{span[1]} days of history), "
            f"horizon {horizon}, profile from {min_span} days",
            flush=True,
        )
        print(pd.DataFrame(rows[-4:]).to_string(index=False, float_format=lambda v: f"{v:.4f}"), flush=True)
    print("| " + " | ".join(rows[0]) + " |")
    print("|" + "---|" * len(rows[0]))
    for row in rows:
        print("| " + " | ".join(f"{v:.4f}" if isinstance(v, float) else str(v) for v in row.values()) + " |")


if __name__ == "__main__":
    main()
