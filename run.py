"""Hydra entry point: `python run.py experiment=arima`. Returns the optimized metric for sweeps.

Whatever goes wrong, the user sees one sentence and an exit status (README, "Exit status"); tracebacks go to the
run folder's `run.log` only.
"""

from __future__ import annotations

import logging
import os
import sys

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from forecasting.cli import (
    ExitStatus,
    check_group_overrides,
    describe_failure,
    interrupted,
    log_traceback_to_file,
    watch_interrupts,
)
from forecasting.datasets import bundled_path
from forecasting.run_token import run_token
from forecasting.storage.lock import LockedError
from forecasting.tuning import sweeper

OmegaConf.register_new_resolver("bundled", bundled_path, replace=True)
OmegaConf.register_new_resolver("run_token", run_token, replace=True)
sweeper.install()  # Optuna sweeps resume (`n_trials` is the study's total) and start from a baseline trial
log = logging.getLogger("run")


@hydra.main(version_base="1.3", config_path="conf", config_name="config")
def main(cfg: DictConfig) -> float:
    from forecasting.pipeline import run  # after Hydra parsed the command line: `--help` stays fast

    output_dir = HydraConfig.get().runtime.output_dir
    try:
        metrics = run(cfg, output_dir)
    except LockedError as exc:
        log.error("%s", exc)
        sys.exit(ExitStatus.LOCKED)
    except Exception as exc:
        status, sentence = describe_failure(exc)
        log.error("%s (details in %s).", sentence.rstrip(". "), os.path.join(output_dir, "run.log"))
        log_traceback_to_file(exc)
        if HydraConfig.get().mode == RunMode.MULTIRUN:
            raise  # a sweep records the trial as failed and goes on; exiting would end the whole sweep
        sys.exit(status)
    if metrics.get("exit_code"):
        sys.exit(int(metrics["exit_code"]))  # 4: drift alert (the plan was still written)
    return metrics["value"]


if __name__ == "__main__":
    # A handler that cannot write (full disk) must not print a traceback of its own.
    logging.raiseExceptions = False
    check_group_overrides(sys.argv[1:], os.path.join(os.path.dirname(os.path.abspath(__file__)), "conf"))
    # Errors that Hydra meets before our task runs (composing the config, making the run folder) come back to
    # us as exceptions rather than Hydra's printed stack trace, so they get one sentence too.
    os.environ.setdefault("HYDRA_FULL_ERROR", "1")
    watch_interrupts()
    try:
        main()
    except SystemExit as exc:
        if interrupted() and exc.code not in (None, 0, ExitStatus.INTERRUPTED):  # Lightning's exit(1) on Ctrl-C
            print(f"error: {describe_failure(KeyboardInterrupt())[1]}", file=sys.stderr)
            sys.exit(ExitStatus.INTERRUPTED)
        raise
    except BaseException as exc:  # noqa: BLE001 - the last line of defence: one sentence, never a traceback
        status, sentence = describe_failure(exc, composing=True)
        if status == ExitStatus.INTERNAL:  # a bug: the sentence names the log that really holds its traceback
            logged = log_traceback_to_file(exc)
            sentence = f"{sentence.rstrip('. ')} ({logged or 'no log could be written'})."
        print(f"error: {sentence}", file=sys.stderr)
        sys.exit(status)
