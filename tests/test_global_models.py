"""Global LightGBM, ensembles and champions chosen on validation folds: the pieces and one tiny plan run."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forecasting.errors import InputError
from forecasting.models.base import Forecast, TrainingContext
from forecasting.models.count_paths import PathRecipe, fit_dispersion, sample_paths
from forecasting.models.ensemble import Ensemble
from forecasting.models.gradient_boosting import LightGBMForecaster
from forecasting.models.level_boosting import LevelBooster
from forecasting.models.neural import NeuralForecaster
from forecasting.planning.champion_choice import choose_champions
from forecasting.planning.global_final import StoredForecasts, review_cutoffs
from forecasting.storage import read_csv
from tests.test_neural import QUANTILES, tiny_panel
from tests.test_run import run_cli


def lightgbm(cal, **kw):
    params = {"n_estimators": 40, "num_leaves": 7, "min_child_samples": 5}
    model = LightGBMForecaster(params=params, val_days=14, num_threads=1, **kw)
    return model.configure(TrainingContext("unused", {}, QUANTILES, seed=3, calendar=cal))


@pytest.mark.parametrize(
    ("model", "message"),
    [
        (LightGBMForecaster(retrain="every_fold"), "model.m.retrain=every_fold is unknown; use one of every_cutoff"),
        (LevelBooster(retrain="every_fold"), "model.m.retrain=every_fold is unknown; use one of every_cutoff"),
        (NeuralForecaster("darts.models.TCNModel", retrain="x"), "model.m.retrain=x is unknown; use one of"),
        (LightGBMForecaster(future_covariates="guess"), "set data.future_covariates to known"),
        (LevelBooster(start_window=9.0), "model.m.start_window=9.0 must be one of its windows"),
        (LightGBMForecaster(scale_window=0), r"model.m.scale_window=0 must be a whole number of periods, 1 or more"),
    ],
    ids=["lightgbm", "level", "neural", "future_covariates", "start_window", "scale_window"],
)
def test_global_models_store_parameters_and_check_them_when_configured(model, message):
    # `__init__` stores what it is given (scikit-learn's rule); the check is the base's `configure`, one InputError
    # for every family, naming the setting.
    model.name = "m"
    with pytest.raises(InputError, match=message):
        model.configure(TrainingContext("unused", {}, QUANTILES))


def test_lightgbm_forecasts_every_sku_on_its_own_scale_without_leaks():
    panel, seg, cal = tiny_panel(n_skus=5, days=240)
    cutoff = panel["date"].unique()[-15]
    model = lightgbm(cal).fit(panel, seg, cutoff)
    out = model.predict(panel, seg, cutoff, horizon=14, num_samples=300)
    assert set(out) == {f"s{i}" for i in range(5)}
    actual = panel[panel["date"] > cutoff].groupby("sku")["demand"].mean()
    for sku, f in out.items():
        assert f.paths.shape == (300, 14) and (f.paths >= 0).all()
        assert np.allclose(f.paths, np.round(f.paths))  # counts
        assert f.mean.mean() == pytest.approx(actual[sku], rel=0.35)
    # Anything after the cutoff (demand x10, prices x100) leaves the forecast as it was.
    changed = panel.copy()
    later = changed["date"] > cutoff
    changed.loc[later, "demand"] *= 10
    changed.loc[later, "price"] *= 100
    again = lightgbm(cal).fit(changed, seg, cutoff).predict(changed, seg, cutoff, horizon=14, num_samples=300)
    for sku in out:
        assert np.allclose(out[sku].mean, again[sku].mean)


def test_lightgbm_learns_yearly_calendar_features_only_from_enough_years():
    panel, seg, cal = tiny_panel(n_skus=4, days=240)
    cutoff = panel["date"].unique()[-31]
    short = lightgbm(cal).fit(panel, seg, cutoff)
    assert not {"month_sin", "woy_sin"} & set(short.forecaster_.models_["lgb"].feature_name_)
    assert {"dow_sin", "gap_after"} <= set(short.forecaster_.models_["lgb"].feature_name_)
    # A later cutoff on newer history keeps the trained features (policy first_cutoff).
    later = short.predict_means(panel, seg, panel["date"].unique()[-15], horizon=14)
    assert later.shape == (4, 14) and np.isfinite(later.to_numpy()).all()
    enough = lightgbm(cal, annual_min_years=0.5).fit(panel, seg, cutoff)
    assert {"month_sin", "woy_sin"} <= set(enough.forecaster_.models_["lgb"].feature_name_)


def test_lightgbm_scales_by_the_trailing_year_once_the_history_spans_one():
    # A year's mean is the level without the season; a shorter history has none and takes its recent window.
    panel, seg, cal = tiny_panel(n_skus=3, days=420)
    dates = panel["date"].unique()
    cutoff = dates[-15]
    year = lightgbm(cal, scale_window=30).fit(panel, seg, cutoff)
    assert year.scale_periods_ == ((dates > cutoff - pd.Timedelta(days=365)) & (dates <= cutoff)).sum()
    short = lightgbm(cal, scale_window=30).fit(panel[panel["date"] > dates[-200]], seg, cutoff)
    assert short.scale_periods_ == 30
    assert lightgbm(cal, scale_window=None).fit(panel, seg, cutoff).scale_periods_ is None


def test_lightgbm_direct_reads_no_forecast_within_min_lag():
    """min_lag = horizon: every lag and rolling window ends at least a horizon back, so no day of the horizon
    reads a forecast; the default (1) reads yesterday's, which is recursion."""
    panel, seg, cal = tiny_panel(n_skus=4, days=240)
    cutoff = panel["date"].unique()[-15]
    direct = lightgbm(cal, min_lag=14, season_lags=[1, 3, 4]).fit(panel, seg, cutoff)
    lag_features = [f for f in direct.forecaster_.models_["lgb"].feature_name_ if "lag" in f]
    assert lag_features and all(int(f.split("lag")[1].split("_")[0]) >= 14 for f in lag_features)
    assert "lag18" in lag_features and "lag6" not in lag_features  # season 6: lags 6, 18 and 24; 6 < 14
    means = direct.predict_means(panel, seg, cutoff, horizon=14)
    assert means.shape == (4, 14) and (means.to_numpy() >= 0).all()
    recursive = lightgbm(cal, season_lags=[1, 3, 4]).fit(panel, seg, cutoff)
    assert {"lag6", "rolling_mean_lag1_window_size6"} <= set(recursive.forecaster_.models_["lgb"].feature_name_)


