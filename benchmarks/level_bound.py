"""How far a flat level forecast gets on the backtest series of a `global_models.py` run.

    python benchmarks/global_models.py --skus 0 --out /tmp/full     # the run (full panel)
    python benchmarks/level_bound.py --run /tmp/full                # this table beside its models

Why it exists: issue 15 asks for a global model or ensemble >= 5% better test RMSSE than the best per-SKU model
with |bias| <= 10%. On lumpy daily series most of a series' RMSSE is day-to-day noise that no forecast removes,
and what is left is the level. For every (SKU, cutoff) series of the run's backtest this script forecasts a
level per series and scores it on the run's own rows (same demand, same RMSSE scales):
- `ma_<k>s`: the mean of the last k seasons (k x the calendar's season length) before the cutoff;
- `level booster, RMSSE alone`: `lightgbm_level` (forecasting/models/level_boosting.py) with `bias_penalty: 0`,
  so its loss is the metric's own per series, sqrt(((L - ybar)^2 + v) / scale) (ybar and v: the horizon's mean
  and variance), and nothing holds its volume;
- the foresight level: each series' actual mean over its horizon (hindsight; a bound, not a forecast).
It prints, it never asserts. The loss above is what RMSSE rewards: on right-skewed future levels it pulls the
level towards their median, below their mean, which is why its volume bias is far below zero.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from forecasting.backtest.metrics import score  # noqa: E402
from forecasting.models.level_boosting import History  # noqa: E402
from forecasting.vocabulary.column_names import quantile_column  # noqa: E402

QUANTILES = [0.05, 0.1, 0.5, 0.9, 0.95]
MA_SEASONS = (2, 4, 8, 16, 26)


def rmsse_alone(cfg, data):
    """`lightgbm_level` as configured but with `bias_penalty: 0`: its loss is RMSSE and nothing else."""
    from omegaconf import OmegaConf

    from forecasting.pipeline.common import build_models

    cfg = cfg.copy()
    OmegaConf.update(cfg, "model", {"lightgbm_level": cfg.model.lightgbm_level}, merge=False)
    OmegaConf.update(cfg, "model.lightgbm_level.bias_penalty", 0.0)
    with tempfile.TemporaryDirectory() as tmp:
        _, global_, _ = build_models(cfg, data, tmp)
    return global_["lightgbm_level"]


def daily_rows(keys: pd.DataFrame, means: pd.DataFrame, name: str) -> pd.DataFrame:
    """`keys` (one cutoff's rows) with a model's daily means (SKU x the horizon's days, in order)."""
    days = np.sort(keys["date"].unique())
    rows = pd.Index(means.index.astype(str)).get_indexer(keys["sku"].astype(str))
    cols = np.searchsorted(days, keys["date"].to_numpy())
    values = np.where(rows >= 0, means.to_numpy()[np.maximum(rows, 0), cols], 0.0)
    out = keys.assign(model=name, mean=values)
    for q in QUANTILES:
        out[quantile_column(q)] = values
    return out


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
        cfg = compose("config", overrides=[*overrides, "model=[lightgbm_level]"])
    data = load_data(cfg)
    season = int(data.calendar.season_length)
    horizon = int(cfg.backtest.horizon)
    model = rmsse_alone(cfg, data)
    bt = pd.read_parquet(args.run / "backtest.parquet")
    keys = bt[bt["model"] == bt["model"].iloc[0]].drop(columns=["model"])
    dense = History(data.panel, data.panel["date"].max())
    position = pd.Series(np.arange(len(dense.days)), index=dense.days)
    parts = [bt]
    for cutoff, rows in keys.groupby("cutoff"):
        cut = int(position[cutoff])
        for k in MA_SEASONS:
            average = np.nan_to_num(dense.window(dense.c, cut, k * season))
            parts.append(flat_rows(rows, dense.skus, average, f"ma_{k}s"))
        t0 = time.perf_counter()
        model.fit(data.panel, data.segments, cutoff)
        means = model.predict_means(data.panel, data.segments, cutoff, horizon)
        print(f"RMSSE-alone booster at {pd.Timestamp(cutoff).date()}: {time.perf_counter() - t0:.1f} s", flush=True)
        parts.append(daily_rows(rows, means, "level booster, RMSSE alone"))
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
