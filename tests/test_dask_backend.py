"""Per-SKU work on a real Dask LocalCluster gives the same backtest as the local workers."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from distributed import get_task_stream

from forecasting.backtest.folds import make_cutoffs
from forecasting.backtest.runner import backtest
from forecasting.backtest.settings import BacktestSettings
from forecasting.datasets.synthetic import synthetic_demand
from forecasting.errors import InputError
from forecasting.models.naive import SeasonalNaive
from forecasting.models.statsforecast_adapter import StatsForecastModel
from forecasting.parallel import dask_backend

ROOT = Path(__file__).resolve().parents[1]


def test_dask_localcluster_backtest_equals_local():
    table = synthetic_demand(10, 200, seed=2).table
    panel = table.assign(sku=table["sku"].astype(str), demand=table["demand"].astype(float))[["sku", "date", "demand"]]
    cuts = make_cutoffs(pd.DatetimeIndex(panel["date"].unique()), horizon=14, folds=2, step=14)
    models = {
        "seasonal_naive": SeasonalNaive(season_length=7),
        "ets": StatsForecastModel("AutoETS", model="ANN", season_length=7),
        "croston_sf": StatsForecastModel("CrostonSBA", paths="intermittent", min_history=1),
    }
    args = (panel, cuts, models, SeasonalNaive(season_length=7), BacktestSettings(14, [0.1, 0.5, 0.9], 30, seed=11))
    run = backtest(*args)
    local, local_failures = run.table, run.failures
    with dask_backend("dask", n_workers=2) as client:
        workers = set(client.scheduler_info()["workers"])
        assert len(workers) == 2
        with get_task_stream(client) as stream:
            run = backtest(*args)
            on_dask, dask_failures = run.table, run.failures
    # The per-SKU models ran on the cluster's workers (one batch per SKU here), not in this process.
    batches = [t for t in stream.data if t["key"].startswith("_chunk_list")]
    assert len(batches) == panel["sku"].nunique()
    assert {t["worker"] for t in batches} <= workers
    pd.testing.assert_frame_equal(local, on_dask, check_exact=True)
    pd.testing.assert_frame_equal(local_failures, dask_failures)
    assert set(on_dask["model"]) == set(models)


def test_unknown_backend_is_a_config_error():
    with pytest.raises(InputError, match="parallel.backend=spark is unknown; use one of local, dask"):
        with dask_backend("spark"):
            pass


def test_run_py_on_a_dask_localcluster_gives_the_local_leaderboard(tmp_path):
    """The config path end to end: parallel.backend=dask through run.py, against the same run on local workers."""
    boards = {}
    for backend in ("local", "dask"):
        run_dir = tmp_path / backend
        proc = subprocess.run(
            [sys.executable, str(ROOT / "run.py"), f"hydra.run.dir={run_dir}", "debug=tiny", "task=backtest",
             f"parallel.backend={backend}", "parallel.n_jobs=2"],
            cwd=ROOT, capture_output=True, text=True, timeout=300, env={**os.environ, "OPENBLAS_NUM_THREADS": "1"},
        )  # fmt: skip
        assert proc.returncode == 0, proc.stderr[-2000:]
        boards[backend] = pd.read_csv(run_dir / "leaderboard.csv")
    assert "on dask" not in (tmp_path / "local" / "run.log").read_text()
    assert "Dask: per-SKU work on tcp://" in (tmp_path / "dask" / "run.log").read_text()
    pd.testing.assert_frame_equal(boards["local"], boards["dask"])
