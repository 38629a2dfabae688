"""The backtest's rows and cover records held compactly, with the same content as before."""

from __future__ import annotations

import numpy as np
import pandas as pd

from forecasting.backtest.folds import make_cutoffs
from forecasting.backtest.metrics import interval_pairs, score, series_losses
from forecasting.backtest.runner import backtest
from forecasting.backtest.settings import BacktestSettings
from forecasting.models.base import Forecast, LocalForecaster
from forecasting.models.naive import SeasonalNaive
from forecasting.vocabulary.column_names import quantile_column
from tests.test_backtest import panel

QUANTILES = [0.1, 0.5, 0.9]


class Noisy(LocalForecaster):
    """A per-SKU model (so it runs in the workers) with random paths around the last week's mean."""

    def fit(self, y):
        self.level_ = float(y.iloc[-7:].mean())
        return self

    def predict(self, horizon, num_samples, rng):
        paths = rng.poisson(self.level_, (num_samples, horizon)).astype(float)
        return Forecast(mean=paths.mean(axis=0), paths=paths)


def run(n_jobs: int):
    p = panel(6, 90)
    cuts = make_cutoffs(pd.DatetimeIndex(p["date"].unique()), horizon=14, folds=2, step=7, validation_folds=1)
    models = {"noisy": Noisy(), "naive": SeasonalNaive(season_length=7)}
    run = backtest(p, cuts, models, SeasonalNaive(7), BacktestSettings(14, QUANTILES, 50, n_jobs=n_jobs, cover_days=10))
    return run.table, run.failures, run.covers


def test_rows_from_workers_hold_one_string_per_value_and_equal_a_serial_run():
    table, failures, covers = run(n_jobs=2)
    serial_table, _, serial_covers = run(n_jobs=1)
    assert failures.empty and len(table) == 6 * 3 * 14 * 2 and len(covers) == 6 * 3 * 2
    for frame in (table, covers):
        for column in ("sku", "model", "role"):
            values = frame[column].to_numpy()
            assert values.dtype == object
            # Unpickled worker results used to make a new string per row (about 60 bytes each).
            assert len({id(v) for v in values}) == frame[column].nunique()
    pd.testing.assert_frame_equal(table, serial_table, check_exact=True)
    pd.testing.assert_frame_equal(covers.drop(columns="sums"), serial_covers.drop(columns="sums"), check_exact=True)
    sums = np.stack(covers["sums"].to_list())
    assert sums.shape == (len(covers), 50) and (np.diff(sums, axis=1) >= 0).all()
    np.testing.assert_array_equal(sums, np.stack(serial_covers["sums"].to_list()))
    # The record's mean is that of its sums.
    np.testing.assert_allclose(sums.mean(axis=1), covers["mean"], rtol=1e-6)


def reference_score(bt: pd.DataFrame, by: list[str], quantiles: list[float]) -> pd.DataFrame:
    """The former score: one frame of every per-row term and the keys, grouped at once."""
    y = bt["demand"].to_numpy(dtype=float)
    err = bt["mean"].to_numpy(dtype=float) - y
    nz = y > 0
    qf = bt[[quantile_column(q) for q in quantiles]].to_numpy(dtype=float)
    diff = y[:, None] - qf
    q = np.asarray(quantiles)[None, :]
    terms = {
        "_err": err, "_abs": np.abs(err), "_sq": err**2, "_y": y, "_absy": np.abs(y), "_nz": nz.astype(float),
        "_ape": np.where(nz, np.abs(err) / np.where(nz, y, 1.0), 0.0),
        "_pin": np.maximum(q * diff, (q - 1) * diff).mean(axis=1),
    }  # fmt: skip
    cover_cols = []
    for lo, hi in interval_pairs(quantiles):
        name = f"coverage_{round((hi - lo) * 100):d}"
        terms[name] = ((y >= bt[quantile_column(lo)]) & (y <= bt[quantile_column(hi)])).to_numpy().astype(float)
        cover_cols.append(name)
    keys = bt[list(dict.fromkeys([*by, "sku", "cutoff"]))].reset_index(drop=True)
    frame = pd.concat([keys, pd.DataFrame(terms), bt["scale"].reset_index(drop=True)], axis=1)
    sums = frame.groupby(by, observed=True, sort=True)[[c for c in terms if c not in cover_cols]].sum()
    counts = frame.groupby(by, observed=True, sort=True).size()
    per_series = frame.groupby([*by, "sku", "cutoff"], observed=True, sort=False).agg(
        _sq=("_sq", "mean"), scale=("scale", "first")
    )
    per_series["rmsse"] = np.sqrt(per_series["_sq"] / per_series["scale"])
    per_series = per_series.dropna(subset=["rmsse"])
    rmsse = per_series.groupby(level=list(range(len(by))), observed=True)["rmsse"].agg(["mean", "size"])
    out = pd.DataFrame(index=sums.index)
    out["rmsse"] = rmsse["mean"].reindex(out.index)
    out["mae"] = sums["_abs"] / counts
    out["rmse"] = np.sqrt(sums["_sq"] / counts)
    ratio = lambda a, b: (a / b.where(b > 0)).astype(float)  # noqa: E731
    out["wape"] = ratio(sums["_abs"], sums["_absy"])
    out["bias"] = ratio(sums["_err"], sums["_y"])
    out["mape_nonzero"] = ratio(sums["_ape"], sums["_nz"])
    out["pinball"] = sums["_pin"] / counts
    out[cover_cols] = frame.groupby(by, observed=True, sort=True)[cover_cols].mean()
    out["series"] = rmsse["size"].reindex(out.index).fillna(0).astype(int)
    out["points"] = counts.astype(int)
    return out.reset_index()


def random_backtest(n: int = 5000) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    mean = rng.gamma(2.0, 2.0, n)
    return pd.DataFrame(
        {
            "model": rng.choice(["ets", "arima", "seasonal_naive"], n),
            "sku": rng.choice(["a", "b", "c", "d", None], n),  # a SKU without a key belongs to no group
            "cutoff": pd.Timestamp("2024-03-01") + pd.to_timedelta(rng.integers(0, 3, n) * 30, unit="D"),
            "abc": rng.choice(["A", "B", None], n),
            "demand": rng.poisson(3.0, n).astype(float),
            "mean": mean,
            "p10": mean * 0.3,
            "p50": mean,
            "p90": mean * 2.1,
            "scale": rng.choice([np.nan, 0.7, 1.3, 2.0], n),  # flat histories have no RMSSE scale
        }
    )


def test_score_groups_term_by_term_to_the_same_bits_as_one_frame():
    bt = random_backtest()
    for by in (["model"], ["model", "abc"], ["model", "sku"]):
        pd.testing.assert_frame_equal(score(bt, by, QUANTILES), reference_score(bt, by, QUANTILES), check_exact=True)
    losses = series_losses(bt, "rmsse", QUANTILES)
    expected = reference_score(bt, ["model", "sku", "cutoff"], QUANTILES)
    merged = losses.merge(expected, on=["model", "sku", "cutoff"], how="outer", validate="one_to_one")
    np.testing.assert_array_equal(merged["loss"], merged["rmsse"])
