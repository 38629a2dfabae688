"""Runs and sweeps started side by side: their own run folders, one shared Optuna study, no collisions."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
from omegaconf import OmegaConf

from forecasting.tuning import shared_study
from tests.test_run import ROOT

COMPLETE = optuna.trial.TrialState.COMPLETE
STUDY = "shared_study"


def start(*overrides: str, cwd: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, str(ROOT / "run.py"), *overrides],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def finish(procs: list[subprocess.Popen], timeout: float = 240) -> list[str]:
    outputs = [p.communicate(timeout=timeout)[0] for p in procs]
    for p, out in zip(procs, outputs, strict=True):
        assert p.returncode == 0, out[-3000:]
    return outputs


def test_runs_started_together_get_their_own_folders(tmp_path):
    common = ["debug=tiny", "task=backtest", "model=[croston]", "data.panel.max_skus=3", "backtest.folds=1"]
    procs = [start(*common, f"seed={seed}", cwd=tmp_path) for seed in (1, 2)]
    finish(procs)
    folders = sorted((tmp_path / "experiments" / "default").iterdir())
    assert len(folders) == 2, folders
    for proc, seed in zip(procs, (1, 2), strict=True):
        # The folder is named by the time and the process that wrote it, and holds that process's config only.
        (mine,) = [f for f in folders if f"_{proc.pid}-" in f.name]
        assert OmegaConf.load(mine / "config.yaml").seed == seed
        assert (mine / "leaderboard.csv").exists()


def sweep_args(data_path: Path, storage: Path, n_trials: int) -> list[str]:
    return [
        "-m",
        "experiment=arima",
        "hparams_search=arima_optuna",
        f"data.path={data_path}",
        "data.panel.max_skus=2",
        "backtest.horizon=14",
        "backtest.step=14",
        "backtest.folds=1",
        "num_samples=20",
        "parallel.n_jobs=1",
        f"hydra.sweeper.n_trials={n_trials}",
        f"hydra.sweeper.storage=sqlite:///{storage}",
        f"hydra.sweeper.study_name={STUDY}",
        f"hydra.callbacks.save_best.tuned_dir={storage.parent}/tuned",
    ]


def sweep_folders(root: Path) -> list[Path]:
    return sorted((root / "experiments" / "arima" / "multirun").iterdir())


def check_study(storage: Path, n_trials: int) -> list:
    study = optuna.load_study(study_name=STUDY, storage=f"sqlite:///{storage}")
    trials = study.get_trials(deepcopy=False)
    done = [t for t in trials if t.state == COMPLETE]
    assert len(done) == n_trials, [(t.number, t.state.name, t.params, t.user_attrs) for t in trials]
    assert len({tuple(sorted(t.params.items())) for t in done}) == n_trials  # no parameters scored twice
    assert not [t for t in trials if t.state in (optuna.trial.TrialState.RUNNING, optuna.trial.TrialState.WAITING)]
    assert sum(bool(t.user_attrs.get("baseline")) for t in done) == 1  # the baseline, once per study
    # Every trial that was not a finished one never ran: it lost a race and says so.
    assert all(t.user_attrs.get("skipped") for t in trials if t.state != COMPLETE)
    return done


def jobs_run(folders: list[Path]) -> int:
    return sum(1 for f in folders for _ in f.glob("*/metrics.json"))


def test_two_sweeps_on_a_fresh_study_share_its_budget(retail_slice_path, tmp_path):
    storage = tmp_path / "optuna.db"
    procs = [start(*sweep_args(retail_slice_path, storage, 4), cwd=tmp_path) for _ in range(2)]
    finish(procs)
    done = check_study(storage, 4)
    folders = sweep_folders(tmp_path)
    assert len(folders) == 2  # one multirun folder per process
    assert jobs_run(folders) == 4  # each trial ran once, in one of them
    assert {t.user_attrs["worker"].rpartition(":")[2] for t in done} <= {str(p.pid) for p in procs}


def test_two_sweeps_resume_an_existing_study(retail_slice_path, tmp_path):
    storage = tmp_path / "optuna.db"
    finish([start(*sweep_args(retail_slice_path, storage, 2), cwd=tmp_path)])
    before = {t.number: (t.params, t.value) for t in check_study(storage, 2)}
    procs = [start(*sweep_args(retail_slice_path, storage, 4), cwd=tmp_path) for _ in range(2)]
    finish(procs)
    after = {t.number: (t.params, t.value) for t in check_study(storage, 4)}
    assert {n: after[n] for n in before} == before  # the finished trials are kept, not run again
    folders = sweep_folders(tmp_path)
    assert len(folders) == 3
    assert jobs_run(folders) == 4  # 2 from the first sweep, the 2 missing ones between the two workers


def test_opening_a_fresh_database_together_never_crashes(tmp_path):
    """Processes creating one SQLite study at the same instant race on its tables; none may fail."""
    at = time.time() + 4  # past every process's imports, so the create calls really coincide
    code = (
        "import time, sys; from forecasting.tuning.shared_study import open_study; "
        f"time.sleep(max(0, {at} - time.time())); "
        f"open_study('race', 'sqlite:///{tmp_path}/race.db', ['minimize']); print('opened')"
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        for _ in range(4)
    ]
    finish(procs, timeout=60)
    assert len(optuna.get_all_study_names(f"sqlite:///{tmp_path}/race.db")) == 1


@pytest.fixture
def two_workers(tmp_path):
    """Two handles on one study, as two processes hold them."""
    url = f"sqlite:///{tmp_path}/workers.db"
    return [shared_study.open_study("s", url, ["minimize"]) for _ in range(2)]


def test_the_last_place_goes_to_one_worker(two_workers):
    a, b = two_workers
    a.tell(a.ask(), 1.0)
    # Both saw one place left and asked at once: the later trial is closed before it runs.
    ta, tb = a.ask(), b.ask()
    assert not shared_study.over_budget(a, ta, 2)
    assert shared_study.over_budget(b, tb, 2)
    shared_study.skip(b, tb, "lost the race")
    assert shared_study.budget_left(a, 2) == 0
    a.tell(ta, 2.0)
    assert shared_study.budget_left(b, 2) == 0


def test_same_parameters_in_two_workers_run_once(two_workers):
    a, b = two_workers
    ta, tb, other = a.ask(), b.ask(), b.ask()
    for trial in (ta, tb):  # both sampled the same point
        trial.suggest_int("p", 1, 1)
    other.suggest_int("p", 2, 2)
    assert shared_study.duplicate_of(b, tb) == ta.number
    shared_study.skip(b, tb, f"same parameters as trial {ta.number}")
    assert shared_study.duplicate_of(a, ta) is None
    assert shared_study.duplicate_of(b, other) is None


def test_a_baseline_queued_by_two_workers_runs_once(two_workers):
    a, b = two_workers
    for study in (a, b):  # both checked "no baseline yet" before either queued it
        study.enqueue_trial({"order": "[1,0,1]"}, user_attrs={"baseline": True})
    assert shared_study.budget_left(a, 3) == 2  # the copy takes no place
    first, copy = a.ask(), b.ask()
    for trial in (first, copy):
        trial.suggest_categorical("order", ["[1,0,1]", "[2,0,1]"])
    assert shared_study.duplicate_of(a, first) is None
    assert shared_study.duplicate_of(b, copy) == first.number


def test_trials_of_a_killed_worker_are_failed_and_live_ones_kept(two_workers):
    a, _ = two_workers
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    killed, alive = a.ask(), a.ask()
    host = shared_study.this_worker().rpartition(":")[0]
    killed.set_user_attr("worker", f"{host}:{int(dead.stdout)}")
    alive.set_user_attr("worker", shared_study.this_worker())
    assert shared_study.fail_abandoned(a) == [killed.number]
    states = {t.number: t.state for t in a.get_trials(deepcopy=False)}
    assert states == {killed.number: optuna.trial.TrialState.FAIL, alive.number: optuna.trial.TrialState.RUNNING}
