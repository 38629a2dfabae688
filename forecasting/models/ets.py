"""Exponential smoothing (ETS state-space model of statsmodels) with simulated sample paths."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from statsmodels.tsa.exponential_smoothing.ets import ETSModel

from forecasting.models.base import Forecast, LocalForecaster, simulated_forecast


class ETS(LocalForecaster):
    """ETS(error, trend, seasonal). Additive error by default: most SKU-days are zero, which rules out
    multiplicative components."""

    min_history = 28

    def __init__(
        self,
        error: str = "add",
        trend: str | None = None,
        damped_trend: bool = False,
        seasonal: str | None = "add",
        season_length: int | None = None,
        maxiter: int = 100,
    ) -> None:
        super().__init__(season_length)
        self.error = error
        self.trend = trend
        self.damped_trend = damped_trend
        self.seasonal = seasonal
        self.maxiter = maxiter

    def fit(self, y: pd.Series) -> ETS:
        values = np.asarray(y, dtype=float)
        m = int(self.season_length or 1)
        seasonal = self.seasonal if m > 1 and len(values) >= 2 * m else None
        model = ETSModel(
            values,
            error=self.error,
            trend=self.trend,
            damped_trend=self.damped_trend and self.trend is not None,
            seasonal=seasonal,
            seasonal_periods=m if seasonal else None,
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.result_ = model.fit(disp=False, maxiter=self.maxiter)
        return self

    def predict(self, horizon: int, num_samples: int, rng: np.random.Generator) -> Forecast:
        return simulated_forecast(self.result_, horizon, num_samples, rng)