def test_fit_dispersion_recovers_known_day_and_level_variances():
    rng = np.random.default_rng(0)
    mean = rng.uniform(0.5, 20, size=(3000, 1)) * np.ones((1, 30))
    v_day, v_level = 0.8, 0.15
    actual = np.vstack([sample_paths(m, v_day, v_level, 1, rng) for m in mean])
    skus = [f"s{i}" for i in range(len(mean))]
    est = fit_dispersion(pd.DataFrame(mean, index=skus), pd.DataFrame(actual, index=skus), None).loc["all"]
    assert est["v_day"] == pytest.approx(v_day, rel=0.15)
    assert est["v_level"] == pytest.approx(v_level, rel=0.25)


def test_level_factor_widens_sums_over_lead_times_not_just_days():
    rng = np.random.default_rng(1)
    mean = np.full(28, 5.0)
    plain = sample_paths(mean, 0.5, 0.0, 4000, rng).sum(axis=1)
    levelled = sample_paths(mean, 0.5, 0.2, 4000, rng).sum(axis=1)
    # Var of a 28-day sum: 140 + 0.5 * 28 * 25 = 490 without, plus 0.2 * 140^2 = 3920 with the level factor.
    assert plain.var() == pytest.approx(490, rel=0.15)
    assert levelled.var() == pytest.approx(490 + 3920, rel=0.15)


