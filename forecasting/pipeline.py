"""Wire the stages from a Hydra config: the only module that reads a `DictConfig`.

`run(cfg, output_dir)` performs the configured task and returns the metrics that `run.py` hands to a sweeper.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import random
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from forecasting.backtest.folds import make_cutoffs
from forecasting.backtest.global_runner import backtest_global
from forecasting.backtest.leaderboard import leaderboard
from forecasting.backtest.metrics import score
from forecasting.backtest.runner import backtest
from forecasting.champions import decide_champions
from forecasting.data.prepare import PreparedData, prepare_data
from forecasting.errors import InputError
from forecasting.models.base import LocalForecaster
from forecasting.models.neural import NeuralForecaster, TrainingContext
from forecasting.monitoring import drift_alert, forecast_accuracy
from forecasting.planning.calibration import calibrate
from forecasting.planning.inputs import policy_table, stock_position
from forecasting.planning.replay import aggregate, stock_at_equal_fill
from forecasting.planning.runner import build_plan, choose_champions, final_forecasts, forecast_table, replay
from forecasting.reports import find_runs, write_comparison, write_plan_workbook, write_report
from forecasting.storage import atomic_path, write_csv, write_json, write_parquet
from forecasting.storage.lock import process_lock
from forecasting.storage.warehouse import Warehouse

log = logging.getLogger(__name__)
BASELINE = "seasonal_naive"
TASKS = ("backtest", "plan", "reforecast", "compare")


def seed_everything(seed: int) -> None:
    """numpy and random here; torch and Lightning are seeded by the neural models when they train."""
    random.seed(seed)
    np.random.seed(seed)


def load_data(cfg: DictConfig) -> PreparedData:
    d = OmegaConf.to_container(cfg.data, resolve=True)
    return prepare_data(
        path=d["path"],
        kind=d.get("kind", "transactions"),
        columns=d.get("columns"),
        read_options=d.get("read_options"),
        date_format=d.get("date_format"),
        end=d.get("end"),
        cleaning=d.get("cleaning"),
        calendar=d.get("calendar"),
        panel=d.get("panel"),
        segments=d.get("segments"),
    )


def build_models(
    cfg: DictConfig, data: PreparedData, work_dir: str | Path
) -> tuple[dict[str, LocalForecaster], dict[str, NeuralForecaster], LocalForecaster]:
    """Per-SKU models (the baseline always among them, for FVA), global models, and the fallback model."""
    if not cfg.get("model"):
        raise InputError("no model is selected; pick some, e.g. model=[arima,ets].")
    season = data.calendar.season_length
    fallback = instantiate(cfg.baseline).with_season(season)
    local: dict[str, LocalForecaster] = {BASELINE: fallback}
    global_: dict[str, NeuralForecaster] = {}
    for name, mcfg in cfg.model.items():
        model = instantiate(mcfg, _convert_="all")
        if getattr(model, "is_global", False):
            context = TrainingContext(
                work_dir=str(Path(work_dir) / "models"),
                trainer=OmegaConf.to_container(cfg.trainer, resolve=True),
                quantiles=[float(q) for q in cfg.quantiles],
                seed=int(cfg.seed),
                calendar=data.calendar,
            )
            model.name = str(name)
            global_[str(name)] = model.configure(context)
        else:
            local[str(name)] = model.with_season(season)
    return local, global_, fallback


def cutoffs_from_config(cfg: DictConfig, panel: pd.DataFrame) -> pd.DataFrame:
    b = cfg.backtest
    return make_cutoffs(
        pd.DatetimeIndex(panel["date"].unique()),
        horizon=int(b.horizon),
        folds=int(b.folds),
        step=int(b.step),
        validation_folds=int(b.get("validation_folds", 0)),
        min_train_days=int(b.min_train_days),
        skip_test=bool(b.get("skip_test", False)),
    )


def run(cfg: DictConfig, output_dir: str | Path) -> dict:
    task = cfg.get("task", "backtest")
    if task not in TASKS:
        raise InputError(f"task '{task}' is unknown; use one of: {', '.join(TASKS)}.")
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    seed_everything(int(cfg.seed))
    started = time.perf_counter()
    with atomic_path(out / "config.yaml") as tmp:
        tmp.write_text(OmegaConf.to_yaml(cfg, resolve=True))
    if task == "reforecast":
        return run_reforecast(cfg, out, started)
    if task == "compare":
        runs = [
            r for r in find_runs(Path(cfg.get("compare_root", "experiments"))) if r.resolve() != out.resolve()
        ]
        write_comparison(runs, out)  # an InputError (exit 2) when there is no run to compare
        log.info("compared %d runs: %s", len(runs), out / "comparison.html")
        return {"value": 0.0, "task": "compare", "runs": len(runs)}

    data = load_data(cfg)
    write_json(data.quality.as_dict(), out / "data_quality.json")
    write_csv(data.segments, out / "segments.csv")
    if task == "plan":
        cover_days = int(cfg.plan.lead_time_days) + int(cfg.plan.review_period_days)
        metrics, result = run_backtest(cfg, data, out, started, cover_days=cover_days)
        metrics.update(run_plan(cfg, data, out, result))
        metrics["wall_seconds"] = round(time.perf_counter() - started, 2)
        write_json(metrics, out / "metrics.json")
        write_reports(out)
        return metrics
    metrics = run_backtest(cfg, data, out, started)[0]
    write_reports(out)
    return metrics


def write_reports(out: Path) -> None:
    """report.html always; plan.xlsx when the run planned."""
    write_plan_workbook(out)
    write_report(out)


@dataclass
class BacktestResult:
    """What planning reuses from the backtest of the same run."""

    by_segment: pd.DataFrame
    covers: pd.DataFrame
    local: dict
    fallback: LocalForecaster


def run_backtest(
    cfg: DictConfig, data: PreparedData, out: Path, started: float, cover_days: int | None = None
) -> tuple[dict, BacktestResult]:
    bcfg = cfg.backtest
    quantiles = [float(q) for q in cfg.quantiles]
    local, global_, fallback = build_models(cfg, data, out)
    cutoffs = cutoffs_from_config(cfg, data.panel)
    log.info(
        "backtest: %d models, cutoffs %s",
        len(local) + len(global_),
        ", ".join(str(c.date()) for c in cutoffs["cutoff"]),
    )
    t0 = time.perf_counter()
    bt, failures, *rest = backtest(
        data.panel,
        cutoffs,
        horizon=int(bcfg.horizon),
        models=local,
        fallback=fallback,
        quantiles=quantiles,
        num_samples=int(cfg.num_samples),
        seed=int(cfg.seed),
        min_train_days=int(bcfg.min_train_days),
        n_jobs=int(cfg.parallel.n_jobs),
        cover_days=cover_days,
    )
    covers = rest[0] if rest else pd.DataFrame()
    timings = {"local_seconds": round(time.perf_counter() - t0, 2)}
    training = {}
    for name, model in global_.items():
        t1 = time.perf_counter()
        rows, training[name], model_covers = backtest_global(
            name,
            model,
            data.panel,
            data.segments,
            cutoffs,
            int(bcfg.horizon),
            quantiles,
            int(cfg.num_samples),
            int(bcfg.min_train_days),
            cover_days,
        )
        timings[f"{name}_seconds"] = round(time.perf_counter() - t1, 2)
        bt = pd.concat([bt, rows], ignore_index=True)
        covers = pd.concat([covers, model_covers], ignore_index=True)
    if bt.empty:
        raise InputError(
            "no SKU had enough history before the first cutoff; lower backtest.min_train_days or folds."
        )
    bt = bt.merge(data.segments[["sku", "abc", "demand_class", "segment"]], on="sku", how="left")
    write_parquet(bt, out / "backtest.parquet")
    write_csv(cutoffs, out / "folds.csv")
    if len(failures):
        write_csv(failures, out / "failures.csv")

    # The leaderboard scores the test folds; a tuning trial without them scores its validation folds.
    board_role = "test" if (bt["role"] == "test").any() else "validation"
    test = bt[bt["role"] == board_role]
    board = leaderboard(test, quantiles, rank_by=str(cfg.optimized_metric), baseline=BASELINE)
    failure_counts = failures.groupby("model").size() if len(failures) else pd.Series(dtype=int)
    board["failed_fits"] = board["model"].map(failure_counts).fillna(0).astype(int)
    board["retrain"] = board["model"].map({n: m.retrain for n, m in global_.items()}).fillna("every_cutoff")
    write_csv(board, out / "leaderboard.csv")
    by_segment = score(test, ["model", "abc", "demand_class"], quantiles)
    write_csv(by_segment, out / "metrics_by_segment.csv")
    write_csv(score(test, ["model", "sku"], quantiles), out / "metrics_by_sku.csv")

    metrics = objective(cfg, bt, board, quantiles)
    metrics.update(
        {
            "task": "backtest",
            "leaderboard_folds": board_role,
            "skus": int(bt["sku"].nunique()),
            "folds": cutoffs.assign(cutoff=cutoffs["cutoff"].dt.date.astype(str)).to_dict("records"),
            "failed_fits": int(len(failures)),
            "seconds": timings,
            "neural_training": training,
            "wall_seconds": round(time.perf_counter() - started, 2),
            "leaderboard": board.drop(columns=["rank"]).set_index("model").round(6).to_dict("index"),
        }
    )
    write_json(metrics, out / "metrics.json")
    log.info(
        "leaderboard (test folds):\n%s",
        board[["rank", "model", "rmsse", "mae", "wape", "pinball", "fva_mae"]].to_string(
            index=False, float_format=lambda v: f"{v:.4f}"
        ),
    )
    log.info("run folder: %s", out)
    test_covers = covers[covers["role"] == board_role] if len(covers) else covers
    return metrics, BacktestResult(by_segment=by_segment, covers=test_covers, local=local, fallback=fallback)


def run_plan(
    cfg: DictConfig, data: PreparedData, out: Path, result: BacktestResult, champions: pd.Series | None = None
) -> dict:
    """Champion per segment, final forecasts, calibrated plan, replay on history; returns plan metrics."""
    pcfg = OmegaConf.to_container(cfg.plan, resolve=True)
    panel, segments = data.panel, data.segments
    today = panel["date"].max()
    n_jobs, seed = int(cfg.parallel.n_jobs), int(cfg.seed)
    if champions is None:
        # Champions come from the per-SKU models: global models are backtested, not yet planned with.
        champions = choose_champions(
            result.by_segment, segments, pcfg["champion_metric"], list(result.local), BASELINE
        )
    last_price = (
        panel.sort_values("date").groupby("sku")["price"].last()
        if "price" in panel
        else pd.Series(dtype=float)
    )
    params = policy_table(
        champions.index,
        pcfg,
        last_price,
        pcfg.get("overrides_csv"),
        bool(pcfg.get("require_moq_multiple_of_pack")),
    )
    if pcfg.get("calibrate") and len(result.covers):
        target = float(pcfg["service_target"])
        champ_covers = result.covers.merge(champions.rename("model").reset_index(), on=["sku", "model"])
        calibration = calibrate(champ_covers, segments, target, int(pcfg["min_calibration_windows"]))
        write_csv(calibration, out / "calibration.csv")
        factor_by_segment = calibration.set_index("segment")["factor"]
        factors = segments.set_index("sku")["segment"].map(factor_by_segment).fillna(1.0)
    else:
        factors = pd.Series(1.0, index=champions.index)

    finals = final_forecasts(
        panel,
        champions,
        result.local,
        result.fallback,
        data.calendar,
        int(pcfg["horizon_days"]),
        int(cfg.num_samples),
        seed,
        n_jobs,
    )
    write_parquet(forecast_table(finals, [float(q) for q in cfg.quantiles]), out / "forecast.parquet")
    mean_daily = panel[panel["date"] > today - pd.Timedelta(days=56)].groupby("sku")["demand"].sum() / 56
    on_hand, open_orders, stock_source = stock_position(
        champions.index,
        mean_daily,
        pcfg.get("stock_csv"),
        pcfg.get("open_orders_csv"),
        float(pcfg["assumed_cover_days"]),
    )
    history = panel.groupby("sku").agg(
        trading_days=("demand", "size"),
        last_sale=("date", lambda d: d[panel.loc[d.index, "demand"] > 0].max()),
    )
    history["previous_p50_60d"] = previous_plan_p50(out, history.index)
    plan = build_plan(finals, params, on_hand, open_orders, factors, history, pcfg["exceptions"], today, seed)
    plan = segments[
        ["sku", "abc", "demand_class", "segment"] + [c for c in ("description",) if c in segments]
    ].merge(plan, on="sku", how="right")
    plan["stock_source"] = stock_source
    plan["param_source"] = plan["sku"].map(params["param_source"])
    write_csv(plan, out / "plan.csv")
    summary = {
        "plan_date": str(today.date()),
        "stock_source": stock_source,
        "orders": int((plan["order_qty"] > 0).sum()),
        "order_value": round(float(plan["order_value"].sum()), 2),
        "exceptions": exception_counts(plan["exceptions"]),
        "champions": champions.value_counts().to_dict(),
    }
    log.info(
        "plan: %d SKUs, %d orders worth %.0f; exceptions %s",
        len(plan),
        summary["orders"],
        summary["order_value"],
        summary["exceptions"],
    )

    rcfg = pcfg["replay"]
    if rcfg.get("enabled", True) and cfg.task == "plan":
        per_sku = replay(
            panel,
            champions,
            result.local,
            result.fallback,
            data.calendar,
            params,
            factors,
            int(rcfg["weeks"]),
            [float(t) for t in rcfg["targets"]],
            int(cfg.num_samples),
            seed,
            bool(rcfg.get("backorders", False)),
            n_jobs,
        )
        write_csv(per_sku, out / "replay_by_sku.csv")
        curve = aggregate(per_sku)
        write_csv(curve.rename(columns={"target": "target"}), out / "service_curve.csv")
        target = float(pcfg["service_target"])
        at_target = curve[(curve["target"] == target) | (curve["policy"] == "oracle")].copy()
        at_target.insert(1, "target_fill_rate", target)
        write_csv(at_target.drop(columns=["target"]), out / "replay.csv")
        summary["replay"] = at_target.drop(columns=["target"]).set_index("policy").round(4).to_dict("index")
        equal_fill = stock_at_equal_fill(curve)
        write_csv(equal_fill, out / "stock_at_equal_fill.csv")
        summary["stock_at_equal_fill"] = equal_fill.round(4).to_dict("records")
        log.info(
            "replay at target %.2f:\n%s",
            target,
            at_target[
                ["policy", "fill_rate", "cycle_service_level", "avg_stock_value", "total_cost"]
            ].to_string(index=False, float_format=lambda v: f"{v:.4f}"),
        )
    return {"plan": summary}


def pause_point(stage: str) -> None:
    """Test hook: FORECASTING_PAUSE_AT=<stage> holds the run there, so a test can kill -9 it mid-way."""
    if os.environ.get("FORECASTING_PAUSE_AT") == stage:
        log.info("paused at %s", stage)
        time.sleep(float(os.environ.get("FORECASTING_PAUSE_SECONDS", "60")))
    log.info("stage: %s", stage)


def config_hash(cfg: DictConfig) -> str:
    """Hash of the resolved config, less the switches that do not change a reforecast's result."""
    conf = OmegaConf.to_container(cfg, resolve=True)
    for key in ("force", "dry_run", "wait_seconds"):
        conf.get("reforecast", {}).pop(key, None)
    return hashlib.sha256(json.dumps(conf, sort_keys=True, default=str).encode()).hexdigest()[:16]


