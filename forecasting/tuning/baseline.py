"""The baseline trial: a study's first trial scores the config as it stands, before any tuning.

Optuna's `enqueue_trial` makes the next `ask()` return fixed parameters; here they are the values the config
already holds for every searched key. The study then measures the untuned default under exactly the protocol
of its other trials (same folds, same seed), its trial table shows what tuning gained, and TPE starts from a
known-good point rather than from random ones only.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import yaml
from omegaconf import DictConfig, OmegaConf

log = logging.getLogger(__name__)

BASELINE_ATTR = "baseline"


class _ConfigTrial:
    """Stands in for an Optuna trial in a custom search space: each `suggest_*` answers the config's current
    value, so constraints that depend on earlier suggestions see the baseline's own values."""

    def __init__(self, cfg: DictConfig) -> None:
        self.cfg = cfg
        self.params: dict[str, Any] = {}
        self.missing: list[str] = []

    def _current(self, name: str) -> Any:
        value = OmegaConf.select(self.cfg, name, default=None)
        if value is None:
            self.missing.append(name)
            return None
        value = OmegaConf.to_container(value) if OmegaConf.is_config(value) else value
        self.params[name] = value
        return value

    def suggest_int(self, name: str, low: int, high: int, **_: Any) -> int:
        value = self._current(name)
        return int(value) if value is not None else low

    def suggest_float(self, name: str, low: float, high: float, **_: Any) -> float:
        value = self._current(name)
        return float(value) if value is not None else low

    def suggest_categorical(self, name: str, choices: Sequence[Any]) -> Any:
        value = self._current(name)
        if value is None:
            return choices[0]
        # Choices of lists are spelled as override strings ("[1,0,1]"); the config holds the list itself.
        match = next((c for c in choices if _same(c, value)), None)
        if match is None:
            self.params.pop(name)
            self.missing.append(name)
            return choices[0]
        self.params[name] = match
        return match

    def set_user_attr(self, key: str, value: Any) -> None:  # part of the trial API a space may use
        pass


def _same(choice: Any, value: Any) -> bool:
    if choice == value:
        return True
    if isinstance(choice, str) and not isinstance(value, str):
        try:
            return yaml.safe_load(choice) == value
        except yaml.YAMLError:
            return False
    return False


def baseline_params(
    cfg: DictConfig, space: Callable[[DictConfig, Any], None] | None, keys: Iterable[str] = ()
) -> tuple[dict[str, Any], list[str]]:
    """The config's current values for the searched keys: those a custom space suggests plus `keys` (the flat
    search space). Returns the parameters and the keys the config does not set."""
    trial = _ConfigTrial(cfg)
    if space is not None:
        space(cfg, trial)
    for key in keys:
        trial._current(key)
    return trial.params, trial.missing


def enqueue_baseline(study, params: dict[str, Any]) -> bool:
    """Queue the baseline as the study's next trial unless the study already ran or queued it."""
    if not params:
        return False
    if any(t.user_attrs.get(BASELINE_ATTR) for t in study.get_trials(deepcopy=False)):
        return False
    study.enqueue_trial(params, user_attrs={BASELINE_ATTR: True}, skip_if_exists=True)
    return True
