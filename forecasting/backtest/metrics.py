"""Point and probabilistic accuracy metrics over a backtest table, each written once and applied by group.

Every metric is built from per-row terms (`row_terms`: errors, absolute and squared errors, actuals, the pinball
loss, interval hits) summed or averaged per group, so `score` computes any grouping of a table of millions of rows
as grouped sums rather than a Python loop per group. Errors are forecast minus actual, so a positive bias means
over-forecasting. RMSSE follows the M5 competition: each (SKU, cutoff) series' RMSE is scaled by the RMS of
one-step differences of its own training data (`rmsse_scale`), then averaged over series.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import pandas as pd

from forecasting.vocabulary.column_names import quantile_column


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


#: rows whose per-row terms are computed at once: bounds the (rows x quantiles) temporaries of the pinball loss
CHUNK_ROWS = 1 << 20


def _pinball_rows(bt: pd.DataFrame, quantiles: Sequence[float]) -> np.ndarray:
    """Mean pinball loss over the quantiles, per row (in chunks of rows: the temporaries are rows x quantiles)."""
    if not quantiles:
        return np.full(len(bt), np.nan)
    demand = bt["demand"].to_numpy(dtype=float)
    columns = [bt[quantile_column(q)].to_numpy(dtype=float) for q in quantiles]
    q = np.asarray(quantiles, dtype=float)[None, :]
    out = np.empty(len(bt))
    for lo in range(0, len(bt), CHUNK_ROWS):
        rows = slice(lo, lo + CHUNK_ROWS)
        diff = demand[rows, None] - np.column_stack([c[rows] for c in columns])
        out[rows] = np.maximum(q * diff, (q - 1) * diff).mean(axis=1)
    return out


def row_terms(bt: pd.DataFrame, quantiles: Sequence[float]) -> Iterator[tuple[str, np.ndarray]]:
    """Per-row terms every metric is a sum of (name, values), one at a time, so that `score` is grouped sums
    rather than a Python loop and never holds all of them for a table of millions of rows."""
    y = bt["demand"].to_numpy(dtype=float)
    err = bt["mean"].to_numpy(dtype=float) - y
    nz = y > 0
    yield "_err", err
    yield "_abs", np.abs(err)
    yield "_sq", err**2
    yield "_y", y
    yield "_absy", np.abs(y)
    yield "_nz", nz.astype(float)
    yield "_ape", np.where(nz, np.abs(err) / np.where(nz, y, 1.0), 0.0)
    yield "_pin", _pinball_rows(bt, quantiles)
    for lo, hi in interval_pairs(quantiles):
        inside = (y >= bt[quantile_column(lo)].to_numpy()) & (y <= bt[quantile_column(hi)].to_numpy())
        yield f"coverage_{round((hi - lo) * 100):d}", inside.astype(float)


def row_term(bt: pd.DataFrame, quantiles: Sequence[float], name: str) -> np.ndarray:
    return next(values for term, values in row_terms(bt, quantiles) if term == name)


def group_ids(bt: pd.DataFrame, by: Sequence[str], sort: bool) -> tuple[np.ndarray, pd.DataFrame]:
    """Each row's group number (-1 where a key is missing, as groupby drops those rows) and the groups' keys,
    numbered in key order (`sort`) or in order of first appearance."""
    grouped = bt.groupby(list(by), observed=True, sort=sort)
    ids = grouped.ngroup().to_numpy()  # float with NaN where a key is missing
    return np.where(np.isnan(ids), -1, ids).astype(np.int64), grouped.size().index.to_frame(index=False)


def _grouped(values: np.ndarray, ids: np.ndarray, how: str) -> np.ndarray:
    # pandas' grouped sums and means (compensated summation, rows in table order), so the figures are the
    # ones a groupby of the whole frame gave, bit for bit.
    return getattr(pd.Series(values).groupby(ids, sort=True), how)().to_numpy()


def _ratio(num: pd.Series, den: pd.Series) -> pd.Series:
    return (num / den.where(den > 0)).astype(float)


def score(bt: pd.DataFrame, by: Sequence[str], quantiles: Sequence[float]) -> pd.DataFrame:
    """Metrics per group of a backtest table (columns: demand, mean, quantile columns, scale, sku, cutoff)."""
    by = list(by)
    ids, keys = group_ids(bt, by, sort=True)
    if (ids < 0).any():  # rows with a missing key belong to no group
        bt, ids = bt[ids >= 0], ids[ids >= 0]
    # RMSSE per (SKU, cutoff) series, then averaged; series without a scale (flat history) are left out.
    series = group_ids(bt, list(dict.fromkeys([*by, "sku", "cutoff"])), sort=False)[0]
    in_series = series >= 0
    counts = pd.Series(np.bincount(ids, minlength=len(keys)))
    sums, cover_cols = {}, []
    out = keys.copy()
    for name, values in row_terms(bt, quantiles):
        if name.startswith("coverage_"):
            out[name] = _grouped(values, ids, "mean")
            cover_cols.append(name)
            continue
        sums[name] = pd.Series(_grouped(values, ids, "sum"))
        if name == "_sq":
            per_series = pd.DataFrame(
                {
                    "group": _grouped(ids[in_series], series[in_series], "first"),
                    "rmsse": np.sqrt(
                        _grouped(values[in_series], series[in_series], "mean")
                        / _grouped(bt["scale"].to_numpy(dtype=float)[in_series], series[in_series], "first")
                    ),
                }
            ).dropna(subset=["rmsse"])
            rmsse = per_series.groupby("group")["rmsse"].agg(["mean", "size"])
        del values
    rmsse = rmsse.reindex(range(len(keys)))
    metrics = {
        "rmsse": rmsse["mean"],
        "mae": sums["_abs"] / counts,
        "rmse": np.sqrt(sums["_sq"] / counts),
        "wape": _ratio(sums["_abs"], sums["_absy"]),
        "bias": _ratio(sums["_err"], sums["_y"]),
        "mape_nonzero": _ratio(sums["_ape"], sums["_nz"]),
        "pinball": sums["_pin"] / counts,
    }
    out = pd.concat([keys, pd.DataFrame({k: v.to_numpy() for k, v in metrics.items()}), out[cover_cols]], axis=1)
    out["series"] = rmsse["size"].fillna(0).astype(int).to_numpy()
    out["points"] = counts.astype(int).to_numpy()
    return out


# The per-(SKU, cutoff) term whose share of a model's total says whether one series decides its metric.
SERIES_LOSS = {"rmsse": "rmsse", "mae": "_abs", "wape": "_abs", "rmse": "_sq", "pinball": "_pin"}


def series_losses(bt: pd.DataFrame, metric: str, quantiles: Sequence[float]) -> pd.DataFrame:
    """One row per model, SKU and cutoff: that series' contribution to the model's `metric` (`loss`)."""
    ids, keys = group_ids(bt, ["model", "sku", "cutoff"], sort=False)
    if (ids < 0).any():
        bt, ids = bt[ids >= 0], ids[ids >= 0]
    if metric == "rmsse":
        sq = row_term(bt, quantiles, "_sq")
        scale = _grouped(bt["scale"].to_numpy(dtype=float), ids, "first")
        return keys.assign(loss=np.sqrt(_grouped(sq, ids, "mean") / scale))
    return keys.assign(loss=_grouped(row_term(bt, quantiles, SERIES_LOSS[metric]), ids, "sum"))