def backtest_rows(models_values: dict[str, dict[str, float]]) -> pd.DataFrame:
    """One SKU, two folds (validation then test), one day each; value per model and role."""
    rows = []
    for model, by_role in models_values.items():
        for fold, role in enumerate(["validation", "test"]):
            v = by_role[role]
            rows.append(
                {
                    "sku": "a",
                    "cutoff": pd.Timestamp("2024-01-01") + pd.Timedelta(days=30 * fold),
                    "date": pd.Timestamp("2024-01-02") + pd.Timedelta(days=30 * fold),
                    "model": model,
                    "mean": v,
                    "p5": v - 2,
                    "p50": v,
                    "p95": v + 2,
                    "fallback": False,
                    "role": role,
                }
            )
    return pd.DataFrame(rows)


def test_ensemble_members_come_from_validation_scores_only():
    bt = backtest_rows(
        {"x": {"validation": 1, "test": 10}, "y": {"validation": 4, "test": 20}, "z": {"validation": 7, "test": 0}}
    )
    validation = pd.Series({"x": 0.5, "y": 0.6, "z": 0.9})  # z is worst on validation (and best on test)
    ens = Ensemble(combine="median", k=2, name="ens").choose(validation, ["x", "y", "z"])
    assert ens.members_ == ["x", "y"]
    rows = ens.combine_table(bt, ["mean", "p5", "p50", "p95"])
    assert rows["model"].eq("ens").all() and len(rows) == 2
    assert rows.set_index("role")["mean"].to_dict() == {"validation": 2.5, "test": 15.0}
    weighted = Ensemble(combine="inverse", k=2).choose(validation, ["x", "y", "z"])
    assert weighted.weights_ == pytest.approx([0.6 / 1.1, 0.5 / 1.1])


def test_ensemble_without_validation_folds_or_members_is_one_clear_sentence():
    with pytest.raises(InputError, match="validation_folds"):
        Ensemble(k=3, name="ensemble_median").choose(None, ["ets", "arima", "lightgbm"])
    with pytest.raises(InputError, match="not run: tbats"):
        Ensemble(members=["ets", "tbats"], name="e").choose(None, ["ets", "arima"])
    assert Ensemble(members=["ets", "arima"]).choose(None, ["ets", "arima"]).members_ == ["ets", "arima"]


def test_ensemble_includes_a_member_its_validation_rank_would_leave_out():
    # ensemble_recent: the SKU's own recent sums (bootstrap) rank last on daily accuracy, and are taken anyway
    # beside the best other model; a model listed in both `include` and `exclude` is not taken twice.
    validation = pd.Series({"ets": 0.7, "arima": 0.8, "bootstrap": 1.3, "seasonal_naive": 1.0})
    recipe = Ensemble(combine="mean", k=2, include=["bootstrap"], exclude=["seasonal_naive"], name="ensemble_recent")
    ens = recipe.choose(validation, ["ets", "arima", "bootstrap", "seasonal_naive"])
    assert ens.members_ == ["bootstrap", "ets"] and ens.weights_ == pytest.approx([0.5, 0.5])
    with pytest.raises(InputError, match="not run: bootstrap; add them to model"):
        Ensemble(k=2, include=["bootstrap"], name="ensemble_recent").choose(validation, ["ets", "arima"])
    # A fixed member list keeps the included model: the user named the partner, not the whole ensemble.
    fixed = Ensemble(combine="mean", members=["arima"], include=["bootstrap"], name="ensemble_recent")
    assert fixed.choose(None, ["ets", "arima", "bootstrap"]).members_ == ["bootstrap", "arima"]
    with pytest.raises(InputError, match="not run: bootstrap; add them to model"):
        Ensemble(members=["arima"], include=["bootstrap"], name="ensemble_recent").choose(None, ["ets", "arima"])
    with pytest.raises(InputError, match="rank_by 'rmse' is unknown; use one of metric, window_sums"):
        Ensemble(k=2, rank_by="rmse")


