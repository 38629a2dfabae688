"""Sample paths from a point forecast and the model's own uncertainty, for models that give no paths.

Plans take quantiles of sums over lead times, so a path must carry how one day's error carries into the next,
not only each day's spread: both makers below produce whole joint paths, never per-day quantiles.
"""

from __future__ import annotations

import numpy as np


def gaussian_paths(mean: np.ndarray, weights: np.ndarray, num_samples: int, rng: np.random.Generator) -> np.ndarray:
    """Paths of a linear Gaussian innovations model: day h is `mean[h] + sum_j weights[j] * eps[h - j]`.

    `weights[j]` is how much one innovation moves the forecast j days later, in demand units (psi_j x sigma),
    so the day-h variance is `sum(weights[:h + 1] ** 2)`, and sums over several days keep the model's error
    correlation: a level shock persists in every later day of the same path.
    """
    horizon = len(mean)
    lag = np.subtract.outer(np.arange(horizon), np.arange(horizon))
    impulse = np.where(lag >= 0, np.asarray(weights, dtype=float)[np.clip(lag, 0, None)], 0.0)
    eps = rng.standard_normal((num_samples, horizon))
    return np.asarray(mean, dtype=float) + eps @ impulse.T


def intermittent_paths(
    mean: np.ndarray, prob: float, sizes: np.ndarray, num_samples: int, rng: np.random.Generator
) -> np.ndarray:
    """Compound-Bernoulli paths: each day sells with probability `prob`, a size drawn from the SKU's recent
    non-zero `sizes`, rescaled so that each day's expectation is the point forecast `mean`.

    Demand of intermittent SKUs is mostly zeros and lumpy sizes; a Gaussian (or a symmetric conformal band)
    around a small mean would put mass on negative demand and miss the lumps that drive stock-outs, while this
    bootstrap keeps the zero mass and the size distribution the SKU has actually shown.
    """
    mean = np.asarray(mean, dtype=float)
    horizon = len(mean)
    if prob <= 0 or len(sizes) == 0 or not (mean > 0).any():
        return np.zeros((num_samples, horizon))
    scale = mean / (prob * np.mean(sizes))
    occurs = rng.random((num_samples, horizon)) < prob
    draws = rng.choice(sizes, size=(num_samples, horizon)) * scale
    return occurs * draws
