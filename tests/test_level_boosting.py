"""The global level booster: its loss, its bias term, no look-ahead, its paths, and a plan it champions."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forecasting.data.calendar import PeriodCalendar
from forecasting.errors import InputError
from forecasting.models.base import TrainingContext
from forecasting.models.level_boosting import LevelBooster, rmsse_objective
from forecasting.storage import read_csv
from tests.test_neural import QUANTILES, tiny_panel
from tests.test_run import run_cli


def level_model(cal, **kw):
    params = {"n_estimators": 60, "num_leaves": 7, "min_child_samples": 5}
    kw = {"horizon": 14, "val_days": 14, "min_history": 28, "num_threads": 1, **kw}
    return LevelBooster(params=params, **kw).configure(TrainingContext("unused", {}, QUANTILES, seed=3, calendar=cal))


def flat_rmsse_loss(p, q, a, b, units, penalty):
    volume_bias = (units * (p - q)).sum() / (units * q).sum()
    return np.sqrt(a * (p - q) ** 2 + b).sum() + penalty * len(p) * volume_bias**2


def test_objective_gradient_is_the_loss_gradient():
    """The custom objective's gradient is the derivative of what it claims to minimise: the sum of the rows'
    flat-level RMSSE plus the volume-bias penalty (checked against central differences, row by row)."""
    rng = np.random.default_rng(0)
    n = 40
    q, p = rng.gamma(0.5, 2.0, n), rng.uniform(0.2, 3.0, n)
    a, b, units = rng.uniform(0.1, 5.0, n), rng.uniform(0.0, 2.0, n), rng.uniform(0.5, 50.0, n)
    for penalty in (0.0, 1.0):
        grad, hess = rmsse_objective(a, b, units, penalty)(q, p)
        assert (hess > 0).all()
        eps = 1e-6
        for i in range(n):
            up, down = p.copy(), p.copy()
            up[i] += eps
            down[i] -= eps
            numeric = (
                flat_rmsse_loss(up, q, a, b, units, penalty) - flat_rmsse_loss(down, q, a, b, units, penalty)
            ) / (2 * eps)
            assert grad[i] == pytest.approx(numeric, rel=1e-4, abs=1e-6)


def lumpy_panel(n_skus: int, days: int, seed: int = 0):
    """Wholesale-like demand: a few orders a month per SKU, each of a heavy-tailed size; and each SKU's true
    mean demand per day."""
    panel, seg, cal = tiny_panel(n_skus=n_skus, days=days)
    rng = np.random.default_rng(seed)
    rates = rng.uniform(0.05, 0.3, n_skus)
    orders = rng.random(len(panel)) < np.repeat(rates, len(panel) // n_skus)
    panel["demand"] = np.where(orders, np.round(rng.lognormal(2.0, 1.2, len(panel))) + 1, 0.0)
    size = np.exp(2.0 + 1.2**2 / 2) + 1
    return panel, seg, cal, pd.Series(rates * size, index=[f"s{i}" for i in range(n_skus)])


def test_bias_penalty_brings_the_volume_to_the_actual():
    """RMSSE alone pulls lumpy levels below their mean; the penalty (the default) keeps the forecast volume
    nearer what is sold."""
    panel, seg, cal, true_mean = lumpy_panel(n_skus=30, days=320)
    cutoff = panel["date"].unique()[-15]
    bias = {}
    for penalty in (0.0, 1.0):
        model = level_model(cal, bias_penalty=penalty).fit(panel, seg, cutoff)
        out = model.predict(panel, seg, cutoff, horizon=14, num_samples=50)
        total = sum(f.mean.sum() for f in out.values())
        bias[penalty] = total / (14 * true_mean.sum()) - 1
    assert bias[0.0] < -0.15, bias  # the median of a right-skewed level, well below its mean
    assert abs(bias[1.0]) < abs(bias[0.0]) - 0.1, bias


def test_level_forecasts_read_nothing_after_the_cutoff_and_give_count_paths():
    panel, seg, cal = tiny_panel(n_skus=5, days=240)
    cutoff = panel["date"].unique()[-15]
    out = level_model(cal).fit(panel, seg, cutoff).predict(panel, seg, cutoff, horizon=20, num_samples=200)
    assert set(out) == {f"s{i}" for i in range(5)}
    for f in out.values():
        assert f.mean.shape == (20,) and (f.mean >= 0).all()
        assert f.paths.shape == (200, 20) and np.allclose(f.paths, np.round(f.paths))
    changed = panel.copy()
    changed.loc[changed["date"] > cutoff, "demand"] *= 10
    again = level_model(cal).fit(changed, seg, cutoff).predict(changed, seg, cutoff, horizon=20, num_samples=200)
    for sku in out:
        assert np.allclose(out[sku].mean, again[sku].mean)


def test_daily_levels_follow_the_weekday_profile_and_weekly_ones_stay_flat():
    panel, seg, cal = tiny_panel(n_skus=6, days=240)
    cutoff = panel["date"].unique()[-15]
    means = level_model(cal).fit(panel, seg, cutoff).predict(panel, seg, cutoff, 12, 10)["s0"].mean
    assert means.std() > 0  # tiny_panel has a weekly pattern
    weeks = (
        panel.assign(date=panel["date"].dt.to_period("W").dt.end_time.dt.normalize())
        .groupby(["sku", "date"], as_index=False)["demand"]
        .sum()
    )
    weekly = PeriodCalendar(frequency="weekly", season_length=1, code="W-SUN")
    wcut = weeks["date"].unique()[-5]
    model = level_model(weekly, horizon=4, val_days=4, min_history=8).fit(weeks, seg, wcut)
    flat = model.predict(weeks, seg, wcut, 4, 10)["s0"].mean
    assert np.allclose(flat, flat[0])


def test_too_short_a_history_is_one_clear_sentence():
    panel, seg, cal = tiny_panel(n_skus=3, days=40)
    with pytest.raises(InputError, match="leave no period to learn from after the first 60; lower model.lightgbm_l"):
        level_model(cal, min_history=60).fit(panel, seg, panel["date"].unique()[-15])
    # Short of a whole horizon after min_history, it learns the level of the periods there are.
    panel, seg, cal = tiny_panel(n_skus=3, days=60)
    cutoff = panel["date"].unique()[-15]
    short = level_model(cal, min_history=14).fit(panel, seg, cutoff)
    assert short.predict(panel, seg, cutoff, 14, 10)["s0"].mean.sum() > 0
    # With too few rows to boost, the level is the moving average it would have started from.
    assert short.epochs_ == 0


def test_plan_with_the_level_booster_as_champion_writes_plan_and_replay(tmp_path):
    res = run_cli(
        "debug=tiny",
        "model=[lightgbm_level]",
        "backtest.validation_folds=1",
        "plan.champion_metric=rmsse",
        "model.lightgbm_level.params.n_estimators=60",
        f"hydra.run.dir={tmp_path}",
    )
    assert res.returncode == 0, res.stderr[-2000:]
    plan = read_csv(tmp_path / "plan.csv", dtype={"sku": str})
    chosen = plan[plan["model"] == "lightgbm_level"]
    assert len(chosen), read_csv(tmp_path / "champion_choice.csv").to_dict("records")
    assert not chosen["forecast_fallback"].any()
    replay = read_csv(tmp_path / "replay_by_sku.csv", dtype={"sku": str})
    assert set(chosen["sku"]) <= set(replay["sku"])
    forecast = pd.read_parquet(tmp_path / "forecast.parquet")
    assert "lightgbm_level" in set(forecast["model"])
