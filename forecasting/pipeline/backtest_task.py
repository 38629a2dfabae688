"""task=backtest: rolling-origin backtest of every configured model, leaderboard, metrics, objective."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from omegaconf import DictConfig

from forecasting.backtest.champion_row import MIN_SEGMENT_SKUS, log_champion, with_champion_row
from forecasting.backtest.cumulative import cover_pinball, window_pinball_by_model
from forecasting.backtest.interval_calibration import fit_interval_factors
from forecasting.backtest.leaderboard import leaderboard, robust_scores
from forecasting.backtest.metrics import score
from forecasting.backtest.runner import backtest
from forecasting.data.prepare import PreparedData
from forecasting.errors import InputError, TooLittleHistory
from forecasting.models.base import LocalForecaster
from forecasting.models.ensemble import add_ensembles, runnable_ensembles
from forecasting.parallel import release_memory
from forecasting.pipeline.common import (
    BASELINE,
    backtest_settings,
    build_ensembles,
    build_models,
    cutoffs_from_config,
)
from forecasting.storage import write_csv, write_json, write_parquet
from forecasting.vocabulary.column_names import quantile_column

log = logging.getLogger(__name__)


@dataclass
class BacktestResult:
    """What planning reuses from the backtest of the same run.

    Two sets of evidence, one per decision (see ../shared/DESIGN.md, "The evaluation protocol"): the replay
    rehearses a run made at its start T, so its choices learn from the validation folds only (horizons ending by
    T), with SKU segments as they stood at T; the production plan, made at the last date, learns from every
    fold (all horizons end by then) with today's segments. The test folds' own scores only report.
    """

    by_segment: pd.DataFrame
    #: cover records (window sums) of every fold, with their `role`
    covers: pd.DataFrame
    local: dict
    fallback: LocalForecaster
    global_: dict = field(default_factory=dict)
    ensembles: dict = field(default_factory=dict)
    #: metrics per model and segment at T on the validation folds (None without them): the replay's champions
    validation_by_segment: pd.DataFrame | None = None
    #: the SKUs' segments from history up to T (None without validation folds)
    validation_segments: pd.DataFrame | None = None
    #: metrics per model and segment on every fold (plan runs; None otherwise): the production plan's champions
    all_by_segment: pd.DataFrame | None = None
    #: the folds (cutoff, role) the run backtested
    cutoffs: pd.DataFrame | None = None
    #: interval factors per model and segment fitted on every fold (plan runs; None otherwise): the final forecast's
    interval_factors: pd.DataFrame | None = None


def run_backtest(
    cfg: DictConfig,
    data: PreparedData,
    out: Path,
    started: float,
    cover_days: int | None = None,
    replay_start: pd.Timestamp | None = None,
) -> tuple[dict, BacktestResult]:
    """The backtest; `replay_start` (a plan's replay start T) bounds where the validation folds' horizons end."""
    settings = backtest_settings(cfg, cover_days)
    quantiles = list(settings.quantiles)
    local, global_, fallback = build_models(cfg, data, out)
    cutoffs = cutoffs_from_config(
        cfg, data.panel, validation_end=replay_start, unit=data.calendar.unit, min_history=data.min_history
    )
    log.info(
        "backtest: %d models, cutoffs %s",
        len(local) + len(global_),
        ", ".join(str(c.date()) for c in cutoffs["cutoff"]),
    )
    # Global models read each cutoff's segments as they stood then: no static feature learnt from later demand.
    try:
        run = backtest(data.panel, cutoffs, {**local, **global_}, fallback, settings, data.segments_as_of)
    except TooLittleHistory as exc:
        others = [str(name) for name in cfg.model if str(name) != exc.model]
        if not others:
            raise
        raise InputError(
            f"{exc.problem}; give the data more history, or leave {exc.model} out: model=[{','.join(others)}]."
        ) from None
    bt, failures, covers, training, timings = run.table, run.failures, run.covers, run.training, run.seconds
    del run  # the table is released before planning (the end of this function): nothing else may hold it
    if bt.empty:
        raise InputError("no SKU had enough history before the first cutoff; lower backtest.min_train_days or folds.")
    ensembles = build_ensembles(cfg)
    validation = bt[bt["role"] == "validation"]
    if ensembles:
        val_scores = robust_scores(validation, str(cfg.optimized_metric), quantiles)[0] if len(validation) else None
        ensembles = runnable_ensembles(ensembles, val_scores)
    if ensembles:
        value_cols = ["mean", *(quantile_column(q) for q in quantiles)]
        # Per model, its validation window sums' loss: only where an ensemble ranks its members by it.
        by_windows = any(ens.rank_by == "window_sums" for ens in ensembles.values()) and len(covers)
        window_scores = window_pinball_by_model(covers[covers["role"] == "validation"]) if by_windows else None
        bt, covers = add_ensembles(ensembles, bt, covers, val_scores, value_cols, window_scores)
        for name, ens in ensembles.items():
            log.info("%s: %s of %s", name, ens.combine, ", ".join(ens.members_))
    # Segment columns looked up in place: a merge would copy the whole backtest table.
    by_sku = data.segments.set_index("sku")
    for column in ("abc", "demand_class", "segment"):
        bt[column] = bt["sku"].map(by_sku[column])
    validation = bt[bt["role"] == "validation"]
    write_parquet(bt, out / "backtest.parquet")
    write_csv(cutoffs, out / "folds.csv")
    if len(failures):
        write_csv(failures, out / "failures.csv")

    # The leaderboard scores the test folds; a tuning trial without them scores its validation folds.
    board_role = "test" if (bt["role"] == "test").any() else "validation"
    in_role = bt["role"] == board_role
    test = bt if in_role.all() else bt[in_role]  # no copy when every fold is a test fold
    board = leaderboard(test, quantiles, rank_by=str(cfg.optimized_metric), baseline=BASELINE)
    failure_counts = failures.groupby("model").size() if len(failures) else pd.Series(dtype=int)
    board["failed_fits"] = board["model"].map(failure_counts).fillna(0).astype(int)
    board["retrain"] = board["model"].map({n: m.retrain for n, m in global_.items()}).fillna("every_cutoff")
    # The ranking value on the validation folds (what champions, ensembles and sweeps go by), computed once.
    val_rank = board.set_index("model")["rank_value"] if board_role == "validation" else None
    if len(validation) and board_role == "test":
        # Beside the test figures, the validation figure champions and ensembles were chosen on.
        val_rank = robust_scores(validation, str(cfg.optimized_metric), quantiles)[0]
        board[f"validation_{cfg.optimized_metric}"] = board["model"].map(val_rank)
    val_segments, champion_choice = None, pd.DataFrame()
    if len(validation) and board_role == "test":
        # The replay's champions are chosen as a run at T would: on segments from the history it had then.
        val_segments = data.segments_as_of(validation["date"].max())
        # Chosen among the models a plan may choose: a member-only model (plan.members_only) is no champion.
        members_only = (cfg.get("plan") or {}).get("members_only") or ()
        board, champion_choice = with_champion_row(
            board, validation, test, val_segments, str(cfg.optimized_metric), quantiles, BASELINE, members_only
        )
        log_champion(board, champion_choice, str(cfg.optimized_metric))
    elif board_role == "test":
        log.info("no validation folds: the leaderboard has no champion row (no unseen folds to choose it on)")
    write_csv(board, out / "leaderboard.csv")
    role_covers = covers[covers["role"] == board_role] if len(covers) else covers
    by_segment = with_cover_pinball(
        score(test, ["model", "abc", "demand_class"], quantiles), role_covers, data.segments
    )
    write_csv(by_segment, out / "metrics_by_segment.csv")
    write_csv(score(test, ["model", "sku"], quantiles), out / "metrics_by_sku.csv")
    val_by_segment = None
    if val_segments is not None:
        at_t = val_segments.set_index("sku")
        validation = validation.assign(
            **{c: validation["sku"].map(at_t[c]) for c in ("abc", "demand_class", "segment")}
        )
        val_covers = covers[covers["role"] == "validation"] if len(covers) else covers
        val_by_segment = with_cover_pinball(
            score(validation, ["model", "abc", "demand_class"], quantiles), val_covers, val_segments
        )
        write_csv(val_by_segment, out / "metrics_by_segment_validation.csv")
    # Every fold's horizon ends by the last date: the production plan's evidence (plan runs only: a backtest or a
    # tuning trial has no use for a second scoring of the whole table).
    all_by_segment = (
        with_cover_pinball(score(bt, ["model", "abc", "demand_class"], quantiles), covers, data.segments)
        if cover_days is not None
        else None
    )

    # The final forecast's intervals are scaled as the champion row's are (backtest.interval_calibration), fitted
    # on every fold: all end by the last date (plan runs only).
    interval_factors = None
    if cover_days is not None:
        interval_factors = fit_interval_factors(bt, data.segments, quantiles, MIN_SEGMENT_SKUS)
        write_csv(interval_factors, out / "interval_factors.csv")

    if val_rank is None:
        metrics = objective(cfg, board.set_index("model")["rank_value"], "test")
    else:
        metrics = objective(cfg, val_rank, "validation")
    metrics.update(
        {
            "task": "backtest",
            "leaderboard_folds": board_role,
            "skus": int(bt["sku"].nunique()),
            "folds": cutoffs.assign(cutoff=cutoffs["cutoff"].dt.date.astype(str)).to_dict("records"),
            "failed_fits": int(len(failures)),
            "seconds": timings,
            "neural_training": training,
            "ensembles": {n: e.spec() for n, e in ensembles.items()},
            "leaderboard_champion": champion_choice.to_dict("records"),
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
    del bt, test, validation
    release_memory()  # the backtest table and the scoring's temporaries: planning needs neither
    return metrics, BacktestResult(
        by_segment=by_segment,
        covers=covers,
        local=local,
        fallback=fallback,
        global_=global_,
        ensembles=ensembles,
        validation_by_segment=val_by_segment,
        validation_segments=val_segments,
        all_by_segment=all_by_segment,
        cutoffs=cutoffs,
        interval_factors=interval_factors,
    )


def with_cover_pinball(table: pd.DataFrame, covers: pd.DataFrame, segments: pd.DataFrame) -> pd.DataFrame:
    """The segment table with `cover_pinball` (window sums' pinball, see backtest.cumulative) where the run has
    cover records (plan runs), so a champion can be chosen on what plans order from."""
    if not len(covers):
        return table
    scores = cover_pinball(covers, segments)
    return table if scores is None else table.merge(scores, on=["model", "abc", "demand_class"], how="left")


def objective(cfg: DictConfig, table: pd.Series, folds: str) -> dict:
    """The number a sweeper optimises: `optimized_metric` of `optimized_model` (default: the best model).

    `table` holds the value the leaderboard ranks on per model (a single dominating series cannot steer a sweep
    either), from the validation folds when there are any, so tuning never sees the test folds.
    """
    # Every value missing (series that never vary have no RMSSE scale): the first model stands, its value NaN.
    model = cfg.get("optimized_model") or (table.idxmin() if table.notna().any() else table.index[0])
    if model not in table:
        raise InputError(f"optimized_model '{model}' is not among the models run ({', '.join(table.index)}).")
    return {
        "optimized_metric": str(cfg.optimized_metric),
        "optimized_model": model,
        "objective_folds": folds,
        "value": float(table[model]),
    }
