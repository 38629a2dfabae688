"""Reports a planner reads without Python: `report.html` per run, `plan.xlsx` per plan, comparisons of runs.

Library code: plain paths in, files out; nothing here reads a Hydra config.
"""

from forecasting.reports.compare import find_runs, write_comparison
from forecasting.reports.excel import write_plan_workbook
from forecasting.reports.html import write_report

__all__ = ["find_runs", "write_comparison", "write_plan_workbook", "write_report"]
