"""`run.py` end to end on a slice of the real file, config composition, and clean failures."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from forecasting.datasets import bundled_path

ROOT = Path(__file__).resolve().parents[1]
OmegaConf.register_new_resolver("bundled", bundled_path, replace=True)


def run_cli(*overrides: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(ROOT / "run.py"), *overrides],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )


def composed(*overrides: str):
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        return compose(config_name="config", overrides=list(overrides))


def test_default_config_composes_all_local_models():
    cfg = composed()
    # ARIMA and ETS run on statsforecast, Croston-SBA, TSB and the block bootstrap panel-wide, LightGBM across SKUs,
    # the ensemble of the three best on the validation folds and the best one with the bootstrap; statsmodels'
    # SARIMAX stays available as the reference ARIMA, statsforecast's per-SKU CrostonSBA as `croston_sf`.
    assert {n: m._target_ for n, m in cfg.model.items()} == {
        "arima": "forecasting.models.statsforecast_adapter.StatsForecastModel",
        "ets": "forecasting.models.statsforecast_adapter.StatsForecastModel",
        "croston": "forecasting.models.intermittent.Croston",
        "tsb": "forecasting.models.intermittent.Croston",
        "lightgbm": "forecasting.models.gradient_boosting.LightGBMForecaster",
        "bootstrap": "forecasting.models.bootstrap.BlockBootstrap",
        "ensemble_weighted": "forecasting.models.ensemble.Ensemble",
        "ensemble_recent": "forecasting.models.ensemble.Ensemble",
    }
    assert composed("model=[croston_sf]").model.croston_sf.model_class == "CrostonSBA"
    assert composed("model=[sarimax]").model.sarimax._target_ == "forecasting.models.arima.Arima"
    assert cfg.data.path.endswith("online_retail_transactions.parquet") and Path(cfg.data.path).exists()
    assert cfg.data.panel.max_skus == 200


@pytest.mark.parametrize(
    "overrides, models, name",
    [
        (["experiment=arima"], {"arima"}, "arima"),
        (["model=ets"], {"ets"}, "default"),
        (["model=[arima,tsb]"], {"arima", "tsb"}, "default"),
        (["experiment=croston", "model.croston.alpha=0.2"], {"croston"}, "croston"),
    ],
)
def test_overrides(overrides, models, name):
    cfg = composed(*overrides)
    assert set(cfg.model) == models and cfg.experiment_name == name


def test_full_panel_is_one_override_away():
    assert composed("data.panel.max_skus=null").data.panel.max_skus is None


def test_run_end_to_end_on_real_slice(retail_slice_path, tmp_path):
    out = tmp_path / "run"
    res = run_cli(
        f"data.path={retail_slice_path}",
        "data.panel.max_skus=4",
        "backtest.folds=2",
        "num_samples=40",
        "parallel.n_jobs=1",
        f"hydra.run.dir={out}",
    )
    assert res.returncode == 0, res.stderr[-3000:]
    # The default run is a plan: backtest, then plan, replay and reports.
    for name in [
        "plan.csv",
        "plan.xlsx",
        "replay.csv",
        "report.html",
        "config.yaml",
        "data_quality.json",
        "backtest.parquet",
        "leaderboard.csv",
        "metrics.json",
        "metrics_by_segment.csv",
        "segments.csv",
        "folds.csv",
    ]:
        assert (out / name).is_file(), name
    assert not list(out.glob(".*.tmp"))  # atomic writes leave no temporary files behind
    dq = json.loads((out / "data_quality.json").read_text())
    assert dq["rows_in"] == len(pd.read_parquet(retail_slice_path))
    assert dq["rows_kept"] + sum(dq["dropped_by_reason"].values()) == dq["rows_in"]
    board = pd.read_csv(out / "leaderboard.csv")
    # The models, ranked, then the unranked `champion` row: per segment the model chosen on validation, on test.
    assert board["model"].iloc[-1] == "champion" and pd.isna(board["rank"].iloc[-1])
    board = board.iloc[:-1]
    assert set(board["model"]) == {
        *("seasonal_naive", "arima", "ets", "croston", "tsb", "lightgbm", "bootstrap"),
        *("ensemble_weighted", "ensemble_recent"),
    }
    assert board["rank"].tolist() == list(range(1, 10)) and board["rmsse"].is_monotonic_increasing
    assert (board.loc[board["model"] == "seasonal_naive", "fva_mae"] == 0).all()
    metrics = json.loads((out / "metrics.json").read_text())
    # Validation folds by default: the objective a sweep sees is theirs, never the test folds'.
    assert metrics["objective_folds"] == "validation"
    assert metrics["value"] == pytest.approx(board["validation_rmsse"].min())
    bt = pd.read_parquet(out / "backtest.parquet")
    assert {"sku", "date", "model", "mean", "p5", "p10", "p50", "p90", "p95", "cutoff", "demand"} <= set(bt.columns)
    folds = pd.read_csv(out / "folds.csv")
    assert (folds["role"] == "test").sum() == 2 and (folds["role"] == "validation").sum() >= 1
    assert bt["sku"].nunique() == 4 and bt["cutoff"].nunique() == len(folds)
    assert (
        "StockCode" not in bt.columns
        and "CustomerID" not in (out / "config.yaml").read_text().split("columns:")[1][:400]
    )


@pytest.mark.parametrize(
    "override, message",
    [
        ("data.path=/nonexistent/sales.csv", "no such file"),
        ("data.columns.quantity=Qty", "data.columns.quantity='Qty' is not a column of the file"),
        ("task=dance", "task=dance is not allowed: give one of backtest, plan"),
    ],
)
def test_bad_input_exits_with_one_sentence(override, message, tmp_path):
    res = run_cli(override, f"hydra.run.dir={tmp_path}")
    assert res.returncode == 2
    assert message in res.stderr + res.stdout
    assert "Traceback" not in res.stderr + res.stdout


def test_compare_task_reads_earlier_runs(tmp_path):
    runs = tmp_path / "runs"
    for name in ("a", "b"):
        res = run_cli(
            "task=backtest", "debug=tiny", "data.panel.max_skus=2", "backtest.folds=1", f"hydra.run.dir={runs}/{name}"
        )
        assert res.returncode == 0, res.stderr[-2000:]
    res = run_cli("task=compare", f"compare_root={runs}", f"hydra.run.dir={tmp_path}/cmp")
    assert res.returncode == 0, res.stderr[-2000:]
    table = pd.read_csv(tmp_path / "cmp" / "comparison.csv")
    assert table["run"].nunique() == 2 and {"model", "rmsse"} <= set(table.columns)
    assert (tmp_path / "cmp" / "comparison.html").stat().st_size > 1000


def test_global_and_local_models_share_one_leaderboard(retail_slice_path, tmp_path):
    out = tmp_path / "run"
    res = run_cli(
        f"data.path={retail_slice_path}",
        "task=backtest",
        "model=[croston,tcn]",
        "data.panel.max_skus=4",
        "backtest.folds=2",
        "backtest.horizon=14",
        "backtest.step=14",
        "model.tcn.model_kwargs.input_chunk_length=28",
        "model.tcn.model_kwargs.num_filters=4",
        "model.tcn.retrain=first_cutoff",
        "trainer=cpu",
        "trainer.max_epochs=1",
        "trainer.val_days=14",
        "trainer.progress_bar=false",
        "num_samples=20",
        "parallel.n_jobs=1",
        f"hydra.run.dir={out}",
    )
    assert res.returncode == 0, res.stderr[-3000:]
    board = pd.read_csv(out / "leaderboard.csv").set_index("model")
    assert set(board.index) == {"seasonal_naive", "croston", "tcn", "champion"}
    assert board.loc["tcn", "retrain"] == "first_cutoff"
    bt = pd.read_parquet(out / "backtest.parquet")
    pairs = bt.groupby("model")[["sku", "cutoff"]].apply(lambda g: set(map(tuple, g.drop_duplicates().to_numpy())))
    assert pairs["tcn"] == pairs["croston"] == pairs["seasonal_naive"]  # identical folds and SKUs
    metrics = json.loads((out / "metrics.json").read_text())
    assert len(metrics["neural_training"]["tcn"]["fits"]) == 1  # trained once, predicted at both cutoffs
    assert (out / "models" / "logs").is_dir()


def test_plan_task_end_to_end(retail_slice_path, tmp_path):
    out = tmp_path / "plan"
    res = run_cli(
        "task=plan",
        f"data.path={retail_slice_path}",
        "data.panel.max_skus=4",
        "model=[croston,ets]",
        "backtest.folds=2",
        "num_samples=50",
        "parallel.n_jobs=1",
        "plan.replay.weeks=4",
        "plan.replay.targets=[0.9,0.95]",
        "plan.min_calibration_windows=2",
        f"hydra.run.dir={out}",
    )
    assert res.returncode == 0, res.stderr[-3000:]
    plan = pd.read_csv(out / "plan.csv", dtype={"sku": str})
    assert len(plan) == 4 and plan["sku"].is_unique
    for col in [
        "safety_stock",
        "reorder_point",
        "order_up_to",
        "order_qty",
        "order_by",
        "stockout_date_p50",
        "days_of_cover",
        "demand_60d_p90",
        "segment",
        "model",
        "exceptions",
        "calibration_factor",
    ]:
        assert col in plan, col
    assert (plan["order_up_to"] >= plan["demand_cover_p50"] - 1e-9).all()  # a 95% fill rate needs >= the median
    assert set(plan["model"]) <= {"croston", "ets", "seasonal_naive"}
    forecast = pd.read_parquet(out / "forecast.parquet")
    assert forecast.groupby("sku")["date"].min().gt(pd.Timestamp("2011-12-09")).all()  # strictly after the data
    replay = pd.read_csv(out / "replay.csv").set_index("policy")
    assert set(replay.index) == {"champion", "naive", "empirical", "oracle"}
    assert replay.loc["oracle", "fill_rate"] > 0.999
    curve = pd.read_csv(out / "service_curve.csv")
    assert set(curve["target"]) >= {0.9, 0.95}
    assert (out / "calibration.csv").is_file()
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["plan"]["orders"] == int((plan["order_qty"] > 0).sum())
