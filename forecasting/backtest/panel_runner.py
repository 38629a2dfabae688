"""Rolling-origin backtest of panel-wide models: every SKU of a cutoff fitted and forecast in one array pass.

The same folds, eligibility rule, seeds and rows as the per-SKU runner: a SKU's forecast and paths are those its
model gives one SKU at a time (`fit`/`predict`), so the two runners can share one table. SKUs go through in
batches sized so that the sample paths of a batch stay in a few tens of megabytes.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from forecasting.backtest.cumulative import cover_columns, cover_record
from forecasting.backtest.metrics import rmsse_scale
from forecasting.backtest.settings import BacktestSettings
from forecasting.models.base import Forecast, LocalForecaster, sample_quantiles
from forecasting.models.local_fit import SkuResult, concat_columns
from forecasting.models.panel import PanelForecaster, forecast_batch, history_matrix
from forecasting.vocabulary.column_names import quantile_column
from forecasting.vocabulary.text_columns import encode_text

#: path values held at once per batch (SKUs x samples x horizon), about 32 MB of float64.
BATCH_VALUES = 4_000_000


def backtest_panel(
    panel: pd.DataFrame,
    cutoffs: pd.DataFrame,
    models: Mapping[str, PanelForecaster],
    fallback: LocalForecaster,
    settings: BacktestSettings,
) -> SkuResult:
    """Backtest rows of the panel-wide `models` for every eligible SKU and fold (columns as `backtest_sku`)."""
    horizon, num_samples, min_train_days = settings.horizon, settings.num_samples, settings.min_train_days
    values = panel["demand"].to_numpy(dtype=float)
    dates = panel["date"].to_numpy()
    starts = np.flatnonzero(np.r_[True, panel["sku"].to_numpy()[1:] != panel["sku"].to_numpy()[:-1]])
    lengths = np.diff(np.r_[starts, len(panel)])
    skus = panel["sku"].to_numpy(dtype=object)[starts]
    batch = max(1, BATCH_VALUES // (num_samples * horizon))
    parts, failures, covers = [], [], []
    for fold in cutoffs.itertuples(index=False) if len(panel) else ():
        before = np.add.reduceat((dates <= np.datetime64(fold.cutoff)).astype(np.int64), starts)
        # The per-SKU rule (folds.eligible): enough history before the cutoff and a full horizon after it.
        eligible = np.flatnonzero((before >= min_train_days) & (lengths - before >= horizon))
        for rows in np.array_split(eligible, max(1, -(-len(eligible) // batch))):
            if not len(rows):
                continue
            part = _batch(
                values,
                dates,
                skus[rows],
                starts[rows],
                before[rows],
                fold,
                horizon,
                models,
                fallback,
                settings.quantiles,
                num_samples,
                settings.seed,
                settings.cover_days,
            )
            parts.append(part.columns)
            failures += part.failures
            covers += part.extra
    return SkuResult(columns=encode_text(concat_columns(parts)), failures=failures, extra=covers)


def _batch(
    values, dates, skus, starts, before, fold, horizon, models, fallback, quantiles, num_samples, seed, cover_days
):
    history = history_matrix(values, starts, before)
    test_at = (starts + before)[:, None] + np.arange(horizon)
    actual, test_dates = values[test_at], dates[test_at]
    scale = np.array([rmsse_scale(values[s : s + b]) for s, b in zip(starts, before, strict=True)])
    n, size = len(skus), len(skus) * horizon
    parts, failures, covers = [], [], []
    for name, model in models.items():
        mean, paths, errors = forecast_batch(
            model, fallback, history, before, skus, horizon, num_samples, seed, int(fold.fold)
        )
        qs = sample_quantiles(paths, quantiles, axis=1)
        fell_back = np.array([e is not None for e in errors], dtype=bool)
        cols = {
            "cutoff": np.full(size, np.datetime64(fold.cutoff, "ns")),
            "sku": np.repeat(skus, horizon),
            "date": test_dates.ravel(),
            "model": np.full(size, name, dtype=object),
            "mean": mean.ravel(),
            **{quantile_column(q): qs[i].ravel() for i, q in enumerate(quantiles)},
            "fallback": np.repeat(fell_back, horizon),
            "fold": np.full(size, fold.fold),
            "role": np.full(size, fold.role, dtype=object),
            "demand": actual.ravel(),
            "scale": np.repeat(scale, horizon),
        }
        parts.append(cols)
        failures += [
            {"sku": skus[k], "model": name, "error": errors[k], "cutoff": fold.cutoff}
            for k in np.flatnonzero(fell_back)
        ]
        if cover_days:
            for k in range(n):
                test = pd.Series(actual[k], index=pd.DatetimeIndex(test_dates[k]))
                record = cover_record(skus[k], name, fold.cutoff, Forecast(mean[k], paths[k]), test, cover_days)
                if record:
                    covers.append({**record, "role": fold.role})
    return SkuResult(columns=concat_columns(parts), failures=failures, extra=[cover_columns(covers)])
