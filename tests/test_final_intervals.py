"""The final forecast's intervals are scaled as the leaderboard's champion row is (backtest.interval_calibration,
fitted on every fold), per model and segment, with a fallback day scaled as the baseline's."""

from __future__ import annotations

import numpy as np
import pandas as pd

from forecasting.backtest.interval_calibration import apply_interval_factors
from forecasting.pipeline.common import BASELINE

QUANTILES = [0.1, 0.5, 0.9]


def factors(model: str, lower: float, upper: float) -> dict:
    return {"model": model, "segment": "*", "lo": 0.1, "hi": 0.9, "level": 0.8, "factor_lower": lower,
            "factor_upper": upper, "calibrated": True, "skus": 20, "coverage_before": 0.9}  # fmt: skip


def test_each_days_interval_is_scaled_by_the_factors_of_the_model_that_made_it():
    forecast = pd.DataFrame(
        {
            "sku": ["a", "a", "b"],
            "date": pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-01"]),
            "model": ["ets", "ets", "ets"],
            "mean": [10.0, 10.0, 5.0],
            "p10": [6.0, 6.0, 2.0],
            "p50": [10.0, 10.0, 5.0],
            "p90": [18.0, 18.0, 9.0],
            "fallback": [False, False, True],
        }
    )
    segments = pd.DataFrame({"sku": ["a", "b"], "segment": ["A-smooth", "A-smooth"]})
    table = pd.DataFrame([factors("ets", 0.5, 0.75), factors(BASELINE, 2.0, 1.5)])
    out = apply_interval_factors(forecast, segments, table, QUANTILES, fallback_as=BASELINE)
    # ets narrows: p50 -/+ its factors x the distance; the fallback day (b) widens as the baseline's.
    assert np.allclose(out["p10"], [8.0, 8.0, 0.0]) and np.allclose(out["p90"], [16.0, 16.0, 11.0])
    assert out["model"].tolist() == ["ets", "ets", "ets"] and out["p50"].equals(forecast["p50"])
    assert apply_interval_factors(forecast, segments, None, QUANTILES, fallback_as=BASELINE) is forecast