def run_reforecast(cfg: DictConfig, out: Path, started: float) -> dict:
    """The nightly job: latest data, champions per segment, refit, 60-day forecasts, plan, warehouse."""
    rcfg = cfg.reforecast
    if rcfg.get("dry_run"):
        return reforecast_dry_run(cfg)
    with process_lock(rcfg.lock_path, float(rcfg.wait_seconds)), Warehouse(rcfg.warehouse) as wh:
        stale = wh.fail_stale_runs()
        if stale:
            log.warning("%d earlier run(s) were interrupted; marked failed", stale)
        data = load_data(cfg)
        cutoff = data.panel["date"].max()
        digest = config_hash(cfg)
        done = wh.completed_run(cutoff, digest)
        if done and not rcfg.force:
            log.info(
                "data cut-off %s already planned by run %s with this config; nothing to do "
                "(reforecast.force=true to redo)",
                cutoff.date(),
                done,
            )
            return {"value": 0.0, "status": "skipped", "run_id": done}
        run_id = out.name
        wh.start_run(run_id, "reforecast", cutoff, digest, code_version(), str(out))
        try:
            metrics, alert = reforecast_run(cfg, data, out, wh, run_id, cutoff, started)
        except Exception:
            wh.fail_run(run_id)  # an error (not a kill) is recorded at once; a kill is caught by the next run
            raise
    metrics.update(
        {
            "task": "reforecast",
            "run_id": run_id,
            "alert": alert,
            "exit_code": 4 if alert else 0,
            "wall_seconds": round(time.perf_counter() - started, 2),
        }
    )
    write_json(metrics, out / "metrics.json")
    if alert:
        log.error("DRIFT ALERT: %s (details in %s)", alert, out / "alerts.json")
    return metrics


