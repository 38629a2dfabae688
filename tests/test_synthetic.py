"""The synthetic test bed: its classes are what Syntetos-Boylan calls them, and its true quantiles are right."""

from __future__ import annotations

import numpy as np
import pandas as pd

from forecasting.data.segments import segment_skus
from forecasting.datasets.synthetic import synthetic_demand


def test_classes_match_syntetos_boylan_on_the_generated_data():
    data = synthetic_demand(n_skus=80, days=730, seed=3)
    panel = data.table.assign(sku=data.table["sku"].astype(str), filled=False)
    seg = segment_skus(panel).set_index("sku")
    agree = (seg.loc[data.truth.index, "demand_class"] == data.truth["true_class"]).mean()
    assert agree > 0.9


def test_true_quantiles_agree_with_the_analytic_mean():
    data = synthetic_demand(n_skus=8, days=400, seed=5)
    dates = pd.date_range("2024-01-01", periods=21)
    grid = np.linspace(0.0005, 0.9995, 1000)
    for sku in data.truth.index:
        # The mean of a distribution is the average of its quantile function.
        q = data.true_quantiles(sku, dates, grid, draws=20000, seed=1)
        assert np.isclose(q.mean(), data.mean_path(sku, dates).sum(), rtol=0.04)
        assert np.all(np.diff(q) >= 0)


def test_yearly_season_is_in_the_table_and_in_the_true_mean_and_leaves_the_default_unchanged():
    plain = synthetic_demand(n_skus=40, days=730, seed=2, classes=("smooth",))
    seasonal = synthetic_demand(n_skus=40, days=730, seed=2, classes=("smooth",), yearly=0.6)
    # Every other draw is the default's: the same promo calendar, and no season columns without the option.
    assert (seasonal.table["promo"].to_numpy() == plain.table["promo"].to_numpy()).all()
    assert "yearly_amp" not in plain.truth and seasonal.truth["yearly_amp"].between(0.3, 0.6).all()
    dates = pd.date_range(seasonal.start, periods=730)
    by_sku = seasonal.table.groupby("sku", observed=True)
    ratios = []
    for sku, rows in by_sku:
        expected = seasonal.mean_path(sku, dates, rows["promo"].to_numpy())
        actual = rows["demand"].to_numpy()
        # quarter by quarter, the demand follows the true mean (season, trend and promotions included)
        ratios += [actual[i : i + 91].sum() / expected[i : i + 91].sum() for i in range(0, 728, 91)]
    ratios = np.array(ratios)
    assert abs(np.median(ratios) - 1) < 0.03 and np.quantile(np.abs(ratios - 1), 0.9) < 0.12
    # and the season is there: a SKU's quarterly demand swings by far more than without it
    assert _quarterly_swing(seasonal).median() > _quarterly_swing(plain).median() + 0.4


def _quarterly_swing(data) -> pd.Series:
    """Per SKU: its largest calendar quarter's demand over its smallest's."""
    quarters = data.table.groupby(["sku", data.table["date"].dt.quarter], observed=True)["demand"].sum()
    return quarters.groupby("sku", observed=True).agg(lambda s: s.max() / s.min())


def test_promo_share_sets_how_often_skus_are_on_promotion_and_the_default_is_unchanged():
    default, same, heavy = (
        synthetic_demand(40, 365, seed=3, **kw) for kw in ({}, {"promo_share": 0.05}, {"promo_share": 0.25})
    )
    pd.testing.assert_frame_equal(default.table, same.table)
    share = heavy.table.groupby("sku", observed=True)["promo"].mean()
    assert 0.09 < share.mean() < 0.16 and share.max() < 0.3  # each SKU's share uniform below 25%
    assert default.table["promo"].mean() < 0.04
