"""The evaluation protocol (../shared/DESIGN.md): the replay rehearses a run made at its start T, so nothing it uses
is chosen or fitted from the days it replays. Change the demand after T and every choice the replay used stays
the same, while the replay itself (scored on those days) changes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from forecasting.backtest.folds import make_cutoffs
from forecasting.datasets.synthetic import synthetic_demand

ROOT = Path(__file__).resolve().parents[1]
WEEKS = 8


def plan(out: Path, data: Path, *overrides: str) -> subprocess.CompletedProcess:
    args = [
        "task=plan",
        "data=daily_demand",
        f"data.path={data}",
        "num_samples=60",
        "parallel.n_jobs=1",
        "backtest.horizon=21",
        "backtest.step=21",
        "backtest.folds=2",
        f"plan.replay.weeks={WEEKS}",
        "plan.replay.targets=[0.8,0.95]",
        "plan.min_calibration_windows=5",
        f"hydra.run.dir={out}",
        *overrides,
    ]
    return subprocess.run([sys.executable, str(ROOT / "run.py"), *args], cwd=ROOT, capture_output=True, text=True)


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    """The same table twice, the second with every SKU's demand after T changed (tripled, plus noise)."""
    root = tmp_path_factory.mktemp("protocol")
    table = synthetic_demand(10, 300, 3, classes=("smooth", "lumpy")).table
    table = table.assign(sku=table["sku"].astype(str))[["sku", "date", "demand"]]
    start = table["date"].max() - pd.Timedelta(weeks=WEEKS)
    changed = table.copy()
    after = changed["date"] > start
    noise = np.random.default_rng(0).poisson(2.0, int(after.sum()))
    changed.loc[after, "demand"] = changed.loc[after, "demand"] * 3 + noise
    folders = {}
    for name, frame in (("original", table), ("changed", changed)):
        path = root / f"{name}.csv"
        frame.to_csv(path, index=False)
        res = plan(root / name, path)
        assert res.returncode == 0, res.stderr[-3000:]
        folders[name] = root / name
    return folders, start


def replay_rows(folder: Path, name: str) -> pd.DataFrame:
    table = pd.read_csv(folder / name, dtype={"sku": str})
    return table[table["decision"] == "replay"].reset_index(drop=True)


def test_changing_demand_after_the_replay_start_changes_no_choice_it_used(two_runs):
    folders, start = two_runs
    a, b = folders["original"], folders["changed"]
    for name in ("champion_choice.csv", "calibration.csv", "service_levels.csv", "rehearsal.csv"):
        first, second = replay_rows(a, name), replay_rows(b, name)
        assert len(first), name
        pd.testing.assert_frame_equal(first, second, check_exact=False, rtol=1e-9, obj=name)
    pd.testing.assert_frame_equal(
        pd.read_csv(a / "metrics_by_segment_validation.csv"), pd.read_csv(b / "metrics_by_segment_validation.csv")
    )
    # The windows that chose end by T; the replayed days start after it.
    folds = pd.read_csv(a / "folds.csv", parse_dates=["cutoff"])
    protocol = json.loads((a / "metrics.json").read_text())["plan"]["protocol"]
    assert protocol["proof"] and pd.Timestamp(protocol["replay_start"]) == start
    assert protocol["replay_chosen_on_cutoffs"] == [
        str(c.date()) for c in folds.loc[folds["role"] == "validation", "cutoff"]
    ]
    # ...and the replay, scored on the changed days, did change: the test above is not vacuous.
    assert not pd.read_csv(a / "replay.csv").equals(pd.read_csv(b / "replay.csv"))
    # The production plan learns from every window, the changed ones included.
    assert not pd.read_csv(a / "plan.csv").equals(pd.read_csv(b / "plan.csv"))


