"""After a sweep: write the best trial as a config `python run.py` takes directly, and the trial table.

`experiments/tuned/<study>.yaml` holds the best parameters as a `# @package _global_` config, used with
`python run.py experiment=tcn tuned=<study>`; the sweep folder gets `trials.csv` and a copy of the best config.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import optuna
from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

from forecasting.storage import atomic_path, write_csv
from forecasting.tuning.baseline import BASELINE_ATTR
from forecasting.tuning.shared_study import SKIPPED_ATTR

log = logging.getLogger(__name__)


def best_overrides(study) -> list[str]:
    """The best trial's parameters as override strings (their names are config keys)."""
    return [f"{name}={value}" for name, value in study.best_trial.params.items()]


def baseline_trial(study):
    """The study's finished baseline trial (the untuned config), if it has one."""
    done = study.get_trials(deepcopy=False, states=[optuna.trial.TrialState.COMPLETE])
    return next((t for t in done if t.user_attrs.get(BASELINE_ATTR)), None)


def summary(study, base) -> str:
    """One line: the best trial, and what it gained over the baseline trial `base` (None: no baseline)."""
    n = len(study.get_trials(deepcopy=False, states=[optuna.trial.TrialState.COMPLETE]))
    best = study.best_trial
    line = f"Best of {n} trials of study '{study.study_name}': objective {best.value:.6f} (trial {best.number})"
    if base is None:
        return line + "."
    if base.number == best.number:
        return line + "; no trial beat the baseline (the untuned config), so these are its own values."
    better = "lower" if study.direction == optuna.study.StudyDirection.MINIMIZE else "higher"
    gain = abs(best.value - base.value) / abs(base.value) * 100 if base.value else float("nan")
    return line + f", {gain:.2f}% {better} than the untuned baseline's {base.value:.6f} (trial {base.number})."


def write_best(study, tuned_dir: Path, sweep_dir: Path | None = None) -> Path:
    base = baseline_trial(study)
    line = summary(study, base)
    log.info("%s", line)
    nested = OmegaConf.from_dotlist(best_overrides(study))
    text = f"# @package _global_\n# {line}\n" + OmegaConf.to_yaml(nested)
    path = Path(tuned_dir) / f"{study.study_name}.yaml"
    with atomic_path(path) as tmp:
        tmp.write_text(text)
    if sweep_dir is not None:
        with atomic_path(Path(sweep_dir) / "best.yaml") as tmp:
            tmp.write_text(text)
        table = study.trials_dataframe(attrs=("number", "value", "state", "params", "datetime_start", "duration"))
        table.insert(2, BASELINE_ATTR, table["number"] == (base.number if base else -1))
        # Trials closed before they ran (a race between workers lost): listed, with why.
        skipped = {t.number: t.user_attrs.get(SKIPPED_ATTR, "") for t in study.get_trials(deepcopy=False)}
        table.insert(4, SKIPPED_ATTR, table["number"].map(skipped))
        write_csv(table, Path(sweep_dir) / "trials.csv")
    return path


class SaveBestConfig(Callback):
    """Hydra callback (`hydra.callbacks`) run when a multirun ends."""

    def __init__(self, tuned_dir: str = "experiments/tuned") -> None:
        self.tuned_dir = tuned_dir

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        sweeper = config.hydra.sweeper
        if not sweeper.get("storage") or not sweeper.get("study_name"):
            log.warning("the sweep has no Optuna storage; no best config written")
            return
        study = optuna.load_study(study_name=sweeper.study_name, storage=sweeper.storage)
        if not study.get_trials(deepcopy=False, states=[optuna.trial.TrialState.COMPLETE]):
            log.warning("no trial of study %s has finished yet; no best config written", study.study_name)
            return
        path = write_best(study, Path(self.tuned_dir), Path(config.hydra.sweep.dir))
        log.info("best config: %s (use: python run.py ... tuned=%s)", path, study.study_name)
