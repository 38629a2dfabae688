"""Planning for a whole panel in one parallel pass over SKUs: each SKU's champion is fitted on all its history
(final forecast and forecast-table rows), its plan row is set from those paths, and its replay on history runs,
all in the worker that holds the SKU. Sample paths never leave the worker (at 30,000 SKUs x 200 paths x 60 days
they are 2.9 GB a copy); the parent receives forecast-table columns, one plan row and the replay rows per SKU."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from forecasting.data.calendar import TradingCalendar
from forecasting.data.panel import sku_series, split_covariates
from forecasting.models.base import LocalForecaster
from forecasting.models.local_fit import forecast_rows, safe_forecast, sku_rng
from forecasting.parallel import run_per_sku
from forecasting.planning.calibration import Calibration
from forecasting.planning.plan import plan_sku
from forecasting.planning.replay_sku import replay_sku
from forecasting.vocabulary.text_columns import encode_text, join_columns

log = logging.getLogger(__name__)

#: periods of history before the replay's start a SKU needs to be forecast at its first review (default; a run
#: passes its backtest's min_train_days: 28 trading days, 26 weeks, 12 months)
REPLAY_MIN_HISTORY = 28


@dataclass(frozen=True)
class ReplaySettings:
    """The replay's settings (see planning.replay_sku); `weeks` of history replayed up to the panel's end."""

    weeks: int
    targets: Sequence[float]
    backorders: bool = False
    refit_every: int = 1
    learn_bias: bool = True  # see planning.calibration.running_bias
    min_history: int = REPLAY_MIN_HISTORY  # periods a SKU needs before the start (has_replay_history)

    def start(self, today: pd.Timestamp) -> pd.Timestamp:
        """T: the replay plays the days after it; every choice it uses learnt from windows ending by it."""
        return pd.Timestamp(today) - pd.Timedelta(weeks=self.weeks)

    def sku_options(self) -> dict:
        """How replay_sku plays a SKU under these settings (its keyword arguments)."""
        return {"backorders": self.backorders, "refit_every": self.refit_every, "learn_bias": self.learn_bias}


def champion_covariates(champions: pd.Series, models: Mapping[str, LocalForecaster]) -> list[str]:
    """The panel columns (promo, price) that the champions' models read, for `sku_series` to carry."""
    return [c for m in set(champions) for c in getattr(models.get(m), "covariates", ())]


def has_replay_history(series: pd.Series, start: pd.Timestamp, min_history: int = REPLAY_MIN_HISTORY) -> bool:
    """Whether a SKU can be replayed from `start`: `min_history` periods of history up to it."""
    return int(series.index.searchsorted(start, side="right")) >= int(min_history)


@dataclass(frozen=True)
class PlanSettings:
    """How the pass forecasts and plans: the plan's horizon in days, sample paths per SKU, the run's seed, the
    forecast table's quantiles, and the exception rules (plan.exceptions)."""

    horizon_days: int
    num_samples: int
    seed: int
    quantiles: Sequence[float]
    rules: Mapping


@dataclass
class PlanPass:
    """What the pass returns: the forecast table, the plan rows, the replay rows, and how the workers' time
    split between the final forecast + plan and the replay (the workers' seconds summed over SKUs)."""

    forecast: pd.DataFrame
    plan: pd.DataFrame
    replay: pd.DataFrame
    seconds: dict[str, float]


def plan_pass(
    panel: pd.DataFrame,
    champions: pd.Series,
    models: Mapping[str, LocalForecaster],
    fallback: LocalForecaster,
    calendar: TradingCalendar,
    settings: PlanSettings,
    params: pd.DataFrame,
    on_hand: pd.Series,
    open_orders: pd.DataFrame,
    calibration: Mapping[str, Calibration],
    history: pd.DataFrame,
    replay: ReplaySettings | None,
    n_jobs: int,
    replay_champions: pd.Series | None = None,
    replay_calibration: Mapping[str, Calibration] | None = None,
    replay_levels: pd.DataFrame | None = None,
    ahead: pd.DataFrame | None = None,
) -> PlanPass:
    """Final forecast, plan row and replay of every SKU in `champions`, in one parallel pass. The replay uses
    `replay_champions` and `replay_calibration` where given (the choices a run made at the replay's start
    would have taken), else the plan's own; `replay_levels` (SKUs x targets) the champion's own cycle service
    levels where a fill-rate target is met over the assortment (planning.allocation)."""
    today, horizon_days = panel["date"].max(), settings.horizon_days
    series = sku_series(panel, champion_covariates(champions, models))
    skus = [s for s in series if s in champions.index]
    results = run_per_sku(
        _plan_one,
        {s: series[s] for s in skus},
        n_jobs=n_jobs,
        desc="plan and replay",
        champions=champions,
        models=models,
        fallback=fallback,
        calendar=calendar,
        final_dates=calendar.trading_days(today + pd.Timedelta(days=1), today + pd.Timedelta(days=horizon_days)),
        settings=settings,
        params=params,
        on_hand=on_hand,
        open_orders=open_orders,
        orders_at=open_orders.groupby("sku", sort=False).indices if len(open_orders) else {},
        calibration=calibration,
        history=history,
        today=today,
        replay=replay,
        replay_start=replay.start(today) if replay else None,
        replay_champions=champions if replay_champions is None else replay_champions,
        replay_calibration=calibration if replay_calibration is None else replay_calibration,
        replay_levels=replay_levels,
        ahead=_by_sku(ahead),
    )
    forecast = pd.DataFrame(join_columns([r["columns"] for r in results]))
    plan = pd.DataFrame([r["plan"] for r in results])
    replay_rows = pd.DataFrame(join_columns([r["replay"] for r in results if r["replay"]]))
    seconds = {k: round(sum(r["seconds"][k] for r in results), 2) for k in ("forecast_and_plan", "replay")}
    return PlanPass(forecast, plan, replay_rows, seconds)


