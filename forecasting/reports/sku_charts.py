"""Forecast-vs-actual charts of the SKUs a planner looks at first: biggest sellers, worst forecasts."""

from __future__ import annotations

import pandas as pd

from forecasting.reports.formatting import metric_text, safe
from forecasting.reports.run_folder import RunFolder
from forecasting.reports.svg import Window, forecast_chart
from forecasting.reports.tables import sku_rmsse_at_last_cutoff, top_revenue_skus
from forecasting.vocabulary.column_names import band_columns

CHARTS_PER_GROUP = 6


def sku_chart(bt: pd.DataFrame, sku: str, band: tuple[str, str] | None, label: str) -> str:
    """One SKU's actual demand and every scored cutoff's forecast of it (`bt`: one model, scored folds)."""
    part = bt[bt["sku"] == sku].sort_values(["cutoff", "date"])
    actual = part.drop_duplicates("date").sort_values("date")
    windows = [
        Window(
            dates=pd.DatetimeIndex(w["date"]),
            mean=w["mean"].to_numpy(float),
            lo=w[band[0]].to_numpy(float) if band else None,
            hi=w[band[1]].to_numpy(float) if band else None,
        )
        for _, w in part.groupby("cutoff", sort=True)
    ]
    band_label = f"{band[0]}–{band[1]} band" if band else "no band"
    return forecast_chart(
        label,
        pd.DatetimeIndex(actual["date"]),
        actual["demand"].to_numpy(float),
        windows,
        sorted(part["cutoff"].unique()),
        band_label,
    )


def chart_models(run: RunFolder) -> pd.Series:
    """The model each SKU is charted with: its model in the plan when there is one, else the champion.

    The planner picks a champion per segment, so in a plan run a SKU's forecast may not come from rank 1.
    """
    skus = run.backtest["sku"].unique()
    models = pd.Series(run.champion, index=skus)
    if run.plan is not None and "model" in run.plan:
        planned = run.plan.set_index("sku")["model"]
        planned = planned[planned.isin(set(run.backtest["model"])) & planned.index.isin(skus)]
        models.loc[planned.index] = planned
    return models


def forecast_chart_groups(run: RunFolder) -> list[dict]:
    """Two groups of charts: top SKUs by revenue, and the worst RMSSE at the last cutoff."""
    if run.backtest is None or run.backtest.empty:
        return []
    models = chart_models(run)
    bt = run.backtest  # the scored folds' rows only (`load_run`)
    bt = bt[bt["model"] == bt["sku"].map(models)]
    band = band_columns(bt.columns)
    last_rmsse = sku_rmsse_at_last_cutoff(bt)
    descriptions = (
        run.segments.set_index("sku")["description"].to_dict() if "description" in run.segments else {}
    )
    revenue = run.segments.set_index("sku")["value"].to_dict() if "value" in run.segments else {}
    last_cutoff = bt["cutoff"].max()
    groups = [
        (
            "top-revenue",
            "Top SKUs by revenue",
            top_revenue_skus(run.segments, bt["sku"].unique(), CHARTS_PER_GROUP),
        ),
        (
            "worst-forecast",
            f"Worst forecasts: highest RMSSE at the last cutoff ({last_cutoff:%Y-%m-%d})",
            last_rmsse.head(CHARTS_PER_GROUP).index.tolist(),
        ),
    ]
    out = []
    for group_id, title, skus in groups:
        charts = []
        for sku in skus:
            desc = descriptions.get(sku)
            name = f"{sku} {desc}" if isinstance(desc, str) and desc else str(sku)
            facts = [f"model {models[sku]}"]
            if sku in revenue and pd.notna(revenue[sku]):
                facts.append(f"revenue {revenue[sku]:,.0f}")
            if sku in last_rmsse.index:
                facts.append(f"RMSSE at last cutoff {metric_text(float(last_rmsse[sku]))}")
            label = f"{name}: actual demand vs {models[sku]} forecast"
            charts.append(
                {
                    "sku": sku,
                    "title": name,
                    "caption": "; ".join(facts),
                    "svg": safe(sku_chart(bt, sku, band, label)),
                }
            )
        out.append({"id": group_id, "title": title, "charts": charts})
    return out


def charted_models_text(run: RunFolder) -> str:
    if run.plan is not None and "model" in run.plan:
        return "each SKU's model in the plan (the champion of its segment)"
    return f"the champion, {run.champion}"
