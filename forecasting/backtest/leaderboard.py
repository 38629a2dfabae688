"""Rank models on the test folds and measure forecast value added (FVA) against the baseline."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from forecasting.backtest.metrics import score

FVA_METRICS = ("mae", "rmsse", "pinball")


def leaderboard(
    bt: pd.DataFrame,
    quantiles: Sequence[float],
    rank_by: str = "rmsse",
    baseline: str = "seasonal_naive",
) -> pd.DataFrame:
    """One row per model: metrics over all test folds, FVA (1 - metric / baseline's), rank by `rank_by`.

    FVA of +0.2 means the model's error is 20% below seasonal naive's on the same SKUs and folds.
    """
    board = score(bt, ["model"], quantiles)
    fallbacks = bt.groupby("model")["fallback"].mean().rename("fallback_share")
    board = board.merge(fallbacks, left_on="model", right_index=True, how="left")
    base = board.set_index("model")
    for m in FVA_METRICS:
        ref = base[m].get(baseline)
        board[f"fva_{m}"] = 1.0 - board[m] / ref if ref else float("nan")
    board = board.sort_values(rank_by, kind="stable").reset_index(drop=True)
    board.insert(0, "rank", range(1, len(board) + 1))
    return board
