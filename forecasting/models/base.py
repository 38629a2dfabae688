"""The interfaces of forecasters: per-SKU (`LocalForecaster`; the panel-wide `PanelForecaster` in models/panel.py
extends it) and global (`GlobalForecaster`).

Following scikit-learn's rules, `__init__` only stores parameters (checks happen in `fit`, or for a global model in
`configure`), `fit` returns self and fitted state ends in `_`. A per-SKU model sees one SKU's history on the
trading-day axis (closed days absent), so its weekly season is `season_length` trading days. `predict` returns a
point forecast and sample paths; quantiles, and quantiles of sums over lead times, are taken from the paths
downstream.
"""

from __future__ import annotations

import copy
import os
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from forecasting.errors import InputError


@dataclass
class Forecast:
    mean: np.ndarray  # (horizon,)
    paths: np.ndarray  # (num_samples, horizon)

    def __post_init__(self) -> None:
        # Demand is never negative: clip the model's Gaussian tails at zero.
        self.mean = np.clip(np.asarray(self.mean, dtype=float), 0.0, None)
        self.paths = np.clip(np.asarray(self.paths, dtype=float), 0.0, None)
        if not (np.isfinite(self.mean).all() and np.isfinite(self.paths).all()):
            raise FloatingPointError("the model produced non-finite forecasts")


def sample_quantiles(samples: np.ndarray, quantiles, axis: int = 0) -> np.ndarray:
    """`np.quantile(samples, quantiles, axis=axis)` (linear interpolation) by one sort along `axis`: np.quantile
    partitions once per level, and for 200 paths x 30 days that took 6x as long, in every SKU's every fold."""
    ordered = np.sort(np.moveaxis(np.asarray(samples, dtype=float), axis, -1), axis=-1)
    pos = np.asarray(quantiles, dtype=float) * (ordered.shape[-1] - 1)
    lo = np.floor(pos).astype(np.int64)
    hi = np.minimum(lo + 1, ordered.shape[-1] - 1)
    weight = pos - lo
    out = ordered[..., lo] * (1.0 - weight) + ordered[..., hi] * weight  # (..., levels)
    return np.moveaxis(out, -1, 0)


# A forecast above this multiple of the most the SKU ever sold in a period is a diverged fit, not a forecast.
DIVERGENCE_MULTIPLE = 100.0


def check_plausible(forecast: Forecast, history: np.ndarray) -> None:
    """Raise when `forecast` is far beyond anything in `history`.

    Finite but absurd forecasts get through the non-finite check (statsforecast's seasonal ARIMA with a 52-week
    season reached 1e10 units on weekly data); treating them as a failed fit lets the fallback stand in, and
    failures.csv says why.
    """
    peak = max(float(np.nanmax(history)) if len(history) else 0.0, 1.0)
    limit = DIVERGENCE_MULTIPLE * peak
    # More than 1% of the path values past the limit (their 99% quantile above it), counted rather than
    # sorted: this runs after every fit of every SKU and fold.
    paths_over = np.count_nonzero(forecast.paths > limit) > 0.01 * forecast.paths.size
    if paths_over or forecast.mean.max(initial=0.0) > limit:
        high = float(np.quantile(forecast.paths, 0.99)) if forecast.paths.size else 0.0
        worst = max(float(forecast.mean.max(initial=0.0)), high)
        raise FloatingPointError(
            f"the forecast diverged: {worst:.3g} units in a period against a history peak of {peak:.3g}"
        )


class LocalForecaster(ABC):
    """A model fitted to one SKU's series."""

    #: minimum number of observations `fit` needs; shorter series fall back to the baseline.
    min_history: int = 1
    #: panel columns (promo, price) the model reads as regressors where the panel has them; a model that names
    #: some is fitted as `fit(y, covariates=<the SKU's rows of them by date>, dates=<the horizon's days>)`.
    covariates: tuple[str, ...] = ()
    #: a model whose fit reads the horizon's dates without covariates (a yearly profile) is fitted as
    #: `fit(y, dates=<the horizon's days>)`.
    reads_dates: bool = False
    #: fit on at most this many of the latest periods (None: all of them); set by `with_history`.
    max_history: int | None = None

    def __init__(self, season_length: int | None = None) -> None:
        self.season_length = season_length

    def with_season(self, season_length: int) -> LocalForecaster:
        """A copy whose season is the calendar's, unless the config fixed one."""
        model = copy.copy(self)
        if model.season_length is None:
            model.season_length = int(season_length)
        return model

    def with_min_history(self, periods: int) -> LocalForecaster:
        """A copy that fits from `periods` of history where it asked for more. A model's own `min_history` counts
        the days of a daily table (28: four weeks); the run passes the backtest's `min_train_days` for the panel's
        frequency (28 trading days, 26 weeks, 12 months), or every SKU of a 2-year monthly table would have been
        left to the fallback until it had 28 months."""
        model = copy.copy(self)
        model.min_history = max(1, min(int(self.min_history), int(periods)))
        return model

    def with_history(self, periods: int | None) -> LocalForecaster:
        """A copy that fits on the trailing `periods` of any history (None: all), never fewer than `min_history`.

        Fits cost at least linear time in the history (SARIMAX, AutoARIMA's search: more), while these models'
        forecasts depend on recent seasons: ARIMA's and ETS's states and level, Croston's smoothed sizes. A
        trailing window keeps a 5-year daily table about as cheap as a 2-year one, and a level or mean estimated
        on it tracks a trend that a 5-year mean lags."""
        model = copy.copy(self)
        model.max_history = None if periods is None else max(int(periods), int(self.min_history))
        return model

    def recent(self, y: pd.Series) -> pd.Series:
        """The part of `y` that `fit` should see: its last `max_history` periods."""
        return y if self.max_history is None or len(y) <= self.max_history else y.iloc[-self.max_history :]

    @abstractmethod
    def fit(self, y: pd.Series) -> LocalForecaster:
        """Fit on `y` (demand indexed by trading date, oldest first)."""

    @abstractmethod
    def predict(self, horizon: int, num_samples: int, rng: np.random.Generator) -> Forecast:
        """Point forecast and `num_samples` sample paths for the next `horizon` trading days."""

    def get_params(self) -> dict:
        return {k: v for k, v in vars(self).items() if not k.endswith("_")}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"


