"""Accuracy of past forecasts once their actuals arrive, and the drift alert a scheduler can act on.

The tracking signal of a SKU is the sum of its errors over their mean absolute error (Brown): beyond about
+/-4 to 6 its forecasts are biased, not unlucky. Per run it is summarised by the median over SKUs, so one odd
SKU does not raise an alert but a shift that moves most of them does.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def forecast_accuracy(past: pd.DataFrame, panel: pd.DataFrame) -> pd.DataFrame:
    """Per earlier forecast run and model: points with actuals now known, WAPE, bias, tracking signal."""
    if past.empty:
        return pd.DataFrame(
            columns=["forecast_run_id", "model", "data_cutoff", "points", "wape", "bias", "tracking_signal"]
        )
    actual = panel[["sku", "date", "demand"]]
    joined = past.merge(actual, on=["sku", "date"], how="inner")
    rows = []
    joined["error"] = joined["mean"] - joined["demand"]
    for (run_id, model), g in joined.groupby(["run_id", "model"]):
        err = g["error"]
        volume = g["demand"].sum()
        by_sku = g.groupby("sku")["error"]
        mad = by_sku.apply(lambda e: e.abs().mean())
        signals = (by_sku.sum() / mad.where(mad > 0)).dropna()
        rows.append(
            {
                "forecast_run_id": run_id,
                "model": model,
                "data_cutoff": g["data_cutoff"].iloc[0],
                "points": len(g),
                "wape": float(err.abs().sum() / volume) if volume > 0 else float("nan"),
                "bias": float(err.sum() / volume) if volume > 0 else float("nan"),
                "tracking_signal": float(signals.median()) if len(signals) else 0.0,
            }
        )
    return pd.DataFrame(rows)


def drift_alert(
    accuracy: pd.DataFrame,
    expected_wape: float | None,
    wape_increase: float,
    ts_limit: float,
    min_points: int = 20,
) -> str | None:
    """One line naming what drifted, or None: the latest measured run is compared with the backtest."""
    if accuracy.empty:
        return None
    latest = accuracy.sort_values("data_cutoff").groupby("model").tail(1)
    latest = latest[latest["points"] >= min_points]
    problems = []
    for row in latest.itertuples(index=False):
        if expected_wape and np.isfinite(row.wape) and row.wape > expected_wape * (1 + wape_increase):
            problems.append(f"{row.model} WAPE {row.wape:.2f} vs {expected_wape:.2f} in backtest")
        if abs(row.tracking_signal) > ts_limit:
            problems.append(f"{row.model} tracking signal {row.tracking_signal:+.1f} (limit {ts_limit:g})")
    return "; ".join(problems) or None
