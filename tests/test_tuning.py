"""Optuna sweeps through Hydra: a short sweep, a killed sweep that resumes, the best config reused."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import optuna
import pandas as pd
import pytest
from omegaconf import OmegaConf

from forecasting.tuning import shared_study
from tests.test_run import ROOT, run_cli

COMPLETE = optuna.trial.TrialState.COMPLETE
RUNNING = optuna.trial.TrialState.RUNNING


def sweep_args(data_path, tmp_path, n_trials):
    return [
        "-m",
        "experiment=arima",
        "hparams_search=arima_optuna",
        f"data.path={data_path}",
        "data.panel.max_skus=3",
        "backtest.horizon=14",
        "backtest.step=14",
        "backtest.folds=1",
        "num_samples=20",
        "parallel.n_jobs=1",
        f"hydra.sweeper.n_trials={n_trials}",
        f"hydra.sweeper.storage=sqlite:///{tmp_path}/optuna.db",
        "hydra.sweeper.study_name=test_study",
        f"hydra.sweep.dir={tmp_path}/sweep",
        f"hydra.callbacks.save_best.tuned_dir={tmp_path}/tuned",
    ]


def trials(tmp_path):
    study = optuna.load_study(study_name="test_study", storage=f"sqlite:///{tmp_path}/optuna.db")
    return study.get_trials(deepcopy=False)


def test_sweep_completes_and_writes_best_config(retail_slice_path, tmp_path):
    res = run_cli(*sweep_args(retail_slice_path, tmp_path, 2))
    assert res.returncode == 0, res.stderr[-3000:]
    done = [t for t in trials(tmp_path) if t.state == COMPLETE]
    assert len(done) == 2
    # Trials scored validation folds only: no run of the sweep backtested a test fold.
    for folds in (tmp_path / "sweep").glob("*/folds.csv"):
        assert set(pd.read_csv(folds)["role"]) == {"validation"}
    table = pd.read_csv(tmp_path / "sweep" / "trials.csv")
    assert len(table) == 2 and table["value"].notna().all()
    # Trial 0 is the baseline: the ARIMA config as it stands, scored like every other trial.
    assert table["baseline"].tolist() == [True, False]
    assert table.loc[0, "params_model.arima.order"] == "[1,0,1]"
    assert table.loc[0, "params_model.arima.seasonal_order"] == "[1,0,0]"
    best = OmegaConf.load(tmp_path / "tuned" / "test_study.yaml")
    best_trial = min(done, key=lambda t: t.value)
    assert OmegaConf.to_container(best.model.arima.order) == eval(best_trial.params["model.arima.order"])

    # The best config runs as it is, and scores the untouched test fold.
    out = tmp_path / "tuned_run"
    res = run_cli(
        "experiment=arima",
        "tuned=test_study",
        f"hydra.searchpath=[file://{tmp_path}]",
        f"data.path={retail_slice_path}",
        "data.panel.max_skus=3",
        "backtest.horizon=14",
        "backtest.step=14",
        "backtest.folds=1",
        "backtest.validation_folds=2",
        "num_samples=20",
        "parallel.n_jobs=1",
        f"hydra.run.dir={out}",
    )
    assert res.returncode == 0, res.stderr[-3000:]
    resolved = OmegaConf.load(out / "config.yaml")
    assert resolved.model.arima.order == best.model.arima.order
    assert set(pd.read_csv(out / "folds.csv")["role"]) == {"validation", "test"}
    assert (pd.read_csv(out / "leaderboard.csv")["model"] == "arima").any()


def test_killed_sweep_resumes_with_its_finished_trials(retail_slice_path, tmp_path):
    cmd = [sys.executable, str(ROOT / "run.py"), *sweep_args(retail_slice_path, tmp_path, 3)]
    # Each trial waits 3 s before it starts, so the sweep is surely mid-way when the test sees a finished trial.
    env = {**os.environ, "FORECASTING_PAUSE_AT": "run_started", "FORECASTING_PAUSE_SECONDS": "3"}
    log = (tmp_path / "killed_sweep.log").open("w")
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, env=env)
    deadline = time.time() + 240
    first = None
    while time.time() < deadline and proc.poll() is None:
        time.sleep(0.5)
        # Touch the study only once the first trial's job has finished: opening a SQLite storage while the
        # sweep is creating it races on Optuna's schema stamp and can crash the sweep.
        if (tmp_path / "sweep" / "0" / "metrics.json").exists():
            try:
                done = [t for t in trials(tmp_path) if t.state == COMPLETE]
            except Exception:  # noqa: BLE001 - the study may not be created yet
                continue
            # Kill inside the next trial's job (tagged with its worker), not in the instant between the storage
            # creating that trial and the sweep tagging it: an untagged trial keeps its place for a grace minute.
            running = [t for t in trials(tmp_path) if t.state == RUNNING and shared_study.WORKER_ATTR in t.user_attrs]
            if done and running:
                first = done[0]
                os.killpg(proc.pid, signal.SIGKILL)  # kill -9 the whole sweep mid-way
                break
    proc.wait(timeout=30)
    log.close()
    output = (tmp_path / "killed_sweep.log").read_text()[-3000:]
    assert first is not None, f"no finished trial seen before the sweep ended (exit {proc.returncode}):\n{output}"
    assert len([t for t in trials(tmp_path) if t.state == COMPLETE]) < 3

    res = run_cli(*sweep_args(retail_slice_path, tmp_path, 3))
    assert res.returncode == 0, res.stderr[-3000:]
    after = trials(tmp_path)
    done = [t for t in after if t.state == COMPLETE]
    assert len(done) == 3  # the total, not 3 more
    kept = [t for t in done if t.number == first.number]
    assert kept and kept[0].params == first.params and kept[0].value == first.value
    assert not [t for t in after if t.state == optuna.trial.TrialState.RUNNING]


def test_search_spaces_respect_model_constraints():
    from forecasting.tuning.spaces import ARIMA_ORDERS, tcn_space

    cfg = OmegaConf.create({"backtest": {"horizon": 30}})
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    for _ in range(50):
        trial = study.ask()
        tcn_space(cfg, trial)
        p = trial.params
        assert p["model.tcn.model_kwargs.input_chunk_length"] > 30
        assert p["model.tcn.model_kwargs.kernel_size"] < p["model.tcn.model_kwargs.input_chunk_length"]
    for order in ARIMA_ORDERS:
        p, d, q = eval(order)
        assert 0 < p + q <= 4 and d in (0, 1)


def test_baseline_trial_is_the_config_as_it_stands():
    from forecasting.tuning.baseline import baseline_params, enqueue_baseline
    from forecasting.tuning.spaces import tcn_space
    from tests.test_run import composed

    cfg = composed("experiment=tcn", "hparams_search=tcn_optuna", "model.tcn.model_kwargs.kernel_size=4")
    params, missing = baseline_params(cfg, tcn_space)
    assert not missing
    assert params["model.tcn.model_kwargs.kernel_size"] == 4
    assert params["model.tcn.model_kwargs.input_chunk_length"] == cfg.model.tcn.model_kwargs.input_chunk_length
    assert params["model.tcn.model_kwargs.optimizer_kwargs.lr"] == cfg.model.tcn.model_kwargs.optimizer_kwargs.lr

    study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=0))
    assert enqueue_baseline(study, params)
    trial = study.ask()
    tcn_space(cfg, trial)
    assert trial.params == params and trial.user_attrs["baseline"]
    study.tell(trial, 1.0)
    assert not enqueue_baseline(study, params)  # a resumed study does not score its baseline twice
    trial = study.ask()
    tcn_space(cfg, trial)
    assert not trial.user_attrs.get("baseline")


def test_the_sweeper_plugin_is_the_pinned_one():
    """`forecasting.tuning.sweeper` replaces the plugin's sweep loop and calls its private helpers: a plugin release
    that renames one or changes its parameters must fail here, by name, rather than mid-sweep."""
    import inspect
    from importlib.metadata import version

    from hydra_plugins.hydra_optuna_sweeper import _impl

    from forecasting.tuning.sweeper import PRIVATE_API

    assert version("hydra-optuna-sweeper") == "1.3.0", "the sweeper's private helpers are checked for 1.3.0 only"
    for name, params in PRIVATE_API.items():
        helper = getattr(_impl.OptunaSweeperImpl, name, None) or getattr(_impl, name, None)
        assert helper is not None, f"hydra-optuna-sweeper no longer has {name}"
        assert list(inspect.signature(helper).parameters) == params, f"{name} changed its parameters"
    impl = _impl.OptunaSweeperImpl(None, "minimize", None, None, 1, 1, 0.0, None, None, None)
    used = ("sampler", "storage", "study_name", "n_trials", "n_jobs", "max_failure_rate", "job_idx")
    missing = [a for a in (*used, "search_space_distributions", "custom_search_space_extender") if a not in vars(impl)]
    assert not missing, f"OptunaSweeperImpl no longer sets {missing}"
    setup = inspect.getsource(_impl.OptunaSweeperImpl.setup)
    assert "self.config = " in setup and "self.launcher = " in setup, "OptunaSweeperImpl.setup changed"


@pytest.mark.parametrize("search", ["tcn_optuna", "lstm_optuna", "arima_optuna"])
def test_search_configs_compose(search):
    from tests.test_run import composed

    model = search.split("_")[0]
    cfg = composed(f"experiment={model}", f"hparams_search={search}")
    assert cfg.backtest.validation_folds == 2 and cfg.backtest.skip_test
    assert cfg.optimized_model == model


def test_trials_table_says_which_trials_never_ran(tmp_path):
    from forecasting.tuning.best_config import write_best
    from forecasting.tuning.shared_study import skip

    study = optuna.create_study(study_name="s")
    for p in (1, 2):
        trial = study.ask()
        trial.suggest_int("p", p, p)
        study.tell(trial, float(p))
    lost = study.ask()
    skip(study, lost, "same parameters as trial 0")
    write_best(study, tmp_path / "tuned", tmp_path)
    table = pd.read_csv(tmp_path / "trials.csv")
    assert table["skipped"].fillna("").tolist() == ["", "", "same parameters as trial 0"]
    assert table["state"].tolist() == ["COMPLETE", "COMPLETE", "FAIL"]
