"""Croston-type models for intermittent demand with tunable smoothing: classic Croston, SBA and TSB.

statsforecast's CrostonSBA and TSB (conf/model/croston.yaml, tsb_sf.yaml) are the fast defaults; these few
lines, after Croston (1972), Syntetos & Boylan (2005) and Teunter, Syntetos & Babai (2011), add what they fix:
separate size and interval smoothing constants (statsforecast's Croston variants fix both at 0.1).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from forecasting.models.base import Forecast, LocalForecaster
from forecasting.models.paths import intermittent_paths

VARIANTS = ("croston", "sba", "tsb")


class Croston(LocalForecaster):
    """Demand size and occurrence smoothed separately; the forecast is their product per day.

    Paths draw each day's occurrence with the smoothed probability and its size from the SKU's recent
    non-zero sizes (`intermittent_paths`).
    """

    def __init__(
        self,
        variant: str = "sba",
        alpha: float = 0.1,
        beta: float = 0.1,
        size_window: int = 50,
        season_length: int | None = None,
    ) -> None:
        super().__init__(season_length)
        if variant not in VARIANTS:
            raise ValueError(f"Croston variant '{variant}' is unknown; use one of {', '.join(VARIANTS)}.")
        self.variant = variant
        self.alpha = alpha
        self.beta = beta
        self.size_window = size_window

    def fit(self, y: pd.Series) -> Croston:
        values = np.asarray(y, dtype=float)
        nonzero = np.flatnonzero(values > 0)
        self.sizes_ = values[nonzero][-self.size_window :]
        if len(nonzero) == 0:
            self.rate_, self.prob_ = 0.0, 0.0
            return self
        if self.variant == "tsb":
            size, prob = values[nonzero[0]], 1.0 / (nonzero[0] + 1)
            for v in values[nonzero[0] + 1 :]:
                prob += self.beta * ((v > 0) - prob)
                if v > 0:
                    size += self.alpha * (v - size)
            self.prob_, self.rate_ = prob, prob * size
        else:
            intervals = np.diff(np.concatenate([[-1], nonzero]))
            size, interval = values[nonzero[0]], float(intervals[0])
            for v, gap in zip(values[nonzero[1:]], intervals[1:], strict=True):
                size += self.alpha * (v - size)
                interval += self.beta * (gap - interval)
            bias = 1.0 - self.beta / 2.0 if self.variant == "sba" else 1.0
            self.prob_ = min(1.0, 1.0 / interval)
            self.rate_ = bias * size / interval
        return self

    def predict(self, horizon: int, num_samples: int, rng: np.random.Generator) -> Forecast:
        mean = np.full(horizon, self.rate_)
        return Forecast(mean=mean, paths=intermittent_paths(mean, self.prob_, self.sizes_, num_samples, rng))
