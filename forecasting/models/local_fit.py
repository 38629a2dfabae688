"""Fit per-SKU models on one SKU's history and turn their forecasts into forecast-table rows.

Written as functions of one SKU's data so the parallel backend can run them anywhere; a model that fails
on a SKU never fails the run: the baseline's forecast stands in, flagged `fallback`, and the error is kept.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from forecasting.models.base import Forecast, LocalForecaster, check_plausible, sample_quantiles
from forecasting.vocabulary.column_names import quantile_column


@dataclass
class SkuResult:
    #: forecast-table columns of one SKU as arrays of equal length: a DataFrame per SKU and fold costs more
    #: than the fit of the cheap models, so one table is built from all SKUs' arrays at the end.
    columns: dict[str, np.ndarray]
    failures: list[dict] = field(default_factory=list)
    forecasts: dict[str, Forecast] = field(default_factory=dict)
    extra: list[dict] = field(default_factory=list)

    @property
    def rows(self) -> pd.DataFrame:
        return pd.DataFrame(self.columns)


def concat_columns(parts: Sequence[Mapping[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Column-wise concatenation of tables held as dicts of arrays (all with the same keys)."""
    return {key: np.concatenate([part[key] for part in parts]) for key in parts[0]} if parts else {}


def sku_rng(seed: int, sku: str, salt: int = 0) -> np.random.Generator:
    """A generator that depends on the run's seed and the SKU only, not on worker scheduling."""
    return np.random.default_rng([int(seed), zlib.crc32(str(sku).encode()), int(salt)])


def forecast_rows(
    sku: str,
    model_name: str,
    dates: pd.DatetimeIndex,
    forecast: Forecast,
    quantiles: Sequence[float],
) -> dict[str, np.ndarray]:
    qs = sample_quantiles(forecast.paths, quantiles, axis=0)
    cols = {
        "sku": np.full(len(dates), sku, dtype=object),
        "date": dates.to_numpy(),
        "model": np.full(len(dates), model_name, dtype=object),
        "mean": forecast.mean,
    }
    for q, values in zip(quantiles, qs, strict=True):
        cols[quantile_column(q)] = values
    return cols


def safe_forecast(
    sku: str,
    y_train: pd.Series,
    horizon: int,
    model: LocalForecaster,
    fallback: LocalForecaster,
    num_samples: int,
    seed: int,
    salt: int = 0,
    covariates: pd.DataFrame | None = None,
    dates: pd.DatetimeIndex | None = None,
) -> tuple[Forecast, str | None]:
    """The model's forecast, or the fallback's with the error that made it necessary.

    `covariates`: the SKU's promo / price rows by date (no demand), for a model that reads them; `dates`: the
    horizon's days."""
    try:
        if len(y_train) < model.min_history:
            raise ValueError(f"{len(y_train)} periods of history, the model needs {model.min_history}")
        given = fit_inputs(model, covariates, dates)
        # The model's trailing window of history (`LocalForecaster.with_history`): the one place every per-SKU
        # fit (backtest, final forecast, replay) is cut to it. Covariates are aligned by date, so need no cut.
        recent = model.recent(y_train) if hasattr(model, "recent") else y_train
        forecast = model.fit(recent, **given).predict(horizon, num_samples, sku_rng(seed, sku, salt))
        check_plausible(forecast, recent.to_numpy())
        return forecast, None
    except Exception as exc:  # noqa: BLE001 - any model error on one SKU must not stop the run
        forecast = fallback.fit(y_train).predict(horizon, num_samples, sku_rng(seed, sku, salt))
        return forecast, f"{type(exc).__name__}: {exc}"[:300]


def fit_inputs(model: LocalForecaster, covariates: pd.DataFrame | None, dates: pd.DatetimeIndex | None) -> dict:
    """What `model.fit` takes besides the history: the SKU's covariate rows and the horizon's dates for a model that
    reads covariates (where there are some), the dates alone for one that reads dates (a yearly profile's)."""
    reads = getattr(model, "covariates", ())  # stand-ins for global models read none
    given = {"covariates": covariates, "dates": dates} if reads and covariates is not None else {}
    if getattr(model, "reads_dates", False) and dates is not None:
        given["dates"] = dates
    return given


def fit_predict(
    sku: str,
    y_train: pd.Series,
    dates: pd.DatetimeIndex,
    models: Mapping[str, LocalForecaster],
    fallback: LocalForecaster,
    quantiles: Sequence[float],
    num_samples: int,
    seed: int,
    salt: int = 0,
    covariates: pd.DataFrame | None = None,
) -> SkuResult:
    """Every model's forecast for `dates` (the trading days after `y_train` ends), as table rows; `covariates` as
    in `safe_forecast`."""
    horizon = len(dates)
    parts, failures, forecasts = [], [], {}
    for name, model in models.items():
        forecast, error = safe_forecast(
            sku, y_train, horizon, model, fallback, num_samples, seed, salt, covariates=covariates, dates=dates
        )
        if error:
            failures.append({"sku": sku, "model": name, "error": error})
        forecasts[name] = forecast
        cols = forecast_rows(sku, name, dates, forecast, quantiles)
        cols["fallback"] = np.repeat(error is not None, horizon)
        parts.append(cols)
    return SkuResult(columns=concat_columns(parts), failures=failures, forecasts=forecasts)
