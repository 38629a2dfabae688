"""task=plan end to end: where the fill-rate target is not met, per SKU, in metrics and in the report."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd

from forecasting.planning.calibration import METHODS

ROOT = Path(__file__).resolve().parents[1]


def run_plan(out: Path, data: Path, *overrides: str) -> subprocess.CompletedProcess:
    args = [
        "task=plan",
        f"data.path={data}",
        "data.panel.max_skus=6",
        "model=[croston,ets]",
        "backtest.folds=2",
        "num_samples=50",
        "parallel.n_jobs=1",
        "plan.service_measure=fill_rate",
        "plan.service_target=0.95",
        "plan.replay.weeks=6",
        "plan.replay.targets=[0.8,0.95]",
        "plan.min_calibration_windows=2",
        f"hydra.run.dir={out}",
        *overrides,
    ]
    return subprocess.run([sys.executable, str(ROOT / "run.py"), *args], cwd=ROOT, capture_output=True, text=True)


def test_plan_flags_skus_that_miss_the_target_and_says_so(retail_slice_path, tmp_path):
    out = tmp_path / "plan"
    res = run_plan(out, retail_slice_path, "plan.service_scope=sku")  # the target on every SKU alone
    assert res.returncode == 0, res.stderr[-3000:]
    plan = pd.read_csv(out / "plan.csv", dtype={"sku": str})
    assert plan["fill_before_receipt"].between(0, 1).all() and plan["replay_fill_rate"].between(0, 1).all()
    codes = plan["exceptions"].fillna("")
    missed = plan["replay_fill_rate"] < 0.93
    assert (codes.str.contains("REPLAY_MISSED_TARGET") == missed).all()
    unreachable = plan["fill_before_receipt"] < 0.95
    assert (codes.str.contains("TARGET_UNREACHABLE_BEFORE_RECEIPT") == unreachable).all()
    counts = json.loads((out / "metrics.json").read_text())["plan"]["target_not_met"]
    assert counts["REPLAY_MISSED_TARGET"]["skus"] == missed.sum()
    assert counts["TARGET_UNREACHABLE_BEFORE_RECEIPT"]["skus"] == unreachable.sum()
    assert set(pd.read_csv(out / "calibration.csv")["method"]) <= set(METHODS)
    report = (out / "report.html").read_text()
    if missed.any():
        assert f"was not met on {missed.sum()} of {len(plan)} SKUs" in report


def test_unknown_calibration_method_is_bad_input(retail_slice_path, tmp_path):
    res = run_plan(tmp_path / "bad", retail_slice_path, "plan.calibration_methods=[forecast,magic]")
    assert res.returncode == 2
    said = res.stdout + res.stderr
    assert "plan.calibration_methods has ['magic']; use any of forecast, scale" in said and "Traceback" not in said
    assert "backtest:" not in said  # checked before the backtest starts
