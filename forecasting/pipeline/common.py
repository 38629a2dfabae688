"""Pieces every task shares: data from config, models from config, folds from config, reports."""

from __future__ import annotations

import dataclasses
import logging
import os
import random
import time
from pathlib import Path

import numpy as np
import pandas as pd
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from forecasting.backtest.folds import make_cutoffs
from forecasting.backtest.settings import BacktestSettings
from forecasting.data.frequency import PERIOD_DAYS, SEASON
from forecasting.data.loading import mapped_columns
from forecasting.data.prepare import PreparedData, prepare_data
from forecasting.errors import InputError
from forecasting.models.base import GlobalForecaster, LocalForecaster, TrainingContext
from forecasting.models.ensemble import Ensemble
from forecasting.planning.plan_files import check_files
from forecasting.planning.plan_settings import check_settings
from forecasting.planning.rehearsal import rehearsal_weeks
from forecasting.planning.runner import REPLAY_MIN_HISTORY, ReplaySettings
from forecasting.reports import write_plan_workbook, write_report
from forecasting.vocabulary.model_names import BASELINE

log = logging.getLogger(__name__)


def pause_point(stage: str) -> None:
    """Test hook: FORECASTING_PAUSE_AT=<stage> holds the run there, so a test can kill -9 it mid-way."""
    if os.environ.get("FORECASTING_PAUSE_AT") == stage:
        log.info("paused at %s", stage)
        time.sleep(float(os.environ.get("FORECASTING_PAUSE_SECONDS", "60")))
    log.info("stage: %s", stage)


def seed_everything(seed: int) -> None:
    """numpy and random here; torch and Lightning are seeded by the neural models when they train."""
    random.seed(seed)
    np.random.seed(seed)


def check_inputs(cfg: DictConfig, plan: bool) -> None:
    """Every setting and file that needs no data, before any work: sampling, and for a plan its settings and
    files (the files are checked against the panel once it is loaded, still before the backtest)."""
    check_sampling(cfg.get("num_samples"), cfg.get("quantiles"))
    if plan:
        pcfg = OmegaConf.to_container(cfg.plan, resolve=True)
        check_settings(pcfg)
        check_files(pcfg, sku_key(cfg))


def sku_key(cfg: DictConfig) -> tuple[str, ...]:
    """The columns a plan file may name its SKUs in: `sku`, or the data's SKU columns where they are several
    (data.columns.sku=[item,store])."""
    parts = mapped_columns(OmegaConf.to_container(cfg.data.columns, resolve=True) if cfg.data.get("columns") else {})
    return tuple(parts) if len(parts) > 1 else ("sku",)


def check_sampling(num_samples, quantiles) -> None:
    """num_samples a whole number >= 1; quantiles distinct levels in (0, 1), increasing."""
    n = pd.to_numeric(pd.Series([num_samples], dtype=object), errors="coerce").iloc[0]
    if not (n >= 1 and float(n).is_integer()):
        raise InputError(
            f"num_samples={num_samples} is not allowed: give a whole number of sample paths of 1 or more "
            "(e.g. num_samples=200)."
        )
    levels = list(quantiles) if OmegaConf.is_list(quantiles) or isinstance(quantiles, list | tuple) else None
    q = pd.to_numeric(pd.Series(levels or [], dtype=object), errors="coerce")
    valid = bool(levels) and ((q > 0) & (q < 1)).all() and q.is_monotonic_increasing and q.is_unique
    if not valid:
        shown = levels if levels is not None else quantiles
        raise InputError(
            f"quantiles={shown} is not allowed: give distinct levels between 0 and 1 (exclusive) in increasing "
            "order, e.g. quantiles=[0.05,0.1,0.5,0.9,0.95]."
        )


