"""Where should statsforecast's ARIMA optimiser stop? Time per fit and RMSSE at several tolerances.

    python benchmarks/arima_tolerance.py --skus 200 --synthetic-skus 200

statsforecast fits ARIMA by BFGS on finite-difference gradients and stops at gradient norm 1e-8; the default
`arima` model (conf/model/arima.yaml) stops at `tol`. For each tolerance this fits the default order
ARIMA(1,0,1)(1,0,0)m on the bundled data's largest SKUs at the default backtest's three cutoffs, and on synthetic
daily SKUs (forecasting.datasets.synthetic, 730 days) at three cutoffs 60 days apart, and prints ms per fit (one
process, BLAS at one thread), mean RMSSE of the 30-day forecasts, how many fits failed, and the worst fit's RMSSE
(an optimiser that stops early can stop somewhere absurd; the product's plausibility guard then stands the
baseline in, see forecasting/models/base.py `check_plausible`).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "benchmarks")]

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

HORIZON = 30
TOLERANCES = [1e-8, 1e-5, 1e-3]


def bundled(skus: int) -> tuple[list[np.ndarray], int]:
    """Training/test splits of the bundled data at the default backtest's cutoffs, and the season length."""
    from engine_vs_statsforecast import load

    _, data, _, _, cutoffs = load(skus, ["arima"])
    splits = []
    for _, g in data.panel.groupby("sku", observed=True):
        y, dates = g["demand"].to_numpy(float), g["date"].to_numpy()
        for cutoff in cutoffs["cutoff"]:
            n = int((dates <= np.datetime64(cutoff)).sum())
            if n >= 60 and len(y) - n >= HORIZON:
                splits.append((y[:n], y[n : n + HORIZON]))
    return splits, data.calendar.season_length


def synthetic(skus: int) -> tuple[list[np.ndarray], int]:
    from forecasting.datasets.synthetic import synthetic_demand

    table = synthetic_demand(skus, 730, seed=0).table
    splits = []
    for _, g in table.groupby("sku", observed=True):
        y = g["demand"].to_numpy(float)
        splits += [(y[: len(y) - back], y[len(y) - back :][:HORIZON]) for back in (180, 120, 60)]
    return splits, 7


def measure(splits, season: int, tol: float) -> dict:
    from statsforecast.arima import Arima, forecast_arima

    spec = dict(order=(1, 0, 1), seasonal={"order": (1, 0, 0), "period": season}, include_mean=True)
    errors, failed = [], 0
    t0 = time.perf_counter()
    for train, test in splits:
        try:
            forecast = forecast_arima(Arima(train, method="CSS-ML", tol=tol, **spec), h=HORIZON)["mean"]
        except Exception:  # noqa: BLE001 - a failed fit is counted, as the product falls back on it
            failed += 1
            continue
        scale = np.sqrt(np.mean(np.diff(train) ** 2)) or 1.0
        errors.append(np.sqrt(np.mean((test - forecast) ** 2)) / scale)
    ms = (time.perf_counter() - t0) / len(splits) * 1000
    return {
        "tol": tol,
        "ms_per_fit": round(ms, 1),
        "rmsse": round(float(np.mean(errors)), 4),
        "worst_rmsse": round(float(np.max(errors)), 1),
        "failed": failed,
        "fits": len(splits),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--skus", type=int, default=200, help="largest bundled SKUs")
    parser.add_argument("--synthetic-skus", type=int, default=200)
    args = parser.parse_args()
    warnings.filterwarnings("ignore")  # statsforecast warns on every early stop
    rows = []
    for name, (splits, season) in [("bundled", bundled(args.skus)), ("synthetic", synthetic(args.synthetic_skus))]:
        rows += [{"data": name, **measure(splits, season, tol)} for tol in TOLERANCES]
    print(f"load avg {os.getloadavg()[0]:.2f}; python {' '.join(sys.argv)}")
    print(pd.DataFrame(rows).to_string(index=False))


if __name__ == "__main__":
    main()
