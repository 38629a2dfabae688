"""A global LightGBM forecaster trained across all SKUs, through Nixtla's mlforecast.

mlforecast builds the lag and rolling-statistic features with compiled group-wise transforms and forecasts
recursively (each day's mean feeds the next day's lags), unless `min_lag` reaches the horizon: then no feature of
the horizon's days reads a forecast (a direct model). Recursion feeds smooth means where training saw
counts, which shows most on intermittent SKUs; the direct model sees only older history. On the bundled
panel's validation fold the two score the same RMSSE with biases of +8% and -4%, and their errors differ enough
that an ensemble gains from both (benchmarks/README.md). Against darts' LightGBMModel with the same booster and
lags on the bundled 200 SKUs (one fold, `benchmarks/global_models.py --engines-only`, a busy 2-core machine) it
was level: 40 s vs 42 s, MAE 46.6 vs 47.9. It is used for what darts lacks here: rolling statistics as
features, static features, a target transform per series, and forecasts from a later cutoff on new history
without refitting (`new_df`), which the replay and `retrain: first_cutoff` need.

Series live on the trading-day axis (closed days absent) as integer positions, so every SKU and the calendar line
up by position and lags count trading days; season-based lags and windows come from the calendar's season length.

Each SKU's demand is divided by its recent mean (the last year's once the history spans one), refitted at every
forecast origin (see `_mean_scaler`): a booster trained at T and reused through a seasonal ramp otherwise meets
lags above anything it trained on.

Probabilistic output: count paths around the booster's means (models/count_paths.py).
"""

from __future__ import annotations

import copy
import logging
import time
import warnings
from collections.abc import Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
import pandas as pd

from forecasting.errors import InputError, TooLittleHistory
from forecasting.models import explainable
from forecasting.models.count_paths import CountPaths, held_out_dispersion
from forecasting.models.covariates import (
    CALENDAR_FEATURES,
    LEARNABLE_COLUMNS,
    calendar_features,
    check_future_covariates,
    future_covariates,
    static_codes,
)

log = logging.getLogger(__name__)

# Periods of history a booster keeps to learn from before its dispersion's held-out window.
MIN_LEARN = 8

# Calendar features with a yearly period: they need several years of history to mean anything.
ANNUAL_FEATURES = ("month_sin", "month_cos", "woy_sin", "woy_cos")


