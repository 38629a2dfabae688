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
