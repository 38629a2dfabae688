"""The report's "Why" section: one sample SKU's explanation, as the API gives it for every SKU.

The sample is the SKU with the largest order to place (else the largest 30-day demand): the one a planner is
most likely to ask about. A scheduled reforecast compares it with the previous plan in the warehouse.
"""

from __future__ import annotations

import logging

import pandas as pd

from forecasting.explain import explain_skus
from forecasting.reports.formatting import format_value
from forecasting.reports.run_folder import RunFolder

log = logging.getLogger(__name__)

NUMBERS = (  # label, key of the explanation's numbers, format
    ("Forecast, next 30 days (a day)", "forecast_30d_daily", "ratio"),
    ("Previous plan's forecast (a day)", "previous_forecast_30d_daily", "ratio"),
    ("Demand, latest weeks (a day)", "recent_demand_daily", "ratio"),
    ("Previous plan expected (a day)", "previously_expected_daily", "ratio"),
    ("Order quantity", "order_qty", "int"),
    ("Previous order quantity", "previous_order_qty", "int"),
    ("Calibration factor", "calibration_factor", "ratio"),
    ("Previous model", "previous_model", "text"),
)


def sample_sku(plan: pd.DataFrame) -> tuple[str, str]:
    """The SKU to explain and why it was chosen."""
    for column, reason in (("order_value", "the largest order to place"), ("demand_30d_p50", "the most demand")):
        if column in plan and pd.to_numeric(plan[column], errors="coerce").fillna(0).max() > 0:
            row = plan.loc[pd.to_numeric(plan[column], errors="coerce").fillna(0).idxmax()]
            return str(row["sku"]), reason
    return str(plan["sku"].iloc[0]), "the first SKU of the plan"


def why_section(run: RunFolder) -> dict | None:
    path = run.path / "forecast.parquet"
    if run.plan is None or run.plan.empty or not path.is_file():
        return None
    sku, reason = sample_sku(run.plan)
    forecast = pd.read_parquet(path)
    forecast = forecast[forecast["sku"].astype(str) == sku]
    if forecast.empty:
        return None
    reforecast = run.config.get("task") == "reforecast"
    warehouse = (run.config.get("reforecast") or {}).get("warehouse") if reforecast else None
    cutoff = forecast["date"].min() - pd.Timedelta(days=1)
    plan = run.plan[run.plan["sku"].astype(str) == sku]
    try:
        why = explain_skus(plan, forecast, run.path, warehouse, run.path.name, cutoff)[sku]
    except Exception:  # noqa: BLE001 - the report is written without this section rather than not at all
        log.exception("report: the explanation of %s failed; the section is left out", sku)
        return None
    numbers = [
        (label, format_value(why["numbers"][key], kind)) for label, key, kind in NUMBERS if key in why["numbers"]
    ]
    components = why["components"] or {}
    season = [(day, f"{value:.2f}x") for day, value in (components.get("season") or {}).items()]
    description = plan["description"].iloc[0] if "description" in plan else ""
    return {
        "sku": sku,
        "description": description,
        "reason": reason,
        "model": why["model"],
        "components": components.get("sentence", ""),
        "season": season,
        "moved": why["moved"],
        "numbers": numbers,
        "drivers": drivers_view(why.get("drivers")),
    }


def drivers_view(drivers: dict | None) -> dict | None:
    """The SHAP drivers as the section shows them: the sentence, then each driver with its effect in the
    booster's units (a percentage of the forecast, or units a day beside the level it corrects)."""
    if not drivers:
        return None
    table = []
    if drivers.get("start"):
        start = drivers["start"]
        table.append((f"Start: {start['driver']}", f"{start['units_a_day']:.3g} a day"))
    for d in drivers.get("drivers", []):
        effect = f"{d['effect']:+.3g} a day" if d["unit"] == "units a day" else f"{d['effect']:+.1%}"
        table.append((d["driver"], effect))
    if drivers.get("start"):
        table.append(("Level forecast", f"{drivers['start']['level']:.3g} a day"))
    return {"sentence": drivers.get("sentence", ""), "method": drivers.get("method", ""), "table": table}
