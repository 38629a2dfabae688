"""Conformal correction of the planning quantiles, per segment.

From the backtest, each (SKU, cutoff) gives the actual demand over the planning window and the forecast
quantile of its sum. The score actual / forecast-quantile at the service target's level, taken at its
finite-sample conformal quantile per segment, is the factor by which the forecast distribution must be
scaled for that quantile to cover the target share of windows (split-conformal, multiplicative).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from forecasting.backtest.cumulative import COVER_LEVELS


def level_column(target: float) -> str:
    """The stored quantile column nearest the target level (e.g. 0.95 -> 'q95')."""
    level = min(COVER_LEVELS, key=lambda q: abs(q - target))
    return f"q{round(level * 100, 6):g}"


def conformal_factor(actual: np.ndarray, predicted: np.ndarray, level: float, bounds=(0.5, 3.0)) -> float:
    """Smallest c with actual <= c * predicted on a `level` share of windows (finite-sample corrected)."""
    actual, predicted = np.asarray(actual, float), np.asarray(predicted, float)
    keep = (predicted > 0) | (actual > 0)
    actual, predicted = actual[keep], predicted[keep]
    if len(actual) == 0:
        return 1.0
    scores = np.where(predicted > 0, actual / np.where(predicted > 0, predicted, 1.0), np.inf)
    rank = min(len(scores), math.ceil((len(scores) + 1) * level))
    c = float(np.sort(scores)[rank - 1])
    return float(np.clip(c, *bounds)) if np.isfinite(c) else bounds[1]


def calibrate(
    covers: pd.DataFrame,
    segments: pd.DataFrame,
    target: float,
    min_windows: int = 30,
) -> pd.DataFrame:
    """Per segment of each model: windows scored, coverage before and after, and the factor.

    Segments with fewer than `min_windows` windows take the model's factor over all segments.
    """
    col = level_column(target)
    df = covers.merge(segments[["sku", "segment"]], on="sku", how="left")
    rows = []
    for model, g in df.groupby("model"):
        overall = conformal_factor(g["actual"], g[col], target)
        for segment, s in g.groupby("segment"):
            factor = conformal_factor(s["actual"], s[col], target) if len(s) >= min_windows else overall
            rows.append(
                {
                    "model": model,
                    "segment": segment,
                    "windows": len(s),
                    "level": col,
                    "coverage_before": float((s["actual"] <= s[col]).mean()),
                    "factor": factor,
                    "coverage_after": float((s["actual"] <= factor * s[col]).mean()),
                    "pooled": len(s) < min_windows,
                }
            )
    return pd.DataFrame(rows)
