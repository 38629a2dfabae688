"""The leaderboard's champion row: chosen per segment on the validation folds, scored on the test folds."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from forecasting.backtest.champion_row import CHAMPION, with_champion_row
from forecasting.backtest.leaderboard import leaderboard
from forecasting.backtest.metrics import score
from forecasting.datasets.synthetic import synthetic_demand

ROOT = Path(__file__).resolve().parents[1]
QUANTILES = [0.1, 0.5, 0.9]


def _rows(model: str, sku: str, cutoff: str, role: str, error: float, days: int = 7) -> pd.DataFrame:
    cut = pd.Timestamp(cutoff)
    demand = 10.0 + np.arange(days)
    mean = demand + error
    return pd.DataFrame(
        {
            "model": model,
            "sku": sku,
            "cutoff": cut,
            "date": cut + pd.to_timedelta(np.arange(1, days + 1), "D"),
            "demand": demand,
            "mean": mean,
            "p10": mean - 2,
            "p50": mean,
            "p90": mean + 2,
            "scale": 1.0,
            "fallback": False,
            "role": role,
        }
    )


def _table(errors: dict[tuple[str, str], dict[str, float]]) -> pd.DataFrame:
    """errors[(model, role)][sku]: that model's error on that SKU's validation or test fold."""
    cutoffs = {"validation": "2024-01-01", "test": "2024-02-01"}
    return pd.concat(
        [_rows(m, sku, cutoffs[role], role, e) for (m, role), by_sku in errors.items() for sku, e in by_sku.items()],
        ignore_index=True,
    )


def _choice(bt: pd.DataFrame, segments: pd.DataFrame) -> pd.DataFrame:
    """The champion choice per segment of a table with validation and test rows."""
    validation, test = bt[bt["role"] == "validation"], bt[bt["role"] == "test"]
    return with_champion_row(
        leaderboard(test, QUANTILES), validation, test, segments, "rmsse", QUANTILES, "seasonal_naive"
    )[1]


def test_each_segment_gets_its_validation_winner_scored_on_test():
    # Segment X: "smooth" wins on validation, Y: "spiky" does. On test both reverse: the champion row scores the
    # validation choice (what a user following the run gets), not the test winner.
    xs, ys = [f"X{i}" for i in range(12)], [f"Y{i}" for i in range(12)]
    segments = pd.DataFrame({"sku": xs + ys, "segment": ["A-smooth"] * 12 + ["B-lumpy"] * 12})
    bt = _table(
        {
            ("smooth", "validation"): {**dict.fromkeys(xs, 1.0), **dict.fromkeys(ys, 4.0)},
            ("spiky", "validation"): {**dict.fromkeys(xs, 3.0), **dict.fromkeys(ys, 2.0)},
            ("smooth", "test"): {**dict.fromkeys(xs, 2.0), **dict.fromkeys(ys, 1.0)},
            ("spiky", "test"): {**dict.fromkeys(xs, 1.0), **dict.fromkeys(ys, 3.0)},
            ("seasonal_naive", "validation"): dict.fromkeys(xs + ys, 5.0),
            ("seasonal_naive", "test"): dict.fromkeys(xs + ys, 5.0),
        }
    )
    validation, test = bt[bt["role"] == "validation"], bt[bt["role"] == "test"]
    board = leaderboard(test, QUANTILES)
    board, choice = with_champion_row(board, validation, test, segments, "rmsse", QUANTILES, "seasonal_naive")

    assert dict(zip(choice["segment"], choice["model"], strict=True)) == {"A-smooth": "smooth", "B-lumpy": "spiky"}
    assert set(choice["chosen_by"]) == {"segment"}
    row = board.set_index("model").loc[CHAMPION]
    # smooth's test error on X (2.0) and spiky's on Y (3.0): RMSSE (2 + 3) / 2, worse than either test winner.
    assert row["rmsse"] == pytest.approx(2.5)
    assert row["fva_rmsse"] == pytest.approx(1 - 2.5 / 5.0)
    assert pd.isna(row["rank"]) and board["model"].iloc[-1] == CHAMPION  # not ranked: a choice among the models
    assert list(board["rank"].dropna()) == [1, 2, 3]


def test_a_thin_segment_takes_the_model_best_over_all_segments():
    xs, few = [f"X{i}" for i in range(12)], ["Y0", "Y1"]
    segments = pd.DataFrame({"sku": xs + few, "segment": ["A-smooth"] * 12 + ["C-lumpy"] * 2})
    bt = _table(
        {
            ("smooth", "validation"): {**dict.fromkeys(xs, 1.0), **dict.fromkeys(few, 4.0)},
            ("spiky", "validation"): {**dict.fromkeys(xs, 3.0), **dict.fromkeys(few, 2.0)},
            ("smooth", "test"): dict.fromkeys(xs + few, 1.0),
            ("spiky", "test"): dict.fromkeys(xs + few, 3.0),
            ("seasonal_naive", "validation"): dict.fromkeys(xs + few, 5.0),
            ("seasonal_naive", "test"): dict.fromkeys(xs + few, 5.0),
        }
    )
    choice = _choice(bt, segments)
    thin = choice.set_index("segment").loc["C-lumpy"]
    assert thin["model"] == "smooth" and thin["chosen_by"] == "overall" and thin["skus"] == 2


@pytest.fixture(scope="module")
def demand_path(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("champion") / "demand.parquet"
    synthetic_demand(12, 500, seed=3, start="2023-01-02").table.to_parquet(path, index=False)
    return path


def _run(path: Path, out: Path, *overrides: str):
    from forecasting.pipeline.backtest_task import run_backtest
    from forecasting.pipeline.common import load_data

    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        cfg = compose(
            config_name="config",
            overrides=[
                "data=daily_demand",
                f"data.path={path}",
                "data.end=2024-06-30",
                "task=backtest",
                "model=[ets,croston]",
                "parallel.n_jobs=1",
                "num_samples=50",
                *overrides,
            ],
        )
    OmegaConf.set_struct(cfg, False)
    out.mkdir(parents=True, exist_ok=True)
    data = load_data(cfg)
    return *run_backtest(cfg, data, out, 0.0), data


def test_a_run_with_validation_folds_prints_the_champion_row(demand_path, tmp_path):
    metrics, _, data = _run(demand_path, tmp_path)
    board = pd.read_csv(tmp_path / "leaderboard.csv")
    row = board.set_index("model").loc[CHAMPION]
    assert pd.isna(row["rank"]) and board["rank"].notna().sum() == len(board) - 1
    # The row is each SKU's chosen model's test rows, scored: rebuilt here from backtest.parquet, the choice and
    # the SKUs' segments as they stood when the validation folds ended.
    bt = pd.read_parquet(tmp_path / "backtest.parquet")
    choice = pd.DataFrame(metrics["leaderboard_champion"])
    assert len(choice) and set(choice["model"]) <= {"ets", "croston"}
    at_t = data.segments_as_of(bt.loc[bt["role"] == "validation", "date"].max())
    model_of = at_t.set_index("sku")["segment"].map(choice.set_index("segment")["model"])
    test = bt[(bt["role"] == "test") & (bt["model"] == bt["sku"].map(model_of))]
    assert row["rmsse"] == pytest.approx(score(test, ["model"], QUANTILES)["rmsse"].iloc[0], rel=1e-9)
    assert metrics["leaderboard"][CHAMPION]["rmsse"] == pytest.approx(row["rmsse"], rel=1e-5)


def test_no_validation_folds_no_champion_row_and_the_log_says_why(demand_path, tmp_path, caplog):
    with caplog.at_level(logging.INFO, logger="forecasting.pipeline.backtest_task"):
        metrics, _, _ = _run(demand_path, tmp_path, "backtest.validation_folds=0")
    board = pd.read_csv(tmp_path / "leaderboard.csv")
    assert CHAMPION not in set(board["model"])
    assert metrics["leaderboard_champion"] == []
    assert "no champion row" in caplog.text


def _gaussian_rows(model: str, skus: list[str], cutoff: str, role: str, spread: float, seed: int) -> pd.DataFrame:
    """Demand ~ N(50, 5) a day; the model's quantiles are those of N(50, 5 * spread): too wide when spread > 1."""
    from scipy.stats import norm

    rng = np.random.default_rng(seed)
    cut, days = pd.Timestamp(cutoff), 30
    frames = []
    for sku in skus:
        frame = pd.DataFrame(
            {
                "model": model,
                "sku": sku,
                "cutoff": cut,
                "date": cut + pd.to_timedelta(np.arange(1, days + 1), "D"),
                "demand": rng.normal(50.0, 5.0, days),
                "mean": 50.0,
                "scale": 1.0,
                "fallback": False,
                "role": role,
            }
        )
        for q in [0.05, 0.1, 0.5, 0.9, 0.95]:
            frame[f"p{round(q * 100):d}"] = 50.0 + norm.ppf(q) * 5.0 * spread
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def test_the_champion_intervals_are_calibrated_on_validation_and_cover_their_nominal_share_of_test_days():
    # Gaussian paths twice too wide (the 80% interval holds ~99% of days): the champion's intervals, scaled on
    # the validation folds, cover ~80% and ~90% of the test days; the model's own row keeps what it gave.
    quantiles = [0.05, 0.1, 0.5, 0.9, 0.95]
    skus = [f"S{i}" for i in range(40)]
    segments = pd.DataFrame({"sku": skus, "segment": "A-smooth"})

    def table(test_seed: int, test_level: float = 0.0) -> pd.DataFrame:
        parts = [
            _gaussian_rows(m, skus, c, role, 2.0, seed)
            for m in ("wide", "seasonal_naive")
            for c, role, seed in [("2024-01-01", "validation", 1), ("2024-02-01", "validation", 2)]
        ] + [_gaussian_rows(m, skus, "2024-03-01", "test", 2.0, test_seed) for m in ("wide", "seasonal_naive")]
        bt = pd.concat(parts, ignore_index=True)
        bt.loc[bt["role"] == "test", "demand"] += test_level
        return bt

    bt = table(test_seed=3)
    validation, test = bt[bt["role"] == "validation"], bt[bt["role"] == "test"]
    board, choice = with_champion_row(
        leaderboard(test, quantiles), validation, test, segments, "rmsse", quantiles, "seasonal_naive"
    )
    rows = board.set_index("model")
    assert rows.loc["wide", "coverage_80"] > 0.97  # as the model gave them
    assert 0.77 <= rows.loc[CHAMPION, "coverage_80"] <= 0.83
    assert 0.87 <= rows.loc[CHAMPION, "coverage_90"] <= 0.93
    assert choice["interval_80_lower"].iloc[0] == pytest.approx(0.5, abs=0.05)
    assert choice["interval_80_upper"].iloc[0] == pytest.approx(0.5, abs=0.05)
    assert rows.loc[CHAMPION, "pinball"] < rows.loc["wide", "pinball"]  # sharper, and no less right
    assert rows.loc[CHAMPION, "rmsse"] == pytest.approx(rows.loc["wide", "rmsse"])  # the point forecast is the model's

    # The factors are learnt on validation days only: other test demand leaves them as they were.
    other = table(test_seed=9, test_level=30.0)
    _, choice_other = with_champion_row(
        leaderboard(other[other["role"] == "test"], quantiles),
        other[other["role"] == "validation"],
        other[other["role"] == "test"],
        segments,
        "rmsse",
        quantiles,
        "seasonal_naive",
    )
    pd.testing.assert_frame_equal(choice, choice_other)


