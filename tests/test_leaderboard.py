"""Ranking: one series must not crown a model; scoring stays exact after vectorising."""

from __future__ import annotations

import numpy as np
import pandas as pd

from forecasting.backtest.leaderboard import leaderboard
from forecasting.backtest.metrics import score

QUANTILES = [0.1, 0.5, 0.9]


def _table(errors: dict[str, list[float]], days: int = 5) -> pd.DataFrame:
    """A backtest table: one (SKU, cutoff) series per list entry, each model's mean = demand + that error."""
    rows = []
    cutoff = pd.Timestamp("2024-03-01")
    for model, errs in errors.items():
        for i, err in enumerate(errs):
            for d in range(days):
                demand = 10.0 + d
                mean = demand + err
                rows.append(
                    {
                        "model": model,
                        "sku": f"S{i}",
                        "cutoff": cutoff,
                        "date": cutoff + pd.Timedelta(days=d + 1),
                        "demand": demand,
                        "mean": mean,
                        "p10": mean - 1,
                        "p50": mean,
                        "p90": mean + 1,
                        "scale": 1.0,
                        "fallback": False,
                    }
                )
    return pd.DataFrame(rows)


def test_one_series_cannot_crown_a_model():
    # "steady" is better on 9 of 10 series; on S9 the data is absurd and "steady" misses it by a mile.
    steady = [1.0] * 9 + [1e9]
    lucky = [3.0] * 9 + [0.0]
    board = leaderboard(_table({"steady": steady, "lucky": lucky, "seasonal_naive": [5.0] * 10}), QUANTILES)
    plain = score(_table({"steady": steady, "lucky": lucky}), ["model"], QUANTILES).set_index("model")["rmsse"]
    assert plain["lucky"] < plain["steady"]  # the plain average would crown "lucky"
    assert board["model"].iloc[0] == "steady"
    row = board.set_index("model").loc["steady"]
    assert row["top_series"].startswith("S9 @ 2024-03-01") and row["top_series_share"] > 0.99
    assert row["rmsse"] > 1e6  # the plain metric is still reported as it is
    assert row["rank_value"] == 1.0


def test_ranking_unchanged_without_a_dominating_series():
    rng = np.random.default_rng(0)
    errors = {m: list(rng.normal(loc, 0.5, 12)) for m, loc in [("a", 1.0), ("b", 2.0), ("seasonal_naive", 3.0)]}
    board = leaderboard(_table(errors), QUANTILES)
    assert list(board["model"]) == list(board.sort_values("rmsse")["model"])
    assert np.allclose(board["rank_value"], board["rmsse"])


def test_score_matches_the_metric_functions():
    bt = _table({"m": [1.0, -2.0, 0.5]})
    bt.loc[bt.index[:2], "demand"] = 0.0  # zero days: MAPE skips them, WAPE counts them
    row = score(bt, ["model"], QUANTILES).iloc[0]
    err = bt["mean"] - bt["demand"]
    assert np.isclose(row["mae"], err.abs().mean())
    assert np.isclose(row["rmse"], np.sqrt((err**2).mean()))
    assert np.isclose(row["wape"], err.abs().sum() / bt["demand"].sum())
    assert np.isclose(row["bias"], err.sum() / bt["demand"].sum())
    nz = bt["demand"] > 0
    assert np.isclose(row["mape_nonzero"], (err[nz].abs() / bt.loc[nz, "demand"]).mean())
    per_series = (err**2).groupby(bt["sku"]).mean() ** 0.5
    assert np.isclose(row["rmsse"], per_series.mean())
    inside = (bt["demand"] >= bt["p10"]) & (bt["demand"] <= bt["p90"])
    assert np.isclose(row["coverage_80"], inside.mean()) and 0 < inside.mean() < 1
    assert row["series"] == 3 and row["points"] == len(bt)