def load_data(cfg: DictConfig) -> PreparedData:
    d = OmegaConf.to_container(cfg.data, resolve=True)
    data = prepare_data(
        path=d["path"],
        kind=d.get("kind", "transactions"),
        columns=d.get("columns"),
        read_options=d.get("read_options"),
        date_format=d.get("date_format"),
        end=d.get("end"),
        as_of=d.get("as_of"),
        cleaning=d.get("cleaning"),
        calendar=d.get("calendar"),
        panel=d.get("panel"),
        segments=d.get("segments"),
        frequency=d.get("frequency"),
        aggregate_to=d.get("aggregate_to"),
        start=d.get("start"),
        missing=d.get("missing"),
        incomplete_period=d.get("incomplete_period"),
        week_ending=d.get("week_ending"),
        duplicates=d.get("duplicates"),
        negative=d.get("negative"),
        future_covariates=d.get("future_covariates"),
        empty_dates=d.get("empty_dates"),
        gaps=d.get("gaps"),
        first_period=d.get("first_period"),
    )
    apply_frequency_defaults(cfg, data.calendar.frequency)
    return data


def apply_frequency_defaults(cfg: DictConfig, frequency: str) -> None:
    """Backtest settings left null take the panel frequency's default (backtest.by_frequency), in place, so
    everything downstream (and `${backtest.horizon}` in model configs) reads periods of this data."""
    b = cfg.backtest
    defaults = (b.get("by_frequency") or {}).get(frequency, {})
    for key, value in defaults.items():
        if b.get(key) is None:
            b[key] = value
    for key in ("horizon", "step", "min_train_days"):
        if b.get(key) is None:
            raise InputError(f"backtest.{key} is not set and backtest.by_frequency.{frequency} has no default; set it.")


def build_models(
    cfg: DictConfig, data: PreparedData, work_dir: str | Path
) -> tuple[dict[str, LocalForecaster], dict[str, GlobalForecaster], LocalForecaster]:
    """Per-SKU models (the baseline always among them, for FVA), global models, and the fallback model."""
    if not cfg.get("model"):
        raise InputError("no model is selected; pick some, e.g. model=[arima,ets].")
    season = data.calendar.season_length
    fallback = instantiate(cfg.baseline).with_season(season)
    local: dict[str, LocalForecaster] = {BASELINE: fallback}
    global_: dict[str, GlobalForecaster] = {}
    default_seasons = cfg.backtest.get("history_seasons")
    for name, mcfg in cfg.model.items():
        # `history_seasons` is how the run fits a per-SKU model, not the model's own parameter: it is taken out
        # before the model is built (a statsforecast class would refuse it) and turned into `max_history`.
        params = OmegaConf.to_container(mcfg, resolve=True)
        seasons = params.pop("history_seasons", default_seasons)
        model = instantiate(params, _convert_="all")
        if isinstance(model, Ensemble):
            continue  # combined after the backtest: build_ensembles
        if isinstance(model, GlobalForecaster):
            context = TrainingContext(
                work_dir=str(Path(work_dir) / "models"),
                trainer=OmegaConf.to_container(cfg.trainer, resolve=True),
                quantiles=[float(q) for q in cfg.quantiles],
                seed=int(cfg.seed),
                calendar=data.calendar,
                threads=os.cpu_count() or 1,
                explainable=True,
            )
            model.name = str(name)
            global_[str(name)] = model.configure(context)
        else:
            window = history_periods(seasons, data.calendar)
            shortest = int(cfg.backtest.min_train_days)
            local[str(name)] = model.with_season(season).with_min_history(shortest).with_history(window)
    windows = {n: m.max_history for n, m in local.items() if m.max_history is not None}
    if windows:
        log.info("per-SKU fits on trailing windows of history (periods): %s", windows)
    return local, global_, fallback


def history_periods(seasons: int | None, calendar) -> int | None:
    """`seasons` of history in periods (None or 0: all of it). A season is the trading week of a daily panel and
    the year of a weekly or monthly one, even where the history is too short for the models to fit that season
    (their season is then 1 period, which would make the window absurdly short)."""
    if not seasons:
        return None
    per_season = calendar.season_length if calendar.frequency == "daily" else SEASON[calendar.frequency]
    return int(seasons) * int(per_season)