def test_a_member_only_model_is_no_champion_unless_the_plan_lists_it():
    from forecasting.pipeline.plan_task import plan_candidates

    run = ["seasonal_naive", "ets", "bootstrap", "ensemble_recent"]
    assert plan_candidates(None, run, ["bootstrap"]) == ["ets", "ensemble_recent"]
    assert plan_candidates(["bootstrap"], run, ["bootstrap"]) == ["bootstrap"]  # asked for by name: it competes
    assert plan_candidates(None, run) == ["ets", "bootstrap", "ensemble_recent"]


def test_ensemble_paths_keep_the_quantiles_of_sums_consistent():
    rng = np.random.default_rng(2)
    a = Forecast(mean=np.full(20, 2.0), paths=rng.poisson(2.0, (1000, 20)).astype(float))
    b = Forecast(
        mean=np.full(20, 8.0), paths=rng.poisson(8.0 * rng.gamma(4, 0.25, (1000, 1)), (1000, 20)).astype(float)
    )
    ens = Ensemble(combine="mean", k=2).choose(pd.Series({"a": 1.0, "b": 1.0}), ["a", "b"])
    combined = ens.combine_forecasts([a, b])
    assert combined.mean == pytest.approx(np.full(20, 5.0))
    levels = [0.1, 0.5, 0.9, 0.95]
    expected = (np.quantile(a.paths.sum(1), levels) + np.quantile(b.paths.sum(1), levels)) / 2
    assert np.quantile(combined.paths.sum(1), levels) == pytest.approx(expected, rel=0.02)


def test_ensemble_window_records_are_the_ensembles_own_distribution():
    # Planning calibrates and chooses on the window records' sample sums and scores: the ensemble's must be its
    # combined distribution (members' sorted sums combined rank by rank), not a copy of its first member's.
    from forecasting.backtest.cumulative import cover_record

    rng = np.random.default_rng(3)
    dates = pd.bdate_range("2024-01-02", periods=20)
    test = pd.Series(rng.poisson(5.0, 20).astype(float), index=dates)
    low = Forecast(mean=np.full(20, 2.0), paths=rng.poisson(2.0, (500, 20)).astype(float))
    high = Forecast(mean=np.full(20, 8.0), paths=rng.poisson(8.0, (500, 20)).astype(float))
    cutoff = pd.Timestamp("2024-01-01")
    records = pd.DataFrame(
        [
            {**cover_record("s", name, cutoff, f, test, days=14), "role": "validation"}
            for name, f in (("low", low), ("high", high))
        ]
    )
    ens = Ensemble(combine="mean", k=2, name="ens").choose(pd.Series({"low": 1.0, "high": 1.0}), ["low", "high"])
    row = ens.combine_covers(records).iloc[0]
    own = cover_record("s", "ens", cutoff, ens.combine_forecasts([low, high]), test, days=14)
    assert row["model"] == "ens" and row["mean"] == pytest.approx(own["mean"], rel=0.02)
    assert np.quantile(row["sums"], [0.1, 0.5, 0.9]) == pytest.approx(
        np.quantile(own["sums"], [0.1, 0.5, 0.9]), rel=0.05
    )
    assert row["score"] == pytest.approx(own["score"], abs=0.05)
    assert row["q90"] == pytest.approx(np.quantile(row["sums"], 0.9))
    first = records.iloc[0]
    assert abs(row["score"] - first["score"]) > 0.2 and row["mean"] > 1.5 * first["mean"]


def test_champions_are_chosen_on_the_scores_given_and_unscored_segments_fall_back():
    seg = pd.DataFrame({"sku": ["a", "b", "c"], "abc": ["A", "A", "C"], "demand_class": ["smooth", "smooth", "lumpy"]})
    val = pd.DataFrame({"model": ["ets", "lightgbm"], "abc": "A", "demand_class": "smooth", "rmsse": [0.9, 0.8]})
    champions, table = choose_champions(val, seg, "rmsse", ["ets", "lightgbm"], "seasonal_naive")
    assert champions.to_dict() == {"a": "lightgbm", "b": "lightgbm", "c": "seasonal_naive"}
    assert table.iloc[0][["segment", "model", "rmsse"]].tolist() == ["A-smooth", "lightgbm", 0.8]


