"""The settings every backtest runner reads, built once per run from the config (pipeline) or by hand."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class BacktestSettings:
    """How each fold is forecast and scored: `horizon` periods after each cutoff, `quantiles` of `num_samples`
    sample paths drawn with `seed`, SKUs with fewer than `min_train_days` periods before a cutoff sitting that
    fold out, `n_jobs` per-SKU workers; with `cover_days`, the cumulative demand over that many days after each
    cutoff is recorded too (what planning calibrates on)."""

    horizon: int
    quantiles: Sequence[float]
    num_samples: int = 200
    seed: int = 0
    min_train_days: int = 28
    n_jobs: int = 1
    cover_days: int | None = None
