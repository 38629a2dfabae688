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
        smooth = self._smooth_one if n == 1 else self._smooth_panel
        size, prob, interval, started = smooth(history, day_one)
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

    def _smooth_panel(self, history: np.ndarray, day_one: np.ndarray) -> tuple[np.ndarray, ...]:
        """Size, probability (TSB), interval and whether a SKU has sold, every SKU stepped day by day at once."""
        n, width = history.shape
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
        return size, prob, interval, started

    def _smooth_one(self, history: np.ndarray, day_one: np.ndarray) -> tuple[np.ndarray, ...]:
        """`_smooth_panel` for one SKU in plain floats, the same arithmetic in the same order (so the same
        numbers): array steps over every day cost 30x the fit when the plan and replay fit one SKU at a time;
        Croston and SBA change only on sale days, so only those are visited."""
        row, first_day = history[0], int(day_one[0])
        size = prob = interval = 0.0
        started, last = False, 0
        days = range(first_day, len(row)) if self.variant == "tsb" else np.flatnonzero(row > 0).tolist()
        for t in days:
            v = float(row[t])
            sold = v > 0
            if started:
                if self.variant == "tsb":
                    prob = prob + self.beta * (float(sold) - prob)
                    if sold:
                        size = size + self.alpha * (v - size)
                elif sold:
                    size = size + self.alpha * (v - size)
                    interval = interval + self.beta * (float(t - last) - interval)
            elif sold:
                days_in = max(t - first_day + 1, 1)
                size, prob, interval, started = v, 1.0 / days_in, float(days_in), True
            if sold:
                last = t
        return np.array([size]), np.array([prob]), np.array([interval]), np.array([started])

    def predict_panel(
        self, horizon: int, num_samples: int, rngs: Sequence[np.random.Generator]
    ) -> tuple[np.ndarray, np.ndarray]:
        mean = np.repeat(self.rate_[:, None], horizon, axis=1)
        return mean, intermittent_paths_panel(
            mean, self.prob_, self.sizes_, self.counts_, num_samples, rngs, self.rate_cv2_
        )
