"""Where an actual window sum falls among a forecast's sample sums: the `score` of a cover record, which the
backtest writes and planning recalibrates service levels from (one definition for both)."""

from __future__ import annotations

import zlib

import numpy as np


def calibration_score(sums: np.ndarray, actual: float, key: str) -> float:
    """The actual's randomised PIT among the sample `sums`, or 1 + (actual - max) / (max - median) above them all.

    Ties (intermittent demand: many sums, and often the actual, are exactly 0) get a uniform draw across the
    tied share, so scores of a calibrated forecast are uniform; the draw is seeded by `key`, so reruns agree.
    """
    sums = np.asarray(sums, dtype=float)
    top = sums.max()
    if actual > top:
        spread = top - np.median(sums)
        return 1.0 + (actual - top) / (spread if spread > 0 else max(top, 1.0))
    below, tied = (sums < actual).mean(), (sums == actual).mean()
    u = np.random.default_rng(zlib.crc32(key.encode())).random()
    return float(below + u * tied)
