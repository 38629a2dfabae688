"""Shared fixtures: a slice of the real Online Retail file and small generated tables."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from forecasting.datasets import bundled_path

RETAIL = bundled_path("online_retail/online_retail_transactions.parquet")
RETAIL_COLUMNS = {
    "sku": "StockCode",
    "date": "InvoiceDate",
    "quantity": "Quantity",
    "price": "UnitPrice",
    "invoice": "InvoiceNo",
    "description": "Description",
}
# SKUs of the real file with a quirk each: the bulk order (23166), a best seller (85123A), the other
# bulk order's SKU (23843), a few regular sellers, and non-product codes.
SLICE_SKUS = ["23166", "85123A", "23843", "22423", "47566", "20725", "84879", "22720", "POST", "DOT", "M"]


@pytest.fixture(scope="session")
def retail() -> pd.DataFrame:
    return pd.read_parquet(RETAIL)


@pytest.fixture(scope="session")
def retail_slice_path(retail, tmp_path_factory) -> Path:
    """All lines of a handful of SKUs (incl. cancellations, returns, bulk orders), as a Parquet file."""
    part = retail[retail["StockCode"].isin(SLICE_SKUS)]
    path = tmp_path_factory.mktemp("data") / "retail_slice.parquet"
    part.to_parquet(path, index=False)
    return path


def make_demand_table(
    n_skus: int = 3, days: int = 120, seed: int = 0, start: str = "2024-01-01"
) -> pd.DataFrame:
    """A daily demand table with weekly seasonality and ~40% zero days, every calendar day present."""
    rng = np.random.default_rng(seed)
    dates = pd.date_range(start, periods=days, freq="D")
    frames = []
    for i in range(n_skus):
        weekly = 1.0 + 0.5 * np.sin(2 * np.pi * dates.dayofweek / 7)
        demand = rng.poisson(3.0 * (i + 1) * weekly) * (rng.random(days) > 0.4)
        frames.append(pd.DataFrame({"item": f"SKU{i}", "day": dates, "units": demand.astype(float)}))
    return pd.concat(frames, ignore_index=True)


@pytest.fixture
def demand_csv(tmp_path) -> Path:
    path = tmp_path / "demand.csv"
    make_demand_table().to_csv(path, index=False)
    return path
