"""How far a flat level forecast gets on the backtest series of a `global_models.py` run.

    python benchmarks/global_models.py --skus 0 --out /tmp/full     # the run (full panel)
    python benchmarks/level_bound.py --run /tmp/full                # this table beside its models

Why it exists: issue 15 asks for a global model or ensemble >= 5% better test RMSSE than the best per-SKU model
with |bias| <= 10%. On lumpy daily series most of a series' RMSSE is day-to-day noise that no forecast removes,
and what is left is the level. For every (SKU, cutoff) series of the run's backtest this script forecasts one
flat level per series and scores it on the run's own rows (same demand, same RMSSE scales):
- `ma_<k>s`: the mean of the last k seasons (k x the calendar's season length) before the cutoff;
- `level_booster`: one LightGBM across all SKUs that predicts the mean of the horizon from moving averages,
  sale frequencies, days since the last sale and the SKU's age, each on the SKU's mean scale, trained at every
  day before the cutoff whose horizon has ended, with the metric's own loss per series,
  sqrt(((L - ybar)^2 + v) / scale) (ybar and v: the horizon's mean and variance), starting from `ma_8s`;
- the foresight level: each series' actual mean over its horizon (hindsight; a bound, not a forecast).
It prints, it never asserts. The loss above is what RMSSE rewards: on right-skewed future levels it pulls the
level towards their median, below their mean, which is why its volume bias is far below zero.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from forecasting.backtest.metrics import quantile_column, score  # noqa: E402
from forecasting.models.level_boosting import History, rmsse_objective  # noqa: E402

QUANTILES = [0.05, 0.1, 0.5, 0.9, 0.95]
MA_SEASONS = (2, 4, 8, 16, 26)


def features(data: History, t: int, season: int) -> tuple[pd.DataFrame, np.ndarray]:
    """Per SKU at day t: features on the SKU's mean scale, and that scale."""
    mean_all = data.window(data.c, t, t + 1)
    m = np.where(mean_all > 0, mean_all, 1.0)
    since = np.where(data.last_sale[:, t] >= 0, t - data.last_sale[:, t], t + 1)
    cols = {"log_mean": np.log1p(mean_all), "age": t - data.first, "since_sale": since}
    for k in (1, *MA_SEASONS):
        cols[f"ma{k}"] = data.window(data.c, t, k * season) / m
        cols[f"sale_freq{k}"] = data.window(data.nz, t, k * season)
    cols["volatility"] = np.sqrt(data.window(data.d2, t, 16 * season)) / m
    return pd.DataFrame(cols), m


def level_booster(data: History, cut: int, horizon: int, season: int, min_days: int) -> np.ndarray:
    """The booster's level per SKU at day `cut`, trained on every other day before it whose horizon ended."""
    from lightgbm import LGBMRegressor

    xs, q, ab, start = [], [], [], []
    for t in range(min_days, cut - horizon + 1, 2):
        f, m = features(data, t, season)
        ok = (t - data.first) >= min_days - 1
        future = data.z[:, t + 1 : t + 1 + horizon]
        scale = np.maximum(data.scale(t), 1e-9)
        xs.append(f[ok])
        q.append((future.mean(1) / m)[ok])
        ab.append(np.stack([m**2 / scale, future.var(1) / scale, m], 1)[ok])
        start.append(np.nan_to_num(f["ma8"].to_numpy())[ok])
    ab = np.concatenate(ab)
    model = LGBMRegressor(
        objective=rmsse_objective(ab[:, 0], ab[:, 1], ab[:, 2], bias_penalty=0.0),
        n_estimators=300,
        learning_rate=0.05,
        num_leaves=63,
        min_child_samples=100,
        subsample=0.8,
        subsample_freq=1,
        colsample_bytree=0.8,
        verbosity=-1,
    )
    model.fit(pd.concat(xs, ignore_index=True), np.concatenate(q), init_score=np.concatenate(start))
    f, m = features(data, cut, season)
    return np.clip(model.predict(f) + np.nan_to_num(f["ma8"].to_numpy()), 0, None) * m


def flat_rows(keys: pd.DataFrame, skus: np.ndarray, level: np.ndarray, name: str) -> pd.DataFrame:
    values = pd.Series(level, index=skus).reindex(keys["sku"].astype(str)).fillna(0.0).to_numpy()
    out = keys.assign(model=name, mean=values)
    for q in QUANTILES:
        out[quantile_column(q)] = values
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", type=Path, required=True, help="a run folder of benchmarks/global_models.py")
    args = parser.parse_args()
    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf

    from forecasting.datasets import bundled_path
    from forecasting.pipeline.common import load_data

    OmegaConf.register_new_resolver("bundled", bundled_path, replace=True)
    overrides = yaml.safe_load((args.run / ".hydra" / "overrides.yaml").read_text())
    overrides = [o for o in overrides if not o.startswith(("hydra.", "parallel."))]
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        cfg = compose("config", overrides=overrides)
    data = load_data(cfg)
    season = int(data.calendar.season_length)
    horizon, min_days = int(cfg.backtest.horizon), int(cfg.backtest.min_train_days)
    bt = pd.read_parquet(args.run / "backtest.parquet")
    keys = bt[bt["model"] == bt["model"].iloc[0]].drop(columns=["model"])
    dense = History(data.panel, data.panel["date"].max())
    position = pd.Series(np.arange(len(dense.days)), index=dense.days)
    parts = [bt]
    for cutoff, rows in keys.groupby("cutoff"):
        cut = int(position[cutoff])
        f, m = features(dense, cut, season)
        for k in MA_SEASONS:
            parts.append(flat_rows(rows, dense.skus, np.nan_to_num(f[f"ma{k}"].to_numpy()) * m, f"ma_{k}s"))
        t0 = time.perf_counter()
        level = level_booster(dense, cut, horizon, season, min_days)
        print(f"level_booster at {pd.Timestamp(cutoff).date()}: {time.perf_counter() - t0:.1f} s", flush=True)
        parts.append(flat_rows(rows, dense.skus, level, "level_booster"))
        actual = rows.groupby("sku", observed=True)["demand"].mean()
        parts.append(flat_rows(rows, actual.index.astype(str).to_numpy(), actual.to_numpy(), "foresight level"))
    table = score(pd.concat(parts, ignore_index=True), ["role", "model"], QUANTILES)
    wide = table.pivot(index="model", columns="role", values=["rmsse", "bias"])
    wide.columns = [f"{role}_{metric}" for metric, role in wide.columns]
    cols = [c for c in ("validation_rmsse", "validation_bias", "test_rmsse", "test_bias") if c in wide]
    print(f"\n{keys['sku'].nunique()} SKUs, season {season}, horizon {horizon}; flat levels beside the run's models:")
    print(wide[cols].sort_values(cols[-2]).to_string(float_format=lambda v: f"{v:.4f}"))


if __name__ == "__main__":
    main()
