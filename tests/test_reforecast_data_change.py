"""The nightly reforecast knows the data it planned from (a fingerprint of the panel), with real processes:
another catalogue or restated history ending on the same day is planned again; data that went back in time is
refused (exit 2) and the newer published plan stays, unless reforecast.allow_older_data=true."""

from __future__ import annotations

import json

import duckdb
import numpy as np
import pandas as pd

from tests.test_reforecast import START, run, runs


def catalogue(tmp_path, prefix: str = "S", days: int = 200, restate: float = 1.0, name: str = "sales.csv"):
    """Five SKUs of daily demand; `restate` scales the first SKU's history before its last 30 days."""
    rng = np.random.default_rng(3)
    dates = pd.date_range(START, periods=days, freq="D")
    frames = []
    for i in range(5):
        units = rng.poisson(np.full(days, 4.0 + 2 * i)).astype(float)
        if i == 0:
            units[: days - 30] = np.round(units[: days - 30] * restate)
        frames.append(pd.DataFrame({"item": f"{prefix}{i}", "day": dates, "units": units}))
    path = tmp_path / name
    pd.concat(frames).to_csv(path, index=False)
    return path


def published(tmp_path) -> pd.DataFrame:
    return pd.read_csv(tmp_path / "latest" / "plan.csv", dtype={"sku": str}).set_index("sku")


def said(res) -> str:
    return res.stdout + res.stderr


def test_other_catalogue_and_restated_history_on_the_same_day_are_planned_again(tmp_path):
    data = catalogue(tmp_path)
    first = run(tmp_path, data)
    assert first.returncode == 0, said(first)[-3000:]
    assert set(published(tmp_path).index) == {f"S{i}" for i in range(5)}

    # Another catalogue, written over the same file, ending on the same day.
    catalogue(tmp_path, prefix="T")
    other = run(tmp_path, data)
    assert other.returncode == 0, said(other)[-3000:]
    assert "nothing to do" not in said(other) and "the data changed since run" in said(other)
    assert set(published(tmp_path).index) == {f"T{i}" for i in range(5)}

    # The same data again: nothing to do.
    again = run(tmp_path, data)
    assert again.returncode == 0 and "nothing to do" in said(again)

    # History restated (the first SKU's older sales doubled), same last date: planned again.
    catalogue(tmp_path, prefix="T", restate=2.0)
    restated = run(tmp_path, data)
    assert restated.returncode == 0, said(restated)[-3000:]
    assert "the data changed since run" in said(restated)
    table = runs(tmp_path)
    assert table["status"].tolist() == ["complete"] * 3
    assert table["data_cutoff"].astype(str).nunique() == 1 and table["data_fingerprint"].nunique() == 3
    run_dir = table["run_dir"].iloc[-1]
    metrics = json.loads((tmp_path / "runs" / run_dir.rsplit("/", 1)[-1] / "metrics.json").read_text())
    assert metrics["data_fingerprint"] == table["data_fingerprint"].iloc[-1]

    # The published plan is the plan of that data written cleanly into a fresh warehouse and file.
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    clean = catalogue(fresh, prefix="T", restate=2.0, name="clean.csv")
    ref = run(fresh, clean)
    assert ref.returncode == 0, said(ref)[-3000:]
    numbers = published(fresh).select_dtypes("number").columns
    pd.testing.assert_frame_equal(published(tmp_path)[numbers], published(fresh)[numbers])


def test_data_that_went_back_in_time_is_refused_and_the_newer_plan_stays(tmp_path):
    data = catalogue(tmp_path)
    assert run(tmp_path, data).returncode == 0
    newer = (tmp_path / "latest" / "plan.csv").read_bytes()

    catalogue(tmp_path, days=170)  # the file lost its last month
    older = run(tmp_path, data)
    text = said(older)
    assert older.returncode == 2, text[-3000:]
    assert "now ends on 2024-06-18, before the cut-off 2024-07-18 of the published plan" in text
    assert "reforecast.allow_older_data=true" in text and "Traceback" not in text
    assert (tmp_path / "latest" / "plan.csv").read_bytes() == newer
    assert runs(tmp_path)["status"].tolist() == ["complete"]  # no run started
    dry = run(tmp_path, data, None, "reforecast.dry_run=true")
    assert dry.returncode == 0 and '"would_run": false' in said(dry) and "allow_older_data" in said(dry)

    # The setting named in the sentence works as printed.
    allowed = run(tmp_path, data, None, "reforecast.allow_older_data=true")
    assert allowed.returncode == 0, said(allowed)[-3000:]
    with duckdb.connect(str(tmp_path / "wh.duckdb"), read_only=True) as con:
        cutoffs = con.execute("SELECT data_cutoff FROM runs ORDER BY started_at").df()["data_cutoff"]
    assert cutoffs.astype(str).tolist() == ["2024-07-18", "2024-06-18"]
    assert (tmp_path / "latest" / "plan.csv").read_bytes() != newer
