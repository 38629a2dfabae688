"""`plan.xlsx`: the plan as a workbook a planner filters and sorts, numbers formatted as in the report."""

from __future__ import annotations

import logging
import math
from datetime import datetime
from pathlib import Path

import pandas as pd
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from forecasting.reports.columns import Column, column
from forecasting.reports.formatting import format_value, is_missing
from forecasting.reports.plan_sections import ORDER_COLUMNS
from forecasting.reports.run_folder import load_run
from forecasting.reports.sections import segment_columns
from forecasting.reports.tables import exception_long, orders_to_place, segment_accuracy
from forecasting.storage import atomic_path
from forecasting.storage.formula_guard import as_text_cell, worksheet_text

log = logging.getLogger(__name__)

NUMBER_FORMATS = {
    "int": "#,##0",
    "float": "#,##0.0",
    "ratio": "0.00",
    "metric": "0.000",
    "pct": "0.0%",
    "signed_pct": "+0.0%;-0.0%;0.0%",
    "money": "#,##0.00",
    "date": "yyyy-mm-dd",
}
HEADER_FILL = PatternFill("solid", fgColor="DDE4EC")
MAX_WIDTH = 60
HEADER_MIN_WIDTH = 10
EXCEPTION_SHEET_COLUMNS = [
    "code",
    "sku",
    "description",
    "segment",
    "meaning",
    "on_hand",
    "inventory_position",
    "days_of_cover",
    "stockout_date_p50",
    "stockout_date_p90",
    "order_by",
    "order_qty",
]


def _cell_value(value, kind: str):
    """A value openpyxl stores natively: dates as dates, numbers as numbers, gaps as empty cells."""
    if is_missing(value) or (isinstance(value, str) and not value):
        return None
    if kind == "date":
        return pd.Timestamp(value).to_pydatetime()
    if kind == "codes":
        value = format_value(value, kind)
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    # openpyxl refuses control characters in a worksheet: a hostile description must not stop the workbook.
    return worksheet_text(value) if isinstance(value, str) else value


def _display_width(value, kind: str) -> int:
    if value is None:
        return 0
    if isinstance(value, datetime):
        return 10
    return len(format_value(value, kind) if kind != "text" else str(value))


def write_sheet(wb: Workbook, title: str, frame: pd.DataFrame, columns: list[Column | str]) -> None:
    cols = [
        c if isinstance(c, Column) else column(c, numeric=pd.api.types.is_numeric_dtype(frame[c]))
        for c in columns
        if (c.key if isinstance(c, Column) else c) in frame
    ]
    ws = wb.create_sheet(title)
    ws.append([c.label for c in cols])
    # Headers wrap, so a long label need not widen its column beyond its longest word.
    widths = [min(len(c.label), max(HEADER_MIN_WIDTH, *map(len, c.label.split()))) for c in cols]
    for row, record in enumerate(frame.to_dict("records"), start=2):
        values = [_cell_value(record.get(c.key), c.kind) for c in cols]
        ws.append(values)
        # Only text needs guarding; `ws[ws.max_row]` scanned every cell of the sheet for each row (30k rows: hours).
        for col, value in enumerate(values, start=1):
            if isinstance(value, str):
                as_text_cell(ws.cell(row=row, column=col))
        widths = [max(w, _display_width(v, c.kind)) for w, v, c in zip(widths, values, cols, strict=True)]
    for i, c in enumerate(cols, start=1):
        header = ws.cell(row=1, column=i)
        as_text_cell(header)
        header.font = Font(bold=True)
        header.fill = HEADER_FILL
        header.alignment = Alignment(vertical="top", wrap_text=True)
        if c.kind in NUMBER_FORMATS:
            for (cell,) in ws.iter_rows(min_row=2, min_col=i, max_col=i):
                cell.number_format = NUMBER_FORMATS[c.kind]
        ws.column_dimensions[get_column_letter(i)].width = min(widths[i - 1] + 2, MAX_WIDTH)
    header_lines = max(
        (math.ceil(len(c.label) / (min(w + 2, MAX_WIDTH) - 1)) for c, w in zip(cols, widths, strict=True)),
        default=1,
    )
    ws.row_dimensions[1].height = 15 * header_lines  # Excel does not grow a row for wrapped text on its own
    ws.freeze_panes = "A2"
    if cols:
        ws.auto_filter.ref = f"A1:{get_column_letter(len(cols))}{max(ws.max_row, 2)}"


def write_plan_workbook(run_dir: str | Path) -> Path | None:
    """Write `run_dir/plan.xlsx` when the run has a `plan.csv`; return its path, or None without a plan."""
    run = load_run(run_dir, with_backtest=False)
    if run.plan is None:
        log.info("no plan.csv in %s: no workbook written", run.path)
        return None
    plan = run.plan
    wb = Workbook()
    wb.remove(wb.active)
    write_sheet(wb, "Orders to place", orders_to_place(plan), ORDER_COLUMNS)
    write_sheet(
        wb,
        "Exceptions",
        exception_long(plan) if "exceptions" in plan else pd.DataFrame(),
        EXCEPTION_SHEET_COLUMNS,
    )
    write_sheet(wb, "Plan", plan, list(plan.columns))
    segments = segment_accuracy(run.by_segment, run.champion)
    write_sheet(wb, "Accuracy by segment", segments, segment_columns(run.champion))
    path = run.path / "plan.xlsx"
    with atomic_path(path) as tmp:
        wb.save(tmp)
    log.info("plan workbook: %s", path)
    return path
