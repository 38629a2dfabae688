"""Hydra entry point: `python run.py experiment=arima`. Returns the optimized metric for sweeps."""

from __future__ import annotations

import logging
import sys

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from forecasting.datasets import bundled_path
from forecasting.errors import InputError
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
        sys.exit(3)
    except InputError as exc:
        if HydraConfig.get().mode == RunMode.MULTIRUN:
            raise  # a sweep records the trial as failed and goes on; exiting would end the whole sweep
        log.error("%s", exc)
        sys.exit(2)
    if metrics.get("exit_code"):
        sys.exit(int(metrics["exit_code"]))  # 4: drift alert (the plan was still written)
    return metrics["value"]


if __name__ == "__main__":
    main()