def reforecast_run(
    cfg: DictConfig,
    data: PreparedData,
    out: Path,
    wh: Warehouse,
    run_id: str,
    cutoff: pd.Timestamp,
    started: float,
) -> tuple[dict, str | None]:
    """Backtest, champion decisions, plan, accuracy of past forecasts, one warehouse commit, publication."""
    rcfg = cfg.reforecast
    pause_point("started")
    write_json(data.quality.as_dict(), out / "data_quality.json")
    write_csv(data.segments, out / "segments.csv")
    metrics, result = run_backtest(cfg, data, out, started)
    decisions = decide_champions(
        wh.current_champions(), result.by_segment, str(cfg.plan.champion_metric), list(result.local)
    )
    write_csv(decisions, out / "champions.csv")
    by_segment = decisions.set_index("segment")["model"]
    champions = data.segments.set_index("sku")["segment"].map(by_segment).fillna(BASELINE)
    champions.index = champions.index.astype(str)
    metrics.update(run_plan(cfg, data, out, result, champions=champions))
    pause_point("planned")

    accuracy = forecast_accuracy(wh.forecasts_before(cutoff), data.panel)
    write_csv(accuracy, out / "accuracy.csv")
    champion_rows = metrics["leaderboard"]
    expected = np.nanmean([champion_rows[m]["wape"] for m in set(champions) if m in champion_rows])
    alert = drift_alert(
        accuracy, expected, float(rcfg.drift.wape_increase), float(rcfg.drift.tracking_signal)
    )
    if alert:
        write_json(
            {"alert": "drift", "detail": alert, "data_cutoff": str(cutoff.date()), "run_id": run_id},
            out / "alerts.json",
        )
    write_json({**metrics, "task": "reforecast", "run_id": run_id, "alert": alert}, out / "metrics.json")
    write_reports(out)
    pause_point("outputs_written")
    forecasts = pd.read_parquet(out / "forecast.parquet")
    plan = read_plan(out / "plan.csv")
    board = pd.read_csv(out / "leaderboard.csv").melt(
        id_vars=["model"], var_name="metric", value_name="value"
    )
    board = board[pd.to_numeric(board["value"], errors="coerce").notna()].astype({"value": float})
    wh.commit_run(
        run_id,
        {"forecasts": forecasts, "plans": plan, "metrics": board, "accuracy": accuracy},
        decisions,
        alert,
    )
    pause_point("committed")
    publish(out, Path(rcfg.publish_dir))
    return metrics, alert


