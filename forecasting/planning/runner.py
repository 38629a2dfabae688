"""Planning for a whole panel: champions per segment, final forecasts, plan rows, replay. Per-SKU work runs
through the parallel backend as functions of one SKU's data."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from forecasting.data.calendar import TradingCalendar
from forecasting.data.panel import sku_series
from forecasting.models.base import LocalForecaster
from forecasting.models.local_fit import forecast_rows, safe_forecast, sku_rng
from forecasting.parallel import run_per_sku
from forecasting.planning.calibration import Calibration
from forecasting.planning.plan import plan_sku
from forecasting.planning.replay_sku import replay_sku

log = logging.getLogger(__name__)


def choose_champions(
    by_segment: pd.DataFrame, segments: pd.DataFrame, metric: str, candidates: Sequence[str], fallback: str
) -> pd.Series:
    """The model with the lowest `metric` in each ABC x demand-class segment, as SKU -> model."""
    scored = by_segment[by_segment["model"].isin(candidates)].dropna(subset=[metric])
    best = scored.sort_values(metric, kind="stable").drop_duplicates(["abc", "demand_class"])
    best = best.set_index(["abc", "demand_class"])["model"]
    keys = list(zip(segments["abc"], segments["demand_class"], strict=True))
    return pd.Series([best.get(k, fallback) for k in keys], index=segments["sku"].astype(str), name="model")


def _final_one(sku, series, model, fallback, calendar, horizon_days, num_samples, seed):
    today = series.index.max()
    dates = calendar.trading_days(today + pd.Timedelta(days=1), today + pd.Timedelta(days=horizon_days))
    forecast, error = safe_forecast(sku, series, len(dates), model, fallback, num_samples, seed, salt=10_000)
    return {"dates": dates, "forecast": forecast, "error": error}


def final_forecasts(
    panel: pd.DataFrame,
    champions: pd.Series,
    models: Mapping[str, LocalForecaster],
    fallback: LocalForecaster,
    calendar: TradingCalendar,
    horizon_days: int,
    num_samples: int,
    seed: int,
    n_jobs: int,
) -> dict[str, dict]:
    """Each SKU's champion fitted on all its history: sample paths for the next `horizon_days`."""
    results = run_by_champion(
        _final_one,
        sku_series(panel),
        champions,
        models,
        "final fit",
        n_jobs,
        fallback=fallback,
        calendar=calendar,
        horizon_days=horizon_days,
        num_samples=num_samples,
        seed=seed,
    )
    return {sku: {**r, "model": champions[sku]} for sku, r in results.items()}


def run_by_champion(
    fn, series: Mapping[str, pd.Series], champions: pd.Series, models, desc: str, n_jobs: int, **kwargs
) -> dict:
    """`fn(sku, series, model=<the SKU's champion>, **kwargs)` for every SKU, in parallel, one batch per model
    (so each worker receives one model object per batch, not one per SKU)."""
    out = {}
    for model_name in sorted(set(champions.reindex(list(series)).dropna())):
        subset = {s: series[s].rename(s) for s in series if champions.get(s) == model_name}  # named: global lookups
        results = run_per_sku(
            fn, subset, n_jobs=n_jobs, desc=f"{desc} {model_name}", model=models[model_name], **kwargs
        )
        out.update(zip(subset, results, strict=True))
    return out


def forecast_table(finals: Mapping[str, dict], quantiles: Sequence[float]) -> pd.DataFrame:
    """The forecast table of DESIGN.md from the final forecasts."""
    frames = []
    for sku, f in finals.items():
        cols = forecast_rows(sku, f["model"], f["dates"], f["forecast"], quantiles)
        cols["fallback"] = np.repeat(f["error"] is not None, len(f["dates"]))
        frames.append(pd.DataFrame(cols))
    return pd.concat(frames, ignore_index=True)


def build_plan(
    finals: Mapping[str, dict],
    params: pd.DataFrame,
    on_hand: pd.Series,
    open_orders: pd.DataFrame,
    calibration: Mapping[str, Calibration],
    history: pd.DataFrame,
    rules: Mapping,
    today: pd.Timestamp,
    seed: int,
) -> pd.DataFrame:
    """One plan row per SKU (fast enough serially: a few ms per SKU)."""
    rows = []
    for sku, f in finals.items():
        p = params.loc[sku].to_dict()
        orders = open_orders[open_orders["sku"] == sku]
        row = plan_sku(
            sku,
            f["forecast"].paths,
            f["dates"],
            today,
            p,
            float(on_hand.get(sku, 0.0)),
            orders,
            sku_rng(seed, sku, 20_000),
            calibration=calibration.get(sku),
            history=history.loc[sku].to_dict() if sku in history.index else None,
            rules=rules,
        )
        row["model"] = f["model"]
        row["forecast_fallback"] = f["error"] is not None
        rows.append(row)
    return pd.DataFrame(rows)


def replay(
    panel: pd.DataFrame,
    champions: pd.Series,
    models: Mapping[str, LocalForecaster],
    fallback: LocalForecaster,
    calendar: TradingCalendar,
    params: pd.DataFrame,
    calibration: Mapping[str, Calibration],
    weeks: int,
    targets: Sequence[float],
    num_samples: int,
    seed: int,
    backorders: bool,
    n_jobs: int,
    refit_every: int = 1,
) -> pd.DataFrame:
    """Per-SKU replay rows for the champion, naive and oracle policies over the last `weeks` of history."""
    end = panel["date"].max()
    start = end - pd.Timedelta(weeks=weeks)
    # A SKU needs history before the replay starts to be forecast at its first review.
    series = {s: v for s, v in sku_series(panel).items() if (v.index <= start).sum() >= 28}
    results = run_by_champion(
        _replay_one,
        series,
        champions,
        models,
        "replay",
        n_jobs,
        fallback=fallback,
        calendar=calendar,
        params=params,
        calibration=calibration,
        start=start,
        targets=targets,
        num_samples=num_samples,
        seed=seed,
        backorders=backorders,
        refit_every=refit_every,
    )
    return pd.DataFrame([row for rows in results.values() for row in rows])


def _replay_one(
    sku,
    series,
    model,
    fallback,
    calendar,
    params,
    calibration,
    start,
    targets,
    num_samples,
    seed,
    backorders,
    refit_every,
):
    return replay_sku(
        sku,
        series,
        model,
        fallback,
        calendar,
        params.loc[sku].to_dict(),
        start,
        targets,
        calibration=calibration.get(sku),
        num_samples=num_samples,
        seed=seed,
        backorders=backorders,
        refit_every=refit_every,
    )
