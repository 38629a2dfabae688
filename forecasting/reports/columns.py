"""What each run-folder column means to a planner: its label, its kind (how it is formatted) and a hint.

The HTML report and the Excel workbook format from this one table, so a number reads the same in both.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    kind: str = "text"  # text, codes, int, float, ratio, metric, pct, signed_pct, money, date
    hint: str = ""

    @property
    def numeric(self) -> bool:
        return self.kind not in ("text", "codes", "date")


_COLUMNS = [
    # identity and segments
    Column("sku", "SKU"),
    Column("description", "Description"),
    Column("segment", "Segment"),
    Column("abc", "ABC"),
    Column("demand_class", "Demand class"),
    Column("model", "Model"),
    Column("run", "Run"),
    Column("experiment", "Experiment"),
    Column("policy", "Policy"),
    # the plan's champion per segment (champion_choice.csv)
    Column("how_chosen", "Why this model"),
    Column("windows", "Windows", "int", "Backtest windows (SKU x cutoff) the choice was judged on."),
    Column(
        "plan_pinball",
        "Window-sum pinball",
        "metric",
        "Pinball loss (units) of the calibrated quantiles of demand over lead time + review at levels 0.8-0.98, "
        "out of sample; lower is better.",
    ),
    Column("runner_up", "Runner-up"),
    Column("service_measure", "Service measure"),
    Column("exceptions", "Exceptions", "codes"),
    Column("code", "Exception"),
    Column("meaning", "What it means"),
    # plan: quantities are units, rounded to whole units when shown
    Column("service_target", "Service target", "pct"),
    Column("lead_time_days", "Lead time (days)", "int"),
    Column("review_period_days", "Review period (days)", "int"),
    Column(
        "order_cycle_days",
        "Order cycle (days)",
        "int",
        "days an order covers: the review period, or the SKU's economic cycle (plan.max_order_cycle_days)",
    ),
    Column("on_hand", "On hand", "int"),
    Column("on_order", "On order", "int"),
    Column("inventory_position", "Inventory position", "int", "on hand + on order"),
    Column("demand_cover_p50", "Demand over cover (p50)", "int", "median demand over lead time + review period"),
    Column(
        "demand_cover_target",
        "Demand over cover (target)",
        "int",
        "demand over lead time + review period at the service target",
    ),
    Column("safety_stock", "Safety stock", "int"),
    Column("reorder_point", "Reorder point", "int"),
    Column("order_up_to", "Order-up-to", "int"),
    Column("order_qty", "Order qty", "int", "after MOQ and pack rounding"),
    Column("moq", "MOQ", "int"),
    Column("pack_size", "Pack size", "int"),
    Column("unit_cost", "Unit cost", "money"),
    Column("order_value", "Order value", "money"),
    Column("order_by", "Order by", "date"),
    Column("stockout_date_p50", "Stockout (p50)", "date", "projected stockout date on median demand"),
    Column("stockout_date_p90", "Stockout (p90)", "date", "projected stockout date if demand runs high (p90)"),
    Column("days_of_cover", "Days of cover", "float"),
    Column("demand_30d_p10", "30-day demand p10", "int"),
    Column("demand_30d_p50", "30-day demand p50", "int"),
    Column("demand_30d_p90", "30-day demand p90", "int"),
    Column("demand_60d_p10", "60-day demand p10", "int"),
    Column("demand_60d_p50", "60-day demand p50", "int"),
    Column("demand_60d_p90", "60-day demand p90", "int"),
    Column("demand_cover_mean", "Demand over cover (mean)", "int"),
    Column("calibration_factor", "Calibration factor", "ratio", "conformal correction of the forecast quantiles"),
    Column("stock_source", "Stock source", hint="where on-hand came from: a stock file, or assumed days of cover"),
    Column("param_source", "Parameter source", hint="policy parameters: defaults or a per-SKU override"),
    Column("skus", "SKUs", "int"),
    # replay of a policy on history
    Column("target_fill_rate", "Target fill rate", "pct"),
    Column("fill_rate", "Fill rate", "pct"),
    Column("cycle_service_level", "Cycle service level", "pct"),
    Column("stockout_days", "Stockout days", "int"),
    Column("avg_stock_units", "Avg stock (units)", "int"),
    Column("avg_stock_value", "Avg stock value", "money"),
    Column("orders", "Orders", "int"),
    Column("lost_units", "Lost units", "int"),
    Column("total_cost", "Total cost", "money"),
    # accuracy
    Column("rank", "Rank", "int"),
    Column("rmsse", "RMSSE", "metric", "root mean squared scaled error (M5); lower is better"),
    Column("mae", "MAE", "metric", "mean absolute error, units per period (day, week or month)"),
    Column("rmse", "RMSE", "metric", "root mean squared error, units per period (day, week or month)"),
    Column("wape", "WAPE", "pct", "absolute error over actual volume"),
    Column("bias", "Bias", "signed_pct", "net error over actual volume; + means over-forecast"),
    Column("mape_nonzero", "MAPE (sale days)", "pct", "mean absolute % error on days with sales"),
    Column("pinball", "Pinball", "metric", "mean quantile loss over the forecast quantiles"),
    Column("coverage_80", "Coverage 80%", "pct", "share of actuals inside the p10-p90 band; nominal 80%"),
    Column("coverage_90", "Coverage 90%", "pct", "share of actuals inside the p5-p95 band; nominal 90%"),
    Column("series", "Series", "int", "SKU x cutoff series scored"),
    Column("points", "Points", "int", "SKU x day forecasts scored"),
    Column(
        "fallback_share",
        "Fallback share",
        "pct",
        "forecasts where the fit failed and seasonal naive stood in",
    ),
    Column("fva_mae", "FVA MAE", "signed_pct", "forecast value added vs seasonal naive: 1 - MAE / naive MAE"),
    Column("fva_rmsse", "FVA RMSSE", "signed_pct", "forecast value added vs seasonal naive on RMSSE"),
    Column("fva_pinball", "FVA pinball", "signed_pct", "forecast value added vs seasonal naive on pinball loss"),
    Column("failed_fits", "Failed fits", "int"),
    Column("retrain", "Retrain"),
]
COLUMNS = {c.key: c for c in _COLUMNS}


def column(key: str, label: str | None = None, numeric: bool = False) -> Column:
    """The known column, or a plain one for a key this table does not describe (numbers get one decimal)."""
    known = COLUMNS.get(key)
    if known is None:
        kind = "pct" if key.startswith("coverage_") else "float" if numeric else "text"
        known = Column(key, key.replace("_", " ").capitalize(), kind)
    return known if label is None else Column(key, label, known.kind, known.hint)
