"""Panel-wide forecasters: simple models fitted and forecast for all SKUs of a cutoff at once, as array operations.

A SKU's history is one row of a matrix aligned on its last day (the cutoff), padded with NaN before the SKU's
first day; `lengths` says how many days of each row are real. A recursion such as Croston's runs over the time
axis with every SKU in one array step, so fitting 30,000 SKUs costs a few hundred array operations, not 30,000
Python loops.

Each panel-wide model is also a `LocalForecaster`: `fit`/`predict` on one SKU are the panel code on a matrix of
one row, so the final forecast and the replay, which ask one SKU at a time, get the same forecasts and the same
sample paths as the backtest, which asks the whole panel.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence

import numpy as np
import pandas as pd

from forecasting.models.base import Forecast, LocalForecaster
from forecasting.models.local_fit import safe_forecast, sku_rng


def history_matrix(values: np.ndarray, starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Rows `values[starts[k] : starts[k] + lengths[k]]`, right-aligned and NaN-padded on the left."""
    lengths = np.asarray(lengths, dtype=np.int64)
    width = int(lengths.max()) if len(lengths) else 0
    out = np.full((len(lengths), width), np.nan)
    rows = np.repeat(np.arange(len(lengths)), lengths)
    offset = np.arange(len(rows)) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    out[rows, width - np.repeat(lengths, lengths) + offset] = values[np.repeat(starts, lengths) + offset]
    return out


class PanelForecaster(LocalForecaster):
    """A model whose fit and forecast run for many SKUs at once (see the module docstring)."""

    @abstractmethod
    def fit_panel(self, history: np.ndarray, lengths: np.ndarray) -> PanelForecaster:
        """Fit every row of `history` (SKUs x days, right-aligned, NaN before each SKU's first day)."""

    @abstractmethod
    def predict_panel(
        self, horizon: int, num_samples: int, rngs: Sequence[np.random.Generator]
    ) -> tuple[np.ndarray, np.ndarray]:
        """Point forecasts (SKUs x horizon) and sample paths (SKUs x num_samples x horizon); row k draws its
        random numbers from `rngs[k]` only, so a SKU's paths do not depend on which SKUs share its batch."""

    def fit(self, y: pd.Series) -> PanelForecaster:
        values = np.asarray(y, dtype=float)
        return self.fit_panel(values[None, :], np.array([len(values)]))

    def predict(self, horizon: int, num_samples: int, rng: np.random.Generator) -> Forecast:
        mean, paths = self.predict_panel(horizon, num_samples, [rng])
        return Forecast(mean=mean[0], paths=paths[0])


def last_nonzero(history: np.ndarray, window: int) -> tuple[np.ndarray, np.ndarray]:
    """The last `window` non-zero values of each row, right-aligned in a (rows x window) matrix, and their count."""
    nonzero = history > 0
    rank = np.cumsum(nonzero[:, ::-1], axis=1)[:, ::-1]  # 1 = the row's last non-zero day
    keep = nonzero & (rank <= window)
    rows, cols = np.nonzero(keep)
    out = np.full((len(history), window), np.nan)
    out[rows, window - rank[rows, cols]] = history[rows, cols]
    return out, keep.sum(axis=1)


def forecast_batch(
    model: PanelForecaster,
    fallback: LocalForecaster,
    history: np.ndarray,
    lengths: np.ndarray,
    skus: Sequence[str],
    horizon: int,
    num_samples: int,
    seed: int,
    salt: int = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """What `local_fit.safe_forecast` gives each SKU one at a time, for a batch at once: clipped point forecasts
    (SKUs x horizon), paths (SKUs x samples x horizon) and per SKU the error that made the fallback stand in
    (None where the model's own forecast is used). A SKU the model cannot forecast (too short, non-finite) is
    asked again alone, so only it falls back, with the error it gives alone."""
    n = len(skus)
    rngs = [sku_rng(seed, sku, salt) for sku in skus]
    if model.max_history is not None and history.shape[1] > model.max_history:
        # The model's trailing window (`LocalForecaster.with_history`), as `safe_forecast` cuts one SKU's history.
        history = history[:, -model.max_history :]
        lengths = np.minimum(lengths, model.max_history)
    try:
        mean, paths = model.fit_panel(history, lengths).predict_panel(horizon, num_samples, rngs)
        mean, paths = np.clip(mean, 0.0, None), np.clip(paths, 0.0, None)
        redo = ~(np.isfinite(mean).all(axis=1) & np.isfinite(paths).all(axis=(1, 2)))
    except Exception:  # noqa: BLE001 - the batch failed as a whole: ask each SKU, so only the bad ones fall back
        mean, paths = np.zeros((n, horizon)), np.zeros((n, num_samples, horizon))
        redo = np.ones(n, dtype=bool)
    redo |= np.asarray(lengths) < model.min_history
    errors = np.full(n, None, dtype=object)
    for k in np.flatnonzero(redo):
        train = pd.Series(history[k, history.shape[1] - lengths[k] :])
        forecast, errors[k] = safe_forecast(skus[k], train, horizon, model, fallback, num_samples, seed, salt)
        mean[k], paths[k] = forecast.mean, forecast.paths
    return mean, paths, errors
