"""Every SKU's explanation as one plain dict: components, what moved (sentences) and the numbers behind them."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from forecasting.explain.components import components_sentence, forecast_components
from forecasting.explain.moved import what_moved
from forecasting.explain.sources import champions, previous_run, recent_demand

# Global boosters are not kept after the run, so there is no model to ask for SHAP values.
NO_SHAP = (
    "Feature attributions (SHAP) need the trained booster, which the run does not keep; the components and the "
    "changes below describe its forecast."
)


def explain_skus(
    plan: pd.DataFrame,
    forecast: pd.DataFrame,
    run_dir: str | os.PathLike,
    warehouse: str | os.PathLike | None,
    run_id: str,
    data_cutoff,
) -> dict[str, dict]:
    """sku -> {model, components, moved, numbers[, drivers]} for every SKU of `plan`."""
    run_dir = Path(run_dir)
    previous_plan, previous_forecast = previous_run(warehouse, run_id, data_cutoff)
    parts = components_by_sku(forecast)
    moved = what_moved(
        plan, forecast, previous_plan, previous_forecast, recent_demand(run_dir), champions(run_dir)
    ).set_index("sku")
    out = {}
    for sku in plan["sku"].astype(str):
        model = str(moved.at[sku, "model"]) if sku in moved.index else ""
        body = {"model": model, "components": parts.get(sku), "moved": [], "numbers": {}}
        if sku in moved.index:
            row = moved.loc[sku]
            body["moved"] = row["moved"]
            body["numbers"] = {k: v for k, v in row.drop(["moved", "model"]).items() if pd.notna(v)}
        if "lightgbm" in model:
            body["drivers"] = NO_SHAP
        out[sku] = body
    return out


def components_by_sku(forecast: pd.DataFrame) -> dict[str, dict]:
    if forecast.empty:
        return {}
    out = {}
    for row in forecast_components(forecast).itertuples(index=False):
        values = row._asdict()
        out[str(row.sku)] = {**{k: v for k, v in values.items() if k != "sku"}, "sentence": components_sentence(values)}
    return out
