"""Simple exponential smoothing with a fixed smoothing constant, panel-wide.

The level is smoothed from each SKU's first day; the forecast is the last level, flat. Paths are those of the
matching innovations model, ETS(A,N,N): one shock moves day 0 by sigma and every later day by alpha x sigma,
with sigma the root mean square of the in-sample one-step errors.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from forecasting.models.panel import PanelForecaster
from forecasting.models.paths import gaussian_paths_panel


class SimpleExpSmoothing(PanelForecaster):
    def __init__(self, alpha: float = 0.1, season_length: int | None = None) -> None:
        super().__init__(season_length)
        self.alpha = alpha

    def fit_panel(self, history: np.ndarray, lengths: np.ndarray) -> SimpleExpSmoothing:
        n, width = history.shape
        day_one = width - np.asarray(lengths)
        level = history[np.arange(n), day_one] if n else np.zeros(0)
        squares = np.zeros(n)
        for t in range(int(day_one.min()) + 1 if n else width, width):
            live = t > day_one
            error = np.where(live, history[:, t] - level, 0.0)
            squares += error**2
            level = level + self.alpha * error
        self.level_ = level
        self.sigma_ = np.sqrt(squares / np.maximum(np.asarray(lengths) - 1, 1))
        return self

    def predict_panel(
        self, horizon: int, num_samples: int, rngs: Sequence[np.random.Generator]
    ) -> tuple[np.ndarray, np.ndarray]:
        mean = np.repeat(self.level_[:, None], horizon, axis=1)
        psi = np.r_[1.0, np.full(horizon - 1, self.alpha)]
        weights = self.sigma_[:, None] * psi[None, :]
        return mean, gaussian_paths_panel(mean, weights, num_samples, rngs)
