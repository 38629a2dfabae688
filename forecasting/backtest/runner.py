"""The one backtest entry point: every kind of model on the same folds, SKUs and metrics, in one table.

Per-SKU models (LocalForecaster) run one SKU per job on the parallel backend (backtest.sku_runner), panel-wide
models (PanelForecaster) on the whole panel at once in this process (backtest.panel_runner), and global models
(GlobalForecaster) one after another, each trained across SKUs (backtest.global_runner). The kinds give the same
rows for a SKU, so they share one table and one leaderboard.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from forecasting.backtest.cumulative import cover_table
from forecasting.backtest.global_runner import backtest_global
from forecasting.backtest.panel_runner import backtest_panel
from forecasting.backtest.settings import BacktestSettings
from forecasting.backtest.sku_runner import backtest_sku
from forecasting.data.panel import sku_series
from forecasting.models.base import GlobalForecaster, LocalForecaster, Segments
from forecasting.models.panel import PanelForecaster
from forecasting.parallel import release_memory, run_per_sku
from forecasting.vocabulary.text_columns import TEXT, join_codes

#: the order of the per-SKU and panel-wide rows (a global model's rows follow them, in its own order)
ROW_ORDER = ["model", "sku", "cutoff", "date"]

log = logging.getLogger(__name__)


@dataclass
class BacktestRun:
    """What one backtest gives: the backtest table (forecast table + cutoff, fold, role, demand, scale,
    fallback), the fits that fell back to the baseline, the cumulative-demand records over
    `settings.cover_days` after each cutoff (empty without), each global model's training record (epochs and
    seconds per cutoff) and the seconds each part took (`local_seconds` for the per-SKU and panel-wide models
    together, `<name>_seconds` per global model)."""

    table: pd.DataFrame
    failures: pd.DataFrame
    covers: pd.DataFrame
    training: dict[str, dict] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)


def backtest(
    panel: pd.DataFrame,
    cutoffs: pd.DataFrame,
    models: Mapping[str, LocalForecaster | PanelForecaster | GlobalForecaster],
    fallback: LocalForecaster,
    settings: BacktestSettings,
    segments: Segments = None,
) -> BacktestRun:
    """Every model of `models` over every fold of `cutoffs`; `segments` (the SKUs' segment table, or a function of
    the cutoff giving it as it stood then: models.base.segments_at) is what global models train with."""
    global_models = {name: m for name, m in models.items() if isinstance(m, GlobalForecaster)}
    panel_models = {name: m for name, m in models.items() if isinstance(m, PanelForecaster)}
    sku_models = {name: m for name, m in models.items() if name not in panel_models and name not in global_models}
    t0 = time.perf_counter()
    results = []
    if sku_models:
        # Folds as plain tuples: iterating the DataFrame again for every SKU cost more than a cheap model's fit.
        folds = list(cutoffs.itertuples(index=False))
        series = sku_series(panel, [c for m in sku_models.values() for c in getattr(m, "covariates", ())])
        results += run_per_sku(
            backtest_sku,
            series,
            n_jobs=settings.n_jobs,
            desc="backtest",
            cutoffs=folds,
            models=sku_models,
            fallback=fallback,
            settings=settings,
        )
    if panel_models:
        log.info("backtest: %s on all %d SKUs at once", ", ".join(panel_models), panel["sku"].nunique())
        results.append(backtest_panel(panel, cutoffs, panel_models, fallback, settings))
    table = sorted_table([r.columns for r in results if r.columns])
    failures = pd.DataFrame([f for r in results for f in r.failures], columns=["sku", "model", "cutoff", "error"])
    covers = cover_table([c for r in results for c in r.extra]) if settings.cover_days else pd.DataFrame()
    del results
    release_memory()  # the workers' results, now joined into one table
    run = BacktestRun(table, failures, covers, seconds={"local_seconds": round(time.perf_counter() - t0, 2)})
    for name, model in global_models.items():
        t1 = time.perf_counter()
        rows, run.training[name], model_covers = backtest_global(name, model, panel, segments, cutoffs, settings)
        run.seconds[f"{name}_seconds"] = round(time.perf_counter() - t1, 2)
        run.table = pd.concat([run.table, rows], ignore_index=True)
        run.covers = pd.concat([run.covers, model_covers], ignore_index=True)
    return run


def sorted_table(parts: list[dict[str, np.ndarray]]) -> pd.DataFrame:
    """One table in ROW_ORDER from column parts, built once: each column is joined, put in order and its parts
    released in turn, and the frame keeps the arrays as they are, so the rows are never held twice over (a
    concatenation, a DataFrame sort or consolidating the float columns would each copy the whole table).
    The order comes from a stable sort of integer keys (text as codes in string order, dates as integers):
    a DataFrame sort of the key columns held several times their size while every part was still alive."""
    if not parts:
        return pd.DataFrame()
    names = list(parts[0])
    text = {k: join_codes([p.pop(k) for p in parts]) for k in TEXT if k in names}
    keys = [text[k][0] if k in text else np.concatenate([p[k] for p in parts]).view("i8") for k in ROW_ORDER]
    order = np.lexsort(keys[::-1])  # lexsort's last key is the primary one
    del keys
    columns = {}
    for k in names:
        if k in text:
            codes, values = text.pop(k)
            columns[k] = values[codes[order]]
        else:
            columns[k] = np.concatenate([p.pop(k) for p in parts])[order]
    return pd.DataFrame(columns, copy=False)
