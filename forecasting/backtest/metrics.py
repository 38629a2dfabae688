"""Point and probabilistic accuracy metrics over a backtest table.

Each metric is a small function of arrays; `score` applies them per group. Errors are forecast minus actual,
so a positive bias means over-forecasting. RMSSE follows the M5 competition: each (SKU, cutoff) series'
RMSE is scaled by the RMS of one-step differences of its own training data, then averaged over series.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

# Metrics where lower is better, in leaderboard order; coverage is read against its nominal level.
LOWER_IS_BETTER = ("rmsse", "mae", "rmse", "wape", "mape_nonzero", "pinball", "abs_bias")


def quantile_column(q: float) -> str:
    """The forecast-table column of quantile `q`: 'p' + percent (0.05 -> 'p5', 0.025 -> 'p2.5')."""
    return f"p{round(q * 100, 6):g}"


def mae(y, f) -> float:
    return float(np.mean(np.abs(np.asarray(f) - np.asarray(y))))


def rmse(y, f) -> float:
    return float(np.sqrt(np.mean((np.asarray(f) - np.asarray(y)) ** 2)))


def wape(y, f) -> float:
    """Sum of absolute errors over sum of actuals (NaN when nothing sold)."""
    total = np.sum(np.abs(y))
    return float(np.sum(np.abs(np.asarray(f) - np.asarray(y))) / total) if total > 0 else float("nan")


def bias(y, f) -> float:
    """Net error relative to actual volume: +0.1 means 10% over-forecast."""
    total = np.sum(y)
    return float(np.sum(np.asarray(f) - np.asarray(y)) / total) if total > 0 else float("nan")


def mape_nonzero(y, f) -> float:
    """MAPE over the days with non-zero actuals only (undefined on zero days, which dominate here)."""
    y, f = np.asarray(y, dtype=float), np.asarray(f, dtype=float)
    nz = y > 0
    return float(np.mean(np.abs(f[nz] - y[nz]) / y[nz])) if nz.any() else float("nan")


def pinball(y, qf: np.ndarray, quantiles: Sequence[float]) -> float:
    """Mean pinball loss over points and quantiles; `qf` has one column per quantile."""
    y = np.asarray(y, dtype=float)[:, None]
    q = np.asarray(quantiles, dtype=float)[None, :]
    diff = y - np.asarray(qf, dtype=float)
    return float(np.mean(np.maximum(q * diff, (q - 1) * diff)))


def coverage(y, lower, upper) -> float:
    y = np.asarray(y)
    return float(np.mean((y >= np.asarray(lower)) & (y <= np.asarray(upper))))


def rmsse_scale(train: np.ndarray) -> float:
    """M5 scale: mean squared one-step difference of the training data from its first sale.

    NaN when that part of the history never changes: RMSSE is undefined for such a series, and `score`
    leaves it out of the RMSSE average (the `series` count only includes series with a scale).
    """
    train = np.asarray(train, dtype=float)
    nz = np.flatnonzero(train > 0)
    start = nz[0] if len(nz) else 0
    d = np.diff(train[start:])
    return float(np.mean(d**2)) if len(d) and np.any(d) else float("nan")


def interval_pairs(quantiles: Sequence[float]) -> list[tuple[float, float]]:
    """Symmetric quantile pairs that bound central intervals, e.g. (0.1, 0.9) for the 80% interval."""
    qs = sorted(quantiles)
    return [(lo, hi) for lo in qs for hi in qs if lo < 0.5 and abs(lo + hi - 1.0) < 1e-9]


def score(bt: pd.DataFrame, by: Sequence[str], quantiles: Sequence[float]) -> pd.DataFrame:
    """Metrics per group of a backtest table (columns: demand, mean, quantile columns, scale, sku, cutoff)."""
    qcols = [quantile_column(q) for q in quantiles]
    pairs = interval_pairs(quantiles)

    def one(g: pd.DataFrame) -> pd.Series:
        y, f = g["demand"].to_numpy(), g["mean"].to_numpy()
        series = g.groupby("_series")["_scaled_sq"].mean().dropna()
        out = {
            "rmsse": float(np.sqrt(series).mean()),
            "mae": mae(y, f),
            "rmse": rmse(y, f),
            "wape": wape(y, f),
            "bias": bias(y, f),
            "mape_nonzero": mape_nonzero(y, f),
            "pinball": pinball(y, g[qcols].to_numpy(), quantiles) if qcols else float("nan"),
        }
        for lo, hi in pairs:
            name = f"coverage_{round((hi - lo) * 100):d}"
            out[name] = coverage(y, g[quantile_column(lo)], g[quantile_column(hi)])
        out["series"] = len(series)
        out["points"] = len(g)
        return pd.Series(out)

    frame = bt.assign(
        _series=bt.groupby(["sku", "cutoff"], sort=False).ngroup(),
        _scaled_sq=(bt["mean"] - bt["demand"]) ** 2 / bt["scale"],
    )
    return frame.groupby(list(by), observed=True, sort=True).apply(one, include_groups=False).reset_index()
