"""`run.py` as a user meets it when things go wrong: one sentence, a documented exit status, no traceback."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]


def run_py(*args: str, cwd: Path = ROOT, script: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(script or ROOT / "run.py"), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "OPENBLAS_NUM_THREADS": "1"},
    )


def assert_one_sentence(proc: subprocess.CompletedProcess, status: int, *phrases: str) -> str:
    err = proc.stdout + proc.stderr  # Hydra logs to stdout; errors before the run starts go to stderr
    assert proc.returncode == status, (proc.returncode, err[-2000:])
    assert "Traceback" not in err, err[-2000:]
    errors = [line for line in err.splitlines() if "ERROR" in line or line.startswith("error:")]
    assert len(errors) == 1, err[-2000:]
    for phrase in phrases:
        assert phrase in errors[0], errors[0]
    return errors[0]


def test_unknown_model_lists_the_models_there_are():
    line = assert_one_sentence(run_py("model=[arima,prophet]"), 2, "model 'prophet' is unknown", "arima", "ets")
    assert "croston" in line


def test_unknown_setting_says_how_to_add_it():
    assert_one_sentence(run_py("no_such_key=1"), 2, "no_such_key", "+no_such_key=1")


def test_a_path_with_spaces_and_brackets_gets_a_quoted_fix_that_runs_as_printed(tmp_path):
    # Hydra's override grammar reserves spaces, brackets and ";": a file saved as "sales (2024).csv" is common.
    path = tmp_path / "my sales (2024).csv"
    dates = pd.date_range("2024-01-01", periods=150, freq="D")
    pd.DataFrame({"sku": np.repeat(["A1", "B2"], len(dates)), "date": np.tile(dates, 2), "demand": 3.0}).to_csv(
        path, index=False
    )
    line = assert_one_sentence(run_py("data=demand_table", f"data.path={path}"), 2, "quote the value")
    fix = shlex.split(line.split("quote the value: ", 1)[1])  # as the shell reads the printed fix
    done = run_py("data=demand_table", *fix, "task=backtest", "model=[seasonal_naive]", f"hydra.run.dir={tmp_path}/run")
    assert done.returncode == 0, (done.stdout + done.stderr)[-2000:]
    assert yaml.safe_load((tmp_path / "run" / "config.yaml").read_text())["data"]["path"] == str(path)


@pytest.mark.parametrize(
    "value",
    ["/data/sales (2024).csv", ";", 'it\'s "q" (1)', "C:\\data\\x.csv", "ends\\", "x$(touch pwned)`id`.csv"],
)
def test_a_quoted_fix_reads_back_as_the_value_and_runs_nothing_in_the_shell(value, tmp_path):
    from hydra.core.override_parser.overrides_parser import OverridesParser

    from forecasting.cli import quoted_override

    fix = quoted_override("data.path", value)
    # bash reads the printed fix as one argument, expanding nothing in it
    echoed = subprocess.run(["bash", "-c", f"printf %s {fix}"], capture_output=True, text=True, cwd=tmp_path)
    assert not (tmp_path / "pwned").exists()
    assert OverridesParser.create().parse_override(echoed.stdout).value() == value


def test_a_setting_written_as_a_flag_is_told_to_drop_the_dashes():
    line = assert_one_sentence(run_py("--backtest.folds=2"), 2, "without dashes", "backtest.folds=2 instead of")
    assert "unrecognized" not in line


def test_a_separator_hydra_reserves_and_an_open_list_each_get_their_fix():
    line = assert_one_sentence(run_py("data.read_options.sep=;"), 2, "quote the value")
    assert shlex.split(line.split("quote the value: ", 1)[1]) == ['data.read_options.sep=";"']
    assert_one_sentence(run_py("data.columns.sku=[store,item"), 2, "not a whole list", "close its brackets")


@pytest.mark.parametrize(
    ("override", "fix"),
    [
        ("trainer.patience=5", "callbacks.early_stopping.patience"),
        ("trainer.min_delta=0.1", "callbacks.early_stopping.min_delta"),
        ("+trainer.tensorboard=false", "logger=csv"),
    ],
)
def test_a_setting_that_became_a_config_group_names_its_new_place(override, fix):
    assert_one_sentence(run_py(override), 2, "is no longer a setting", fix)


def test_an_unexpected_exception_is_one_sentence_and_a_logged_traceback(tmp_path):
    # A real run.py process whose pipeline raises an error nobody anticipated (a stand-in for a bug).
    wrapper = tmp_path / "buggy_run.py"
    wrapper.write_text(
        textwrap.dedent(
            f"""
            import runpy, sys
            import forecasting.pipeline as pipeline
            def broken(cfg, out):
                raise RuntimeError("simulated bug")
            pipeline.run = broken
            sys.argv = [{str(ROOT / "run.py")!r}, *sys.argv[1:]]
            runpy.run_path(sys.argv[0], run_name="__main__")
            """
        )
    )
    run_dir = tmp_path / "run"
    proc = run_py(f"hydra.run.dir={run_dir}", script=wrapper)
    line = assert_one_sentence(proc, 1, "unexpected RuntimeError: simulated bug", str(run_dir / "run.log"))
    assert "bug" in line
    log = (run_dir / "run.log").read_text()
    assert "Traceback" in log and "simulated bug" in log


def _mount_tmpfs(path: Path, options: str) -> bool:
    path.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)], capture_output=True)
    return mounted.returncode == 0


def _tmpfs(path: Path, options: str):
    if not _mount_tmpfs(path, options):
        pytest.skip("mounting a tmpfs is not permitted here")
    yield path
    subprocess.run(["umount", str(path)], check=False)


@pytest.fixture
def small_disk(tmp_path):
    """A real 64 KiB file system: a run fills it."""
    yield from _tmpfs(tmp_path / "full", "size=64k")


@pytest.fixture
def read_only_disk(tmp_path):
    yield from _tmpfs(tmp_path / "ro", "ro")


def test_full_disk_names_the_file_and_exits_5(small_disk):
    run_dir = small_disk / "run"
    proc = run_py(f"hydra.run.dir={run_dir}", "debug=tiny", "task=backtest", "model=[croston]")
    assert_one_sentence(proc, 5, "the disk is full", str(run_dir))
    # Nothing half-written under a final name: every Parquet file there opens.
    import pyarrow.parquet as pq

    for path in run_dir.glob("*.parquet"):
        pq.read_metadata(path)
    assert not list(run_dir.glob(".*.tmp"))


def test_read_only_disk_names_the_path_and_exits_5(read_only_disk):
    run_dir = read_only_disk / "run"
    proc = run_py(f"hydra.run.dir={run_dir}", "debug=tiny")
    assert_one_sentence(proc, 5, "cannot be written", str(run_dir))
