"""Seasonal naive: tomorrow sells what the same weekday sold last week; the baseline and the fallback."""

from __future__ import annotations

import numpy as np
import pandas as pd

from forecasting.models.base import Forecast, LocalForecaster


class SeasonalNaive(LocalForecaster):
    """Repeat the last season; sample paths bootstrap past seasonal differences (a seasonal random walk).

    `residual_window` limits the bootstrap to recent seasons so intervals follow the current volatility.
    """

    def __init__(self, season_length: int | None = None, residual_window: int = 26) -> None:
        super().__init__(season_length)
        self.residual_window = residual_window

    def fit(self, y: pd.Series) -> SeasonalNaive:
        values = np.asarray(y, dtype=float)
        m = min(int(self.season_length or 1), len(values))
        self.last_season_ = values[-m:] if m else np.zeros(1)
        diffs = values[m:] - values[:-m] if len(values) > m else np.zeros(1)
        self.residuals_ = diffs[-self.residual_window * m :]
        return self

    def predict(self, horizon: int, num_samples: int, rng: np.random.Generator) -> Forecast:
        m = len(self.last_season_)
        steps = np.arange(horizon)
        mean = self.last_season_[steps % m]
        # Step h adds one residual per season passed: a cumulative sum along each weekday's own chain.
        shocks = rng.choice(self.residuals_, size=(num_samples, horizon))
        seasons = -(-horizon // m)
        padded = np.zeros((num_samples, seasons * m))
        padded[:, :horizon] = shocks
        walk = padded.reshape(num_samples, seasons, m).cumsum(axis=1).reshape(num_samples, -1)[:, :horizon]
        return Forecast(mean=mean, paths=mean + walk)
