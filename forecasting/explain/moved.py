"""What moved each SKU's plan since the previous plan: recent demand, promotions, the champion, recalibration.

Every input is a table the runs already keep: the two plans and their forecasts, the new run's backtest (its
last test window holds the latest weeks' actual demand, which the previous plan forecast) and its champion
decisions. The numbers come with a sentence, biggest change first, for a planner who sees an order jump.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

WINDOW_DAYS = 30  # the forecast compared between plans: the next 30 days' mean a day
NOTABLE = 0.15  # a relative change below this is not worth a planner's attention


def what_moved(
    plan: pd.DataFrame,
    forecast: pd.DataFrame,
    previous_plan: pd.DataFrame | None,
    previous_forecast: pd.DataFrame | None,
    recent: pd.DataFrame | None,
    champions: pd.DataFrame | None,
) -> pd.DataFrame:
    """Per SKU of `plan`: the numbers that changed and `moved`, a list of sentences (most important first).

    `recent`: sku, date, demand (and promo where known) of the latest weeks; `champions`: segment, model,
    previous_model, reason (this run's decisions).
    """
    out = pd.DataFrame({"sku": plan["sku"].astype(str)}).set_index("sku")
    out["forecast_30d_daily"] = _daily(forecast)
    out["model"] = plan.set_index("sku")["model"] if "model" in plan else None
    out["calibration_factor"] = _column(plan, "calibration_factor")
    out["order_qty"] = _column(plan, "order_qty")
    if previous_plan is not None and not previous_plan.empty:
        out["previous_model"] = previous_plan.set_index("sku")["model"].reindex(out.index)
        out["previous_calibration_factor"] = _column(previous_plan, "calibration_factor").reindex(out.index)
        out["previous_order_qty"] = _column(previous_plan, "order_qty").reindex(out.index)
    if previous_forecast is not None and not previous_forecast.empty:
        out["previous_forecast_30d_daily"] = _daily(previous_forecast).reindex(out.index)
    if recent is not None and not recent.empty:
        out["recent_days"] = recent.groupby("sku")["demand"].size().reindex(out.index)
        out["recent_demand_daily"] = recent.groupby("sku")["demand"].mean().reindex(out.index)
        if previous_forecast is not None and not previous_forecast.empty:
            # What the previous plan expected on exactly those days (where its horizon covers them).
            expected = recent[["sku", "date"]].merge(previous_forecast[["sku", "date", "mean"]], on=["sku", "date"])
            out["previously_expected_daily"] = expected.groupby("sku")["mean"].mean().reindex(out.index)
        if "promo" in recent:
            out["recent_promo_days"] = recent.groupby("sku")["promo"].apply(lambda p: int((p > 0).sum()))
    reasons = {}
    if champions is not None and not champions.empty and "segment" in plan:
        decided = champions.set_index("segment")
        segment = plan.set_index("sku")["segment"].reindex(out.index)
        reasons = {sku: decided.loc[seg].to_dict() for sku, seg in segment.items() if seg in decided.index}
    out["moved"] = [_sentences(row, reasons.get(sku)) for sku, row in out.iterrows()]
    return out.reset_index()


def _daily(forecast: pd.DataFrame) -> pd.Series:
    f = forecast.sort_values(["sku", "date"], kind="stable")
    f = f[f.groupby("sku").cumcount() < WINDOW_DAYS]
    return f.groupby(f["sku"].astype(str))["mean"].mean()


def _column(frame: pd.DataFrame, name: str) -> pd.Series:
    if name not in frame:
        return pd.Series(np.nan, index=frame["sku"].astype(str))
    return pd.to_numeric(frame.set_index(frame["sku"].astype(str))[name], errors="coerce")


def _change(now, before) -> float | None:
    if before is None or now is None or pd.isna(before) or pd.isna(now) or before <= 0:
        return None
    return float(now) / float(before) - 1.0


def _sentences(row: pd.Series, decision: dict | None) -> list[str]:
    said: list[tuple[float, str]] = []  # (weight, sentence): the biggest move first
    if "previous_forecast_30d_daily" not in row or pd.isna(row.get("previous_forecast_30d_daily")):
        said.append((0.0, "No previous plan to compare with: this is the SKU's first plan in the warehouse."))
    else:
        change = _change(row["forecast_30d_daily"], row["previous_forecast_30d_daily"])
        if change is not None and abs(change) >= NOTABLE:
            before, now = row["previous_forecast_30d_daily"], row["forecast_30d_daily"]
            text = (
                f"The next 30 days' forecast is {_pct(change)} on the previous plan ({before:.3g} -> {now:.3g} a day)."
            )
            said.append((abs(change), text))
        elif change is not None:
            said.append((0.01, f"The forecast barely moved ({change:+.1%} on the previous plan)."))
    surprise = _change(row.get("recent_demand_daily"), row.get("previously_expected_daily"))
    if surprise is not None and abs(surprise) >= NOTABLE:
        levels = f"{row['previously_expected_daily']:.3g} -> {row['recent_demand_daily']:.3g} a day"
        days = int(row["recent_days"])
        text = f"Demand in the last {days} days was {_pct(surprise)} on what the previous plan expected ({levels})."
        said.append((abs(surprise) + 0.05, text))
    promo_days = row.get("recent_promo_days")
    if promo_days is not None and pd.notna(promo_days) and promo_days > 0:
        said.append((0.5, f"{int(promo_days)} of the last {int(row['recent_days'])} days were on promotion."))
    before, now = row.get("previous_model"), row.get("model")
    if isinstance(before, str) and isinstance(now, str) and before and before != now:
        why = f" ({decision['reason']})" if decision and isinstance(decision.get("reason"), str) else ""
        said.append((1.0, f"New champion model: {now} replaced {before}{why}."))
    calibration = _change(row.get("calibration_factor"), row.get("previous_calibration_factor"))
    if calibration is not None and abs(calibration) >= 0.05:
        factors = f"{row['previous_calibration_factor']:.3g} -> {row['calibration_factor']:.3g}"
        said.append((abs(calibration), f"Recalibration moved the safety margin {_pct(calibration)} ({factors})."))
    return [text for _, text in sorted(said, key=lambda s: -s[0])]


def _pct(change: float) -> str:
    return f"{'up' if change > 0 else 'down'} {abs(change):.0%}"
