"""Rolling-origin backtest of global models on the same folds, SKUs and metrics as the per-SKU models.

The retraining policy is the model's: `every_cutoff` trains afresh at each cutoff; `first_cutoff` trains once
at the first cutoff and only predicts at later ones (scaling is still refitted on each window's own data).
"""

from __future__ import annotations

import logging
import time

import pandas as pd

from forecasting.backtest.cumulative import cover_columns, cover_record, cover_table
from forecasting.backtest.folds import eligible
from forecasting.backtest.metrics import rmsse_scale
from forecasting.backtest.settings import BacktestSettings
from forecasting.data.panel import sku_series
from forecasting.errors import InputError
from forecasting.models.base import GlobalForecaster, Segments, segments_at
from forecasting.models.local_fit import forecast_rows

log = logging.getLogger(__name__)


def backtest_global(
    name: str,
    model: GlobalForecaster,
    panel: pd.DataFrame,
    segments: Segments,
    cutoffs: pd.DataFrame,
    settings: BacktestSettings,
) -> tuple[pd.DataFrame, dict, pd.DataFrame]:
    """Backtest rows of one global model, its training record (epochs and seconds per cutoff), and the
    cumulative-demand records over `settings.cover_days` (empty without)."""
    horizon, cover_days = settings.horizon, settings.cover_days
    series = sku_series(panel)
    parts, covers, record = [], [], {"retrain": model.retrain, "fits": []}
    fitted = False
    for fold in cutoffs.itertuples(index=False):
        at_cutoff = segments_at(segments, fold.cutoff)
        if not fitted or model.retrain == "every_cutoff":
            t0 = time.perf_counter()
            try:
                model.fit(panel, at_cutoff, fold.cutoff)
            except InputError as exc:
                # The validation folds are sized to the data, so the earliest can hold too little history for a
                # global model: it sits that fold out (its validation scores cover fewer windows); a test fold
                # it cannot train at is still the user's to fix.
                if getattr(fold, "role", "test") != "validation":
                    raise
                log.warning("%s: skips the validation fold at %s: %s", name, fold.cutoff.date(), exc)
                continue
            fitted = True
            record["fits"].append(
                {
                    "cutoff": str(fold.cutoff.date()),
                    "epochs": model.epochs_,
                    "seconds": round(time.perf_counter() - t0, 2),
                }
            )
            log.info("%s: trained at cutoff %s, %d epochs", name, fold.cutoff.date(), model.epochs_)
        t0 = time.perf_counter()
        forecasts = model.predict(panel, at_cutoff, fold.cutoff, horizon, settings.num_samples)
        record.setdefault("predict_seconds", []).append(round(time.perf_counter() - t0, 2))
        for sku, s in series.items():
            if not eligible(s, fold.cutoff, horizon, settings.min_train_days):
                continue
            test = s[s.index > fold.cutoff].iloc[:horizon]
            rows = pd.DataFrame(forecast_rows(sku, name, test.index, forecasts[sku], settings.quantiles))
            rows.insert(0, "cutoff", fold.cutoff)
            rows["fallback"] = False
            rows["fold"] = fold.fold
            rows["role"] = fold.role
            rows["demand"] = test.to_numpy()
            rows["scale"] = rmsse_scale(s[s.index <= fold.cutoff].to_numpy())
            parts.append(rows)
            if cover_days:
                cover = cover_record(sku, name, fold.cutoff, forecasts[sku], test, cover_days)
                if cover:
                    covers.append({**cover, "role": fold.role})
    table = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    return table, record, cover_table([cover_columns(covers)])
