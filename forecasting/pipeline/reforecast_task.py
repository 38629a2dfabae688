"""task=reforecast: the scheduled job. Lock, skip a cut-off already planned, backtest, champion/challenger,
plan, accuracy of past forecasts and drift alert, one warehouse transaction, then publication."""

from __future__ import annotations

import hashlib
import json
import logging
import subprocess
import time
from contextlib import suppress
from pathlib import Path

import numpy as np
import pandas as pd
from omegaconf import DictConfig, OmegaConf

from forecasting.champions import decide_champions
from forecasting.data.fingerprint import panel_fingerprint
from forecasting.data.prepare import PreparedData
from forecasting.errors import InputError, StorageError
from forecasting.monitoring import drift_alert, forecast_accuracy
from forecasting.pipeline.backtest_task import run_backtest
from forecasting.pipeline.common import BASELINE, load_data, pause_point, write_reports
from forecasting.pipeline.plan_task import candidates_of, run_plan
from forecasting.storage import read_csv, write_csv, write_json
from forecasting.storage.lock import process_lock
from forecasting.storage.publish import checksums, differences, publish
from forecasting.storage.warehouse import Warehouse, recover

log = logging.getLogger(__name__)


def config_hash(cfg: DictConfig) -> str:
    """Hash of the resolved config, less the switches that do not change a reforecast's result."""
    conf = OmegaConf.to_container(cfg, resolve=True)
    for key in ("force", "dry_run", "wait_seconds", "recover", "allow_older_data"):
        conf.get("reforecast", {}).pop(key, None)
    return hashlib.sha256(json.dumps(conf, sort_keys=True, default=str).encode()).hexdigest()[:16]


def run_reforecast(cfg: DictConfig, out: Path, started: float) -> dict:
    """The nightly job: latest data, champions per segment, refit, 60-day forecasts, plan, warehouse."""
    if cfg.reforecast.get("dry_run"):
        return reforecast_dry_run(cfg)
    try:
        return reforecast_locked(cfg, out, started)
    except OSError as exc:  # a full or read-only disk, wherever the write was: one sentence naming the path
        raise (StorageError.from_os_error(exc) or exc) from exc


def reforecast_locked(cfg: DictConfig, out: Path, started: float) -> dict:
    rcfg = cfg.reforecast
    publish_dir = Path(rcfg.publish_dir)
    with process_lock(rcfg.lock_path, float(rcfg.wait_seconds)):
        if rcfg.get("recover"):
            log.warning("%s", recover(rcfg.warehouse))
        with Warehouse(rcfg.warehouse) as wh:
            stale = wh.fail_stale_runs()
            if stale:
                log.warning("%d earlier run(s) were interrupted; marked failed", stale)
            published = sync_published(wh, publish_dir)
            data = load_data(cfg)
            cutoff = data.panel["date"].max()
            digest = config_hash(cfg)
            fingerprint = panel_fingerprint(data.panel)
            refuse_older_data(cfg, wh.last_complete(), cutoff)
            done = wh.completed_run(cutoff, digest, fingerprint)
            if done and not rcfg.force and published:
                log.info(
                    "data cut-off %s already planned by run %s with this config and the same data (fingerprint %s); "
                    "nothing to do (reforecast.force=true to redo)",
                    cutoff.date(),
                    done,
                    fingerprint,
                )
                return {"value": 0.0, "status": "skipped", "run_id": done, "data_fingerprint": fingerprint}
            earlier = None if done else wh.completed_run(cutoff, digest)
            if earlier:
                log.warning(
                    "the data changed since run %s planned cut-off %s with this config (another catalogue or restated "
                    "history: fingerprint now %s); planning again",
                    earlier,
                    cutoff.date(),
                    fingerprint,
                )
            run_id = out.name
            wh.start_run(run_id, "reforecast", cutoff, digest, code_version(), str(out), fingerprint)
            try:
                metrics, alert = reforecast_run(cfg, data, out, wh, run_id, cutoff, started)
            except Exception:
                with suppress(Exception):  # on a full disk this may fail too; the next run marks it failed
                    wh.fail_run(run_id)  # an error (not a kill) is recorded at once
                raise
            sync_published(wh, publish_dir, restoring=False)
            pause_point("published")
            wh.backup()
    metrics.update(
        {
            "task": "reforecast",
            "run_id": run_id,
            "data_fingerprint": fingerprint,
            "alert": alert,
            "exit_code": 4 if alert else 0,
            "wall_seconds": round(time.perf_counter() - started, 2),
        }
    )
    write_json(metrics, out / "metrics.json")
    if alert:
        log.error("DRIFT ALERT: %s (details in %s)", alert, out / "alerts.json")
    return metrics