PLAN_TEXT_COLUMNS = (
    "sku",
    "description",
    "segment",
    "abc",
    "demand_class",
    "model",
    "policy",
    "service_measure",
    "order_by",
    "stockout_date_p50",
    "stockout_date_p90",
    "exceptions",
    "stock_source",
    "param_source",
)


def read_plan(path: Path) -> pd.DataFrame:
    """plan.csv with its text columns as text even when empty (an empty column would read as numbers)."""
    plan = pd.read_csv(path, dtype={c: str for c in PLAN_TEXT_COLUMNS})
    present = [c for c in PLAN_TEXT_COLUMNS if c in plan]
    plan[present] = plan[present].fillna("")
    return plan


def publish(out: Path, target: Path) -> None:
    """The last good plan at a fixed path, each file replaced atomically."""
    for name in ("plan.csv", "forecast.parquet", "report.html", "plan.xlsx"):
        if (out / name).exists():
            with atomic_path(target / name) as tmp:
                shutil.copyfile(out / name, tmp)
    write_json(
        {"run_dir": str(out), "published_at": time.strftime("%Y-%m-%dT%H:%M:%S")}, target / "SOURCE.json"
    )


def reforecast_dry_run(cfg: DictConfig) -> dict:
    """Say what a reforecast would do, changing nothing."""
    rcfg = cfg.reforecast
    data = load_data(cfg)
    cutoff = data.panel["date"].max()
    with Warehouse(rcfg.warehouse) as wh:
        done = wh.completed_run(cutoff, config_hash(cfg))
        champions = wh.current_champions()
    plan = {
        "data_cutoff": str(cutoff.date()),
        "skus": int(data.panel["sku"].nunique()),
        "would_run": bool(rcfg.force or not done),
        "already_planned_by": done,
        "champions": champions.set_index("segment")["model"].to_dict()
        if len(champions)
        else "decided by this run",
        "warehouse": str(rcfg.warehouse),
        "publish_dir": str(rcfg.publish_dir),
    }
    log.info("dry run: %s", json.dumps(plan))
    return {"value": 0.0, "status": "dry_run", **plan}


