"""Backtest records of cumulative demand over a planning window (lead time + review period).

They let planning check the quantiles it orders from, the quantiles of a SUM over the window, against what
was actually sold over the same window after each cutoff. Each record carries the actual's `score` in the
forecast distribution of the sum: its (randomised) PIT, the share of sample sums below it, in [0, 1]; or, when
the actual exceeds every sample sum, 1 + how far above the largest sum it fell, in units of the sample's upper
spread (largest - median). The scores of many windows are what
planning recalibrates every service level from (see planning.calibration).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from forecasting.models.base import Forecast
from forecasting.vocabulary.calibration_score import calibration_score
from forecasting.vocabulary.column_names import sum_quantile_column
from forecasting.vocabulary.text_columns import encode_text, join_column
from forecasting.vocabulary.windows import SUMS_DTYPE, window_fractions, window_sums

COVER_LEVELS = (0.5, 0.8, 0.9, 0.95, 0.98, 0.99)


def cover_record(
    sku: str,
    model: str,
    cutoff: pd.Timestamp,
    forecast: Forecast,
    test: pd.Series,
    days: int,
    levels: Sequence[float] = COVER_LEVELS,
) -> dict | None:
    """Actual and forecast demand summed over the `days` calendar days after `cutoff` (None when the
    backtest horizon is shorter than the window)."""
    dates = pd.DatetimeIndex(test.index)
    if pd.Timestamp(cutoff) + pd.Timedelta(days=days) > dates[-1]:
        return None
    # Weeks and months the window ends inside count pro rata, in the actuals as in the paths.
    share = window_fractions(dates, cutoff, [days])[0]
    sums = window_sums(forecast.paths, dates, cutoff, days)
    actual = float(test.to_numpy() @ share)
    record = {
        "sku": sku,
        "model": model,
        "cutoff": cutoff,
        "window_days": days,
        "actual": actual,
        "mean": float(sums.mean()),
        "score": calibration_score(sums, actual, f"{sku}|{model}|{cutoff}"),
        # The sample itself, so planning can score the actual again after rescaling the forecast per SKU.
        "sums": np.sort(sums),
    }
    for q, v in zip(levels, np.quantile(sums, levels), strict=True):
        record[sum_quantile_column(q)] = float(v)
    return record


def cover_columns(records: Sequence[dict]) -> dict[str, np.ndarray]:
    """Cover records as columns, the form they travel from workers and are joined in: text as categorical codes
    and the sample sums as one block of SUMS_DTYPE (a record as a dict of Python floats with its own array cost
    about twice as much)."""
    if not records:
        return {}
    columns = {key: [r[key] for r in records] for key in records[0]}
    out = {key: np.asarray(values) for key, values in columns.items() if key != "sums"}
    out["cutoff"] = np.asarray(columns["cutoff"], dtype="datetime64[ns]")
    lengths = {len(s) for s in columns["sums"]}
    sums = np.stack(columns["sums"]).astype(SUMS_DTYPE, copy=False) if len(lengths) == 1 else _rows(columns["sums"])
    return encode_text({key: sums if key == "sums" else out[key] for key in columns})


def cover_table(parts: Sequence[dict[str, np.ndarray]]) -> pd.DataFrame:
    """One table of cover records from `cover_columns` parts (emptied as they are joined); `sums` holds each
    record's sorted sample sums (rows of one block)."""
    parts = [p for p in parts if p]
    if not parts:
        return pd.DataFrame()
    table = {}
    for key in list(parts[0]):
        arrays = [p.pop(key) for p in parts]
        table[key] = _rows([row for block in arrays for row in block]) if key == "sums" else join_column(arrays, key)
    return pd.DataFrame(table, copy=False)


def _rows(arrays: Sequence[np.ndarray]) -> np.ndarray:
    # An object array of the given arrays as they are (numpy would make a 2-d array of equal-length rows).
    out = np.empty(len(arrays), dtype=object)
    for i, row in enumerate(arrays):
        out[i] = np.asarray(row, dtype=SUMS_DTYPE)
    return out


def cover_pinball(covers: pd.DataFrame, segments: pd.DataFrame, levels: Sequence[float] = COVER_LEVELS[1:]):
    """Pinball loss of the window sums' quantiles (the ones plans order from), per model, ABC class and demand
    class: each record's loss averaged over `levels`, divided by its SKU's mean actual window sum (so every SKU
    weighs alike), then averaged. None without records.

    Why beside the daily pinball: plans order from quantiles of SUMS over lead time + review; a model can have
    the best daily quantiles and heavy-tailed sums (Croston resampling large past orders), which this sees."""
    loss = _record_losses(covers, levels)
    if loss is None:
        return None
    sku = covers["sku"].astype(str)
    seg = segments.assign(sku=segments["sku"].astype(str)).set_index("sku")
    table = pd.DataFrame(
        {
            "model": covers["model"].astype(str).to_numpy(),
            "abc": sku.map(seg["abc"]).to_numpy(),
            "demand_class": sku.map(seg["demand_class"]).to_numpy(),
            "cover_pinball": loss,
        }
    )
    return table.groupby(["model", "abc", "demand_class"], as_index=False, observed=True)["cover_pinball"].mean()


def window_pinball_by_model(covers: pd.DataFrame, levels: Sequence[float] = COVER_LEVELS[1:]) -> pd.Series | None:
    """Per model, the loss of cover_pinball over the (SKU, cutoff) windows every model has: how well each one's
    window sums order, one figure per model (what an ensemble ranked for plans picks its members by). None
    without records."""
    if not len(covers):
        return None
    models = covers["model"].astype(str)
    window = covers["sku"].astype(str) + "|" + covers["cutoff"].astype(str)
    shared = (window.map(models.groupby(window.to_numpy()).nunique()) == models.nunique()).to_numpy()
    loss = _record_losses(covers[shared], levels)
    if loss is None or not len(loss):
        return None
    return pd.Series(loss).groupby(models[shared].to_numpy()).mean()


def _record_losses(covers: pd.DataFrame, levels: Sequence[float]) -> np.ndarray | None:
    """Each record's pinball loss of its window sums' quantiles averaged over `levels`, divided by its SKU's mean
    actual window sum (so every SKU weighs alike). None where the records lack those quantiles."""
    columns = [sum_quantile_column(q) for q in levels]
    if not len(covers) or not set(columns) <= set(covers.columns):
        return None
    actual = covers["actual"].to_numpy(dtype=float)
    loss = np.zeros(len(covers))
    for q, column in zip(levels, columns, strict=True):
        gap = actual - covers[column].to_numpy(dtype=float)
        loss += np.maximum(q * gap, (q - 1) * gap)
    scale = pd.Series(actual).groupby(covers["sku"].astype(str).to_numpy()).transform("mean").to_numpy()
    return loss / len(levels) / np.where(scale > 0, scale, 1.0)
