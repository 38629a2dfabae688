"""ABC and Syntetos-Boylan classes on hand-computed series."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forecasting.data.segments import abc_classes, adi_cv2, demand_class, segment_skus


def test_adi_cv2_by_hand():
    # 8 periods, 4 with demand -> ADI 2.0; sizes 2,4,6,8: mean 5, sample sd sqrt(20/3) -> CV2 = (20/3)/25.
    adi, cv2 = adi_cv2(np.array([0, 2, 0, 4, 0, 6, 0, 8]))
    assert adi == 2.0
    assert cv2 == pytest.approx((20 / 3) / 25)


@pytest.mark.parametrize(
    "series, expected",
    [
        ([5, 5, 6, 5, 5, 6, 5, 5], "smooth"),  # ADI 1, CV2 ~0.01
        ([1, 20, 1, 30, 2, 1, 25, 1], "erratic"),  # ADI 1, CV2 > 0.49
        ([0, 0, 5, 0, 0, 5, 0, 6], "intermittent"),  # ADI 2.67, CV2 ~0.01
        ([0, 0, 1, 0, 0, 30, 0, 2], "lumpy"),  # ADI 2.67, CV2 > 0.49
    ],
)
def test_demand_classes(series, expected):
    assert demand_class(*adi_cv2(np.array(series, dtype=float))) == expected


def test_cut_offs_are_inclusive_on_the_upper_side():
    assert demand_class(1.32, 0.1) == "intermittent"
    assert demand_class(1.0, 0.49) == "erratic"
    assert demand_class(float("inf"), float("nan")) == "lumpy"


def test_abc_by_value():
    value = pd.Series({"a": 50.0, "b": 30.0, "c": 10.0, "d": 6.0, "e": 4.0})
    # Shares before each SKU: 0, .5, .8, .9, .96 -> A, A, B, B, C.
    assert abc_classes(value).to_dict() == {"a": "A", "b": "A", "c": "B", "d": "B", "e": "C"}


def test_segment_skus_uses_revenue_then_units():
    panel = pd.DataFrame(
        {
            "sku": ["x"] * 4 + ["y"] * 4,
            "date": list(pd.date_range("2024-01-01", periods=4)) * 2,
            "demand": [1, 1, 1, 1, 0, 10, 0, 10.0],
        }
    )
    seg = segment_skus(panel).set_index("sku")
    assert seg.loc["x", "value_basis"] == "demand" and seg.loc["y", "value"] == 20
    assert seg.loc["y", "abc"] == "A" and seg.loc["x", "demand_class"] == "smooth"
    assert seg.loc["y", "demand_class"] == "intermittent" and seg.loc["y", "segment"] == "A-intermittent"
    with_price = panel.assign(revenue=panel["demand"] * np.where(panel["sku"] == "x", 100.0, 1.0))
    assert segment_skus(with_price).set_index("sku").loc["x", "abc"] == "A"