def test_the_log_and_the_report_name_the_choosing_and_replayed_dates(two_runs):
    folders, start = two_runs
    out = folders["original"]
    protocol = json.loads((out / "metrics.json").read_text())["plan"]["protocol"]
    chosen = protocol["replay_chosen_on_cutoffs"]
    log = (out / "run.log").read_text()
    assert f"replay of {start.date()} to {protocol['replay_end']}" in log and ", ".join(chosen) in log
    report = (out / "report.html").read_text()
    assert f"the days after {start.date()} up to {protocol['replay_end']}" in report
    assert ", ".join(chosen) in report and "Trade-off" in report
    # The replay's service levels were rehearsed on the weeks before T, and the report says so.
    rehearsal = protocol["service_levels"]["replay"]
    assert rehearsal["decided_on"] == str(start.date())
    assert rehearsal["start"] == str((start - pd.Timedelta(weeks=WEEKS)).date())
    assert f"replayed on {rehearsal['start']} to {rehearsal['decided_on']}" in report
    plan = protocol["service_levels"]["plan"]
    assert plan["decided_on"] == protocol["replay_end"] and plan["start"] == str(start.date())
    saved = pd.read_csv(out / "stock_at_equal_fill.csv")
    assert set(saved["reference"]) == {"naive", "empirical"}
    # 10 SKUs are too few to tell a saving from the luck of the draw: the figures stand, no saving is claimed.
    shown = json.loads((out / "metrics.json").read_text())["plan"]["stock_saved"]
    assert shown["naive"]["not_shown_because"] == "few_skus" and shown["naive"]["median_saved_low"] is None
    assert "with 10 SKUs the replay cannot tell a saving against the naive policy" in log
    assert "ith 10 SKUs the replay cannot tell a saving against the naive policy" in report
    assert "NaN" not in json.dumps(shown) + json.dumps(json.loads((out / "metrics.json").read_text())["plan"])


def test_data_too_short_for_validation_windows_claims_no_proof(tmp_path):
    table = synthetic_demand(4, 100, 1, classes=("smooth",)).table
    path = tmp_path / "short.csv"
    table.assign(sku=table["sku"].astype(str))[["sku", "date", "demand"]].to_csv(path, index=False)
    res = plan(tmp_path / "run", path, "data.panel.min_history_days=60")
    assert res.returncode == 0, res.stderr[-3000:]
    out = tmp_path / "run"
    protocol = json.loads((out / "metrics.json").read_text())["plan"]["protocol"]
    assert protocol["proof"] is False
    assert not (out / "stock_at_equal_fill.csv").exists()
    # No history to rehearse before T: the replay's levels stay the expected-fill ones, and nothing says otherwise.
    assert "replay" not in protocol["service_levels"] and "NaN" not in (out / "metrics.json").read_text()
    assert "claims no proof" in (out / "run.log").read_text()
    assert "No proof" in (out / "report.html").read_text()
    # The default's ensemble picks its members on validation folds: with none, it is left out and says so.
    assert "ensemble_weighted, ensemble_recent left out" in (out / "run.log").read_text()
    assert "ensemble_weighted" not in set(pd.read_csv(out / "leaderboard.csv")["model"])


def test_validation_folds_are_sized_to_the_data_and_end_by_the_replay_start():
    days = pd.bdate_range("2024-01-01", periods=300)
    start = days[230]
    cuts = make_cutoffs(days, horizon=20, folds=3, step=20, validation_folds=None, validation_end=start)
    validation = cuts[cuts["role"] == "validation"]
    assert len(validation) == 3  # as many as fit, up to the default cap
    last = days.get_loc(validation["cutoff"].iloc[-1])
    assert days[last + 20] <= start  # its horizon ends by the replay's start
    few = make_cutoffs(days[:100], horizon=20, folds=3, step=20, validation_folds=None, min_train_days=28)
    assert (few["role"] == "validation").sum() == 0  # none fit: the run says it claims no proof


def test_validation_windows_start_where_a_sku_has_the_history_the_panel_requires():
    """200 days with a 12-week replay: cutoffs after 49 and 79 days fit before the replay, but a decision learnt
    from forecasts of 49 days of history is not one about forecasts of 116; with the panel's 90 days required,
    none fits, and the run says it claims no proof instead of showing one learnt from the wrong windows."""
    days = pd.date_range("2024-03-01", periods=200)
    start = days[116]
    loose = make_cutoffs(days, 30, 3, 30, validation_folds=None, validation_end=start)
    assert list(loose.loc[loose["role"] == "validation", "cutoff"]) == [days[49], days[79]]
    strict = make_cutoffs(days, 30, 3, 30, validation_folds=None, validation_end=start, min_validation_train=90)
    assert (strict["role"] == "validation").sum() == 0
    # With the history there, the same rule leaves the folds where they were.
    longer = pd.date_range("2023-03-01", periods=565)
    late = longer[481]
    both = [
        make_cutoffs(longer, 30, 3, 30, validation_folds=None, validation_end=late, min_validation_train=m)
        for m in (0, 90)
    ]
    assert both[0].equals(both[1]) and (both[1]["role"] == "validation").sum() == 3
    # An explicit number of validation folds is the user's: the rule does not apply.
    fixed = make_cutoffs(days, 30, 3, 30, validation_folds=2, validation_end=start, min_validation_train=90)
    assert (fixed["role"] == "validation").sum() == 2
