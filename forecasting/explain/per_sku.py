"""Every SKU's explanation as one plain dict: components, what moved (sentences) and the numbers behind them,
and for a SKU forecast by a global booster that the run kept (lightgbm, lightgbm_level), its SHAP drivers."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pandas as pd

from forecasting.explain.components import components_sentence, forecast_components
from forecasting.explain.drivers import ON_REQUEST_ROWS, as_member, booster_skus, explain_kept, kept_drivers
from forecasting.explain.moved import what_moved
from forecasting.explain.sources import champions, ensembles, previous_run, recent_demand
from forecasting.models.explainable import kept_models, load

log = logging.getLogger(__name__)

# A booster whose run kept nothing to explain it with (a run folder written before boosters were kept).
NO_SHAP = (
    "Feature attributions (SHAP) need the trained booster, which this run did not keep; the components and the "
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
    drivers = boosters_drivers(run_dir, plan)
    out = {}
    for sku in plan["sku"].astype(str):
        model = str(moved.at[sku, "model"]) if sku in moved.index else ""
        body = {"model": model, "components": parts.get(sku), "moved": [], "numbers": {}}
        if sku in moved.index:
            row = moved.loc[sku]
            body["moved"] = row["moved"]
            body["numbers"] = {k: v for k, v in row.drop(["moved", "model"]).items() if pd.notna(v)}
        if sku in drivers:
            body["drivers"] = drivers[sku]
        elif "lightgbm" in model:
            body["drivers"] = {"sentence": NO_SHAP, "drivers": []}
        out[sku] = body
    return out


def boosters_drivers(run_dir: Path, plan: pd.DataFrame) -> dict[str, dict]:
    """SHAP drivers of every SKU whose plan model kept its booster in the run folder (lightgbm, lightgbm_level), or
    is an ensemble with such a booster among its members (told as that member's part): those the run computed
    (`keep_drivers`), else computed now where they are few."""
    if "model" not in plan:
        return {}
    specs = ensembles(run_dir)
    out: dict[str, dict] = {}
    for name in kept_models(run_dir):
        through = booster_skus(plan, name, specs)
        if through.empty:
            continue
        kept = load(run_dir, name)
        if kept is None:
            continue
        done = kept_drivers(run_dir, kept)
        skus = list(through.index)
        if done is None and kept.rows["sku"].astype(str).isin(set(skus)).sum() <= ON_REQUEST_ROWS:
            done = explain_kept(kept, skus)
        if done is None:
            log.warning("why: %s's drivers were not computed by run %s; shown without them", name, run_dir)
            continue
        for sku, model in through.items():
            if sku in done and sku not in out:
                out[sku] = done[sku] if model == name else as_member(done[sku], model, specs[model], name)
    return out


def components_by_sku(forecast: pd.DataFrame) -> dict[str, dict]:
    if forecast.empty:
        return {}
    out = {}
    for row in forecast_components(forecast).itertuples(index=False):
        values = row._asdict()
        out[str(row.sku)] = {**{k: v for k, v in values.items() if k != "sku"}, "sentence": components_sentence(values)}
    return out
