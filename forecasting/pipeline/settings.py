"""The run's settings against their allowed types and values, before any work starts.

A wrong value used to surface deep inside the run (`plan.champion_metric=bogus` after the whole backtest,
`parallel.n_jobs=0` inside joblib) as "a bug". Here each schema below is an OmegaConf structured config: OmegaConf
checks the types and the choices (enums) and converts what it can ("3" -> 3); ranges that a type cannot say
are the fields' `check` metadata. A failure is one sentence naming the setting, what it accepts and a value that
works as typed (exit status 2). Only the keys listed are checked; data, plan files and models are checked where
they are read (they need the files or the model's class).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field, fields, is_dataclass
from enum import Enum
from typing import Any

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from forecasting.backtest.metrics import SERIES_LOSS
from forecasting.errors import InputError

log = logging.getLogger(__name__)

TASKS = ("backtest", "plan", "reforecast", "compare", "serve")
# Champions are the lowest on the metric, so only losses qualify (not bias, not coverage): the leaderboard's
# losses, and cover_pinball (plan runs' segment tables; forecasting/backtest/cumulative.py).
# plan_pinball: planning.decision's PLAN_METRIC (the same sums, calibrated; tests/test_config_errors.py checks
# the name).
CHAMPION_METRICS = ("plan_pinball", "cover_pinball", *SERIES_LOSS, "mape_nonzero")
# What Lightning's Trainer takes for `accelerator` and `precision` (names it registers; importing Lightning to
# ask it would add seconds to every run, neural or not).
ACCELERATORS = ("auto", "cpu", "gpu", "cuda", "mps", "tpu")
PRECISIONS = (
    "64-true", "32-true", "16-true", "bf16-true", "16-mixed", "bf16-mixed", "64", "32", "16", "bf16",
    "transformer-engine", "transformer-engine-float16",
)  # fmt: skip

Task = Enum("Task", {t: t for t in TASKS})
Metric = Enum("Metric", {m: m for m in SERIES_LOSS})
ChampionMetric = Enum("ChampionMetric", {m: m for m in CHAMPION_METRICS})
Backend = Enum("Backend", {b: b for b in ("local", "dask")})
Accelerator = Enum("Accelerator", {a: a for a in ACCELERATORS})
LevelFit = Enum("LevelFit", {f: f for f in ("rehearsal", "expected")})  # planning.rehearsal, planning.allocation


def setting(default: Any, check: Callable[[Any], bool] | None = None, means: str = "") -> Any:
    """A field with a range check; `means` says what is allowed (after "give ...")."""
    return field(default=default, metadata={"check": check, "means": means})


def _whole(low: int) -> Callable[[Any], bool]:
    return lambda v: v is None or v >= low


def _devices(v: Any) -> bool:
    if isinstance(v, bool):
        return False
    if isinstance(v, int):
        return v >= 1 or v == -1
    if isinstance(v, list | tuple):
        return bool(v) and all(isinstance(i, int) and not isinstance(i, bool) and i >= 0 for i in v)
    return isinstance(v, str) and (v == "auto" or all(p.strip().isdigit() for p in v.split(",") if p.strip()))


@dataclass
class Parallel:
    n_jobs: int = setting(2, lambda v: v != 0, "a number of worker processes, 1 or more, or -1 for every core")
    backend: Backend = Backend.local
    scheduler_address: Any = setting(None, None)  # checked by forecasting.parallel.check_scheduler_address


@dataclass
class Backtest:
    horizon: int | None = setting(30, _whole(1), "periods to forecast, 1 or more")
    folds: int = setting(3, _whole(1), "test folds, 1 or more")
    step: int | None = setting(30, _whole(1), "periods between cutoffs, 1 or more")
    validation_folds: int | None = setting(0, _whole(0), "validation folds, 0 or more (null: as the data allows)")
    max_validation_folds: int | None = setting(3, _whole(0), "validation folds, 0 or more")
    skip_test: bool = False
    min_train_days: int | None = setting(28, _whole(1), "periods of history, 1 or more")
    history_seasons: int | None = setting(
        104, _whole(0), "seasons of history per-SKU models fit on, 0 or more (0: all; null: the frequency's default)"
    )


@dataclass
class Trainer:
    accelerator: Accelerator = Accelerator.auto
    devices: Any = setting(1, _devices, "a count of 1 or more, -1 for every GPU, or a list of ids like [0,1]")
    strategy: str = "auto"
    num_nodes: int = setting(1, _whole(1), "machines, 1 or more")
    precision: Any = setting("32-true", lambda v: str(v) in PRECISIONS, f"one of {', '.join(PRECISIONS)}")
    max_epochs: int = setting(20, lambda v: v >= 1 or v == -1, "epochs, 1 or more (-1: until early stopping)")
    val_days: int | None = setting(30, _whole(1), "periods, 1 or more")
    num_workers: int = setting(0, _whole(0), "data-loader workers, 0 or more")
    progress_bar: bool = True
    threads: int | None = setting(None, _whole(1), "torch threads, 1 or more (null: what is left of the cores)")


@dataclass
class EarlyStopping:
    patience: int = setting(3, _whole(0), "epochs without improvement, 0 or more")
    min_delta: float = setting(0.0, lambda v: v >= 0, "a loss change of 0 or more")


@dataclass
class Callbacks:
    early_stopping: EarlyStopping = field(default_factory=EarlyStopping)


@dataclass
class Replay:
    enabled: bool = True
    backorders: bool = False
    refit_every_reviews: int = setting(4, _whole(1), "reviews between refits, 1 or more")
    learn_bias: bool = True


@dataclass
class Exceptions:
    excess_cover_days: float = setting(180.0, lambda v: v > 0, "days of cover above 0")
    no_sales_days: float = setting(56.0, lambda v: v > 0, "days above 0")
    forecast_moved_share: float = setting(0.5, lambda v: v > 0, "a share above 0")
    short_history_days: float = setting(120.0, lambda v: v >= 0, "days, 0 or more")


@dataclass
class Plan:
    # The policy's numbers and the plan files are checked by planning.plan_settings.check_settings.
    champion_metric: ChampionMetric = ChampionMetric.pinball
    service_level_fit: LevelFit = LevelFit.rehearsal
    calibrate: bool = True
    min_calibration_windows: int = setting(30, _whole(1), "windows, 1 or more")
    exceptions: Exceptions = field(default_factory=Exceptions)
    replay: Replay = field(default_factory=Replay)


@dataclass
class Drift:
    wape_increase: float = setting(0.5, lambda v: v >= 0, "a share of 0 or more")
    tracking_signal: float = setting(6.0, lambda v: v > 0, "a number above 0")


@dataclass
class Reforecast:
    wait_seconds: float = setting(0.0, lambda v: v >= 0, "seconds, 0 or more")
    force: bool = False
    dry_run: bool = False
    recover: bool = False
    drift: Drift = field(default_factory=Drift)


@dataclass
class Serve:
    host: str = setting("127.0.0.1", lambda v: bool(v.strip()), "a host name or address, e.g. 127.0.0.1")
    port: int = setting(8750, lambda v: 1 <= v <= 65535, "a TCP port from 1 to 65535")
    token_env: str = setting("FORECAST_API_TOKEN", str.isidentifier, "the name of an environment variable")
    page_size: int = setting(100, _whole(1), "rows per page, 1 or more")
    max_page_size: int = setting(1000, _whole(1), "rows per page, 1 or more")
    poll_seconds: float = setting(1.0, lambda v: v > 0, "seconds above 0")
    public_docs: bool = False
    access_log: bool = False


@dataclass
class Settings:
    task: Task = Task.plan
    seed: int = setting(42, lambda v: 0 <= v < 2**32, "a whole number from 0 to 4294967295")
    optimized_metric: Metric = Metric.rmsse
    parallel: Parallel = field(default_factory=Parallel)
    backtest: Backtest = field(default_factory=Backtest)
    trainer: Trainer = field(default_factory=Trainer)
    callbacks: Callbacks = field(default_factory=Callbacks)
    plan: Plan = field(default_factory=Plan)
    reforecast: Reforecast = field(default_factory=Reforecast)
    serve: Serve = field(default_factory=Serve)


def check_config(cfg: DictConfig) -> None:
    """Raise InputError (exit status 2) for the first setting of `cfg` that its schema does not allow."""
    values = {}
    for f in fields(Settings):  # section by section: a broken value elsewhere (data) is not ours to report
        if f.name in cfg:
            node = cfg[f.name]
            values[f.name] = OmegaConf.to_container(node, resolve=True) if OmegaConf.is_config(node) else node
    _check(values, Settings, "")
    from forecasting.parallel import check_scheduler_address

    p = values.get("parallel") or {}
    check_scheduler_address(p.get("scheduler_address"), p.get("backend", "local"))
    _check_optimized_model(cfg)


def _check_optimized_model(cfg: DictConfig) -> None:
    """`optimized_model` names a model of this run: found only once the backtest ended, it cost the backtest."""
    from forecasting.pipeline.common import BASELINE

    name = cfg.get("optimized_model")
    models = [str(m) for m in (cfg.get("model") or {})]
    if name is None or not models or str(name) in (*models, BASELINE):
        return
    raise InputError(
        f"optimized_model={name} is not a model of this run ({', '.join([*models, BASELINE])}): give one of them, "
        f"e.g. optimized_model={models[0]}, or optimized_model=null for the best."
    )


def _check(values: dict, schema: type, prefix: str) -> None:
    if not isinstance(values, dict):
        key = prefix.rstrip(".")
        raise InputError(
            f"{key}={_typed(values)} is not allowed: {key} holds settings; set one of them, e.g. {key}.<name>=<value>."
        )
    example = schema()
    for f in fields(schema):
        if f.name not in values:
            continue
        key, value = f"{prefix}{f.name}", values[f.name]
        default = getattr(example, f.name)
        if is_dataclass(default):
            _check(value, type(default), f"{key}.")
            continue
        try:  # OmegaConf's own type check and conversion, as for a structured config
            node = OmegaConf.merge(OmegaConf.structured(schema), {f.name: value})
        except OmegaConfBaseException as exc:
            raise InputError(_sentence(key, value, default, f.metadata.get("means"), _reason(exc))) from exc
        typed = node[f.name]
        typed = OmegaConf.to_container(typed) if OmegaConf.is_config(typed) else typed
        check = f.metadata.get("check")
        if check is not None and not check(typed):
            raise InputError(_sentence(key, value, default, f.metadata.get("means"), None))


# OmegaConf's wording of a type error, as a user would say it.
_REASONS = {
    "converted to Integer": "not a whole number",
    "converted to Float": "not a number",
    "not a valid bool": "not true or false",
    "Incompatible value 'None'": "it cannot be null",
    "expected one of": None,  # the choices follow in the sentence
}


def _reason(exc: OmegaConfBaseException) -> str | None:
    line = str(exc).splitlines()[0]
    return next((why for pattern, why in _REASONS.items() if pattern in line), line)


def _typed(value: Any) -> str:
    """`value` as it is typed on the command line."""
    if isinstance(value, Enum):
        return value.name
    if isinstance(value, list | tuple):
        return "[" + ",".join(_typed(v) for v in value) + "]"
    return "null" if value is None else str(value).lower() if isinstance(value, bool) else str(value)


def _sentence(key: str, value: Any, default: Any, means: str | None, reason: str | None) -> str:
    shown, example = _typed(value), _typed(default)
    if isinstance(default, Enum) and not means:
        means = f"one of {', '.join(m.name for m in type(default))}"
    if isinstance(default, bool) and not means:
        means = "true or false"
    what = f"give {means}" if means else "give a value of the setting's type"
    why = f" ({reason})" if reason else ""
    return f"{key}={shown} is not allowed{why}: {what}, e.g. {key}={example}."


def fall_back_to_cpu(cfg: DictConfig) -> None:
    """`trainer=gpu` where torch sees no GPU trains on the CPU, with a warning, as `trainer=auto` would.

    The same command then runs on a laptop and on a GPU server (DESIGN: "the same code runs on CPU"); stopping
    instead would make every config written for a GPU machine fail elsewhere for a reason the log can state.
    torch is imported only when a GPU was asked for: it costs seconds on runs without a neural model.
    """
    t = cfg.get("trainer")
    accelerator = str(t.get("accelerator", "auto")) if t is not None else "auto"
    if accelerator not in ("gpu", "cuda") or not _trains_a_network(cfg):
        return
    import torch

    if torch.cuda.is_available():
        devices, have = t.get("devices", 1), torch.cuda.device_count()
        if isinstance(devices, int) and not isinstance(devices, bool) and devices > have:
            raise InputError(
                f"trainer.devices={devices} is more GPUs than this machine has ({have}): give at most {have}, "
                f"e.g. trainer.devices={have}, or trainer.devices=-1 for all of them."
            )
        return
    log.warning(
        "trainer.accelerator=%s, but torch %s sees no CUDA GPU on this machine: training on the CPU (one device, "
        "precision 32-true) instead; trainer=cpu does the same without this warning",
        accelerator,
        torch.__version__,
    )
    t.accelerator = "cpu"
    t.precision = "32-true"  # the GPU preset's bf16-mixed only pays on a GPU; 16-mixed is refused on a CPU
    t.devices = 1  # GPU ids or counts mean nothing on the CPU (Lightning refuses a list there)


def _trains_a_network(cfg: DictConfig) -> bool:
    """Whether a selected model trains with the trainer settings (only the Lightning networks do)."""
    from hydra.utils import get_class

    from forecasting.models.neural import NeuralForecaster

    for mcfg in (cfg.get("model") or {}).values():
        target = mcfg.get("_target_") if hasattr(mcfg, "get") else None
        try:
            if target and issubclass(get_class(str(target)), NeuralForecaster):
                return True
        except Exception:  # noqa: BLE001 - a target that does not import is reported when the model is built
            continue
    return False
