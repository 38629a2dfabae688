"""One SKU's replay: forecasts at each review date, order-up-to levels for each policy and target, simulation.

Policies: `champion` (the plan's model and calibration, order-up-to from its sample paths), `naive`
(seasonal-naive mean with a safety stock of z x the recent daily demand's standard deviation, the common
spreadsheet practice), and `oracle` (orders exactly the demand the next lead time + review period brings).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy.stats import norm

from forecasting.data.calendar import TradingCalendar
from forecasting.models.base import LocalForecaster
from forecasting.models.local_fit import safe_forecast
from forecasting.planning.cover import spread_to_days, window_counts, window_sums
from forecasting.planning.policy import protection_level
from forecasting.planning.replay import simulate, summarise


def replay_sku(
    sku: str,
    series: pd.Series,
    model: LocalForecaster,
    fallback: LocalForecaster,
    calendar: TradingCalendar,
    params: Mapping,
    start: pd.Timestamp,
    targets: Sequence[float],
    calibration: float = 1.0,
    num_samples: int = 200,
    seed: int = 0,
    backorders: bool = False,
    naive_weeks: int = 8,
) -> list[dict]:
    """Replay rows (one per policy and target) for one SKU; `series` is its demand on trading days."""
    end = series.index.max()
    lead, review = int(params["lead_time_days"]), int(params["review_period_days"])
    window = lead + review
    days = pd.date_range(start + pd.Timedelta(days=1), end, freq="D")
    daily = spread_to_days(series)  # weeks and months sell evenly over their days in the simulation
    demand = daily.reindex(days, fill_value=0.0).to_numpy()
    reviews = list(pd.date_range(start, end, freq=f"{review}D"))
    horizon = len(calendar.next_trading_days(start, window + 7))
    m = calendar.season_length

    levels: dict[tuple[str, float], list[float]] = {}
    for k, r in enumerate(reviews):
        known = series[series.index <= r]
        dates = calendar.next_trading_days(r, horizon)
        forecast, _ = safe_forecast(sku, known, horizon, model, fallback, num_samples, seed, salt=k)
        paths = forecast.paths
        # As in the plan: calibration scales the protected window's demand, not the expected cycle demand.
        cover = calibration * window_sums(paths, dates, r, window)
        base = calibration * window_sums(paths, dates, r, lead)
        review_mean = window_sums(paths, dates, r, review).mean()
        # Naive: last season's mean per trading day; spread from recent daily demand.
        recent = known.iloc[-naive_weeks * m :]
        n_days = float(window_counts(dates, r, np.array([window]))[0])
        daily_mean = known.iloc[-m:].mean() if len(known) else 0.0
        future = daily[(daily.index > r) & (daily.index <= r + pd.Timedelta(days=window))].sum()
        for t in targets:
            champion = protection_level(cover, params["service_measure"], t, review_mean, base)
            naive = daily_mean * n_days + norm.ppf(t) * recent.std(
                ddof=1 if len(recent) > 1 else 0
            ) * np.sqrt(n_days)
            levels.setdefault(("champion", t), []).append(champion)
            levels.setdefault(("naive", t), []).append(max(0.0, float(np.nan_to_num(naive))))
        levels.setdefault(("oracle", 1.0), []).append(float(future))

    rows = []
    moq, pack = params.get("moq") or 0.0, params.get("pack_size") or 1.0
    for (policy, target), lv in levels.items():
        sim = simulate(
            days,
            demand,
            reviews,
            lv,
            lead,
            initial_stock=lv[0],
            moq=moq,
            pack_size=pack,
            backorders=backorders,
        )
        stats = summarise(
            days,
            demand,
            reviews,
            sim,
            params["unit_cost"],
            params["holding_cost_rate"],
            params["order_cost"],
            params["stockout_cost"],
        )
        rows.append(
            {
                "sku": sku,
                "policy": policy,
                "target": target,
                "initial_stock": lv[0],
                "received": sim["received"],
                "final_stock": sim["final_stock"],
                **stats,
            }
        )
    return rows
