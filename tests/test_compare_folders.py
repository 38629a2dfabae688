"""task=compare with a real run.py: a compare_root that does not exist, and damaged run folders among good ones."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from tests.test_run import run_cli


@pytest.fixture(scope="module")
def one_run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("compare") / "run"
    res = run_cli("task=backtest", "debug=tiny", "data.panel.max_skus=2", "backtest.folds=1", f"hydra.run.dir={out}")
    assert res.returncode == 0, res.stderr[-2000:]
    return out


def test_missing_compare_root_names_the_folder(tmp_path):
    missing = tmp_path / "no_such_folder"
    res = run_cli("task=compare", f"compare_root={missing}", f"hydra.run.dir={tmp_path}/cmp")
    text = res.stdout + res.stderr
    assert res.returncode == 2, text[-2000:]
    assert f"compare_root={missing} does not exist" in text and "run a backtest first" not in text
    assert "Traceback" not in text


def test_damaged_run_folders_are_skipped_by_name(one_run, tmp_path):
    root = tmp_path / "experiments"
    good = Path(shutil.copytree(one_run, root / "good"))
    bad_yaml = Path(shutil.copytree(one_run, root / "bad_yaml"))
    (bad_yaml / "config.yaml").write_text("data: {path: [unclosed\n  - : :\n")
    bad_json = Path(shutil.copytree(one_run, root / "bad_json"))
    (bad_json / "metrics.json").write_text('{"value": 0.5, "task": ')  # cut off mid-write
    bad_csv = Path(shutil.copytree(one_run, root / "bad_leaderboard"))
    (bad_csv / "leaderboard.csv").write_text("nothing,useful\n1,2\n")

    res = run_cli("task=compare", f"compare_root={root}", f"hydra.run.dir={tmp_path}/cmp")
    text = res.stdout + res.stderr
    assert res.returncode == 0, text[-3000:]
    for name in ("bad_yaml", "bad_json", "bad_leaderboard"):
        assert f"skipped run folder {root / name}" in text
    table = pd.read_csv(tmp_path / "cmp" / "comparison.csv")
    assert set(table["run"]) == {good.name}
    # The comparison of the good folder alone is what a comparison of a root holding only it gives.
    alone = tmp_path / "alone"
    shutil.copytree(good, alone / "good")
    res = run_cli("task=compare", f"compare_root={alone}", f"hydra.run.dir={tmp_path}/cmp_alone")
    assert res.returncode == 0
    expected = pd.read_csv(tmp_path / "cmp_alone" / "comparison.csv")
    pd.testing.assert_frame_equal(table.drop(columns="path"), expected.drop(columns="path"))


def test_only_damaged_folders_is_one_sentence(one_run, tmp_path):
    root = tmp_path / "experiments"
    bad = Path(shutil.copytree(one_run, root / "bad"))
    (bad / "data_quality.json").write_text("{not json")
    res = run_cli("task=compare", f"compare_root={root}", f"hydra.run.dir={tmp_path}/cmp")
    text = res.stdout + res.stderr
    assert res.returncode == 2 and "none of the 1 run folder(s) found could be read" in text
    assert "Traceback" not in text
