"""The run report: one self-contained `report.html` per run folder that a planner reads without Python.

Self-contained means no network at all: CSS is inline, charts are inline SVG drawn in Python, there are no
scripts, web fonts or images, so the file opens offline and can be e-mailed.
"""

from __future__ import annotations

import logging
from pathlib import Path

from forecasting.reports.formatting import format_value, render
from forecasting.reports.plan_sections import (
    champions_section,
    exceptions_section,
    orders_section,
    replay_section,
)
from forecasting.reports.run_folder import RunFolder, load_run
from forecasting.reports.sections import (
    bias_section,
    coverage_section,
    data_quality_section,
    leaderboard_section,
    segments_section,
    summary_section,
)
from forecasting.reports.sku_charts import charted_models_text, forecast_chart_groups
from forecasting.reports.why_section import why_section
from forecasting.storage import atomic_path

log = logging.getLogger(__name__)


def report_context(run: RunFolder) -> dict:
    segments = segments_section(run)
    orders, exceptions = orders_section(run), exceptions_section(run)
    summary = summary_section(run)
    if orders is not None:
        summary["cards"].append(
            {
                "label": "Orders to place",
                "value": str(orders["count"]),
                "note": f"worth {format_value(orders['value'], 'money')}",
            }
        )
    if exceptions is not None:
        summary["cards"].append({"label": "SKUs with exceptions", "value": str(exceptions["count"]), "note": ""})
    return {
        "run": run,
        "title": f"Demand forecast report: {run.config.get('experiment_name', run.path.parent.name)}",
        "summary": summary,
        "orders": orders,
        "exceptions": exceptions,
        "why": why_section(run),
        "champions": champions_section(run),
        "replay": replay_section(run),
        "leaderboard": leaderboard_section(run),
        "segments": segments,
        "bias": bias_section(run, segments),
        "coverage": coverage_section(run),
        "sku_charts": forecast_chart_groups(run),
        "charted_models": charted_models_text(run),
        "quality": data_quality_section(run),
        "workbook": (run.path / "plan.xlsx").is_file(),
    }


def write_report(run_dir: str | Path) -> Path:
    """Write `run_dir/report.html` from the run folder's files; plan sections only when a plan exists."""
    run = load_run(run_dir)
    html = render("report.html.j2", **report_context(run))
    path = run.path / "report.html"
    with atomic_path(path) as tmp:
        tmp.write_text(html, encoding="utf-8")
    log.info("report: %s (%.0f kB)", path, path.stat().st_size / 1024)
    return path