def refuse_older_data(cfg: DictConfig, last: dict | None, cutoff: pd.Timestamp) -> None:
    """Data ending before the published plan's cut-off (a file that lost its last weeks, an older export, a
    data.end set back) would publish an older plan over a newer one: one sentence, unless
    reforecast.allow_older_data says the user means it."""
    if last is None or cutoff >= last["data_cutoff"] or cfg.reforecast.get("allow_older_data"):
        return
    end = cfg.data.get("end")
    source = f"data.path={cfg.data.path}" + (f" with data.end={end}" if end else "")
    raise InputError(
        f"the data ({source}) now ends on {cutoff.date()}, before the cut-off {last['data_cutoff'].date()} of the "
        f"published plan (run {last['run_id']}), so publishing would replace a newer plan with an older one; point "
        "data.path at the complete file, or, to plan from this data anyway, run again with "
        "reforecast.allow_older_data=true."
    )


def sync_published(wh: Warehouse, target: Path, restoring: bool = True) -> bool:
    """Make `target` hold the last complete run's files, as their checksums were recorded; False if it cannot.

    Run after every commit (that is the publication) and at the start of every run, so a file deleted or
    altered in `target`, or a publication cut short, is put right from the run folder.
    """
    last = wh.last_published()
    if last is None:
        return True
    source, files = last
    stale = differences(target, files, source)
    if not stale:
        return True
    lost = differences(source["run_dir"], files)
    if lost:
        log.warning(
            "%s: %s missing or altered, and run %s's folder %s lost %s too: reforecasting to publish a new plan",
            target,
            ", ".join(stale),
            source["run_id"],
            source["run_dir"],
            ", ".join(lost),
        )
        return False
    publish(source["run_dir"], target, files, source)
    if restoring:
        log.warning(
            "%s: %s missing or altered; restored from run %s (%s)",
            target,
            ", ".join(stale),
            source["run_id"],
            source["run_dir"],
        )
    else:
        log.info("published run %s to %s", source["run_id"], target)
    return True


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
        wh.current_champions(),
        result.by_segment,
        challenger_metric(str(cfg.plan.champion_metric), result.by_segment),
        # The plan's candidates: the baseline is the yardstick and the fallback, not a champion.
        candidates_of(cfg.plan, result),
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
    alert = drift_alert(accuracy, expected, float(rcfg.drift.wape_increase), float(rcfg.drift.tracking_signal))
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
    board = read_csv(out / "leaderboard.csv").melt(id_vars=["model"], var_name="metric", value_name="value")
    board = board[pd.to_numeric(board["value"], errors="coerce").notna()].astype({"value": float})
    wh.commit_run(
        run_id,
        {"forecasts": forecasts, "plans": plan, "metrics": board, "accuracy": accuracy, "published": checksums(out)},
        decisions,
        alert,
    )
    pause_point("committed")
    return metrics, alert


def challenger_metric(metric: str, by_segment: pd.DataFrame) -> str:
    """The metric the standing champions are challenged on: plan.champion_metric where the backtest scores it per
    segment, else daily pinball. The window-sum criteria (plan_pinball, cover_pinball) are scored by the plan's
    own decision, not in the leaderboard by segment the warehouse keeps; daily pinball is what that decision
    falls back to when it has no windows either."""
    if metric in by_segment:
        return metric
    log.info("champions: %s is not scored per segment by the backtest; challenging on pinball", metric)
    return "pinball"


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
    plan = read_csv(path, dtype={c: str for c in PLAN_TEXT_COLUMNS})
    present = [c for c in PLAN_TEXT_COLUMNS if c in plan]
    plan[present] = plan[present].fillna("")
    return plan


def reforecast_dry_run(cfg: DictConfig) -> dict:
    """Say what a reforecast would do, changing nothing."""
    rcfg = cfg.reforecast
    data = load_data(cfg)
    cutoff = data.panel["date"].max()
    fingerprint = panel_fingerprint(data.panel)
    with Warehouse(rcfg.warehouse) as wh:
        done = wh.completed_run(cutoff, config_hash(cfg), fingerprint)
        champions = wh.current_champions()
        last = wh.last_published()
        try:
            refuse_older_data(cfg, wh.last_complete(), cutoff)
            refusal = None
        except InputError as exc:
            refusal = str(exc)
    plan = {
        "data_cutoff": str(cutoff.date()),
        "data_fingerprint": fingerprint,
        "skus": int(data.panel["sku"].nunique()),
        "would_run": bool((rcfg.force or not done) and refusal is None),
        "would_refuse": refusal,
        "already_planned_by": done,
        "champions": champions.set_index("segment")["model"].to_dict() if len(champions) else "decided by this run",
        "warehouse": str(rcfg.warehouse),
        "publish_dir": str(rcfg.publish_dir),
        "would_restore": differences(rcfg.publish_dir, last[1], last[0]) if last else [],
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