def _by_sku(ahead: pd.DataFrame | None) -> dict[str, pd.DataFrame]:
    """The periods ahead's promo and price rows per SKU, indexed by date, as the SKU's covariate rows are."""
    if ahead is None:
        return {}
    return {str(s): rows.set_index("date").drop(columns="sku") for s, rows in ahead.groupby("sku", observed=True)}


def _plan_one(
    sku,
    series,
    champions,
    models,
    fallback,
    calendar,
    final_dates,
    settings,
    params,
    on_hand,
    open_orders,
    orders_at,
    calibration,
    history,
    today,
    replay,
    replay_start,
    replay_champions,
    replay_calibration,
    replay_levels,
    ahead,
):
    t0 = time.perf_counter()
    num_samples, seed = settings.num_samples, settings.seed
    model_name = champions[sku]
    model = models[model_name]
    series, covariates = split_covariates(series)  # promo / price rows for a model that reads them
    series = series.rename(sku)  # named: global models look their forecasts up by SKU
    end = series.index.max()
    if end != today:  # every SKU of a panel ends on its last day; a hand-made one need not
        final_dates = calendar.trading_days(end + pd.Timedelta(days=1), end + pd.Timedelta(days=settings.horizon_days))
    final_covariates = covariates
    if covariates is not None and sku in ahead:  # the periods ahead's promo and price, for a model reading them
        final_covariates = pd.concat([covariates, ahead[sku].reindex(columns=covariates.columns)])
    forecast, error = safe_forecast(
        sku, series, len(final_dates), model, fallback, num_samples, seed, 10_000, final_covariates, final_dates
    )
    # Text as codes: unpickled in the parent, an array of strings would be a new string per row.
    columns = encode_text(forecast_rows(sku, model_name, final_dates, forecast, settings.quantiles))
    columns["fallback"] = np.repeat(error is not None, len(final_dates))
    p = params.loc[sku].to_dict()
    row = plan_sku(
        sku,
        forecast.paths,
        final_dates,
        today,
        p,
        float(on_hand.get(sku, 0.0)),
        open_orders.iloc[orders_at.get(sku, [])],
        sku_rng(seed, sku, 20_000),
        calibration=calibration.get(sku),
        history=history.loc[sku].to_dict() if sku in history.index else None,
        rules=settings.rules,
    )
    row["model"] = model_name
    row["forecast_fallback"] = error is not None
    del forecast
    t1 = time.perf_counter()
    rows = {}
    replay_model = replay_champions.get(sku)
    if replay is not None and replay_model is not None and has_replay_history(series, replay_start, replay.min_history):
        replayed = replay_sku(
            sku,
            series,
            models[replay_model],
            fallback,
            calendar,
            p,
            replay_start,
            replay.targets,
            calibration=replay_calibration.get(sku),
            num_samples=num_samples,
            seed=seed,
            covariates=covariates,
            champion_levels=(
                replay_levels.loc[sku].to_numpy() if replay_levels is not None and sku in replay_levels.index else None
            ),
            **replay.sku_options(),
        )
        # As columns: the parent holds every SKU's result until the table is built, and a SKU's ~20 rows take
        # ~17 KB as dicts, ~5 KB as arrays (500 MB against 150 MB at 30,000 SKUs).
        # Text as codes, as the forecast rows above.
        rows = encode_text({key: np.array([r[key] for r in replayed]) for key in replayed[0]}) if replayed else {}
    seconds = {"forecast_and_plan": t1 - t0, "replay": time.perf_counter() - t1}
    return {"columns": columns, "plan": row, "replay": rows, "seconds": seconds}