def code_version() -> str:
    from forecasting import __version__

    try:
        sha = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            cwd=Path(__file__).parent,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        sha = ""
    return f"{__version__}+{sha}" if sha else __version__


def exception_counts(codes: pd.Series) -> dict:
    exploded = codes.fillna("").str.split(";").explode()
    return exploded[exploded != ""].value_counts().to_dict()


def previous_plan_p50(out: Path, skus: pd.Index) -> pd.Series:
    """The 60-day P50 demand of this experiment's previous plan, for the FORECAST_MOVED exception."""
    earlier = sorted(p for p in out.parent.glob("*/plan.csv") if p.parent.name < out.name)
    if not earlier:
        return pd.Series(np.nan, index=skus)
    prev = pd.read_csv(earlier[-1], dtype={"sku": str}).set_index("sku")["demand_60d_p50"]
    return prev.reindex(skus)


def objective(cfg: DictConfig, bt: pd.DataFrame, board: pd.DataFrame, quantiles: list[float]) -> dict:
    """The number a sweeper optimises: `optimized_metric` of `optimized_model` (default: the best model).

    It is scored on the validation folds when there are any, so tuning never sees the test folds.
    """
    metric = str(cfg.optimized_metric)
    role = "validation" if (bt["role"] == "validation").any() else "test"
    scored = board if role == "test" else score(bt[bt["role"] == "validation"], ["model"], quantiles)
    if metric not in scored:
        raise InputError(
            f"optimized_metric '{metric}' is unknown; use one of rmsse, mae, rmse, wape, pinball."
        )
    table = scored.set_index("model")[metric]
    model = cfg.get("optimized_model") or table.idxmin()
    if model not in table:
        raise InputError(f"optimized_model '{model}' is not among the models run ({', '.join(table.index)}).")
    return {
        "optimized_metric": metric,
        "optimized_model": model,
        "objective_folds": role,
        "value": float(table[model]),
    }
