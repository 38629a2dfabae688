"""Hydra's Optuna sweeper, extended for resumable, shared studies and the baseline trial; installed by `run.py`.

hydra-optuna-sweeper 1.3 asks for `n_trials` more trials from whatever the study holds, seeds every process's
sampler alike, and counts nothing another process does. With a storage and a study name, its sweep loop is
replaced here by one that:

- treats `n_trials` as the study's total, counted again before every batch over all processes (finished,
  running and queued trials): a rerun after an interruption runs only the missing trials, and several sweep
  processes on one study (parallel workers on one database) share the budget;
- never runs the same parameters twice: the sampler is reseeded from `seed` + the trial's number (unique in the
  study, so workers sample apart and a sweep stays reproducible), and a trial equal to another is resampled;
- marks failed the trials left RUNNING by a killed worker, so their place is taken again;
- queues the baseline (`baseline_trial: true`: the config as it stands, see `baseline.py`) once per study.

Without a storage (an in-memory study, nothing to share) and with the grid sampler, the plugin's own loop runs.

The plugin has no hook for its loop, and Hydra takes a replacement sweeper only from the `hydra_plugins`
namespace package (a second top-level package), so `install` replaces `OptunaSweeperImpl.sweep` and
`shared_sweep` calls the plugin's private helpers (`PRIVATE_API`). The plugin is pinned (README's set-up line:
hydra-optuna-sweeper==1.3.0, the newest release), and tests/test_tuning.py fails, naming the helper, where an
installed version changes one of them.
"""

from __future__ import annotations

import functools
import logging
from typing import Any

from omegaconf import OmegaConf

log = logging.getLogger(__name__)

# The plugin's private names this module relies on (OptunaSweeperImpl methods, then a module function), with their
# parameters in hydra-optuna-sweeper 1.3.0.
PRIVATE_API = {
    "sweep": ["self", "arguments"],
    "_process_searchspace_config": ["self"],
    "_parse_sweeper_params_config": ["self"],
    "_get_directions": ["self"],
    "_configure_trials": ["self", "trials", "search_space_distributions", "fixed_params"],
    "create_params_from_overrides": ["arguments"],
}
# Resamples in a row that only repeat tried parameters before a worker concludes the space is used up.
MAX_REPEATS = 20


def install() -> None:
    """Replace the sweeper's `sweep` once; a no-op where the plugin is not installed."""
    try:
        from hydra_plugins.hydra_optuna_sweeper._impl import OptunaSweeperImpl
    except ImportError:
        return
    if getattr(OptunaSweeperImpl.sweep, "_extended", False):
        return
    original = OptunaSweeperImpl.sweep

    @functools.wraps(original)
    def sweep(self, arguments):
        import optuna

        from forecasting.pipeline.settings import check_config
        from forecasting.tuning.storage import check_storage, storage_failure

        # Before the first trial: a bad setting or storage would otherwise fail every trial, or the sweep late.
        check_config(self.config)
        check_storage(self.storage)
        grid = isinstance(self.sampler, functools.partial) and self.sampler.func == optuna.samplers.GridSampler
        try:
            if not (self.storage and self.study_name) or grid:
                return original(self, arguments)
            return shared_sweep(self, arguments)
        except Exception as exc:
            failure = storage_failure(self.storage, exc) if self.storage else None
            if failure is None:
                raise
            raise failure from exc

    sweep._extended = True
    OptunaSweeperImpl.sweep = sweep


def shared_sweep(sweeper, arguments: list[str]) -> None:
    """The plugin's sweep loop (same search space parsing, launcher and failure rule), on a shared budget."""
    from hydra_plugins.hydra_optuna_sweeper._impl import create_params_from_overrides

    from forecasting.tuning import shared_study

    sweeper._process_searchspace_config()
    distributions, fixed = create_params_from_overrides(sweeper._parse_sweeper_params_config() + list(arguments))
    space = {**(sweeper.search_space_distributions or {}), **distributions}
    for name in fixed:
        space.pop(name, None)
    directions = sweeper._get_directions()
    study = shared_study.open_study(sweeper.study_name, sweeper.storage, directions, sweeper.sampler)
    log.info("Study %s in %s, sampler %s", study.study_name, sweeper.storage, type(sweeper.sampler).__name__)
    shared_study.fail_abandoned(study)
    done = len(shared_study.budgeted(study))
    if done:
        log.info("study %s holds %d trial(s) of %d", study.study_name, done, sweeper.n_trials)
    if done < sweeper.n_trials and sweeper.config.get("baseline_trial", False):
        queue_baseline(sweeper, study, distributions)

    attempts = sweeper.n_trials  # per process: trials that keep failing cannot loop forever
    while attempts > 0:
        shared_study.fail_abandoned(study)
        batch = ask_batch(sweeper, study, min(sweeper.n_jobs, attempts), space, fixed)
        if not batch:
            break
        trials, overrides = zip(*batch, strict=True)
        returns = sweeper.launcher.launch(list(overrides), initial_job_idx=sweeper.job_idx)
        sweeper.job_idx += len(returns)
        failures = record(study, trials, returns, len(directions))
        if len(failures) / len(returns) > sweeper.max_failure_rate:
            log.error(
                "Failed %d times out of %d with max_failure_rate=%s.",
                len(failures),
                len(returns),
                sweeper.max_failure_rate,
            )
            for ret in returns:
                ret.return_value  # noqa: B018 - raises the job's own exception, with its traceback
        attempts -= len(trials)
    save_results(study, directions, sweeper.config.hydra.sweep.dir)


