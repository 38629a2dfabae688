"""Rolling-origin cutoffs on the trading-day axis (expanding window).

The last `folds` cutoffs are the test folds; `validation_folds` more, placed before them, let tuning score
on data that ends before the test period starts.
"""

from __future__ import annotations

import pandas as pd

from forecasting.errors import InputError


def make_cutoffs(
    trading_days: pd.DatetimeIndex,
    horizon: int,
    folds: int,
    step: int,
    validation_folds: int = 0,
    min_train_days: int = 28,
) -> pd.DataFrame:
    """One row per fold: `fold` (0 = oldest), `cutoff` (last training day), `role` (validation or test).

    The last test fold's horizon ends on the last trading day; each earlier fold starts `step` days before.
    """
    if horizon < 1 or folds < 1 or step < 1 or validation_folds < 0:
        raise InputError("backtest.horizon, folds and step must be at least 1 (validation_folds at least 0).")
    days = pd.DatetimeIndex(trading_days).unique().sort_values()
    total = folds + validation_folds
    last = len(days) - 1 - horizon
    first = last - step * (total - 1)
    if first < min_train_days - 1:
        raise InputError(
            f"the data has {len(days)} trading days, too few for {total} folds of horizon {horizon} and step "
            f"{step} after {min_train_days} training days; lower backtest.folds, horizon or step."
        )
    positions = [first + step * i for i in range(total)]
    return pd.DataFrame(
        {
            "fold": range(total),
            "cutoff": days[positions],
            "role": ["validation"] * validation_folds + ["test"] * folds,
        }
    )


def eligible(series: pd.Series, cutoff: pd.Timestamp, horizon: int, min_train_days: int) -> bool:
    """The rule every backtest uses for a SKU at a cutoff: enough history before, a full horizon after."""
    n_train = int((series.index <= cutoff).sum())
    return n_train >= min_train_days and len(series) - n_train >= horizon
