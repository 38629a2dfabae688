"""Per-SKU models vs the global LightGBM vs ensembles on the bundled data: validation and test leaderboards.

    python benchmarks/global_models.py --skus 200            # the 200 largest SKUs
    python benchmarks/global_models.py --skus 0              # the full panel (~3,000 SKUs)
    python benchmarks/global_models.py --engines-only        # mlforecast vs darts LightGBMModel, one fold
    python benchmarks/global_models.py --skus 0 --variants   # LightGBM variants on the validation fold only

The backtest is `run.py task=backtest` with one validation fold before the three test folds (ensembles pick
their members and champions are chosen on it). The table gives RMSSE, MAE and bias (net error over actual
volume) per model on each role, and the issue's target: the best global model or ensemble >= 5% better test
RMSSE than the best single per-SKU model, with |bias| <= 10%. CPU only; it prints, it never asserts.

`--variants` fits the configured LightGBM and variants of it (VARIANTS: one change each) at the validation
cutoff only and prints RMSSE, MAE and bias overall and per demand class: how its settings were chosen, never
looking at the test folds.

`--engines-only` trains the same booster (Tweedie, 300 trees, lags only) through mlforecast and through darts'
LightGBMModel on the same SKUs and cutoff, and prints seconds and MAE: why the model uses mlforecast.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from forecasting.backtest.metrics import score  # noqa: E402
from forecasting.vocabulary.column_names import quantile_column  # noqa: E402

PER_SKU = ["arima", "ets", "croston"]
GLOBAL = ["lightgbm", "lightgbm_direct", "lightgbm_level"]
ENSEMBLES = ["ensemble_median", "ensemble_weighted"]
QUANTILES = [0.05, 0.1, 0.5, 0.9, 0.95]
# One change each from conf/model/lightgbm.yaml (the first row is the configuration itself).
VARIANTS = {
    "lightgbm (as configured)": {},
    "with price": {"use_price": True},
    "with month / week of year": {"annual_min_years": 0},
    "tweedie power 1.5": {"params": {"tweedie_variance_power": 1.5}},
    "tweedie power 1.2": {"params": {"tweedie_variance_power": 1.2}},
    "rolling means 1, 4, 13 seasons": {"rolling_seasons": [1, 4, 13]},
    "600 trees": {"params": {"n_estimators": 600}},
    "no scaling": {"scale": False},
    "lightgbm_direct": "lightgbm_direct",
}


def run_backtest(skus: int, n_jobs: int, models: list[str], out: Path) -> float:
    overrides = [
        "task=backtest",
        f"model=[{','.join(models)}]",
        "backtest.validation_folds=1",
        f"data.panel.max_skus={skus or 'null'}",
        f"parallel.n_jobs={n_jobs}",
        f"hydra.run.dir={out}",
    ]
    t0 = time.perf_counter()
    subprocess.run([sys.executable, str(ROOT / "run.py"), *overrides], cwd=ROOT, check=True)
    return time.perf_counter() - t0


# Reference rows, not models: how far a 5% gain is from what any forecast of these series could reach.
FORESIGHT = "foresight level (reference)"
ZERO = "zero (reference)"


def references(bt: pd.DataFrame) -> pd.DataFrame:
    """Two forecasts of the same series as a bound and a floor: the foresight level is each (SKU, cutoff)
    series' actual mean over its horizon, the best flat forecast, knowable only in hindsight (what is left of its
    RMSSE is day-to-day noise that no level forecast removes); zero forecasts nothing at all."""
    rows = bt[bt["model"] == bt["model"].iloc[0]].drop(columns=["model"])
    level = rows.groupby(["sku", "cutoff"], observed=True)["demand"].transform("mean").to_numpy()
    out = []
    for name, mean in ((FORESIGHT, level), (ZERO, np.zeros(len(rows)))):
        ref = rows.assign(model=name, mean=mean)
        for q in QUANTILES:
            ref[quantile_column(q)] = mean
        out.append(ref)
    return pd.concat(out, ignore_index=True)


def leaderboard(bt: pd.DataFrame) -> pd.DataFrame:
    bt = pd.concat([bt, references(bt)], ignore_index=True)
    table = score(bt, ["role", "model"], QUANTILES).set_index(["role", "model"])[["rmsse", "mae", "bias"]]
    wide = table.unstack("role")
    wide.columns = [f"{role}_{metric}" for metric, role in wide.columns]
    cols = [f"{r}_{m}" for r in ("validation", "test") for m in ("rmsse", "mae", "bias")]
    return wide[cols].sort_values("test_rmsse")


def target(board: pd.DataFrame) -> str:
    per_sku = board[board.index.isin(PER_SKU)]
    challengers = board[board.index.isin(GLOBAL + ENSEMBLES)]
    if per_sku.empty or challengers.empty:
        return "target: not measurable (need per-SKU and global/ensemble models)"
    best_local, best = per_sku["test_rmsse"].idxmin(), challengers["test_rmsse"].idxmin()
    gain = 1 - challengers.loc[best, "test_rmsse"] / per_sku.loc[best_local, "test_rmsse"]
    bias = challengers.loc[best, "test_bias"]
    held = gain >= 0.05 and abs(bias) <= 0.10
    local = per_sku.loc[best_local, "test_rmsse"]
    if FORESIGHT in board.index:
        bound = board.loc[FORESIGHT, "test_rmsse"]
        print(
            f"the target asks for test RMSSE <= {0.95 * local:.4f}; the foresight level scores {bound:.4f}, so the "
            f"target needs {(0.05 * local) / (local - bound):.0%} of the gap between the best per-SKU model and a "
            f"forecast that knows every series' future mean; the best global/ensemble closes "
            f"{(local - challengers.loc[best, 'test_rmsse']) / (local - bound):.0%} of it"
        )
    return (
        f"best per-SKU {best_local} test RMSSE {per_sku.loc[best_local, 'test_rmsse']:.4f}; best global/ensemble "
        f"{best} {challengers.loc[best, 'test_rmsse']:.4f} ({gain:+.1%} better, bias {bias:+.1%}): target "
        f"{'HOLDS' if held else 'NOT met'} (>= 5% better, |bias| <= 10%)"
    )


def compare_engines(skus: int, horizon: int = 30) -> None:
    """The same booster through mlforecast and darts on one cutoff: seconds and MAE."""
    import lightgbm  # noqa: F401 - fail early when missing
    from darts import TimeSeries
    from darts.models import LightGBMModel
    from hydra import compose, initialize_config_dir
    from mlforecast import MLForecast
    from omegaconf import OmegaConf

    from forecasting.datasets import bundled_path
    from forecasting.pipeline.common import load_data

    OmegaConf.register_new_resolver("bundled", bundled_path, replace=True)
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        cfg = compose("config", overrides=[f"data.panel.max_skus={skus or 'null'}"])
    panel = load_data(cfg).panel
    days = np.sort(panel["date"].unique())
    pos = pd.Series(np.arange(len(days)), index=days)
    cutoff = days[-horizon - 1]
    df = pd.DataFrame(
        {"unique_id": panel["sku"].astype(str), "ds": pos[panel["date"]].to_numpy(), "y": panel["demand"]}
    )
    train, test = df[df["ds"] <= pos[cutoff]], df[df["ds"] > pos[cutoff]]
    lags = [1, 2, 3, 6, 12, 24]
    params = {"objective": "tweedie", "n_estimators": 300, "learning_rate": 0.05, "verbosity": -1, "n_jobs": 2}
    rows = []

    t0 = time.perf_counter()
    from lightgbm import LGBMRegressor

    mlf = MLForecast(models={"lgb": LGBMRegressor(**params)}, freq=1, lags=lags).fit(train, dropna=False)
    pred = mlf.predict(horizon)
    seconds = time.perf_counter() - t0
    merged = test.merge(pred, on=["unique_id", "ds"])
    rows.append(("mlforecast", seconds, float((merged["lgb"] - merged["y"]).abs().mean())))

    t0 = time.perf_counter()
    series = [
        TimeSeries.from_times_and_values(pd.RangeIndex(g["ds"].iloc[0], g["ds"].iloc[-1] + 1), g["y"].to_numpy(float))
        for _, g in train.groupby("unique_id", sort=True)
        if len(g) > max(lags) + 1
    ]
    ids = [u for u, g in train.groupby("unique_id", sort=True) if len(g) > max(lags) + 1]
    model = LightGBMModel(lags=[-k for k in lags], output_chunk_length=1, **params)
    model.fit(series)
    preds = model.predict(n=horizon, series=series, show_warnings=False)
    seconds = time.perf_counter() - t0
    pred = pd.concat(
        [
            pd.DataFrame({"unique_id": u, "ds": p.time_index.to_numpy(), "darts": p.values()[:, 0]})
            for u, p in zip(ids, preds, strict=True)
        ]
    )
    merged = test.merge(pred, on=["unique_id", "ds"])
    rows.append(("darts LightGBMModel", seconds, float((merged["darts"] - merged["y"]).abs().mean())))
    print(f"\none fold, {panel['sku'].nunique()} SKUs, horizon {horizon}, same booster and lags:")
    print(pd.DataFrame(rows, columns=["engine", "fit+predict seconds", "MAE"]).to_string(index=False))


def compare_variants(skus: int) -> None:
    """The LightGBM variants at the validation cutoff: RMSSE, MAE, bias overall and per demand class."""
    from hydra import compose, initialize_config_dir
    from hydra.utils import instantiate
    from omegaconf import OmegaConf

    from forecasting.backtest.global_runner import backtest_global
    from forecasting.backtest.settings import BacktestSettings
    from forecasting.datasets import bundled_path
    from forecasting.pipeline.common import build_models, cutoffs_from_config, load_data

    OmegaConf.register_new_resolver("bundled", bundled_path, replace=True)
    overrides = [f"data.panel.max_skus={skus or 'null'}", "backtest.validation_folds=1", "backtest.skip_test=true"]
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        cfg = compose("config", overrides=[*overrides, "model=[lightgbm,lightgbm_direct]"])
    data = load_data(cfg)
    cutoffs = cutoffs_from_config(cfg, data.panel)
    b = cfg.backtest
    with tempfile.TemporaryDirectory() as tmp:
        _, models, _ = build_models(cfg, data, tmp)
    base = OmegaConf.to_container(cfg.model.lightgbm, resolve=True)
    parts = []
    for name, change in VARIANTS.items():
        if isinstance(change, str):
            model = models[change]
        else:
            kw = {**base, **{k: v for k, v in change.items() if k != "params"}}
            kw["params"] = {**base["params"], **change.get("params", {})}
            model = instantiate(kw).configure(models["lightgbm"].context)
        t0 = time.perf_counter()
        settings = BacktestSettings(int(b.horizon), QUANTILES, 100, min_train_days=int(b.min_train_days))
        bt, _, _ = backtest_global(name, model, data.panel, data.segments, cutoffs, settings)
        print(f"{name}: {time.perf_counter() - t0:.0f} s", flush=True)
        parts.append(bt)
    bt = pd.concat(parts).merge(data.segments[["sku", "demand_class"]].astype({"sku": str}), on="sku", how="left")
    overall = score(bt, ["model"], QUANTILES).set_index("model")[["rmsse", "mae", "bias"]]
    overall["bias"] = overall["bias"].map(lambda v: f"{v:+.1%}")
    by_class = score(bt, ["model", "demand_class"], QUANTILES).set_index(["model", "demand_class"])
    cells = by_class.apply(lambda r: f"{r['rmsse']:.3f} / {r['bias']:+.0%}", axis=1).unstack("demand_class")
    table = overall.join(cells.add_suffix(" rmsse / bias")).loc[list(VARIANTS)]
    print(f"\nvalidation fold (cutoff {cutoffs['cutoff'].iloc[0].date()}), {bt['sku'].nunique()} SKUs:")
    print(table.to_string(float_format=lambda v: f"{v:.4f}"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--skus", type=int, default=200, help="largest SKUs to use; 0 = the full panel")
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--out", type=Path, default=None, help="run folder (default: a temporary one)")
    parser.add_argument("--engines-only", action="store_true")
    parser.add_argument("--variants", action="store_true", help="LightGBM variants on the validation fold only")
    args = parser.parse_args()
    if args.variants:
        compare_variants(args.skus)
        return
    if args.engines_only:
        compare_engines(args.skus)
        return
    with tempfile.TemporaryDirectory() as tmp:
        out = args.out or Path(tmp) / "run"
        seconds = run_backtest(args.skus, args.n_jobs, PER_SKU + GLOBAL + ENSEMBLES, out)
        bt = pd.read_parquet(out / "backtest.parquet")
        metrics = pd.read_json(out / "metrics.json", typ="series")
    board = leaderboard(bt)
    print(f"\n{bt['sku'].nunique()} SKUs, backtest {seconds:.0f} s on {args.n_jobs} worker(s), CPU only")
    print("timings:", metrics["seconds"])
    print("ensembles:", metrics.get("ensembles"))
    print(board.to_string(float_format=lambda v: f"{v:.4f}"))
    print(target(board))


if __name__ == "__main__":
    main()
