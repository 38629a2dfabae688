"""Rolling-origin cutoffs on the trading-day axis (expanding window).

The last `folds` cutoffs are the test folds; `validation_folds` more, placed before them, are where everything
chosen or fitted from data learns (champions, calibration, ensemble weights, tuning): their horizons end by the
first test cutoff and by `validation_end` (a plan's replay start), so no choice sees a day it is scored on.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from forecasting.errors import InputError


def make_cutoffs(
    trading_days: pd.DatetimeIndex,
    horizon: int,
    folds: int,
    step: int,
    validation_folds: int | None = 0,
    min_train_days: int = 28,
    skip_test: bool = False,
    validation_end: pd.Timestamp | None = None,
    max_validation_folds: int = 3,
    unit: str = "trading day",
    min_validation_train: int = 0,
) -> pd.DataFrame:
    """One row per fold: `fold` (0 = oldest), `cutoff` (last training day), `role` (validation or test).

    The last test fold's horizon ends on the last trading day; each earlier test fold starts `step` days
    before. Validation folds end their horizons by the first test cutoff (and by `validation_end` when given),
    so tuning on them never sees a day of the test period. `validation_folds=None` sizes them to the data: as
    many as fit after `min_train_days` and `min_validation_train` (the history the panel requires of a SKU), up to
    `max_validation_folds` (none when none fit: the caller says that its choices then claim no proof). A window
    fitted on less history than any SKU planned has is not one a decision can learn from: on 200 days of history,
    validation cutoffs after 49 and 79 days taught the replay's calibration the errors of forecasts far shorter of
    history than its own, and its plan held 25% more stock than the empirical-quantile policy at equal fill.
    `skip_test` leaves the test folds out (tuning trials need only validation).
    `unit`: what one of `trading_days` is (trading day, week, month), for the message when they are too few.
    """
    auto = validation_folds is None
    if auto:
        validation_folds = 0
    if horizon < 1 or folds < 1 or step < 1 or validation_folds < 0:
        raise InputError("backtest.horizon, folds and step must be at least 1 (validation_folds at least 0).")
    days = pd.DatetimeIndex(trading_days).unique().sort_values()
    last = len(days) - 1 - horizon
    test = [last - step * (folds - 1 - i) for i in range(folds)]
    # The last validation cutoff: its horizon ends by the first test cutoff and by validation_end.
    val_last = test[0] - horizon
    if validation_end is not None:
        val_last = min(val_last, int(days.searchsorted(pd.Timestamp(validation_end), side="right")) - 1 - horizon)
    if auto:
        first = max(min_train_days, min_validation_train) - 1  # the earliest position a validation cutoff may take
        fit = (val_last - first) // step + 1 if val_last >= first else 0
        validation_folds = int(np.clip(fit, 0, max(int(max_validation_folds), 0)))
    if skip_test and validation_folds == 0:
        raise InputError("backtest.skip_test needs validation folds; set backtest.validation_folds.")
    val = [val_last - step * (validation_folds - 1 - j) for j in range(validation_folds)]
    positions = val + test
    if positions[0] < min_train_days - 1:
        advice = fitting_folds(len(days), horizon, min_train_days, not auto and validation_folds > 0)
        raise InputError(
            f"the data has {len(days)} {unit}s, too few for {folds} test and {validation_folds} validation "
            f"folds of horizon {horizon} and step {step} after {min_train_days} {unit}s of training; "
            f"{advice}"
        )
    table = pd.DataFrame(
        {
            "fold": range(len(positions)),
            "cutoff": days[positions],
            "role": ["validation"] * validation_folds + ["test"] * folds,
        }
    )
    return table[table["role"] == "validation"].reset_index(drop=True) if skip_test else table


def fitting_folds(n_days: int, horizon: int, min_train_days: int, explicit_validation: bool) -> str:
    """Advice for `n_days` periods too few for the folds asked: one test fold, and the longest horizon that fits
    after the training periods (both shortened where even a horizon of 1 does not)."""
    settings = ["backtest.folds=1"] + (["backtest.validation_folds=0"] if explicit_validation else [])
    if n_days - min_train_days >= 1:
        settings.append(f"backtest.horizon={min(horizon, n_days - min_train_days)}")
    elif n_days >= 2:
        h = max(1, min(horizon, n_days // 4))
        settings += [f"backtest.horizon={h}", f"backtest.min_train_days={n_days - h}"]
    else:
        return "give it a longer history (at least two periods per SKU)."
    return f"set {' '.join(settings)} (shorter than the plan would need to claim a proof), or give it more history."


def eligible(series: pd.Series, cutoff: pd.Timestamp, horizon: int, min_train_days: int) -> bool:
    """The rule every backtest uses for a SKU at a cutoff: enough history before, a full horizon after."""
    return train_length(series, cutoff, horizon, min_train_days) is not None


def train_length(series: pd.Series, cutoff: pd.Timestamp, horizon: int, min_train_days: int) -> int | None:
    """How many of `series`' days (sorted by date) fall on or before `cutoff`, or None when the SKU is not
    eligible at that cutoff (`eligible`). A position, not a boolean mask: per SKU and fold, two comparisons over
    the whole series cost more than fitting a cheap model."""
    n_train = int(np.searchsorted(series.index.to_numpy(), np.datetime64(cutoff, "ns"), side="right"))
    return n_train if n_train >= min_train_days and len(series) - n_train >= horizon else None