def test_a_segment_winner_by_a_margin_within_the_noise_gives_way_to_the_overall_model():
    # In segment Y, "spiky" is ahead of the overall winner "smooth" by 0.1 on average, with per-SKU errors that
    # swing by +/-2: not evidence. In X "smooth" wins on every SKU. Y takes the overall model.
    rng = np.random.default_rng(0)
    xs, ys = [f"X{i}" for i in range(20)], [f"Y{i}" for i in range(20)]
    segments = pd.DataFrame({"sku": xs + ys, "segment": ["A-smooth"] * 20 + ["B-lumpy"] * 20})
    noisy = dict(zip(ys, 3.0 + rng.uniform(-2, 2, 20), strict=True))
    bt = _table(
        {
            ("smooth", "validation"): {**dict.fromkeys(xs, 1.0), **dict.fromkeys(ys, 3.0)},
            ("spiky", "validation"): {**dict.fromkeys(xs, 4.0), **{s: e - 0.1 for s, e in noisy.items()}},
            ("smooth", "test"): dict.fromkeys(xs + ys, 1.0),
            ("spiky", "test"): dict.fromkeys(xs + ys, 3.0),
            ("seasonal_naive", "validation"): dict.fromkeys(xs + ys, 5.0),
            ("seasonal_naive", "test"): dict.fromkeys(xs + ys, 5.0),
        }
    )
    choice = _choice(bt, segments)
    by_segment = choice.set_index("segment")
    assert by_segment.loc["B-lumpy", "model"] == "smooth" and by_segment.loc["B-lumpy", "chosen_by"] == "overall"
    assert 0 < by_segment.loc["B-lumpy", "margin_se"] < 2
    assert by_segment.loc["A-smooth", "model"] == "smooth"


