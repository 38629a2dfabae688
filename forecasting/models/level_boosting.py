"""A global LightGBM that forecasts each SKU's level over the horizon, trained on the leaderboard's own loss.

Why a level: on lumpy and intermittent series most of a series' squared error is day-to-day noise no forecast
removes; what a forecast gets right or wrong is the level. `lightgbm` learns each day's mean from noisy daily
targets and forecasts recursively. This model learns the horizon's mean directly: one training row per SKU and
past period t whose horizon has ended (every `stride` periods), its features at t, its target the mean of the
`horizon` periods after t. Features are moving averages and sale frequencies over windows counted in horizons
(so daily, weekly and monthly panels get windows of the same meaning), days since the last sale, the SKU's age,
its volatility and segment, each on the SKU's mean scale.

Why this loss: each row's loss is the RMSSE a flat level p gets on that horizon, sqrt(a (p - q)^2 + b) with q
the horizon's mean, a = mean^2 / scale and b = the horizon's variance / scale (on the SKU's mean scale, scale the
RMSSE denominator), a custom LightGBM objective. RMSSE alone rewards the median of a right-skewed future level
and forecast a third below the volume to come on the bundled panel (benchmarks/README.md, level_bound.py), so a
second term, `bias_penalty` x rows x (volume bias over all rows)^2, keeps the total near the actual; its
gradient falls mostly on the big SKUs, where the volume is. Boosting starts from the moving average over
`start_window` horizons.

Daily shape: the level times the panel's day-of-week profile (on SKU-mean-scaled demand) once the history holds
`profile_min_seasons` weeks; weekly and monthly panels stay flat (a yearly profile needs years of history).

Past the trained `horizon` (the plan asks for 30-60 days) the level is held flat.

Paths: as `lightgbm`'s (`PathRecipe`): Poisson counts with a per-path level factor and over-dispersed days, both
variances fitted on a held-out window of `val_days` before the cutoff.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from forecasting.errors import InputError
from forecasting.models import explainable
from forecasting.models.count_paths import CountPaths, held_out_dispersion
from forecasting.models.covariates import static_codes

log = logging.getLogger(__name__)

# The key of a period within its season, per panel frequency: only daily panels get a profile (see the module).
PROFILE_KEY = {"daily": lambda dates: dates.dayofweek}


# Fewer training rows than this and the booster is not fitted: its start, the moving average, is the level.
MIN_ROWS = 50


class NoCorrection:
    """Stands in for the booster when there is too little to learn from: it adds nothing to the start."""

    n_estimators = 0

    def predict(self, features: pd.DataFrame) -> np.ndarray:
        return np.zeros(len(features))


class History:
    """Demand as a dense SKU x period matrix up to a cutoff, with cumulative sums: every window statistic at
    any period is one subtraction."""

    def __init__(self, panel: pd.DataFrame, cutoff: pd.Timestamp) -> None:
        hist = panel[panel["date"] <= cutoff]
        self.days = pd.DatetimeIndex(np.sort(hist["date"].unique()))
        self.skus = np.sort(hist["sku"].astype(str).unique())
        pos = pd.Series(np.arange(len(self.days)), index=self.days)
        rows = pd.Series(np.arange(len(self.skus)), index=self.skus)[hist["sku"].astype(str)].to_numpy()
        y = np.full((len(self.skus), len(self.days)), np.nan)
        y[rows, pos[hist["date"]].to_numpy()] = hist["demand"].to_numpy(dtype=float)
        present = ~np.isnan(y)
        self.z = np.nan_to_num(y)
        self.first = np.where(present.any(1), present.argmax(1), len(self.days))

        def cum(a: np.ndarray) -> np.ndarray:
            return np.concatenate([np.zeros((len(self.skus), 1)), np.cumsum(a, axis=1)], axis=1)

        self.c, self.n, self.nz = cum(self.z), cum(present), cum(self.z > 0)
        # Squared one-step changes from each SKU's first row: the RMSSE scale at any period.
        self.d2 = cum(np.nan_to_num(np.diff(y, axis=1, prepend=np.nan)) ** 2)
        sold = np.where(self.z > 0, np.arange(len(self.days))[None, :], -1)
        self.last_sale = np.maximum.accumulate(sold, axis=1)

    def window(self, cum: np.ndarray, t: int, w: int) -> np.ndarray:
        """Mean of `cum`'s quantity over the SKU's periods among the last `w` up to t (NaN where it has none)."""
        a = max(t + 1 - w, 0)
        n = self.n[:, t + 1] - self.n[:, a]
        return np.where(n > 0, (cum[:, t + 1] - cum[:, a]) / np.maximum(n, 1), np.nan)

    def scale(self, t: int) -> np.ndarray:
        """RMSSE scale per SKU at t (mean squared one-step change); 0 where the history never changed."""
        return self.d2[:, t + 1] / np.maximum(self.n[:, t + 1] - 1, 1)


class LevelBooster(CountPaths):
    """One LightGBM across all SKUs that forecasts the horizon's level; `params` go to lightgbm.LGBMRegressor."""

    def __init__(
        self,
        params: Mapping[str, Any] | None = None,
        windows: Sequence[float] = (0.2, 0.4, 0.8, 1.6, 3.2, 5.2),
        start_window: float = 1.6,
        bias_penalty: float = 1.0,
        stride: int = 2,
        max_rows: int = 2_000_000,
        horizon: int = 30,
        min_history: int | None = None,
        val_days: int = 30,
        profile_min_seasons: int = 4,
        use_static: bool = True,
        num_threads: int | None = None,
        retrain: str = "every_cutoff",
        name: str = "lightgbm_level",
    ) -> None:
        self.params = params
        self.windows = windows
        self.start_window = start_window
        self.bias_penalty = bias_penalty
        self.stride = stride
        self.max_rows = max_rows
        self.horizon = horizon
        self.min_history = min_history
        self.val_days = val_days
        self.profile_min_seasons = profile_min_seasons
        self.use_static = use_static
        self.num_threads = num_threads
        self.retrain = retrain
        self.name = name

    def check_params(self) -> None:
        super().check_params()
        if self.start_window not in self.windows:
            raise InputError(
                f"model.{self.name}.start_window={self.start_window} must be one of its windows {list(self.windows)}."
            )

    @property
    def _horizon(self) -> int:
        return max(int(self.horizon), 1)

    # ---- features -----------------------------------------------------------------------------------
    def _features(self, h: History, t: int, horizon: int, statics: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
        """Per SKU at period t: features on the SKU's mean scale, and that scale."""
        mean_all = h.window(h.c, t, t + 1)
        m = np.where(mean_all > 0, mean_all, 1.0)
        cols = {
            "log_mean": np.log1p(mean_all),
            "age": (t - h.first).astype(float),
            "since_sale": np.where(h.last_sale[:, t] >= 0, t - h.last_sale[:, t], t + 1).astype(float),
            "volatility": np.sqrt(h.window(h.d2, t, _periods(self.windows[-2], horizon))) / m,
        }
        for w in self.windows:
            n = _periods(w, horizon)
            cols[f"ma_{w:g}h"] = h.window(h.c, t, n) / m
            cols[f"sale_freq_{w:g}h"] = h.window(h.nz, t, n)
        frame = pd.DataFrame(cols)
        for col in statics:
            frame[col] = statics[col].to_numpy()
        return frame.astype("float32"), m

    def _statics(self, skus: np.ndarray, segments: pd.DataFrame | None) -> pd.DataFrame:
        if not self.use_static or segments is None:
            return pd.DataFrame(index=skus)
        return static_codes(segments).reindex(skus).fillna(-1.0)

    def _training_rows(self, h: History, horizon: int, statics: pd.DataFrame):
        """Features, target level and loss terms of every SKU at every `stride`-th period whose horizon ended.

        A history too short for a whole horizon after `min_history` (an early cutoff of a short weekly or monthly
        panel) learns the level of the periods it has instead: a shorter horizon's mean, not no model."""
        min_days = self.min_history or max(horizon, 2)
        horizon = min(horizon, len(h.days) - min_days)
        if horizon < 1:
            return None
        ends = list(range(min_days - 1, len(h.days) - horizon, max(int(self.stride), 1)))
        step = max(1, int(np.ceil(len(ends) * len(h.skus) / self.max_rows)))
        xs, q, terms = [], [], []
        for t in ends[::-1][::step]:  # from the latest, so the cap keeps the recent periods
            f, m = self._features(h, t, horizon, statics)
            scale = h.scale(t)
            keep = ((t - h.first) >= min_days - 1) & (scale > 0)
            future = h.z[:, t + 1 : t + 1 + horizon]
            xs.append(f[keep])
            q.append((future.mean(1) / m)[keep])
            floor = np.maximum(scale, 1e-12)
            terms.append(np.stack([m**2 / floor, future.var(1) / floor, m], 1)[keep])
        return pd.concat(xs, ignore_index=True), np.concatenate(q), np.concatenate(terms)

    def _train(self, h: History, segments: pd.DataFrame | None):
        """The booster on `h` (the history up to a cutoff), or `NoCorrection` when its rows are too few."""
        from lightgbm import LGBMRegressor

        cutoff, horizon = h.days[-1], self._horizon
        rows = self._training_rows(h, horizon, self._statics(h.skus, segments))
        if rows is None or len(rows[1]) == 0:
            unit = getattr(self.context.calendar, "unit", "trading day")
            raise InputError(
                f"{self.name}: {len(h.days)} {unit}s of history before {cutoff.date()} leave no period to learn from "
                f"after the first {self.min_history or horizon}; lower model.{self.name}.min_history."
            )
        x, q, terms = rows
        if len(q) < MIN_ROWS:
            log.warning(
                "%s: %d training rows before %s are too few to boost; the level is the %g-horizon moving average",
                self.name,
                len(q),
                cutoff.date(),
                self.start_window,
            )
            return NoCorrection()
        params = {
            "n_estimators": 300,
            "learning_rate": 0.05,
            "num_leaves": 63,
            "min_child_samples": 100,
            "verbosity": -1,
            **(self.params or {}),
        }
        # A small panel (a few SKUs, an early cutoff) has fewer rows than the leaves' minimum asks for; LightGBM
        # then drops every feature and fails. Leaves of a twentieth of the rows still split it.
        params["min_child_samples"] = max(min(int(params["min_child_samples"]), len(q) // 20), 3)
        booster = LGBMRegressor(
            objective=rmsse_objective(terms[:, 0], terms[:, 1], terms[:, 2], self.bias_penalty),
            random_state=self.context.seed,
            n_jobs=self.threads,
            **params,
        )
        booster.fit(x, q, init_score=self._start(x))
        return booster

    def _start(self, features: pd.DataFrame) -> np.ndarray:
        return np.nan_to_num(features[f"ma_{self.start_window:g}h"].to_numpy(dtype=float))

    def _levels(self, booster, h: History, segments) -> pd.Series:
        """The level per SKU from the history `h`, in units."""
        f, m = self._features(h, len(h.days) - 1, self._horizon, self._statics(h.skus, segments))
        level = np.clip(booster.predict(f) + self._start(f), 0.0, None) * m
        return pd.Series(level, index=h.skus)

    def _profile(self, panel: pd.DataFrame, cutoff: pd.Timestamp, dates: pd.DatetimeIndex) -> np.ndarray:
        """Factors for `dates` from the panel's profile over the season (mean 1 over `dates`), or ones."""
        key = PROFILE_KEY.get(getattr(self.context.calendar, "frequency", "daily"))
        hist = panel[panel["date"] <= cutoff]
        seasons = hist["date"].nunique() / max(int(self.context.calendar.season_length), 1)
        if key is None or seasons < self.profile_min_seasons or not len(dates):
            return np.ones(len(dates))
        scaled = hist["demand"] / hist.groupby("sku", observed=True)["demand"].transform("mean").replace(0, np.nan)
        profile = scaled.groupby(np.asarray(key(pd.DatetimeIndex(hist["date"])))).mean()
        factors = pd.Series(np.asarray(key(dates))).map(profile / profile.mean()).fillna(1.0).to_numpy()
        return factors / factors.mean()

    def _means(self, panel, segments, cutoff: pd.Timestamp, horizon: int, booster=None, history=None) -> pd.DataFrame:
        """Daily means (SKU x `horizon`): the level of the trained horizon, held flat past it, times the profile.
        `history`: `cutoff`'s, where the caller has it already."""
        dates = self.context.calendar.next_trading_days(cutoff, horizon)
        h = history if history is not None else History(panel, cutoff)
        level = self._levels(booster or self.booster_, h, segments)
        return pd.DataFrame(np.outer(level.to_numpy(), self._profile(panel, cutoff, dates)), index=level.index)

    # ---- fit / predict -------------------------------------------------------------------------------
    def fit(self, panel: pd.DataFrame, segments: pd.DataFrame | None, cutoff: pd.Timestamp) -> LevelBooster:
        """Dispersion on a held-out window of `val_days`, then the booster on every period up to `cutoff`."""
        t0 = time.perf_counter()
        cutoff = pd.Timestamp(cutoff)
        full = History(panel, cutoff)
        days = full.days
        if len(days) <= self.val_days:
            raise InputError(
                f"{self.name}: {len(days)} periods of history before {cutoff.date()} leave none before the held-out "
                f"val_days={self.val_days}; lower model.{self.name}.val_days."
            )
        held_cut = days[-self.val_days - 1]
        held_history = History(panel, held_cut)
        held_booster = self._train(held_history, segments)
        held = self._means(panel, segments, held_cut, self.val_days, held_booster, held_history)
        self.dispersion_ = held_out_dispersion(held, panel, segments, held_cut, cutoff)
        self.booster_ = self._train(full, segments)
        self.cutoff_ = cutoff
        self.epochs_ = int(self.booster_.n_estimators)
        log.info("%s: trained at %s in %.1f s", self.name, cutoff.date(), time.perf_counter() - t0)
        return self

    def predict_means(
        self, panel: pd.DataFrame, segments: pd.DataFrame | None, cutoff: pd.Timestamp, horizon: int
    ) -> pd.DataFrame:
        """Mean forecasts (SKU x horizon) from `cutoff`, which may be later than the training cutoff."""
        h = History(panel, pd.Timestamp(cutoff))
        if explainable.wanted(self.context):
            # The level's rows, kept to explain the forecast (SHAP): one row per SKU, the forecast origin's.
            rows, scale = self._features(h, len(h.days) - 1, self._horizon, self._statics(h.skus, segments))
            rows = rows.assign(sku=h.skus, step=0, scale=scale, start=self._start(rows))
            unit = getattr(self.context.calendar, "unit", "trading day")
            explainable.keep(self.context, self.name, self.booster_, rows, cutoff, output="level", unit=unit,
                             horizon=self._horizon, start_window=self.start_window)  # fmt: skip
        return self._means(panel, segments, pd.Timestamp(cutoff), horizon, history=h)


def _periods(horizons: float, horizon: int) -> int:
    return max(int(round(horizons * horizon)), 1)


def rmsse_objective(a: np.ndarray, b: np.ndarray, units: np.ndarray, bias_penalty: float):
    """LightGBM objective: sum over rows of sqrt(a (p - q)^2 + b) (a flat level's RMSSE on the row's horizon, on
    the SKU's mean scale; see the module doc) plus bias_penalty x rows x (sum units (p - q) / sum units q)^2, the
    squared volume bias (`units`: the SKU's mean, units per scaled unit).

    Hessians are Gauss-Newton for the first term. For the second, the exact one couples every row; each row
    gets 2 c units sum(units) instead, which bounds what any leaf's rows add up to, so a leaf's step on the bias
    never overshoots (the plain diagonal one diverged)."""
    total = float(units.sum())
    c = bias_penalty * len(a)

    def objective(q: np.ndarray, p: np.ndarray):
        loss = np.sqrt(a * (p - q) ** 2 + b + 1e-12)
        grad, hess = a * (p - q) / loss, a / loss
        if bias_penalty > 0:
            volume = float((units * q).sum()) or 1.0
            error = float((units * (p - q)).sum())
            grad = grad + 2 * c * error * units / volume**2
            hess = hess + 2 * c * units * total / volume**2
        return grad, hess

    return objective
