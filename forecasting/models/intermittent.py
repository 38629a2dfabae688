"""Croston-type models for intermittent demand with tunable smoothing: classic Croston, SBA and TSB.

After Croston (1972), Syntetos & Boylan (2005) and Teunter, Syntetos & Babai (2011). With fixed smoothing
constants they are panel-wide: the recursions step through the days with every SKU in one array operation.
statsforecast's CrostonSBA and TSB (`croston_sf`, `tsb_sf`) give the same forecasts one SKU at a time (SBA the
same sample paths too); these also take separate size and interval smoothing constants (statsforecast's Croston
variants fix both at 0.1). The default `croston` is this SBA.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from forecasting.models.panel import PanelForecaster, last_nonzero
from forecasting.models.paths import intermittent_paths_panel, rate_dispersion, recent_frequency

VARIANTS = ("croston", "sba", "tsb")


class Croston(PanelForecaster):
    """Demand size and occurrence smoothed separately; the forecast is their product per day.

    Paths draw each day's occurrence with the smoothed probability, its size from a gamma fitted to the SKU's
    last `size_window` non-zero sizes, and one rate multiplier per path (`paths.intermittent_paths`).
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

    def fit_panel(self, history: np.ndarray, lengths: np.ndarray) -> Croston:
        n, width = history.shape
        self.sizes_, self.counts_ = last_nonzero(history, self.size_window)
        self.rate_cv2_ = np.array([rate_dispersion(row) for row in history])
        day_one = width - np.asarray(lengths)  # column of each SKU's first day
        size, prob, interval = np.zeros(n), np.zeros(n), np.zeros(n)
        started, last = np.zeros(n, dtype=bool), np.zeros(n, dtype=np.int64)
        for t in range(int(day_one.min()) if n else width, width):
            v, sold = history[:, t], history[:, t] > 0
            if self.variant == "tsb":
                prob = np.where(started, prob + self.beta * (sold - prob), prob)
                size = np.where(started & sold, size + self.alpha * (v - size), size)
            else:
                again = started & sold
                size = np.where(again, size + self.alpha * (v - size), size)
                interval = np.where(again, interval + self.beta * ((t - last) - interval), interval)
            first = sold & ~started
            days_in = np.maximum(t - day_one + 1, 1)  # a SKU's first sale on its n-th day: n
            size = np.where(first, v, size)
            prob = np.where(first, 1.0 / days_in, prob)
            interval = np.where(first, days_in.astype(float), interval)
            last = np.where(sold, t, last)
            started |= first
        if self.variant == "tsb":
            self.prob_, self.rate_ = prob, prob * size
        else:
            bias = 1.0 - self.beta / 2.0 if self.variant == "sba" else 1.0
            safe = np.where(started, interval, 1.0)
            # Paths draw occurrence from the sales their sizes come from, as for statsforecast's Croston models
            # (`croston_sf`), so both give the same paths; the forecast itself is the smoothed size / interval.
            self.prob_ = np.where(started, recent_frequency(history, self.size_window), 0.0)
            self.rate_ = np.where(started, bias * size / safe, 0.0)
        return self

    def predict_panel(
        self, horizon: int, num_samples: int, rngs: Sequence[np.random.Generator]
    ) -> tuple[np.ndarray, np.ndarray]:
        mean = np.repeat(self.rate_[:, None], horizon, axis=1)
        return mean, intermittent_paths_panel(
            mean, self.prob_, self.sizes_, self.counts_, num_samples, rngs, self.rate_cv2_
        )
