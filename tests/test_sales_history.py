"""What the plan reads of a SKU's recent sales: a SKU launched inside the window is averaged over its own days."""

import pandas as pd
import pytest

from forecasting.planning.sales_history import mean_daily_demand, sku_history


def _panel(dates, launched_periods, old_demand, new_demand):
    old = pd.DataFrame({"sku": "OLD", "date": dates, "demand": old_demand})
    new = pd.DataFrame({"sku": "NEW", "date": dates[-launched_periods:], "demand": new_demand})
    panel = pd.concat([old, new], ignore_index=True)
    panel["sku"] = panel["sku"].astype("category")
    return panel


def test_a_sku_launched_two_weeks_ago_reads_its_own_daily_rate_not_a_quarter_of_it():
    panel = _panel(pd.date_range("2024-01-01", periods=120, freq="D"), 14, 2.0, 8.0)
    rate = mean_daily_demand(panel, "daily")
    assert rate["OLD"] == pytest.approx(2.0)
    assert rate["NEW"] == pytest.approx(8.0)  # 112 units over its 14 days; over the 56-day window it read 2.0
    assert sku_history(panel, "daily").loc["NEW", "recent_daily_demand"] == pytest.approx(8.0)


@pytest.mark.parametrize(
    ("dates", "periods", "old", "new", "expected_new"),
    [
        (pd.date_range("2023-01-01", periods=60, freq="W-SUN"), 2, 14.0, 21.0, 3.0),  # weeks of 7 days
        (pd.date_range("2020-01-31", periods=30, freq="ME"), 1, 30.0, 60.0, 2.0),  # June: 30 days
    ],
)
def test_weekly_and_monthly_tables_count_the_periods_a_new_sku_has(dates, periods, old, new, expected_new):
    rate = mean_daily_demand(_panel(dates, periods, old, new), "weekly" if periods == 2 else "monthly")
    assert rate["NEW"] == pytest.approx(expected_new)
    assert rate["OLD"] == pytest.approx(old / (7 if periods == 2 else 30.5), rel=0.05)
