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
    return gaussian_paths_panel(np.asarray(mean, dtype=float)[None], np.asarray(weights)[None], num_samples, [rng])[0]


def gaussian_paths_panel(mean: np.ndarray, weights: np.ndarray, num_samples: int, rngs) -> np.ndarray:
    """`gaussian_paths` for many SKUs at once: `mean` and `weights` are (SKUs x horizon); row k draws from
    `rngs[k]`. Returns (SKUs x num_samples x horizon)."""
    n, horizon = mean.shape
    lag = np.subtract.outer(np.arange(horizon), np.arange(horizon))
    impulse = np.where(lag >= 0, np.asarray(weights, dtype=float)[:, np.clip(lag, 0, None)], 0.0)
    eps = np.stack([rng.standard_normal((num_samples, horizon)) for rng in rngs]) if n else np.zeros((0, 1, 1))
    return mean[:, None, :] + eps @ impulse.transpose(0, 2, 1)


def intermittent_paths(
    mean: np.ndarray, prob: float, sizes: np.ndarray, num_samples: int, rng: np.random.Generator
) -> np.ndarray:
    """Compound-Bernoulli paths: each day sells with probability `prob`, a size drawn from the SKU's recent
    non-zero `sizes`, rescaled so that each day's expectation is the point forecast `mean`.

    Demand of intermittent SKUs is mostly zeros and lumpy sizes; a Gaussian (or a symmetric conformal band)
    around a small mean would put mass on negative demand and miss the lumps that drive stock-outs, while this
    bootstrap keeps the zero mass and the size distribution the SKU has actually shown.
    """
    sizes = np.asarray(sizes, dtype=float)
    mean = np.asarray(mean, dtype=float)[None]
    return intermittent_paths_panel(mean, np.array([prob]), sizes[None], np.array([len(sizes)]), num_samples, [rng])[0]


def intermittent_paths_panel(
    mean: np.ndarray, prob: np.ndarray, sizes: np.ndarray, counts: np.ndarray, num_samples: int, rngs
) -> np.ndarray:
    """`intermittent_paths` for many SKUs at once: `mean` (SKUs x horizon), `prob` (SKUs), row k's sizes the
    last `counts[k]` entries of `sizes[k]`; row k draws from `rngs[k]`. Returns (SKUs x num_samples x horizon)."""
    n, horizon = mean.shape
    paths = np.zeros((n, num_samples, horizon))
    live = np.flatnonzero((prob > 0) & (counts > 0) & (mean > 0).any(axis=1))
    if not len(live):
        return paths
    width = sizes.shape[1]
    rngs = [rngs[k] for k in live]
    mean_size = np.array([np.mean(sizes[k, width - counts[k] :]) for k in live])
    scale = mean[live] / (prob[live] * mean_size)[:, None]
    occurs = np.stack([rng.random((num_samples, horizon)) for rng in rngs]) < prob[live, None, None]
    draws = draw_from_tail(sizes[live], counts[live], (num_samples, horizon), rngs) * scale[:, None, :]
    paths[live] = occurs * draws
    return paths


def draw_from_tail(pool: np.ndarray, counts: np.ndarray, shape: tuple[int, int], rngs) -> np.ndarray:
    """For each row k, draws of `shape` with replacement from the last `counts[k]` entries of `pool[k]`, exactly
    as `rngs[k].choice(those entries, shape)` draws them (rows x shape)."""
    n, width = pool.shape
    counts = np.maximum(np.asarray(counts, dtype=np.int64), 1)
    idx = np.empty((n, shape[0] * shape[1]), dtype=np.int64)
    for k, rng in enumerate(rngs):
        idx[k] = rng.integers(0, counts[k], size=shape).ravel()
    return np.take_along_axis(pool, width - counts[:, None] + idx, axis=1).reshape(n, *shape)
