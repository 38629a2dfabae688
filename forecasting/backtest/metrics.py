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


def _pinball_rows(bt: pd.DataFrame, quantiles: Sequence[float]) -> np.ndarray:
    """Mean pinball loss over the quantiles, per row."""
    if not quantiles:
        return np.full(len(bt), np.nan)
    y = bt["demand"].to_numpy(dtype=float)[:, None]
    qf = bt[[quantile_column(q) for q in quantiles]].to_numpy(dtype=float)
    q = np.asarray(quantiles, dtype=float)[None, :]
    diff = y - qf
    return np.maximum(q * diff, (q - 1) * diff).mean(axis=1)


def row_losses(bt: pd.DataFrame, quantiles: Sequence[float]) -> pd.DataFrame:
    """Per-row terms every metric is a sum of, so that `score` is grouped sums rather than a Python loop."""
    y = bt["demand"].to_numpy(dtype=float)
    err = bt["mean"].to_numpy(dtype=float) - y
    nz = y > 0
    terms = {
        "_err": err,
        "_abs": np.abs(err),
        "_sq": err**2,
        "_y": y,
        "_absy": np.abs(y),
        "_nz": nz.astype(float),
        "_ape": np.where(nz, np.abs(err) / np.where(nz, y, 1.0), 0.0),
        "_pin": _pinball_rows(bt, quantiles),
    }
    for lo, hi in interval_pairs(quantiles):
        inside = (y >= bt[quantile_column(lo)].to_numpy()) & (y <= bt[quantile_column(hi)].to_numpy())
        terms[f"coverage_{round((hi - lo) * 100):d}"] = inside.astype(float)
    return pd.DataFrame(terms, index=bt.index)


def _ratio(num: pd.Series, den: pd.Series) -> pd.Series:
    return (num / den.where(den > 0)).astype(float)


def score(bt: pd.DataFrame, by: Sequence[str], quantiles: Sequence[float]) -> pd.DataFrame:
    """Metrics per group of a backtest table (columns: demand, mean, quantile columns, scale, sku, cutoff)."""
    by = list(by)
    terms = row_losses(bt, quantiles)
    keys = bt[list(dict.fromkeys([*by, "sku", "cutoff"]))].reset_index(drop=True)
    frame = pd.concat([keys, terms.reset_index(drop=True), bt["scale"].reset_index(drop=True)], axis=1)
    cover_cols = [c for c in terms if c.startswith("coverage_")]

    sums = frame.groupby(by, observed=True, sort=True)[[c for c in terms if not c.startswith("coverage_")]].sum()
    counts = frame.groupby(by, observed=True, sort=True).size()
    # RMSSE per (SKU, cutoff) series, then averaged; series without a scale (flat history) are left out.
    per_series = frame.groupby([*by, "sku", "cutoff"], observed=True, sort=False).agg(
        _sq=("_sq", "mean"), scale=("scale", "first")
    )
    per_series["rmsse"] = np.sqrt(per_series["_sq"] / per_series["scale"])
    per_series = per_series.dropna(subset=["rmsse"])
    rmsse = per_series.groupby(level=list(range(len(by))), observed=True)["rmsse"].agg(["mean", "size"])

    out = pd.DataFrame(index=sums.index)
    out["rmsse"] = rmsse["mean"].reindex(out.index)
    out["mae"] = sums["_abs"] / counts
    out["rmse"] = np.sqrt(sums["_sq"] / counts)
    out["wape"] = _ratio(sums["_abs"], sums["_absy"])
    out["bias"] = _ratio(sums["_err"], sums["_y"])
    out["mape_nonzero"] = _ratio(sums["_ape"], sums["_nz"])
    out["pinball"] = sums["_pin"] / counts
    if cover_cols:
        out[cover_cols] = frame.groupby(by, observed=True, sort=True)[cover_cols].mean()
    out["series"] = rmsse["size"].reindex(out.index).fillna(0).astype(int)
    out["points"] = counts.astype(int)
    return out.reset_index()


# The per-(SKU, cutoff) term whose share of a model's total says whether one series decides its metric.
SERIES_LOSS = {"rmsse": "rmsse", "mae": "_abs", "wape": "_abs", "rmse": "_sq", "pinball": "_pin"}


def series_losses(bt: pd.DataFrame, metric: str, quantiles: Sequence[float]) -> pd.DataFrame:
    """One row per model, SKU and cutoff: that series' contribution to the model's `metric` (`loss`)."""
    terms = row_losses(bt, quantiles)
    frame = pd.concat(
        [bt[["model", "sku", "cutoff", "scale"]].reset_index(drop=True), terms.reset_index(drop=True)], axis=1
    )
    grouped = frame.groupby(["model", "sku", "cutoff"], observed=True, sort=False)
    if metric == "rmsse":
        out = grouped.agg(_sq=("_sq", "mean"), scale=("scale", "first"))
        out["loss"] = np.sqrt(out["_sq"] / out["scale"])
        return out[["loss"]].reset_index()
    return grouped[SERIES_LOSS[metric]].sum().rename("loss").reset_index()
