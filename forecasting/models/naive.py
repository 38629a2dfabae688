"""Seasonal naive: tomorrow sells what the same weekday sold last week; the baseline and the fallback."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from forecasting.models.panel import PanelForecaster
from forecasting.models.paths import draw_from_tail


class SeasonalNaive(PanelForecaster):
    """Repeat the last season; sample paths bootstrap past seasonal differences (a seasonal random walk).

    `residual_window` limits the bootstrap to recent seasons so intervals follow the current volatility. A SKU
    with no more than a season of history repeats what it has, with no spread.
    """

    def __init__(self, season_length: int | None = None, residual_window: int = 26) -> None:
        super().__init__(season_length)
        self.residual_window = residual_window

    def fit_panel(self, history: np.ndarray, lengths: np.ndarray) -> SeasonalNaive:
        season = int(self.season_length or 1)
        self.period_ = np.minimum(season, lengths)
        self.tail_ = history[:, -season:]
        # Seasonal differences; a row's valid ones are its last (length - season).
        diffs = history[:, season:] - history[:, :-season]
        window = self.residual_window * season or diffs.shape[1]
        self.residuals_ = diffs[:, -window:] if diffs.shape[1] else np.zeros((len(history), 1))
        counts = np.minimum(lengths - season, self.residuals_.shape[1])
        short = counts <= 0
        self.residuals_[short, -1] = 0.0
        self.counts_ = np.where(short, 1, counts)
        return self

    def predict_panel(
        self, horizon: int, num_samples: int, rngs: Sequence[np.random.Generator]
    ) -> tuple[np.ndarray, np.ndarray]:
        steps = np.arange(horizon)
        width = self.tail_.shape[1]
        cols = width - self.period_[:, None] + steps[None, :] % self.period_[:, None]
        mean = np.take_along_axis(self.tail_, cols, axis=1)
        shocks = draw_from_tail(self.residuals_, self.counts_, (num_samples, horizon), rngs)
        walk = np.empty_like(shocks)
        # Step h adds one residual per season passed: a cumulative sum along each weekday's own chain.
        for m in np.unique(self.period_):
            rows = np.flatnonzero(self.period_ == m)
            seasons = -(-horizon // m)
            padded = np.zeros((len(rows), num_samples, seasons * m))
            padded[:, :, :horizon] = shocks[rows]
            chains = padded.reshape(len(rows), num_samples, seasons, m).cumsum(axis=2)
            walk[rows] = chains.reshape(len(rows), num_samples, -1)[:, :, :horizon]
        return mean, mean[:, None, :] + walk