#: when a global model trains: afresh at every cutoff, or once at the first cutoff and only predicts at later ones
RETRAIN_POLICIES = ("every_cutoff", "first_cutoff")


@dataclass
class TrainingContext:
    """What the pipeline supplies a global model at run time: where to write, how to train, which calendar."""

    work_dir: str
    trainer: Mapping[str, Any]
    quantiles: Sequence[float]
    seed: int = 0
    calendar: Any = None  # forecasting.data.calendar.TradingCalendar
    # Cores a global model may use: every one in a run, where it trains while the per-SKU workers are idle (the
    # backtest runs them one after the other; the plan runs global models beforehand, in its own process).
    threads: int | None = None
    # Boosters keep their latest forecast's booster and rows under work_dir to explain it later (SHAP): runs do,
    # a library user's model writes nothing unasked (forecasting.models.explainable).
    explainable: bool = False


#: what a global model reads its static features from: the SKUs' segment table, or a function of the cutoff giving
#: the table as the SKUs stood then (`PreparedData.segments_as_of`)
Segments = pd.DataFrame | Callable[[pd.Timestamp], pd.DataFrame] | None


def segments_at(segments: Segments, cutoff: pd.Timestamp) -> pd.DataFrame | None:
    """The segment table a global model trained or forecasting at `cutoff` reads. Given as a function of the date,
    it holds only what was known then: a static feature (ABC class, demand class) of segments computed on the whole
    history would carry demand after a validation cutoff into the model chosen there."""
    return segments(pd.Timestamp(cutoff)) if callable(segments) else segments


class GlobalForecaster(ABC):
    """A model trained across all SKUs at a cutoff, which forecasts every SKU from a cutoff at once.

    `configure` checks the parameters and hands over the run's `TrainingContext`; it comes before `fit`. The
    retrain policy (`retrain`, one of RETRAIN_POLICIES) says whether a backtest trains afresh at every cutoff or
    predicts later cutoffs from the first one's model; `threads` is the model's thread budget.
    """

    #: the model's name in tables and messages; the pipeline sets the config key
    name: str = "global"
    #: one of RETRAIN_POLICIES
    retrain: str = "every_cutoff"
    #: threads the model's own config asks for (None: the cores the per-SKU workers leave)
    num_threads: int | None = None
    context: TrainingContext | None = None

    def configure(self, context: TrainingContext) -> GlobalForecaster:
        """Check the parameters and keep the run's training context."""
        self.check_params()
        self.context = context
        return self

    def check_params(self) -> None:
        """One sentence (InputError) naming the setting that is not allowed; a model adds its own checks."""
        if self.retrain not in RETRAIN_POLICIES:
            raise InputError(
                f"model.{self.name}.retrain={self.retrain} is unknown; use one of {', '.join(RETRAIN_POLICIES)}."
            )

    def own_threads(self) -> int | None:
        """The thread count the model's own settings give (None: none)."""
        return self.num_threads

    @property
    def threads(self) -> int:
        """Threads to train and predict with: the model's own setting, else the run's (every core: the per-SKU
        workers are idle while a global model trains), else every core."""
        return max(1, int(self.own_threads() or self.context.threads or os.cpu_count() or 1))

    @abstractmethod
    def fit(self, panel: pd.DataFrame, segments: pd.DataFrame | None, cutoff: pd.Timestamp) -> GlobalForecaster:
        """Train on every SKU's history up to `cutoff` (the panel's rows after it are never read)."""

    @abstractmethod
    def predict(
        self, panel: pd.DataFrame, segments: pd.DataFrame | None, cutoff: pd.Timestamp, horizon: int, num_samples: int
    ) -> dict[str, Forecast]:
        """Per SKU, the forecast of the `horizon` periods after `cutoff`, which may be later than the training
        cutoff (the model reads the newer history without retraining)."""


def simulated_forecast(result, horizon: int, num_samples: int, rng: np.random.Generator) -> Forecast:
    """Point forecast and simulated paths of a fitted statsmodels state-space result (SARIMAX, ETS)."""
    mean = result.forecast(horizon)
    sims = result.simulate(horizon, repetitions=num_samples, anchor="end", rng=rng)
    return Forecast(mean=mean, paths=np.asarray(sims).reshape(horizon, num_samples).T)
