"""Backtest time and accuracy of each model YAML on long daily histories, with and without the trailing window.

    python benchmarks/long_history.py --skus 300 --years 5 --n-jobs 2
    python benchmarks/long_history.py --skus 60 --models arima autoarima sarimax --windows 0 default

One synthetic daily panel (`forecasting.datasets.synthetic`: the four Syntetos-Boylan classes, weekly profile,
per-SKU trend, promotions) of `--skus` SKUs x `--years` years is loaded once; then, for each model and window,
the run's own backtest (`pipeline.backtest_task.run_backtest`, `task=backtest`, the default folds: 3 test folds
after up to 3 validation folds, horizon 30) runs with that model and the seasonal-naive baseline.

window: `backtest.history_seasons` (0: every day of history; `default`: the daily default, 104 weeks).
seconds: the wall time of the backtest call (fits, forecasts, scoring, files written), baseline included;
rmsse, bias, coverage: the model's test-fold leaderboard row. Ensembles need other models' validation scores,
so they run with the per-SKU defaults (arima, ets, croston) beside them, whose time is in theirs.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO)]

#: members an ensemble is run with (it has nothing to combine alone)
ENSEMBLE_COMPANIONS = ["arima", "ets", "croston"]


def compose(path: Path, models: list[str], window: str, n_jobs: int, extra: list[str] = ()):
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir

    overrides = [
        "data=daily_demand",
        f"data.path={path}",
        "data.panel.max_skus=null",
        "data.columns.promo=promo",  # the generator's promo calendar and (discounted) price, for the models
        "data.columns.price=price",  # that read them (arima_x, lightgbm)
        "task=backtest",
        f"parallel.n_jobs={n_jobs}",
        f"model=[{','.join(models)}]",
        "trainer=cpu",
        "trainer.progress_bar=false",
        "logger=csv",
        *extra,
    ]
    if window != "default":
        overrides.append(f"backtest.history_seasons={window}")
    with initialize_config_dir(config_dir=str(REPO / "conf"), version_base="1.3"):
        return hydra_compose(config_name="config", overrides=overrides)


def all_models() -> list[str]:
    return sorted(p.stem for p in (REPO / "conf" / "model").glob("*.yaml") if p.stem != "seasonal_naive")


def run_one(data, path: Path, model: str, window: str, n_jobs: int, extra: list[str] = ()) -> dict:
    from omegaconf import OmegaConf

    from forecasting.pipeline.backtest_task import run_backtest
    from forecasting.pipeline.common import apply_frequency_defaults

    models = [model, *ENSEMBLE_COMPANIONS] if model.startswith("ensemble") else [model]
    cfg = compose(path, models, window, n_jobs, extra)
    OmegaConf.set_struct(cfg, False)
    apply_frequency_defaults(cfg, data.calendar.frequency)
    out = Path(tempfile.mkdtemp(prefix=f"long_{model}_"))
    t0 = time.perf_counter()
    metrics, _ = run_backtest(cfg, data, out, t0)
    seconds = time.perf_counter() - t0
    row = metrics["leaderboard"].get(model, {})
    return {
        "model": model,
        "window": window,
        "seconds": round(seconds, 1),
        "rmsse": row.get("rmsse"),
        "bias": row.get("bias"),
        "coverage_80": row.get("coverage_80"),
        "coverage_90": row.get("coverage_90"),
        "failed_fits": row.get("failed_fits"),
    }


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skus", type=int, default=300)
    parser.add_argument("--years", type=float, default=5.0)
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--models", nargs="*", help="model YAML names (default: every one in conf/model/)")
    parser.add_argument("--windows", nargs="*", default=["0", "default"], help="history_seasons values")
    parser.add_argument("--override", nargs="*", default=[], help="Hydra overrides for every run")
    parser.add_argument("--csv", help="also write the table here")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    os.environ.setdefault("PYTHONWARNINGS", "ignore")

    from forecasting.datasets.synthetic import synthetic_demand
    from forecasting.pipeline.common import load_data

    days = int(round(365.25 * args.years))
    path = Path(tempfile.mkdtemp(prefix="long_history_")) / "demand.parquet"
    # Ending yesterday: rows after today are refused as bad dates.
    start = (pd.Timestamp.today().normalize() - pd.Timedelta(days=days)).date().isoformat()
    synthetic_demand(args.skus, days, seed=args.seed, start=start).table.to_parquet(path, index=False)
    data = load_data(compose(path, ["arima"], "default", args.n_jobs))
    print(f"{args.skus} SKUs x {days} days ({args.years} years), n_jobs={args.n_jobs}, cpus={os.cpu_count()}")
    rows = []
    for model in args.models or all_models():
        for window in args.windows:
            try:
                row = run_one(data, path, model, window, args.n_jobs, args.override)
            except Exception as exc:  # noqa: BLE001 - one model's failure is a row of the table, not the end
                row = {"model": model, "window": window, "error": f"{type(exc).__name__}: {exc}"[:200]}
            rows.append(row)
            # The load average says how far other work on the machine stretched this row's wall time.
            row["load_avg_1m"] = round(os.getloadavg()[0], 1)
            print("  ".join(f"{k}={v}" for k, v in row.items()), flush=True)
    table = pd.DataFrame(rows)
    print()
    print(table.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    for window, part in table.groupby("window"):
        print(f"window {window}: {part['seconds'].sum():.0f} s over {len(part)} runs")
    if args.csv:
        table.to_csv(args.csv, index=False)


if __name__ == "__main__":
    main()