class LightGBMForecaster(CountPaths):
    """One LightGBM booster for every SKU; `params` go to lightgbm.LGBMRegressor."""

    def __init__(
        self,
        params: Mapping[str, Any] | None = None,
        lags: Sequence[int] = (1, 2, 3),
        season_lags: Sequence[int] = (1, 2, 4),
        rolling_seasons: Sequence[int] = (1, 4, 13),
        min_lag: int = 1,
        val_days: int = 30,
        num_threads: int | None = None,
        use_price: bool = True,
        use_promo: bool = True,
        future_covariates: str = "carried",
        use_static: bool = True,
        annual_min_years: float = 2.0,
        scale: bool = True,
        scale_window: int | None = None,
        retrain: str = "every_cutoff",
        name: str = "lightgbm",
    ) -> None:
        self.params = params
        self.lags = lags
        self.season_lags = season_lags
        self.rolling_seasons = rolling_seasons
        self.min_lag = min_lag
        self.val_days = val_days
        self.num_threads = num_threads
        self.use_price = use_price
        self.use_promo = use_promo
        self.future_covariates = future_covariates
        self.use_static = use_static
        self.annual_min_years = annual_min_years
        self.scale = scale
        self.scale_window = scale_window
        self.retrain = retrain
        self.name = name

    def check_params(self) -> None:
        super().check_params()
        check_future_covariates(self.future_covariates, self.name)
        window = self.scale_window
        if window is not None and (isinstance(window, bool) or not isinstance(window, int) or window < 1):
            raise InputError(
                f"model.{self.name}.scale_window={window} must be a whole number of periods, 1 or more, or null "
                "(the whole history's mean)."
            )

    # ---- features -----------------------------------------------------------------------------------
    @property
    def _season(self) -> int:
        return int(self.context.calendar.season_length)

    @property
    def _min_lag(self) -> int:
        # 0 would read the day being forecast: the shortest lag is 1.
        return max(int(self.min_lag), 1)

    def _lags_windows(self) -> tuple[list[int], list[int]]:
        """Lags and rolling windows that leave at least half of the training history as rows to learn from.

        The configured ones count in seasons, so a monthly panel (season 12) asks for lags of 12-48 months; a
        lag the history cannot feed is dropped rather than failing the model on short weekly or monthly data, and
        so is one shorter than `min_lag` (the rolling windows end `min_lag` periods back).
        """
        m = self._season
        held = getattr(self, "held_days_", self.val_days)
        limit = max((getattr(self, "history_", 0) - held) // 2, self._min_lag)
        lags = sorted({*self.lags, *(k * m for k in self.season_lags)} - set(range(self._min_lag))) or [self._min_lag]
        windows = sorted({k * m for k in self.rolling_seasons})
        kept_lags = [lag for lag in lags if lag <= limit] or [min(lags[0], limit)]
        kept_windows = [w for w in windows if w <= limit] or [max(min(windows[0], limit), 2)]
        return kept_lags, kept_windows

    def _forecaster(self):
        from lightgbm import LGBMRegressor
        from mlforecast import MLForecast
        from mlforecast.lag_transforms import RollingMean, RollingStd

        lags, windows = self._lags_windows()
        params = {
            "objective": "tweedie",
            "n_estimators": 300,
            "learning_rate": 0.05,
            "verbosity": -1,
            **(self.params or {}),
        }
        booster = LGBMRegressor(random_state=self.context.seed, n_jobs=self.threads, **params)
        transforms = [RollingMean(window_size=w) for w in windows] + [RollingStd(window_size=windows[-1])]
        return MLForecast(
            models={"lgb": booster},
            freq=1,
            lags=lags,
            lag_transforms={self._min_lag: transforms},
            target_transforms=[_mean_scaler(self.scale_periods_)] if self.scale else None,
            num_threads=self.threads,
        )

    def _calendar_columns(self, days: pd.DatetimeIndex) -> list[str]:
        """The calendar features the training history can teach: month and week of year only once the history holds
        `annual_min_years` yearly cycles. With a single cycle each month is one event (on the bundled data the
        December peak), the booster learns that event as the month's effect and replays it a year on:
        with them, the bundled panel's validation RMSSE was 2% worse and its bias 5 points higher."""
        years = (days[-1] - days[0]).days / 365.25 if len(days) else 0.0
        if years >= self.annual_min_years:
            return list(CALENDAR_FEATURES)
        return [c for c in CALENDAR_FEATURES if c not in ANNUAL_FEATURES]

    def _scale_periods(self, days: pd.DatetimeIndex) -> int | None:
        """How many recent periods each SKU's scale is the mean of: the last year's where the history spans one,
        else `scale_window`. A trailing year's mean holds every season once, a level without the season (which the
        lags, and from two years on the calendar features, describe around it) and, averaged over a year, little
        noise; a shorter history holds no year, and its recent window follows a level the booster never saw."""
        if self.scale_window is None:
            return None
        if len(days) and days[-1] - days[0] >= pd.Timedelta(days=365):
            return int((days > days[-1] - pd.Timedelta(days=365)).sum())
        return int(self.scale_window)

    def _axis(self, panel: pd.DataFrame, extra: int) -> pd.DatetimeIndex:
        # The history's periods, then the calendar's: rows of the periods ahead (promo and price, no demand) only
        # give covariates on the axis's dates, never dates of their own (they may skip a week or a closed day).
        days = pd.DatetimeIndex(np.sort(panel.loc[panel["demand"].notna(), "date"].unique()))
        return days.append(self.context.calendar.next_trading_days(days[-1], extra + 1))

    def _frames(
        self, panel: pd.DataFrame, segments: pd.DataFrame | None, cutoff: pd.Timestamp, horizon: int
    ) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
        """Training rows up to `cutoff` (unique_id, ds, y, covariates, statics) and the future covariates of
        the `horizon` trading days after it. No demand after the cutoff is read; promo and price after it only
        with `future_covariates: known` (else no promo and the last price), the calendar is deterministic."""
        axis = self._axis(panel, horizon)
        cal = calendar_features(axis, getattr(self.context.calendar, "holiday_country", None)).astype("float32")
        cal = cal.reset_index(drop=True).rename_axis("ds").reset_index()
        pos = pd.Series(np.arange(len(axis)), index=axis)
        hist = panel[panel["date"] <= cutoff]
        df = pd.DataFrame({"unique_id": hist["sku"].astype(str).to_numpy(), "ds": pos[hist["date"]].to_numpy()})
        df["y"] = hist["demand"].to_numpy(dtype=np.float64)
        dynamic: list[str] = []
        # What the horizon's promo and price are read from: each SKU's last row (its carried price) and, with
        # `known`, the panel's rows of the horizon's days.
        known = hist.groupby("sku", observed=True, sort=False).tail(1)[["sku", "date"]]
        learnable = LEARNABLE_COLUMNS[self.future_covariates]
        if self.use_price and "price" in hist and "price" in learnable:
            price = hist.groupby("sku", observed=True)["price"].ffill().groupby(hist["sku"], observed=True).bfill()
            ref = price.groupby(hist["sku"], observed=True).transform("mean").replace(0, np.nan)
            df["rel_price"] = (price / ref).fillna(1.0).to_numpy()
            dynamic.append("rel_price")
            known["price"] = price[known.index]
            ref = pd.Series(ref[known.index].to_numpy(), index=known["sku"].astype(str).to_numpy())
        if self.use_promo and "promo" in hist and "promo" in learnable:
            df["promo"] = hist["promo"].fillna(0.0).to_numpy()
            dynamic.append("promo")
            known["promo"] = hist.loc[known.index, "promo"]
        statics = []
        if self.use_static and segments is not None:
            codes = static_codes(segments)
            for col in codes:
                df[col] = df["unique_id"].map(codes[col]).fillna(-1.0).to_numpy()
                statics.append(col)
        df = df.merge(cal, on="ds", how="left")
        last = df.groupby("unique_id", sort=True).tail(1).set_index("unique_id")
        end = int(pos[cutoff])
        future = pd.DataFrame(
            {
                "unique_id": np.repeat(last.index.to_numpy(), horizon),
                "ds": np.tile(np.arange(end + 1, end + 1 + horizon), len(last)),
            }
        )
        if dynamic:
            dates = axis[end + 1 : end + 1 + horizon]
            rows = known
            if self.future_covariates == "known":
                rows = pd.concat(
                    [known, panel.loc[(panel["date"] > cutoff) & (panel["date"] <= dates[-1]), known.columns]]
                )
            values = future_covariates(rows.assign(sku=rows["sku"].astype(str)), cutoff, dates, self.future_covariates)
            if "rel_price" in dynamic:
                future["rel_price"] = (values["price"] / values["sku"].map(ref)).fillna(1.0).to_numpy()
            if "promo" in dynamic:
                future["promo"] = values["promo"].to_numpy()
        future = future.merge(cal, on="ds", how="left")
        future = future[["unique_id", "ds", *dynamic, *self.calendar_]]
        return df[["unique_id", "ds", "y", *dynamic, *statics, *self.calendar_]], future, statics

    def _fit_predict(self, train: pd.DataFrame, future: pd.DataFrame, statics: list[str], horizon: int):
        with _quiet():
            fc = self._forecaster().fit(train, static_features=statics, dropna=False)
            pred = fc.predict(horizon, X_df=future)
        return fc, pred.pivot(index="unique_id", columns="ds", values="lgb")

    # ---- fit / predict -------------------------------------------------------------------------------
    def fit(self, panel: pd.DataFrame, segments: pd.DataFrame | None, cutoff: pd.Timestamp) -> LightGBMForecaster:
        """Dispersion on a held-out window of `val_days`, then the booster on every day up to `cutoff`."""
        t0 = time.perf_counter()
        cutoff = pd.Timestamp(cutoff)
        days = pd.DatetimeIndex(np.sort(panel.loc[panel["date"] <= cutoff, "date"].unique()))
        self.history_ = len(days)
        unit = getattr(self.context.calendar, "unit", "trading day")
        # The dispersion's held-out window, shortened where the history is short (a 2-year monthly table reaches
        # its first cutoff with 12 months): MIN_LEARN periods stay to learn from.
        self.held_days_ = min(int(self.val_days), len(days) - MIN_LEARN)
        if self.held_days_ < 1:
            raise TooLittleHistory(
                f"{self.name}: {len(days)} {unit}s of history before {cutoff.date()} are too few to learn from (it "
                f"needs {MIN_LEARN + 1})",
                self.name,
            )
        if self.held_days_ < self.val_days:
            log.info(
                "%s: %d %ss of history at %s: dispersion held out on the last %d (val_days=%d)",
                self.name, len(days), unit, cutoff.date(), self.held_days_, self.val_days,
            )  # fmt: skip
        self.calendar_ = self._calendar_columns(days)
        self.scale_periods_ = self._scale_periods(days)
        held_cut = days[-self.held_days_ - 1]
        train, future, statics = self._frames(panel, segments, held_cut, self.held_days_)
        _, held = self._fit_predict(train, future, statics, self.held_days_)
        self.dispersion_ = held_out_dispersion(held, panel, segments, held_cut, cutoff)
        train, future, statics = self._frames(panel, segments, cutoff, 1)
        with _quiet():
            self.forecaster_ = self._forecaster().fit(train, static_features=statics, dropna=False)
        self.cutoff_ = cutoff
        self.epochs_ = int(self.forecaster_.models_["lgb"].n_estimators)
        log.info(
            "%s: trained at %s on %d rows in %.1f s; dispersion %s",
            self.name,
            cutoff.date(),
            len(train),
            time.perf_counter() - t0,
            self.dispersion_.round(3).to_dict("index"),
        )
        return self

    def predict_means(
        self, panel: pd.DataFrame, segments: pd.DataFrame | None, cutoff: pd.Timestamp, horizon: int
    ) -> pd.DataFrame:
        """Mean forecasts (SKU x horizon) from `cutoff`, which may be later than the training cutoff: the
        booster is reused on the newer history (policy `first_cutoff`, and the plan's replay)."""
        train, future, _ = self._frames(panel, segments, pd.Timestamp(cutoff), horizon)
        steps: list[pd.DataFrame] = []  # the first days' feature rows, kept to explain the forecast (SHAP)
        first = explainable.STEPS if explainable.wanted(self.context) else 0

        def seen(x: pd.DataFrame) -> pd.DataFrame:
            if len(steps) < first:
                steps.append(x.copy())
            return x

        with _quiet():
            pred = self.forecaster_.predict(horizon, new_df=train, X_df=future, before_predict_callback=seen)
        means = pred.pivot(index="unique_id", columns="ds", values="lgb")
        # mlforecast hands each day's rows in its series order, the order of the predictions' ids.
        skus = pred["unique_id"].drop_duplicates().astype(str).to_numpy()
        if steps:
            rows = pd.concat([x.assign(sku=skus, step=i) for i, x in enumerate(steps)], ignore_index=True)
            unit = getattr(self.context.calendar, "unit", "trading day")
            explainable.keep(self.context, self.name, self.forecaster_.models_["lgb"], rows, cutoff,
                             output="log", unit=unit, horizon=int(horizon))  # fmt: skip
        return means.clip(lower=0.0)


@contextmanager
def _quiet():
    """Short series have no long rolling windows yet: LightGBM takes the missing values as they are."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Found null values")
        yield


def _mean_scaler(window: int | None = None):
    """mlforecast target transform dividing each SKU by its mean demand over the last `window` periods of the
    history it is given (all of it where `window` is None; all of it too where those periods sold nothing).

    Why a scale: on raw counts the loss is carried by the few SKUs that sell hundreds a day and the booster barely
    learns the shape of the rest; on the mean scale every SKU weighs alike, as in the RMSSE the leaderboard
    ranks on, and the values stay non-negative for the Tweedie objective (a standard scaler would not).
    Why recent: the scale is refitted on the history at each forecast origin (mlforecast's `new_df`), so with the
    mean of the whole history a SKU whose demand has risen (a seasonal ramp) reaches the booster with lags far
    above the values it trained on, where trees cannot extrapolate; on the recent level its lags sit near 1, as
    every SKU's last training rows did.
    """
    from mlforecast.target_transforms import GroupedArray, _BaseGroupedArrayTargetTransform

    class LocalMeanScaler(_BaseGroupedArrayTargetTransform):
        def _apply(self, ga, factor):
            return GroupedArray(ga.data * np.repeat(factor, np.diff(ga.indptr)), ga.indptr)

        def fit_transform(self, ga):
            self.scale_ = recent_means(np.nan_to_num(ga.data), ga.indptr, window)
            return self._apply(ga, 1.0 / self.scale_)

        def update(self, ga):
            return self._apply(ga, 1.0 / self.scale_)

        def inverse_transform(self, ga):
            return self._apply(ga, self.scale_)

        def take(self, idxs):
            out = copy.deepcopy(self)
            out.scale_ = self.scale_[idxs]
            return out

    return LocalMeanScaler()


def recent_means(values: np.ndarray, indptr: np.ndarray, window: int | None) -> np.ndarray:
    """Per series (values[indptr[i]:indptr[i+1]]), the mean of its last `window` values; the whole series' mean
    where those are all zero or `window` is None; 1 where the series never sold (no scale to take)."""
    total = np.concatenate([[0.0], np.cumsum(values)])
    ends = indptr[1:]
    sizes = np.diff(indptr)
    whole = np.where(sizes > 0, (total[ends] - total[indptr[:-1]]) / np.maximum(sizes, 1), 0.0)
    scale = whole
    if window is not None:
        starts = np.maximum(indptr[:-1], ends - int(window))
        recent = (total[ends] - total[starts]) / np.maximum(ends - starts, 1)
        scale = np.where(recent > 0, recent, whole)
    return np.where(scale > 0, scale, 1.0)
