"""Wire the stages from a Hydra config: the only package that reads a `DictConfig`.

`run(cfg, output_dir)` performs the configured task and returns the metrics that `run.py` hands to a sweeper;
one module per task, and `common` for what they share.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from forecasting.parallel import dask_backend
from forecasting.pipeline.backtest_task import run_backtest
from forecasting.pipeline.common import (
    BASELINE,
    build_models,
    check_inputs,
    cutoffs_from_config,
    load_data,
    pause_point,
    replay_settings,
    seed_everything,
    write_reports,
)
from forecasting.pipeline.plan_task import plan_inputs, run_plan
from forecasting.pipeline.reforecast_task import run_reforecast
from forecasting.pipeline.serve_task import run_serve
from forecasting.pipeline.settings import TASKS, check_config, fall_back_to_cpu
from forecasting.reports import find_runs, write_comparison
from forecasting.storage import atomic_path, write_csv, write_json

__all__ = ["BASELINE", "TASKS", "build_models", "cutoffs_from_config", "load_data", "run"]
log = logging.getLogger(__name__)


def run(cfg: DictConfig, output_dir: str | Path) -> dict:
    check_config(cfg)  # every setting's type and range before any work: a bad value is exit 2, not "a bug" later
    fall_back_to_cpu(cfg)
    task = cfg.get("task", "backtest")
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    seed_everything(int(cfg.seed))
    started = time.perf_counter()
    with atomic_path(out / "config.yaml") as tmp:
        tmp.write_text(OmegaConf.to_yaml(cfg, resolve=True))
    pause_point("run_started")
    if task == "serve":
        return run_serve(cfg)
    if task == "compare":
        runs = [r for r in find_runs(Path(cfg.get("compare_root", "experiments"))) if r.resolve() != out.resolve()]
        write_comparison(runs, out)  # an InputError (exit 2) when there is no run to compare
        log.info("compared %d runs: %s", len(runs), out / "comparison.html")
        return {"value": 0.0, "task": "compare", "runs": len(runs)}
    check_inputs(cfg, plan=task in ("plan", "reforecast"))
    p = cfg.parallel
    with dask_backend(p.get("backend", "local"), p.get("scheduler_address"), int(p.n_jobs)):
        if task == "reforecast":
            return run_reforecast(cfg, out, started)
        return _forecast_task(cfg, task, out, started)


def _forecast_task(cfg: DictConfig, task: str, out: Path, started: float) -> dict:
    data = load_data(cfg)
    # Again, now that settings left to the data's frequency (backtest.by_frequency) are filled in.
    with atomic_path(out / "config.yaml") as tmp:
        tmp.write_text(OmegaConf.to_yaml(cfg, resolve=True))
    write_json(data.quality.as_dict(), out / "data_quality.json")
    write_csv(data.segments, out / "segments.csv")
    if task == "plan":
        inputs = plan_inputs(cfg, data)  # the plan's files against the panel, before the long backtest
        cover_days = int(cfg.plan.lead_time_days) + int(cfg.plan.review_period_days)
        replay = replay_settings(cfg)
        start = replay.start(data.panel["date"].max()) if replay else None
        metrics, result = run_backtest(cfg, data, out, started, cover_days=cover_days, replay_start=start)
        metrics.update(run_plan(cfg, data, out, result, inputs=inputs))
        metrics["wall_seconds"] = round(time.perf_counter() - started, 2)
        write_json(metrics, out / "metrics.json")
        write_reports(out)
        return metrics
    metrics = run_backtest(cfg, data, out, started)[0]
    write_reports(out)
    return metrics
