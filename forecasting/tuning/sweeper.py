"""Two extensions of Hydra's Optuna sweeper, installed by `run.py`: resumable studies and the baseline trial.

- Resume: hydra-optuna-sweeper 1.3 loads an existing study from its storage but then runs `n_trials` more
  trials. Here `n_trials` means the study's total: a rerun after an interruption runs only the trials still
  missing, and trials left RUNNING by a killed sweep are marked FAIL so the sampler ignores them (one sweep per
  study at a time is assumed).
- Baseline: with `baseline_trial: true` in the sweep's config, a new study's first trial is the config as it
  stands (see `baseline.py`), so the study itself shows whether tuning beat the untuned default.
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
    if getattr(OptunaSweeperImpl.sweep, "_extended", False):
        return
    original = OptunaSweeperImpl.sweep

    @functools.wraps(original)
    def sweep(self, arguments):
        if self.storage and self.study_name:
            import optuna

            # The same call the sweeper makes next; opened once here for both extensions.
            study = optuna.create_study(
                study_name=self.study_name,
                storage=self.storage,
                directions=self._get_directions(),
                load_if_exists=True,
            )
            done = finish_interrupted(study)
            if done:
                log.info(
                    "study %s has %d finished trial(s); running %d more",
                    self.study_name,
                    done,
                    max(0, self.n_trials - done),
                )
            self.n_trials = max(0, self.n_trials - done)
            if self.n_trials and self.config.get("baseline_trial", False):
                queue_baseline(self, study, arguments)
        return original(self, arguments)

    sweep._extended = True
    OptunaSweeperImpl.sweep = sweep


def finish_interrupted(study) -> int:
    """Mark the study's RUNNING trials failed; return how many trials completed."""
    from optuna.trial import TrialState

    for trial in study.get_trials(deepcopy=False, states=[TrialState.RUNNING]):
        study.tell(trial.number, state=TrialState.FAIL)
        log.warning("trial %d of %s was interrupted; marked failed", trial.number, study.study_name)
    return len(study.get_trials(deepcopy=False, states=[TrialState.COMPLETE]))


def queue_baseline(sweeper, study, arguments) -> None:
    """Enqueue the config's current values of the searched parameters as the study's next trial."""
    from hydra_plugins.hydra_optuna_sweeper._impl import create_params_from_overrides

    from forecasting.tuning.baseline import baseline_params, enqueue_baseline

    flat = sweeper._parse_sweeper_params_config() + list(arguments)
    distributions, _ = create_params_from_overrides(flat)
    params, missing = baseline_params(sweeper.config, sweeper.custom_search_space_extender, distributions)
    if missing:
        log.warning("baseline trial: the config sets no value for %s; the sampler picks those", missing)
    if enqueue_baseline(study, params):
        log.info("study %s: the next trial is the baseline (the config as it stands): %s", study.study_name, params)
