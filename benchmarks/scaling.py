"""Time and peak memory per pipeline stage on synthetic demand at growing SKU counts.

    python benchmarks/scaling.py --skus 1000 5000 30000 --n-jobs 2

For each SKU count, a fresh process generates two years of daily demand with forecasting.datasets.synthetic
(negative-binomial sizes, weekly season, the four Syntetos-Boylan classes, half of them intermittent), writes it
as a Parquet daily demand table, and runs the default experiment on it stage by stage through the real code:
`data=daily_demand` with the default models (arima, ets, croston and the seasonal-naive baseline), folds,
horizon, num_samples and plan (replay included), `data.panel.max_skus=null`.

stages: load = read and validate the file (`read_table`); panel = the rest of `prepare_data` (calendar,
panel, filters, segments: its time minus load's); backtest = `backtest.runner.backtest` (all folds and models,
with the plan's cover records); scoring = leaderboard and metrics by segment and by SKU; plan = champions,
final forecasts, plan and 12-week replay (`run_plan`); report = report.html and plan.xlsx.
wall s: wall time; cpu s: CPU time of the process and its workers (on a busy machine wall time overstates
the work, CPU time does not); parent cpu s: the CPU time of this process alone, the serial part of the stage
(a stage whose parent CPU is near its wall time keeps the workers waiting). peak MB: the peak summed PSS of
this process and its worker processes during the stage, sampled every 0.1 s from /proc. parent_peak_mb (last
row): the parent's own peak RSS over the whole run.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "benchmarks")]

from memory import PeakMemory  # noqa: E402

STAGES = ["load", "panel", "backtest", "scoring", "plan", "report"]


def compose(path: Path, n_jobs: int, extra: list[str]):
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir

    overrides = [
        "data=daily_demand",
        f"data.path={path}",
        "data.panel.max_skus=null",
        f"parallel.n_jobs={n_jobs}",
        "plan.unit_cost=5.0",  # the demand table carries no prices to derive a cost from
        *extra,
    ]
    with initialize_config_dir(config_dir=str(REPO / "conf"), version_base="1.3"):
        return hydra_compose(config_name="config", overrides=overrides)


def one(skus: int, n_jobs: int, extra: list[str]) -> dict:
    """All stages for one SKU count in this process; returns {stage: (seconds, peak MB)}."""
    from omegaconf import OmegaConf

    from forecasting.backtest.runner import backtest as runner_backtest
    from forecasting.data.loading import read_table
    from forecasting.datasets.synthetic import synthetic_demand
    from forecasting.pipeline import backtest_task
    from forecasting.pipeline.common import load_data, write_reports
    from forecasting.pipeline.plan_task import plan_inputs, run_plan
    from forecasting.storage import write_csv, write_json

    out = Path(tempfile.mkdtemp(prefix=f"scaling_{skus}_"))
    path = out / "demand.parquet"
    synthetic_demand(skus, 730, seed=0).table.to_parquet(path, index=False)
    cfg = compose(path, n_jobs, extra)
    OmegaConf.set_struct(cfg, False)
    stats, started = {}, time.perf_counter()

    def stage(name, fn):
        t0, c0, p0 = time.perf_counter(), cpu_seconds(), cpu_seconds(workers=False)
        with PeakMemory() as mem:
            result = fn()
        stats[name] = [
            round(time.perf_counter() - t0, 2),
            round(mem.peak),
            round(cpu_seconds() - c0, 2),
            round(cpu_seconds(workers=False) - p0, 2),
        ]
        logging.getLogger("scaling").warning(
            "%s SKUs: %s %.1f s, peak %.0f MB, cpu %.1f s (parent %.1f s)", skus, name, *stats[name]
        )
        return result

    columns = {"sku": "sku", "date": "date", "quantity": "demand"}
    stage("load", lambda: read_table(str(path), columns, "demand", None, None))
    data = stage("panel", lambda: load_data(cfg))
    stats["panel"][0] = round(stats["panel"][0] - stats["load"][0], 2)
    write_json(data.quality.as_dict(), out / "data_quality.json")
    write_csv(data.segments, out / "segments.csv")
    cover_days = int(cfg.plan.lead_time_days) + int(cfg.plan.review_period_days)
    # The pipeline's own backtest task; its call of the backtest runner is timed apart from the scoring and
    # writing that follow it (leaderboard, metrics by segment and SKU, backtest.parquet).
    after = {}

    def timed_backtest(*args, **kwargs):
        run = stage("backtest", lambda: runner_backtest(*args, **kwargs))
        after["rows"], after["t"], after["cpu"] = len(run.table), time.perf_counter(), cpu_seconds()
        after["parent_cpu"] = cpu_seconds(workers=False)
        after["mem"] = PeakMemory().__enter__()
        return run

    backtest_task.backtest = timed_backtest
    _metrics, result = backtest_task.run_backtest(cfg, data, out, started, cover_days=cover_days)
    after["mem"].__exit__(None, None, None)
    stats["scoring"] = [
        round(time.perf_counter() - after["t"], 2),
        round(after["mem"].peak),
        round(cpu_seconds() - after["cpu"], 2),
        round(cpu_seconds(workers=False) - after["parent_cpu"], 2),
    ]
    stage("plan", lambda: run_plan(cfg, data, out, result, inputs=plan_inputs(cfg, data)))
    stage("report", lambda: write_reports(out))
    rows = {"skus": skus, "panel_rows": len(data.panel), "backtest_rows": after["rows"], "stages": stats}
    rows["total_s"] = round(time.perf_counter() - started, 1)
    rows["parent_peak_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    return rows


def cpu_seconds(workers: bool = True) -> float:
    """CPU time of this process and (with `workers`) its finished worker processes."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + (children.ru_utime + children.ru_stime if workers else 0.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skus", type=int, nargs="+", default=[1000, 5000, 30000])
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    parser.add_argument("overrides", nargs="*", help="extra config overrides, e.g. model=[ets]")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(message)s")
    if args.one:
        print("RESULT " + json.dumps(one(args.one, args.n_jobs, args.overrides)), flush=True)
        return
    results = []
    for skus in args.skus:
        cmd = [sys.executable, __file__, "--one", str(skus), "--n-jobs", str(args.n_jobs), *args.overrides]
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, env={**os.environ, "TQDM_DISABLE": "1"})
        line = next((x for x in proc.stdout.splitlines() if x.startswith("RESULT ")), None)
        if line is None:
            raise SystemExit(f"{skus} SKUs failed (exit {proc.returncode})")
        results.append(json.loads(line[len("RESULT ") :]))
    print(table(results))


def table(results: list[dict]) -> str:
    head = "| stage | " + " | ".join(f"{r['skus']:,} SKUs: wall s | cpu s | parent cpu s | peak MB" for r in results)
    lines = [head + " |", "| --- |" + " ---: | ---: | ---: | ---: |" * len(results)]
    for name in STAGES:
        cells = " | ".join(
            "{:.1f} | {:.1f} | {:.1f} | {:,}".format(*(r["stages"][name][i] for i in (0, 2, 3, 1))) for r in results
        )
        lines.append(f"| {name} | {cells} |")
    total = " | ".join(f"{r['total_s']:.1f} | | | {r['parent_peak_mb']:,} (parent RSS)" for r in results)
    lines.append(f"| total | {total} |")
    lines.append("| backtest rows | " + " | ".join(f"{r['backtest_rows']:,} | | |" for r in results) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
