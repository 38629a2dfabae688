"""Empirical block bootstrap: the next weeks look like a stretch of consecutive weeks of the SKU's own recent past.

Why a model with no parameters to fit: a plan orders from the distribution of demand SUMMED over lead time +
review, and on lumpy retail demand that distribution is what parametric paths get worst (independent daily
draws thin the tail that one large order makes; Gaussian paths put mass below zero that the clip turns into
spurious zeros). A path here is a run of consecutive past periods, starting at a random block boundary of the
SKU's recent history and wrapping around it, so its sums over any window are sums the SKU really sold over such
a window: the spread, the lumps and the week's profile come from the data itself. This is the model behind the
"empirical quantile" practice of planners, offered as a candidate so that it is chosen, on validation windows,
wherever it orders better than the fitted models (and the calibration corrects its level and spread as any
other's).

Blocks are the calendar's week on trading days (a path keeps each weekday's level) and single periods on weekly
or monthly data (the season there is a year, longer than any recent history worth resampling).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from forecasting.models.panel import PanelForecaster

# A block longer than this many periods is a yearly season: resample single periods instead.
MAX_BLOCK = 7


class BlockBootstrap(PanelForecaster):
    """Sample paths that replay consecutive periods of the last `recent_blocks` blocks of each SKU's history.

    `block`: periods per block (None: the season when it is a week or shorter, else 1). The point forecast is
    the recent mean per position in the block (each weekday's own mean on trading days).
    """

    def __init__(self, season_length: int | None = None, recent_blocks: int = 13, block: int | None = None) -> None:
        super().__init__(season_length)
        self.recent_blocks = recent_blocks
        self.block = block

    def _block(self) -> int:
        if self.block:
            return int(self.block)
        season = int(self.season_length or 1)
        return season if season <= MAX_BLOCK else 1

    def fit_panel(self, history: np.ndarray, lengths: np.ndarray) -> BlockBootstrap:
        if int(self.recent_blocks) < 1:
            raise ValueError(f"recent_blocks must be at least 1, not {self.recent_blocks}")
        block = self._block()
        lengths = np.asarray(lengths, dtype=np.int64)
        width = max(int(self.recent_blocks) * block, 1)
        usable = np.minimum(lengths, width)
        # Whole blocks where the SKU has at least one, so every path starts on the block's first position.
        whole = (usable // block) * block
        self.block_ = np.where(whole > 0, block, 1)
        self.usable_ = np.maximum(np.where(whole > 0, whole, usable), 1)
        tail = history[:, -width:] if history.shape[1] >= width else history
        pad = width - tail.shape[1]
        self.tail_ = np.nan_to_num(np.pad(tail, ((0, 0), (pad, 0)), constant_values=np.nan), nan=0.0)
        return self

    def predict_panel(
        self, horizon: int, num_samples: int, rngs: Sequence[np.random.Generator]
    ) -> tuple[np.ndarray, np.ndarray]:
        n, width = self.tail_.shape
        steps = np.arange(horizon)
        mean = np.empty((n, horizon))
        paths = np.empty((n, num_samples, horizon))
        for k, rng in enumerate(rngs):
            used, block = int(self.usable_[k]), int(self.block_[k])
            recent = self.tail_[k, width - used :]
            blocks = used // block
            starts = block * rng.integers(0, blocks, size=num_samples)
            paths[k] = recent[(starts[:, None] + steps[None, :]) % used]
            # Mean per position in the block (the history ends on a block's last position).
            by_position = recent[: blocks * block].reshape(blocks, block).mean(axis=0)
            mean[k] = by_position[steps % block]
        return mean, paths
