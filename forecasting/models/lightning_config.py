"""Lightning callbacks and loggers from config: the `callbacks` and `logger` groups (conf/callbacks, conf/logger),
each entry a `_target_` with its arguments, as in the lightning-hydra-template.

The trainer settings carry them (`trainer.callbacks` and `trainer.logger` interpolate the two groups), and every
training builds its own objects from them: early stopping counts epochs since its own best, so one object cannot
serve two trainings. Without the keys (a `trainer` mapping built in code) a training has neither.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

log = logging.getLogger(__name__)
_left_out: set[str] = set()


def build_callbacks(specs: Mapping[str, Mapping[str, Any]] | None) -> list:
    from hydra.utils import instantiate

    return [instantiate(dict(spec)) for spec in (specs or {}).values()]


def build_loggers(specs: Mapping[str, Mapping[str, Any]] | None, save_dir: str, name: str) -> list:
    """Each logger writes under `save_dir` as `name` unless its config says otherwise; a logger whose package is
    not installed (TensorBoard's, where neither tensorboard nor tensorboardX is) is left out, as optional."""
    from hydra.errors import InstantiationException
    from hydra.utils import instantiate

    loggers = []
    for key, spec in (specs or {}).items():
        try:
            loggers.append(instantiate({"save_dir": save_dir, "name": name, **spec}))
        except InstantiationException as exc:
            if not isinstance(exc.__cause__, ImportError):
                raise
            if key not in _left_out:  # once per process: it would repeat at every cutoff
                _left_out.add(key)
                log.info("logger %s left out: %s", key, exc.__cause__)
    return loggers
