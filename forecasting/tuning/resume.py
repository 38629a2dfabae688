"""Make Hydra's Optuna sweeper resume a study instead of starting `n_trials` afresh.

hydra-optuna-sweeper 1.3 loads an existing study from its storage but then runs `n_trials` more trials. Here
`n_trials` means the study's total: a rerun after an interruption runs only the trials still missing, and
trials left RUNNING by a killed sweep are marked FAIL so the sampler ignores them (one sweep per study at a
time is assumed).
"""

from __future__ import annotations

import functools
import logging

log = logging.getLogger(__name__)


def install() -> None:
    """Wrap the sweeper's `sweep` once; a no-op where the plugin is not installed."""
    try:
        from hydra_plugins.hydra_optuna_sweeper._impl import OptunaSweeperImpl
    except ImportError:
        return
    if getattr(OptunaSweeperImpl.sweep, "_resumable", False):
        return
    original = OptunaSweeperImpl.sweep

    @functools.wraps(original)
    def sweep(self, arguments):
        if self.storage and self.study_name:
            done = finish_interrupted(self.storage, self.study_name)
            if done:
                log.info(
                    "study %s has %d finished trial(s); running %d more",
                    self.study_name,
                    done,
                    max(0, self.n_trials - done),
                )
            self.n_trials = max(0, self.n_trials - done)
        return original(self, arguments)

    sweep._resumable = True
    OptunaSweeperImpl.sweep = sweep


def finish_interrupted(storage: str, study_name: str) -> int:
    """Mark the study's RUNNING trials failed; return how many trials completed."""
    import optuna

    try:
        study = optuna.load_study(study_name=study_name, storage=storage)
    except KeyError:  # a new study
        return 0
    for trial in study.get_trials(deepcopy=False, states=[optuna.trial.TrialState.RUNNING]):
        study.tell(trial.number, state=optuna.trial.TrialState.FAIL)
        log.warning("trial %d of %s was interrupted; marked failed", trial.number, study_name)
    return len(study.get_trials(deepcopy=False, states=[optuna.trial.TrialState.COMPLETE]))