def test_plan_with_a_global_or_ensemble_champion_writes_plan_and_replay(tmp_path):
    res = run_cli(
        "debug=tiny",
        # The candidates are the baseline, lightgbm and their ensemble.
        "model=[lightgbm,ensemble_median]",
        "model.ensemble_median.members=[lightgbm,seasonal_naive]",
        "backtest.validation_folds=1",
        "plan.champion_metric=rmsse",
        "model.lightgbm.params.n_estimators=60",
        f"hydra.run.dir={tmp_path}",
    )
    assert res.returncode == 0, res.stderr[-2000:]
    choice = read_csv(tmp_path / "champion_choice.csv")
    assert set(choice["decision"]) == {"plan", "replay"}  # the replay chose on validation folds only
    plan = read_csv(tmp_path / "plan.csv", dtype={"sku": str})
    board = read_csv(tmp_path / "leaderboard.csv")
    assert {"lightgbm", "ensemble_median"} <= set(board["model"]) and "validation_rmsse" in board
    new = plan[plan["model"].isin(["lightgbm", "ensemble_median"])]
    assert len(new), f"no global or ensemble champion: {choice.to_dict('records')}"
    assert not new["forecast_fallback"].any()
    replay = read_csv(tmp_path / "replay_by_sku.csv", dtype={"sku": str})
    assert set(new["sku"]) <= set(replay["sku"])
    forecast = pd.read_parquet(tmp_path / "forecast.parquet")
    assert set(new["model"]) <= set(forecast["model"])
    # Plan runs score the window sums too, on both roles: a champion can be chosen on them.
    for table in ("metrics_by_segment.csv", "metrics_by_segment_validation.csv"):
        assert read_csv(tmp_path / table)["cover_pinball"].notna().any()


def test_stored_forecasts_cover_every_review_the_replay_asks_for():
    panel, _, cal = tiny_panel(n_skus=1, days=200)
    series = panel.set_index("date")["demand"].rename("s0")
    end = series.index.max()
    start = end - pd.Timedelta(weeks=12)
    cutoffs = review_cutoffs(pd.DatetimeIndex(panel["date"].unique()), start, [7, 14])
    recipe = PathRecipe(np.full(40, 3.0), 0.2, 0.05)
    stored = StoredForecasts("lightgbm", {"s0": dict.fromkeys(cutoffs, recipe)})
    rng = np.random.default_rng(0)
    for review in (7, 14):  # as planning.replay_sku picks the history known at each review date
        for r in pd.date_range(start, end, freq=f"{review}D"):
            f = stored.fit(series[series.index <= r]).predict(20, 10, rng)
            assert f.paths.shape == (10, 20)
    with pytest.raises(LookupError, match="no forecast for SKU s1"):
        stored.fit(series.rename("s1"))