def ask_batch(sweeper, study, size: int, space: dict, fixed: dict) -> list[tuple[Any, tuple[str, ...]]]:
    """Up to `size` new trials with their overrides, each within the shared budget and unlike every other."""
    from forecasting.tuning import shared_study

    batch: list[tuple[Any, tuple[str, ...]]] = []
    repeats = 0
    # A queued trial (the baseline) already holds its place in the budget: it is still to be asked for, or a
    # study of n_trials=1 with a baseline ran nothing.
    while len(batch) < size and (
        shared_study.budget_left(study, sweeper.n_trials) > 0 or shared_study.queued_waiting(study)
    ):
        trial = study.ask()
        trial.set_user_attr(shared_study.WORKER_ATTR, shared_study.this_worker())
        if shared_study.over_budget(study, trial, sweeper.n_trials):
            shared_study.skip(study, trial, "another worker took the study's last trial first")
            break
        reseed(sweeper, study, trial.number)
        overrides = sweeper._configure_trials([trial], space, fixed)[0]
        twin = shared_study.duplicate_of(study, trial)
        if twin is None:
            batch.append((trial, overrides))
            repeats = 0
            continue
        shared_study.skip(study, trial, f"same parameters as trial {twin}")
        repeats += 1
        if repeats >= MAX_REPEATS:
            log.warning(
                "the sampler proposed only parameters already tried, %d times in a row: the search space of study %s "
                "looks used up; stopping this worker",
                repeats,
                study.study_name,
            )
            break
    return batch


def reseed(sweeper, study, number: int) -> None:
    """A sampler seeded with `seed` + the trial number for this trial: workers sharing a study (all with the
    same `seed`) sample apart, and a resumed sweep does not replay the draws of its first run."""
    cfg = OmegaConf.select(sweeper.config, "hydra.sweeper.sampler")
    if cfg is None or cfg.get("seed") is None or "_target_" not in cfg:
        return  # unseeded samplers draw from the OS already
    from hydra.utils import instantiate

    study.sampler = instantiate(cfg, seed=int(cfg.seed) + number)


def record(study, trials, returns, n_objectives: int) -> list[Exception]:
    """Tell the study each job's result, as the plugin does; return the failures."""
    from optuna.trial import TrialState

    failures = []
    for trial, ret in zip(trials, returns, strict=True):
        try:
            value = ret.return_value
            values = [float(value)] if n_objectives == 1 else [float(v) for v in value]
            if len(values) != n_objectives:
                raise ValueError(f"expected {n_objectives} objective values, got {len(values)}")
        except Exception as exc:  # noqa: BLE001 - a failed job is a failed trial; the sweep goes on
            study.tell(trial, state=TrialState.FAIL)
            log.warning("Failed experiment: %s", exc)
            failures.append(exc)
            continue
        study.tell(trial, values=values)
    return failures


def save_results(study, directions: list[str], sweep_dir: str) -> None:
    """`optimization_results.yaml` in the sweep folder, as the plugin writes it."""
    from optuna.trial import TrialState

    if not study.get_trials(deepcopy=False, states=[TrialState.COMPLETE]) and study.get_trials(
        deepcopy=False, states=[TrialState.RUNNING]
    ):
        log.info("no trial of %s has finished yet; the worker still running one writes the results", study.study_name)
        return
    if len(directions) < 2:
        best = study.best_trial
        results = {"name": "optuna", "best_params": best.params, "best_value": best.value}
        log.info("Best parameters: %s", best.params)
        log.info("Best value: %s", best.value)
    else:
        results = {"name": "optuna", "solutions": [{"params": t.params, "values": t.values} for t in study.best_trials]}
    OmegaConf.save(OmegaConf.create(results), f"{sweep_dir}/optimization_results.yaml")


def queue_baseline(sweeper, study, distributions: dict) -> None:
    """Enqueue the config's current values of the searched parameters as the study's next trial."""
    from forecasting.tuning.baseline import baseline_params, enqueue_baseline

    params, missing = baseline_params(sweeper.config, sweeper.custom_search_space_extender, distributions)
    if missing:
        log.warning("baseline trial: the config sets no value for %s; the sampler picks those", missing)
    if enqueue_baseline(study, params):
        log.info("study %s: the next trial is the baseline (the config as it stands): %s", study.study_name, params)
