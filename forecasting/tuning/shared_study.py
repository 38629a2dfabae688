"""Several sweep processes on one Optuna study, the way Optuna runs parallel workers on an RDB storage.

Each process asks the storage for trials one at a time and shares the study's trial budget with every other
process: a trial counts from the moment it is created (WAITING or RUNNING), not when it finishes, so two
workers never run more trials between them than `n_trials`. What the storage cannot do atomically (check the
budget, then create a trial; sample, then compare with the other workers' samples) is checked again once the
trial exists, and a trial that lost such a race is closed as FAIL with a `skipped` reason before it runs.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from datetime import datetime, timedelta
from typing import Any

import optuna
from optuna.trial import TrialState

log = logging.getLogger(__name__)

WORKER_ATTR = "worker"  # "<host>:<pid>" of the process that runs the trial
SKIPPED_ATTR = "skipped"  # why a trial was closed before it ran
# States that take a place in the budget: finished ones, and those a worker holds or will pick up.
BUDGETED = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING, TrialState.WAITING)
# An untagged RUNNING trial this old was left by a process killed between creating and tagging it.
UNTAGGED_GRACE = timedelta(minutes=1)


def this_worker() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def open_study(study_name: str, storage: Any, directions: list[str], sampler=None, attempts: int = 10):
    """Create or load the study. Processes that open a fresh SQLite file at the same moment race on creating
    its tables ("table studies already exists"); the loser retries and finds them made."""
    from sqlalchemy.exc import DBAPIError

    for attempt in range(attempts):
        try:
            return optuna.create_study(
                study_name=study_name, storage=storage, sampler=sampler, directions=directions, load_if_exists=True
            )
        except DBAPIError as exc:
            if attempt == attempts - 1:
                raise
            log.debug("opening study %s raced another process (%s); retrying", study_name, exc.orig)
            time.sleep(0.2 * (attempt + 1))
    raise AssertionError("unreachable")


def fail_abandoned(study) -> list[int]:
    """Mark failed the RUNNING trials whose worker is gone: a process of this host that no longer exists, or
    an untagged trial older than a minute. Trials of live workers, and of other hosts, are left alone."""
    host = socket.gethostname()
    now = datetime.now()
    failed = []
    for trial in study.get_trials(deepcopy=False, states=[TrialState.RUNNING]):
        worker = trial.user_attrs.get(WORKER_ATTR)
        if worker is None:
            gone = trial.datetime_start is not None and now - trial.datetime_start > UNTAGGED_GRACE
        else:
            worker_host, _, pid = worker.rpartition(":")
            gone = worker_host == host and not _alive(int(pid))
        if gone:
            study.tell(trial.number, state=TrialState.FAIL, skip_if_finished=True)
            log.warning("trial %d of %s was interrupted; marked failed", trial.number, study.study_name)
            failed.append(trial.number)
    return failed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def _intended(trial) -> dict:
    """The parameters a trial runs with: a queued trial's are fixed before it starts."""
    return trial.system_attrs.get("fixed_params") or trial.params


def _is_queued(trial) -> bool:
    return "fixed_params" in trial.system_attrs


def budgeted(study) -> list:
    """The trials that use the budget. Two processes may queue the same trial (the baseline) at once; the
    later copy is skipped when it is picked up, so it takes no place."""
    trials = sorted(study.get_trials(deepcopy=False, states=BUDGETED), key=lambda t: t.number)
    first: dict[str, int] = {}
    for t in trials:
        if _is_queued(t):
            first.setdefault(repr(sorted(_intended(t).items())), t.number)
    return [t for t in trials if not _is_queued(t) or first[repr(sorted(_intended(t).items()))] == t.number]


def budget_left(study, n_trials: int) -> int:
    return n_trials - len(budgeted(study))


def queued_waiting(study) -> bool:
    """Whether a queued trial waits to be asked for (it counts in the budget already)."""
    return bool(study.get_trials(deepcopy=False, states=[TrialState.WAITING]))


def over_budget(study, trial, n_trials: int) -> bool:
    """True when `n_trials` budgeted trials precede this one: another process took the last place first.
    Trial numbers are handed out by the storage in order, so exactly one of two racing trials loses."""
    ahead = sum(1 for t in budgeted(study) if t.number < trial.number)
    return ahead >= n_trials


def duplicate_of(study, trial) -> int | None:
    """The number of another live trial with the same parameters, if any.

    Each process writes its trial's parameters before it compares, so of two workers that sampled the same
    point the one comparing last always sees the other. Both may see each other and both skip; that costs a
    resample, never a duplicate. Of two queued copies (fixed before either runs) the lower number runs.
    """
    trials = study.get_trials(deepcopy=False, states=BUDGETED)
    me = next(t for t in trials if t.number == trial.number)
    for other in trials:
        if other.number == me.number or _intended(other) != me.params:
            continue
        if _is_queued(me) and _is_queued(other) and other.number > me.number:
            continue
        return other.number
    return None


def skip(study, trial, reason: str) -> None:
    """Close a trial that never ran: FAIL, so samplers ignore it and the budget gets its place back."""
    trial.set_user_attr(SKIPPED_ATTR, reason)
    study.tell(trial, state=TrialState.FAIL)
    log.info("trial %d of %s skipped: %s", trial.number, study.study_name, reason)