def test_intervals_of_zero_heavy_skus_are_narrowed_on_their_upper_side_to_their_nominal_coverage():
    # 60% of days sell nothing: the model's 80% interval [0, 14] holds ~99% of days. A zero day is inside any
    # interval whose lower bound is 0, so only the upper side can give up the 20%: the champion's does.
    quantiles = [0.05, 0.1, 0.5, 0.9, 0.95]
    skus = [f"S{i}" for i in range(40)]
    segments = pd.DataFrame({"sku": skus, "segment": "C-lumpy"})
    rng = np.random.default_rng(4)
    size = dict(zip(skus, rng.uniform(2.0, 20.0, len(skus)), strict=True))  # each SKU's own scale
    frames = []
    for model in ("sparse", "seasonal_naive"):
        for cutoff, role in [("2024-01-01", "validation"), ("2024-02-01", "validation"), ("2024-03-01", "test")]:
            rows = pd.concat([_rows(model, sku, cutoff, role, 0.0, days=30) for sku in skus], ignore_index=True)
            lam = rows["sku"].map(size).to_numpy()
            occurs = rng.random(len(rows)) < 0.4
            rows["demand"] = np.where(occurs, 1.0 + rng.poisson(lam), 0.0)
            rows["mean"] = 0.4 * (1.0 + lam)
            rows["p5"], rows["p10"], rows["p50"] = 0.0, 0.0, 0.0
            rows["p90"], rows["p95"] = 3.0 * lam, 4.0 * lam
            frames.append(rows)
    bt = pd.concat(frames, ignore_index=True)
    validation, test = bt[bt["role"] == "validation"], bt[bt["role"] == "test"]
    board, choice = with_champion_row(
        leaderboard(test, quantiles), validation, test, segments, "rmsse", quantiles, "seasonal_naive"
    )
    rows = board.set_index("model")
    assert rows.loc["sparse", "coverage_80"] > 0.97
    assert 0.77 <= rows.loc[CHAMPION, "coverage_80"] <= 0.83
    assert 0.87 <= rows.loc[CHAMPION, "coverage_90"] <= 0.93
    assert choice["interval_80_upper"].iloc[0] < 0.7


