"""Daily intervals that mean what they say: each central interval's sides scaled so it covers its nominal share of
the validation days, per model and segment.

A model's 80% interval (its 10% and 90% quantiles) may cover 91% of days (Gaussian paths on zero-heavy demand) or
70% (a level that moved). On the validation folds (../shared/DESIGN.md, "The evaluation protocol": their horizons
end before any day they are scored on), each row says how far its interval's side must be stretched or shrunk
around its median to hold the actual: `(p50 - y) / (p50 - lo)` below the median, `(y - p50) / (hi - p50)` above.
Per model, segment and interval, the lower side's factor is the smallest that leaves at most half the nominal
miss below the interval, and the upper side's the smallest that leaves the rest of the nominal miss above it, so
the interval holds its nominal share of the validation days. Factors are used only where they earn it out of
sample: fitted on all validation folds but one, they must bring the held-out fold's coverage nearer its level than
the model's own intervals do, on average over the folds; otherwise the model's intervals stand (factor 1). The
two sides are fitted apart because daily demand is lopsided: where zero is the commonest day and the lower bound
is 0, no narrowing of the lower side can miss "10%" of days (it misses either none or all the zeros), so the upper
side takes the whole miss. The test rows'
bounds become `p50 - lower factor x` and `p50 + upper factor x` their own distance from it (never below 0), so
each SKU keeps its own scale. A segment with fewer than `min_skus` SKUs on the validation folds takes the
model's factors over all segments; a factor stays within [MIN_FACTOR, MAX_FACTOR].
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from forecasting.backtest.metrics import interval_pairs
from forecasting.vocabulary.column_names import quantile_column

MIN_FACTOR, MAX_FACTOR = 0.2, 5.0
ALL_SEGMENTS = "*"


def _needed(y: np.ndarray, mid: np.ndarray, bound: np.ndarray, upper: bool) -> np.ndarray:
    """Per row: the smallest factor of the side's distance from `mid` that holds `y` on that side (0 where `y` is
    on the other side of the median; inf where no factor does)."""
    beyond, room = (y > mid, bound - mid) if upper else (y < mid, mid - bound)
    with np.errstate(divide="ignore", invalid="ignore"):
        need = np.where(beyond, np.abs(y - mid) / room, 0.0)
    return np.where(beyond & ~(room > 0), np.inf, need)


def _factor(needed: np.ndarray, miss: float) -> float:
    """The smallest factor that leaves at most `miss` of the rows outside (a factor from the data: the higher
    order statistic)."""
    if not len(needed):
        return 1.0
    value = float(np.quantile(needed, min(max(1.0 - miss, 0.0), 1.0), method="higher"))
    return float(np.clip(value, MIN_FACTOR, MAX_FACTOR)) if np.isfinite(value) else MAX_FACTOR


def _side_factors(lower: np.ndarray, upper: np.ndarray, level: float) -> tuple[float, float]:
    """(lower factor, upper factor): the lower side misses at most half of 1 - `level`, the upper the rest."""
    f_lo = _factor(lower, (1.0 - level) / 2)
    missed_below = float(np.mean(lower > f_lo)) if len(lower) else 0.0
    return f_lo, _factor(upper, (1.0 - level) - missed_below)


def _calibration_helps(lower: np.ndarray, upper: np.ndarray, folds: np.ndarray, level: float) -> bool:
    """Whether factors fitted on the other validation folds bring each fold's coverage nearer `level` than the
    model's own intervals do, on average over the folds (out of sample, as the test folds will be); with one fold
    there is nothing to check against, and the factors are kept."""
    names = np.unique(folds)
    if len(names) < 2:
        return True
    fitted, own = [], []
    for fold in names:
        held = folds == fold
        f_lo, f_hi = _side_factors(lower[~held], upper[~held], level)
        fitted.append(abs(np.mean((lower[held] <= f_lo) & (upper[held] <= f_hi)) - level))
        own.append(abs(np.mean((lower[held] <= 1.0) & (upper[held] <= 1.0)) - level))
    return float(np.mean(fitted)) < float(np.mean(own))


COLUMNS = [
    "model", "segment", "lo", "hi", "level", "factor_lower", "factor_upper", "calibrated", "skus", "coverage_before"
]  # fmt: skip


def fit_interval_factors(
    validation: pd.DataFrame, segments: pd.DataFrame, quantiles: Sequence[float], min_skus: int
) -> pd.DataFrame:
    """One row per model, segment (ALL_SEGMENTS: the model over all segments) and interval: `lo`, `hi`, `level`,
    `factor_lower`, `factor_upper` (1 where `calibrated` is false: fitted on the other folds, the factors did not
    bring a held-out validation fold's coverage nearer its level than the model's own intervals), `skus` and
    `coverage_before` (the validation share the interval held as the model gave it)."""
    pairs = interval_pairs(quantiles)
    if 0.5 not in quantiles or not pairs or validation.empty:
        return pd.DataFrame(columns=COLUMNS)
    seg = validation["sku"].map(segments.set_index("sku")["segment"]).astype(object).fillna(ALL_SEGMENTS)
    y = validation["demand"].to_numpy(dtype=float)
    mid = validation[quantile_column(0.5)].to_numpy(dtype=float)
    rows = []
    for lo, hi in pairs:
        level = hi - lo
        frame = pd.DataFrame(
            {
                "model": validation["model"].to_numpy(),
                "segment": seg.to_numpy(),
                "sku": validation["sku"].to_numpy(),
                "lower": _needed(y, mid, validation[quantile_column(lo)].to_numpy(dtype=float), upper=False),
                "upper": _needed(y, mid, validation[quantile_column(hi)].to_numpy(dtype=float), upper=True),
                "fold": validation["cutoff"].to_numpy(),
            }
        )
        for model, part in frame.groupby("model", sort=True):
            for segment, group in [(ALL_SEGMENTS, part), *part.groupby("segment", sort=True)]:
                n_skus = group["sku"].nunique()
                if segment != ALL_SEGMENTS and n_skus < min_skus:
                    continue
                lower, upper = group["lower"].to_numpy(), group["upper"].to_numpy()
                helps = _calibration_helps(lower, upper, group["fold"].to_numpy(), level)
                f_lo, f_hi = _side_factors(lower, upper, level) if helps else (1.0, 1.0)
                rows.append(
                    {
                        "model": model,
                        "segment": segment,
                        "lo": lo,
                        "hi": hi,
                        "level": round(level, 6),
                        "factor_lower": f_lo,
                        "factor_upper": f_hi,
                        "calibrated": helps,
                        "skus": n_skus,
                        "coverage_before": float(np.mean((lower <= 1.0) & (upper <= 1.0))),
                    }
                )
    return pd.DataFrame(rows, columns=COLUMNS)


def apply_interval_factors(
    rows: pd.DataFrame,
    segments: pd.DataFrame,
    factors: pd.DataFrame | None,
    quantiles,
    fallback_as: str | None = None,
) -> pd.DataFrame:
    """`rows` (a forecast table with a `model` column) with each interval's bounds scaled by their model and
    segment's factors (the model's over all segments where its segment has none; unchanged for a model without
    factors), quantiles kept in order. With `fallback_as`, a row whose `fallback` is set (the fallback model
    forecast it) is scaled by that model's factors."""
    if factors is None or factors.empty or rows.empty or 0.5 not in quantiles:
        return rows
    rows = rows.copy()
    seg = rows["sku"].map(segments.set_index("sku")["segment"]).astype(object).fillna(ALL_SEGMENTS).to_numpy()
    mid = rows[quantile_column(0.5)].to_numpy(dtype=float)
    models = rows["model"].to_numpy()
    if fallback_as is not None:
        models = np.where(rows["fallback"].to_numpy(dtype=bool), fallback_as, models)
    keys = pd.MultiIndex.from_arrays([models, seg])
    for (lo, hi), part in factors.groupby(["lo", "hi"], sort=True):
        for q, side in ((lo, "factor_lower"), (hi, "factor_upper")):
            own = part.set_index(["model", "segment"])[side]
            overall = part[part["segment"] == ALL_SEGMENTS].set_index("model")[side]
            factor = pd.Series(own.reindex(keys).to_numpy())
            factor = factor.fillna(pd.Series(overall.reindex(models).to_numpy())).fillna(1.0).to_numpy()
            col = quantile_column(q)
            rows[col] = np.maximum(mid + factor * (rows[col].to_numpy(dtype=float) - mid), 0.0)
    cols = [quantile_column(q) for q in sorted(quantiles)]
    rows[cols] = np.maximum.accumulate(rows[cols].to_numpy(dtype=float), axis=1)  # quantiles never cross
    return rows
