"""Global models and ensembles as the plan's and the replay's forecasters.

The plan and the replay work SKU by SKU with per-SKU forecasters (`fit(y).predict(...)`). A global model
forecasts all SKUs at once, so it is run here beforehand, in this process, at every cutoff the plan and the
replay will ask for, and enters the per-SKU work as `StoredForecasts`: a lookup by SKU and cutoff. An ensemble
champion becomes an `EnsembleForecaster` over its members (per-SKU models fitted as usual, global ones looked up).

No look-ahead in the replay: its global models are trained on the history up to the replay's start and reused,
unchanged, on the newer history at each later review (the `first_cutoff` policy); the final forecast's model is
trained on all history.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable, Mapping, Sequence

import numpy as np
import pandas as pd

from forecasting.data.calendar import TradingCalendar
from forecasting.data.panel import with_periods_ahead
from forecasting.models.base import Forecast, LocalForecaster, Segments, segments_at
from forecasting.models.count_paths import CountPaths
from forecasting.models.ensemble import EnsembleForecaster
from forecasting.planning.replay_sku import replay_span_days

log = logging.getLogger(__name__)

Recipe = Callable[[int, int, np.random.Generator], Forecast]


class StoredForecasts(LocalForecaster):
    """A global model's forecasts, made beforehand, served per SKU: `fit(y)` picks the forecast made at
    `y`'s last day for the SKU `y` is named after; a cutoff or SKU with none fails the fit (the fallback stands
    in and the failure is counted like any other)."""

    def __init__(self, name: str, recipes: Mapping[str, Mapping[pd.Timestamp, Recipe]]) -> None:
        super().__init__(season_length=None)
        self.name = name
        self.recipes = recipes

    def with_season(self, season_length: int) -> StoredForecasts:
        return self

    def fit(self, y: pd.Series) -> StoredForecasts:
        cutoff = pd.Timestamp(y.index.max())
        try:
            self.recipe_ = self.recipes[str(y.name)][cutoff]
        except KeyError:
            raise LookupError(f"{self.name} has no forecast for SKU {y.name} made at {cutoff.date()}") from None
        return self

    def predict(self, horizon: int, num_samples: int, rng: np.random.Generator) -> Forecast:
        return self.recipe_(horizon, num_samples, rng)

    def __repr__(self) -> str:
        return f"StoredForecasts({self.name!r})"


class _Fixed:
    """A forecast already drawn (models other than CountPaths), cut to what is asked."""

    def __init__(self, forecast: Forecast) -> None:
        self.forecast = forecast

    def __call__(self, horizon: int, num_samples: int, rng: np.random.Generator) -> Forecast:
        return Forecast(mean=self.forecast.mean[:horizon], paths=self.forecast.paths[:num_samples, :horizon])


def recipes_at(model, panel, segments, cutoff, horizon: int, num_samples: int) -> dict[str, Recipe]:
    """Per SKU, a recipe for its forecast from `cutoff`: lazy where the model offers it (a mean and a few
    numbers per SKU instead of the sample paths), else the drawn forecast."""
    if isinstance(model, CountPaths):
        return model.predict_lazy(panel, segments, cutoff, horizon)
    return {s: _Fixed(f) for s, f in model.predict(panel, segments, cutoff, horizon, num_samples).items()}


def review_cutoffs(days: pd.DatetimeIndex, start: pd.Timestamp, review_days: Sequence[int]) -> list[pd.Timestamp]:
    """The trading days the replay forecasts from: the last trading day up to each review date."""
    days = pd.DatetimeIndex(days).sort_values()
    out = set()
    for r in sorted({int(d) for d in review_days}):
        for date in pd.date_range(start, days[-1], freq=f"{r}D"):
            known = days[days <= date]
            if len(known):
                out.add(known[-1])
    return sorted(out)


def played_spans(
    today: pd.Timestamp, replay_weeks: int | None, rehearsal_weeks: int | None
) -> list[tuple[pd.Timestamp, pd.Timestamp]]:
    """The (start, end) of every stretch of history a decision is played on, earliest start first: the replay's
    `replay_weeks` before `today`, and the rehearsals' `rehearsal_weeks` before `today` (the plan's) and before
    the replay's start (the replay's)."""
    spans = set()
    if replay_weeks:
        spans.add((today - pd.Timedelta(weeks=int(replay_weeks)), today))
    if rehearsal_weeks:
        spans.add((today - pd.Timedelta(weeks=int(rehearsal_weeks)), today))
        if replay_weeks:
            start = today - pd.Timedelta(weeks=int(replay_weeks))
            spans.add((start - pd.Timedelta(weeks=int(rehearsal_weeks)), start))
    return sorted(spans)


def planning_models(
    champions: pd.Series,
    local: Mapping[str, LocalForecaster],
    global_: Mapping,
    ensembles: Mapping,
    panel: pd.DataFrame,
    segments: Segments,
    calendar: TradingCalendar,
    horizon_days: int,
    replay_weeks: int | None,
    params: pd.DataFrame,
    num_samples: int,
    refit_every: int = 1,
    rehearsal_weeks: int | None = None,
    ahead: pd.DataFrame | None = None,
) -> dict[str, LocalForecaster]:
    """Per-SKU forecasters for every champion: the per-SKU models as they are, global models as stored
    forecasts at the plan's and the replay's cutoffs, ensembles over their members. With `rehearsal_weeks`, also
    at the cutoffs of the rehearsals (planning.rehearsal): the `rehearsal_weeks` before the end (the plan's) and
    before the replay's start (the replay's), each from a model trained to its start. `ahead`: promo and price of
    the periods after the history (data.periods_ahead), read by the final forecast of a global model with
    `future_covariates: known`."""
    models: dict[str, LocalForecaster] = dict(local)
    wanted = set(champions.dropna().unique())
    needed_global = {m for m in wanted if m in global_}
    for name in wanted & set(ensembles):
        needed_global |= {m for m in ensembles[name].members_ if m in global_}
    days = pd.DatetimeIndex(np.sort(panel["date"].unique()))
    today = days[-1]
    final_horizon = len(calendar.trading_days(today + pd.Timedelta(days=1), today + pd.Timedelta(days=horizon_days)))
    for name in sorted(needed_global):
        model = global_[name]
        by_cutoff: dict[pd.Timestamp, dict[str, Recipe]] = {}
        spans = played_spans(today, replay_weeks, rehearsal_weeks)
        if spans:
            # As long as the longest replay forecast of any SKU must last.
            window = replay_span_days(
                (params["lead_time_days"] + params["review_period_days"]).max(),
                params["review_period_days"].max(),
                refit_every,
            )
            # Earlier starts first: where two periods share a review date, the later start's model (trained on
            # the history up to it) forecasts it, as the later period's replay asks.
            for start, end in spans:
                trained = days[days <= start]
                is_replay = replay_weeks and start == today - pd.Timedelta(weeks=int(replay_weeks))
                try:
                    if not len(trained):
                        raise ValueError(f"no history before {start.date()}")
                    replay_model = copy.deepcopy(model).fit(panel, segments_at(segments, trained[-1]), trained[-1])
                except Exception as error:  # noqa: BLE001 - only a rehearsal's start: the SKUs take the fallback
                    if is_replay:
                        raise
                    log.warning("%s: no rehearsal forecasts (%s); its SKUs rehearse on the fallback", name, error)
                    continue
                cutoffs = review_cutoffs(days[days <= end], start, params["review_period_days"])
                for cutoff in cutoffs:
                    at_cutoff = segments_at(segments, cutoff)
                    by_cutoff[cutoff] = recipes_at(replay_model, panel, at_cutoff, cutoff, window, num_samples)
                log.info(
                    "%s: replay forecasts at %d review dates from a model trained to %s",
                    name,
                    len(cutoffs),
                    start.date(),
                )
        today_segments = segments_at(segments, today)
        model.fit(panel, today_segments, today)
        # The periods ahead's promo and price (a promo calendar in the table) for a model that reads them.
        final = with_periods_ahead(panel, ahead) if getattr(model, "future_covariates", None) == "known" else panel
        by_cutoff[today] = recipes_at(model, final, today_segments, today, final_horizon, num_samples)
        per_sku: dict[str, dict[pd.Timestamp, Recipe]] = {}
        for cutoff, recipes in by_cutoff.items():
            for sku, recipe in recipes.items():
                per_sku.setdefault(sku, {})[cutoff] = recipe
        models[name] = StoredForecasts(name, per_sku)
    for name in wanted & set(ensembles):
        ens = ensembles[name]
        models[name] = EnsembleForecaster(ens, {m: models[m] for m in ens.members_})
    return models
