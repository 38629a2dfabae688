"""`why` for every SKU of a served plan, built once when the plan loads (forecasting.explain does the reading).

The previous plan and its forecast come from the warehouse (the last complete reforecast that finished before
the served one); the latest weeks' actual demand and the champion decisions from the served run's folder.
Whatever is missing (a first run, a pruned run folder) leaves that part out and the rest is still served.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from forecasting.explain import components_sentence, forecast_components, what_moved
from forecasting.serving import history
from forecasting.serving.render import dumps
from forecasting.serving.snapshot import Snapshot
from forecasting.storage import read_csv

log = logging.getLogger(__name__)

# Global boosters are not kept after the run, so there is no model to ask for SHAP values here.
NO_SHAP = (
    "Feature attributions (SHAP) need the trained booster, which the run does not keep; the components and the "
    "changes below describe its forecast."
)


def explainer(warehouse: str | os.PathLike) -> Callable[[Snapshot], None]:
    def enrich(snap: Snapshot) -> None:
        previous_plan, previous_forecast = previous_run(warehouse, snap)
        run_dir = Path(snap.run_dir)
        parts = components_by_sku(snap.forecast)
        moved = what_moved(
            snap.plan, snap.forecast, previous_plan, previous_forecast, recent_demand(run_dir), champions(run_dir)
        ).set_index("sku")
        why = {}
        for sku in snap.plan["sku"].astype(str):
            model = str(moved.at[sku, "model"]) if sku in moved.index else ""
            body = {"model": model, "components": parts.get(sku), "moved": [], "numbers": {}}
            if sku in moved.index:
                row = moved.loc[sku]
                body["moved"] = row["moved"]
                body["numbers"] = {k: v for k, v in row.drop(["moved", "model"]).items() if pd.notna(v)}
            if "lightgbm" in model:
                body["drivers"] = NO_SHAP
            why[sku] = dumps(body)
        snap.extras["why_json"] = why

    return enrich


def components_by_sku(forecast: pd.DataFrame) -> dict[str, dict]:
    if forecast.empty:
        return {}
    table = forecast_components(forecast)
    out = {}
    for row in table.itertuples(index=False):
        values = row._asdict()
        out[str(row.sku)] = {**{k: v for k, v in values.items() if k != "sku"}, "sentence": components_sentence(values)}
    return out


def previous_run(warehouse, snap: Snapshot) -> tuple[pd.DataFrame | None, pd.DataFrame | None]:
    try:
        found = history.query(
            warehouse,
            "SELECT run_id FROM runs WHERE status = 'complete' AND task = 'reforecast' AND run_id <> ? "
            "AND data_cutoff <= ? ORDER BY finished_at DESC LIMIT 1",
            [snap.run_id, pd.Timestamp(snap.data_cutoff).date()],
        )
        if found.empty:
            return None, None
        run_id = str(found["run_id"].iloc[0])
        plan = history.query(warehouse, "SELECT * FROM plans WHERE run_id = ?", [run_id])
        forecast = history.query(warehouse, "SELECT sku, date, mean FROM forecasts WHERE run_id = ?", [run_id])
        return plan, forecast
    except (history.HistoryUnavailable, ValueError) as exc:
        log.warning("why: no previous plan to compare with (%s)", exc)
        return None, None


def recent_demand(run_dir: Path) -> pd.DataFrame | None:
    """The actual demand of the backtest's last test window (the weeks up to the cut-off), one row per day."""
    path = run_dir / "backtest.parquet"
    if not path.is_file():
        return None
    columns = ["sku", "date", "model", "cutoff", "role", "demand"]
    backtest = pd.read_parquet(path)
    test = backtest[columns + (["promo"] if "promo" in backtest else [])]
    test = test[test["role"] == "test"]
    if test.empty:
        return None
    last = test[(test["cutoff"] == test["cutoff"].max()) & (test["model"] == test["model"].iloc[0])]
    return last.drop(columns=["model", "cutoff", "role"]).assign(sku=lambda f: f["sku"].astype(str))


def champions(run_dir: Path) -> pd.DataFrame | None:
    path = run_dir / "champions.csv"
    return read_csv(path, dtype={"segment": str, "model": str}) if path.is_file() else None
