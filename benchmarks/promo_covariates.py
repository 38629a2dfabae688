"""Per-SKU ARIMA with and without promo / relative price regressors, on synthetic demand with known promo lifts.

    python benchmarks/promo_covariates.py --skus 100 --folds 3 --n-jobs 1

Synthetic SKUs of all four demand classes (`forecasting.datasets.synthetic`: promo on 0-5% of days, lift 1.8-3x,
known ahead like a promo calendar). `arima` and `arima_x` (future_covariates: known) run through the same backtest
(`forecasting.backtest.runner.backtest`) on the same cutoffs, one after the other; each is scored by our `score` on
all test days and on the promo days alone. seconds: wall time of the model's backtest call.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # this checkout's package

from forecasting.backtest.folds import make_cutoffs  # noqa: E402
from forecasting.backtest.metrics import score  # noqa: E402
from forecasting.datasets.synthetic import synthetic_demand  # noqa: E402
from forecasting.models.arima_covariates import CovariateARIMA  # noqa: E402
from forecasting.models.naive import SeasonalNaive  # noqa: E402
from forecasting.models.statsforecast_adapter import StatsForecastModel  # noqa: E402

ARIMA = dict(model_class="ARIMA", order=[1, 0, 1], seasonal_order=[1, 0, 0], include_mean=True, tol=1e-3)
QUANTILES = [0.05, 0.1, 0.5, 0.9, 0.95]


def main() -> None:
    from forecasting.backtest.runner import backtest
    from forecasting.backtest.settings import BacktestSettings

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skus", type=int, default=100)
    parser.add_argument("--days", type=int, default=730)
    parser.add_argument("--folds", type=int, default=3)
    parser.add_argument("--horizon", type=int, default=30)
    parser.add_argument("--n-jobs", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    data = synthetic_demand(args.skus, args.days, args.seed)
    panel = data.table.assign(sku=data.table["sku"].astype(str), filled=False)
    cutoffs = make_cutoffs(pd.DatetimeIndex(panel["date"].unique()), args.horizon, args.folds, args.horizon)
    models = {
        "arima": StatsForecastModel(**ARIMA).with_season(7),
        "arima_x (known)": CovariateARIMA(future_covariates="known", **ARIMA).with_season(7),
    }
    promo = panel.set_index(["sku", "date"])["promo"]
    rows, classes = [], []
    for name, model in models.items():
        t0 = time.perf_counter()
        settings = BacktestSettings(args.horizon, QUANTILES, 200, args.seed, n_jobs=args.n_jobs)
        run = backtest(panel, cutoffs, {name: model}, SeasonalNaive(7), settings)
        table, failures = run.table, run.failures
        seconds = time.perf_counter() - t0
        table["sku"] = table["sku"].astype(str)
        on_promo = promo.reindex(pd.MultiIndex.from_arrays([table["sku"], table["date"]])).to_numpy() == 1
        every = score(table, ["model"], QUANTILES).iloc[0]
        promo_days = score(table[on_promo], ["model"], QUANTILES).iloc[0]
        by_class = score(
            table[on_promo].assign(true_class=table["sku"].map(data.truth["true_class"])), ["true_class"], QUANTILES
        )
        classes.append(by_class.set_index("true_class")[["mae", "rmse", "bias"]].add_prefix(f"{name} "))
        rows.append(
            {
                "model": name,
                "rmsse": every["rmsse"],
                "mae": every["mae"],
                "bias": every["bias"],
                "pinball": every["pinball"],
                "mae_promo_days": promo_days["mae"],
                "rmse_promo_days": promo_days["rmse"],
                "bias_promo_days": promo_days["bias"],
                "fallbacks": len(failures),
                "seconds": seconds,
            }
        )
    out = pd.DataFrame(rows)
    print(f"{args.skus} synthetic SKUs x {args.folds} test folds of {args.horizon} days; promo days: {on_promo.sum()}")
    print(out.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    print("promo days by demand class:")
    print(pd.concat(classes, axis=1).to_string(float_format=lambda v: f"{v:.3f}"))


if __name__ == "__main__":
    main()