def test_intervals_that_already_hold_their_level_are_left_about_as_the_model_gave_them():
    quantiles = [0.05, 0.1, 0.5, 0.9, 0.95]
    skus = [f"S{i}" for i in range(40)]
    segments = pd.DataFrame({"sku": skus, "segment": "A-smooth"})
    folds = [("2024-01-01", "validation", 1), ("2024-02-01", "validation", 2), ("2024-03-01", "test", 3)]
    bt = pd.concat(
        [_gaussian_rows(m, skus, c, role, 1.0, seed) for m in ("right", "seasonal_naive") for c, role, seed in folds],
        ignore_index=True,
    )
    validation, test = bt[bt["role"] == "validation"], bt[bt["role"] == "test"]
    board, choice = with_champion_row(
        leaderboard(test, quantiles), validation, test, segments, "rmsse", quantiles, "seasonal_naive"
    )
    rows = board.set_index("model")
    # 1, or within the noise of 2 folds x 40 SKUs where a factor fitted on one fold did hold the other's better
    assert all(0.9 <= f <= 1.1 for f in choice.filter(like="interval_").iloc[0])
    assert rows.loc[CHAMPION, "pinball"] == pytest.approx(rows.loc["right", "pinball"], rel=0.01)


def test_factors_that_do_not_hold_up_from_one_validation_fold_to_the_next_are_not_used():
    # One validation fold's intervals are twice too wide, the next's twice too narrow: a factor learnt on either
    # misses the other by more than the model's own intervals do, so the model's intervals stand.
    from forecasting.backtest.interval_calibration import fit_interval_factors

    skus = [f"S{i}" for i in range(40)]
    segments = pd.DataFrame({"sku": skus, "segment": "A-smooth"})
    validation = pd.concat(
        [
            _gaussian_rows("shifty", skus, "2024-01-01", "validation", 2.0, 1),
            _gaussian_rows("shifty", skus, "2024-02-01", "validation", 0.5, 2),
        ],
        ignore_index=True,
    )
    factors = fit_interval_factors(validation, segments, [0.05, 0.1, 0.5, 0.9, 0.95], min_skus=10)
    assert not factors["calibrated"].any()
    assert (factors[["factor_lower", "factor_upper"]] == 1.0).all().all()
