"""Daily intervals that mean what they say: each central interval's width scaled so it covers its nominal share of
the validation days, per model and segment.

A model's 80% interval (its 10% and 90% quantiles) may cover 91% of days (Gaussian paths on zero-heavy demand) or
70% (a level that moved). On the validation folds (../shared/DESIGN.md, "The evaluation protocol": their horizons
end before any day they are scored on), each row says how far its interval must be stretched or shrunk around
its median to hold the actual: `(y - p50) / (hi - p50)` above the median, `(p50 - y) / (p50 - lo)` below. The
factor of a model, segment and interval is the smallest that holds the nominal share of its validation rows; the
test rows' bounds become `p50 +/- factor x` their own distance from it (never below 0), so each SKU keeps its own
scale and asymmetry. On zero-heavy series it is conservative: a zero day under a positive median needs the whole
lower half (factor 1), so where such days are common an interval is widened but not narrowed. A segment with
fewer than `min_skus` SKUs on the validation folds takes the model's factor over all segments; the factor stays
within [MIN_FACTOR, MAX_FACTOR].
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from forecasting.backtest.metrics import interval_pairs, quantile_column

MIN_FACTOR, MAX_FACTOR = 0.2, 5.0
ALL_SEGMENTS = "*"


def _needed(y: np.ndarray, mid: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Per row: the smallest width factor whose interval around `mid` holds `y` (inf where none does)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        up = np.where(y > mid, (y - mid) / (hi - mid), 0.0)
        down = np.where(y < mid, (mid - y) / (mid - lo), 0.0)
    up = np.where((y > mid) & ~(hi > mid), np.inf, up)
    down = np.where((y < mid) & ~(mid > lo), np.inf, down)
    return np.maximum(up, down)


def _factor(needed: np.ndarray, level: float) -> float:
    if not len(needed):
        return 1.0
    # The smallest factor that holds `level` of the rows (higher order statistic: at least the nominal share).
    value = float(np.quantile(needed, level, method="higher"))
    return float(np.clip(value, MIN_FACTOR, MAX_FACTOR)) if np.isfinite(value) else MAX_FACTOR


def fit_interval_factors(
    validation: pd.DataFrame, segments: pd.DataFrame, quantiles: Sequence[float], min_skus: int
) -> pd.DataFrame:
    """One row per model, segment (ALL_SEGMENTS: the model over all segments) and interval: `lo`, `hi`, `level`,
    `factor`, `skus` and `coverage_before` (the validation share the interval held as the model gave it)."""
    pairs = interval_pairs(quantiles)
    if 0.5 not in quantiles or not pairs or validation.empty:
        return pd.DataFrame(columns=["model", "segment", "lo", "hi", "level", "factor", "skus", "coverage_before"])
    seg = validation["sku"].map(segments.set_index("sku")["segment"]).astype(object).fillna(ALL_SEGMENTS)
    y = validation["demand"].to_numpy(dtype=float)
    mid = validation[quantile_column(0.5)].to_numpy(dtype=float)
    rows = []
    for lo, hi in pairs:
        level = hi - lo
        need = _needed(
            y, mid, validation[quantile_column(lo)].to_numpy(dtype=float), validation[quantile_column(hi)].to_numpy()
        )
        frame = pd.DataFrame({"model": validation["model"].to_numpy(), "segment": seg.to_numpy(), "need": need})
        frame["sku"] = validation["sku"].to_numpy()
        for model, part in frame.groupby("model", sort=True):
            groups = [(ALL_SEGMENTS, part)] + list(part.groupby("segment", sort=True))
            for segment, rows_ in groups:
                n_skus = rows_["sku"].nunique()
                if segment != ALL_SEGMENTS and n_skus < min_skus:
                    continue
                values = rows_["need"].to_numpy()
                rows.append(
                    {
                        "model": model,
                        "segment": segment,
                        "lo": lo,
                        "hi": hi,
                        "level": round(level, 6),
                        "factor": _factor(values, level),
                        "skus": n_skus,
                        "coverage_before": float(np.mean(values <= 1.0)),
                    }
                )
    return pd.DataFrame(rows)


def apply_interval_factors(
    rows: pd.DataFrame, segments: pd.DataFrame, factors: pd.DataFrame, quantiles
) -> pd.DataFrame:
    """`rows` (a forecast table with a `model` column) with each interval's bounds scaled by its model and
    segment's factor (the model's over all segments where its segment has none; unchanged for a model without
    factors), quantiles kept in order."""
    if factors.empty or 0.5 not in quantiles:
        return rows
    rows = rows.copy()
    seg = rows["sku"].map(segments.set_index("sku")["segment"]).astype(object).fillna(ALL_SEGMENTS).to_numpy()
    mid = rows[quantile_column(0.5)].to_numpy(dtype=float)
    models = rows["model"].to_numpy()
    for (lo, hi), part in factors.groupby(["lo", "hi"], sort=True):
        own = part.set_index(["model", "segment"])["factor"]
        overall = part[part["segment"] == ALL_SEGMENTS].set_index("model")["factor"]
        keys = pd.MultiIndex.from_arrays([models, seg])
        factor = pd.Series(own.reindex(keys).to_numpy())
        factor = factor.fillna(pd.Series(overall.reindex(models).to_numpy())).fillna(1.0).to_numpy()
        for q in (lo, hi):
            col = quantile_column(q)
            rows[col] = np.maximum(mid + factor * (rows[col].to_numpy(dtype=float) - mid), 0.0)
    cols = [quantile_column(q) for q in sorted(quantiles)]
    rows[cols] = np.maximum.accumulate(rows[cols].to_numpy(dtype=float), axis=1)  # quantiles never cross
    return rows