def build_ensembles(cfg: DictConfig) -> dict:
    """The configured ensembles, by name."""
    out = {}
    for name, mcfg in (cfg.get("model") or {}).items():
        model = instantiate(mcfg, _convert_="all")
        if isinstance(model, Ensemble):
            model.name = str(name)
            out[str(name)] = model
    return out


def replay_settings(cfg: DictConfig) -> ReplaySettings | None:
    """The plan's replay on history (task=plan with plan.replay.enabled), or None."""
    rcfg = cfg.plan.replay
    if not (rcfg.get("enabled", True) and cfg.get("task") == "plan"):
        return None
    return _played(cfg, int(cfg.plan.replay.weeks))


def rehearsal_settings(cfg: DictConfig, frequency: str, history_days: int | None = None) -> ReplaySettings:
    """How a decision is rehearsed (planning.rehearsal): played as the replay plays (plan.replay), whether or not
    the replay runs, on the weeks before the day it is made that hold enough of the table's periods
    (planning.rehearsal.rehearsal_weeks), within the panel's `history_days` (first to last date): the replay's
    rehearsal starts where its SKUs have the history a replay forecasts from."""
    weeks = int(cfg.plan.replay.weeks)
    played = _played(cfg, weeks)
    spare = None
    if history_days is not None:
        spare = int((history_days - 7 * weeks - played.min_history * PERIOD_DAYS[frequency]) // 7)
    return dataclasses.replace(played, weeks=rehearsal_weeks(weeks, frequency, spare))


def _played(cfg: DictConfig, weeks: int) -> ReplaySettings:
    """A decision played on `weeks` of history as plan.replay says."""
    rcfg = cfg.plan.replay
    return ReplaySettings(
        weeks,
        [float(t) for t in rcfg.targets],
        bool(rcfg.get("backorders", False)),
        int(rcfg.get("refit_every_reviews", 1)),
        bool(rcfg.get("learn_bias", True)),
        # A SKU is replayed from the history its models fit from (the frequency's min_train_days).
        int(cfg.backtest.get("min_train_days") or REPLAY_MIN_HISTORY),
    )


def backtest_settings(cfg: DictConfig, cover_days: int | None = None) -> BacktestSettings:
    """The run's backtest settings; `cover_days` (plan runs) records the demand summed over that many days."""
    b = cfg.backtest
    return BacktestSettings(
        horizon=int(b.horizon),
        quantiles=[float(q) for q in cfg.quantiles],
        num_samples=int(cfg.num_samples),
        seed=int(cfg.seed),
        min_train_days=int(b.min_train_days),
        n_jobs=int(cfg.parallel.n_jobs),
        cover_days=cover_days,
    )


def cutoffs_from_config(
    cfg: DictConfig,
    panel: pd.DataFrame,
    validation_end: pd.Timestamp | None = None,
    unit: str = "trading day",
    min_history: int = 0,
) -> pd.DataFrame:
    """The backtest's folds; validation folds end their horizons by `validation_end` (a replay's start) too, and
    where the data sizes them, start where a SKU has `min_history` periods (the panel's minimum history,
    PreparedData.min_history). `unit`: the panel's period (data.calendar.unit), for the message when its history
    is too short."""
    b = cfg.backtest
    validation_folds = b.get("validation_folds", 0)
    return make_cutoffs(
        pd.DatetimeIndex(panel["date"].unique()),
        horizon=int(b.horizon),
        folds=int(b.folds),
        step=int(b.step),
        validation_folds=None if validation_folds is None else int(validation_folds),
        min_train_days=int(b.min_train_days),
        skip_test=bool(b.get("skip_test", False)),
        validation_end=validation_end,
        max_validation_folds=int(b.get("max_validation_folds", 3)),
        unit=unit,
        min_validation_train=min_history,
    )


def write_reports(out: Path) -> None:
    """report.html always; plan.xlsx when the run planned."""
    write_plan_workbook(out)
    write_report(out)