def test_cover_pinball_prefers_calibrated_window_sums_and_weighs_skus_alike():
    """The plan-aware champion metric: pinball of the window sums' quantiles per segment, each SKU on its own
    scale. A model stating the sums' real quantiles beats one whose upper quantiles run far above them, and a
    SKU selling 1,000x more scores on the same scale."""
    from forecasting.backtest.cumulative import COVER_LEVELS, cover_pinball
    from forecasting.vocabulary.column_names import sum_quantile_column

    rng = np.random.default_rng(0)
    true = np.quantile(rng.gamma(4.0, 0.25, 200_000), COVER_LEVELS)  # the sums' real quantiles, per unit of size
    rows = []
    for sku, size in (("small", 10.0), ("big", 10_000.0)):
        for cutoff in range(40):
            actual = size * rng.gamma(4.0, 0.25)
            # The calibrated model states the real quantiles; the heavy one's upper quantiles run 3x too far.
            for model, stretch in (("calibrated", 1.0), ("heavy", 3.0)):
                row = {"sku": sku, "model": model, "cutoff": cutoff, "role": "validation", "actual": actual}
                for q, value in zip(COVER_LEVELS, true, strict=True):
                    row[sum_quantile_column(q)] = size * (true[0] + stretch * (value - true[0]))
                rows.append(row)
    covers = pd.DataFrame(rows)
    segments = pd.DataFrame({"sku": ["small", "big"], "abc": ["C", "A"], "demand_class": ["lumpy", "lumpy"]})
    table = cover_pinball(covers, segments).set_index(["model", "abc"])["cover_pinball"]
    assert table[("calibrated", "C")] < table[("heavy", "C")] and table[("calibrated", "A")] < table[("heavy", "A")]
    # On each SKU's scale: the same shapes give the same scores at both sizes (within the draws' noise).
    assert table[("calibrated", "A")] == pytest.approx(table[("calibrated", "C")], rel=0.5)
    champions, _ = choose_champions(
        cover_pinball(covers, segments).assign(rmsse=1.0),
        segments,
        "cover_pinball",
        ["calibrated", "heavy"],
        "seasonal_naive",
    )
    assert set(champions) == {"calibrated"}
    # ensemble_recent ranks its partner so (rank_by: window_sums), over the windows every model has: the daily
    # metric's favourite with heavy sums loses to the calibrated one, and a window one model lacks is not counted.
    from forecasting.backtest.cumulative import window_pinball_by_model

    lone = covers.iloc[[0]].assign(model="heavy", cutoff=99, actual=1e6)  # a freak window only "heavy" has
    ranked = window_pinball_by_model(pd.concat([covers, lone], ignore_index=True))
    assert ranked["calibrated"] < ranked["heavy"] and ranked["heavy"] == pytest.approx(
        window_pinball_by_model(covers)["heavy"]
    )
    # The daily metric would have taken "heavy"; the window sums take "calibrated".
    recent = Ensemble(combine="mean", k=2, include=["bootstrap"], rank_by="window_sums")
    recent.choose(pd.concat([ranked, pd.Series({"bootstrap": 9.0})]), ["heavy", "calibrated", "bootstrap"])
    assert recent.members_ == ["bootstrap", "calibrated"]


def test_lightgbm_trained_before_a_rise_follows_it_from_a_later_origin():
    # The replay (and `retrain: first_cutoff`) reuses a booster trained at T at later origins. Demand triples
    # after T (a seasonal ramp). Scaled by the whole history's mean, the new days' lags lie far above anything the
    # trees trained on and the forecast stays near the old level (-50%); scaled by the recent mean, refitted at
    # each origin, the lags sit where training's did and the forecast follows.
    panel, seg, cal = tiny_panel(n_skus=6, days=300)
    dates = panel["date"].unique()
    trained, origin = dates[-91], dates[-31]
    rng = np.random.default_rng(5)
    risen = panel["date"] > dates[-81]
    panel.loc[risen, "demand"] += rng.poisson(2 * panel.loc[risen, "demand"].to_numpy())
    actual = panel.loc[panel["date"] > origin, "demand"].sum()

    def bias(**kw):
        means = lightgbm(cal, **kw).fit(panel, seg, trained).predict_means(panel, seg, origin, horizon=30)
        return float(np.asarray(means).sum() / actual - 1)

    recent, whole = bias(scale_window=30), bias(scale_window=None)
    assert abs(recent) < 0.15, recent
    assert whole < -0.3, whole


def test_fixed_weights_give_named_members_their_share():
    validation = pd.Series({"ets": 0.7, "arima": 0.8, "bootstrap": 1.3})
    light = Ensemble(combine="mean", k=2, include=["bootstrap"], weights={"bootstrap": 0.25}, name="light")
    chosen = light.choose(validation, ["ets", "arima", "bootstrap"])
    assert chosen.members_ == ["bootstrap", "ets"] and chosen.weights_ == pytest.approx([0.25, 0.75])
    with pytest.raises(InputError, match="need combine: mean"):
        Ensemble(combine="median", weights={"bootstrap": 0.25})
    with pytest.raises(InputError, match="add up to at most 1"):
        Ensemble(combine="mean", weights={"bootstrap": 0.8, "ets": 0.5})
