"""Lead-time demand for a plan: lead times sampled per path, and quantiles of cumulative demand along the horizon
(the window sums themselves are table vocabulary: forecasting.vocabulary.windows)."""

from __future__ import annotations

import numpy as np


def sample_lead_times(mean_days: float, std_days: float, n: int, rng: np.random.Generator) -> np.ndarray:
    """Lead times in whole days: gamma-distributed (positive, right-skewed like real delays) when they vary. A lead
    time of 0 (stock that arrives the day it is ordered) is 0 whatever the spread: a gamma has no mean of 0."""
    if std_days <= 0 or mean_days <= 0:
        return np.full(n, int(round(mean_days)))
    shape = (mean_days / std_days) ** 2
    return np.maximum(1, np.rint(rng.gamma(shape, mean_days / shape, n))).astype(int)


def cumulative_quantiles(paths: np.ndarray, levels) -> np.ndarray:
    """Quantiles of cumulative demand up to each step: shape (len(levels), horizon)."""
    return np.quantile(np.cumsum(paths, axis=1), levels, axis=0)
