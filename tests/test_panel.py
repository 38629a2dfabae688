"""The daily panel: aggregation against an independent groupby, trading calendar, fill flags, contract."""

from __future__ import annotations

import numpy as np
import pandas as pd

from forecasting.data.calendar import TradingCalendar, infer_calendar, zero_day_chance
from forecasting.data.prepare import prepare_data
from tests.conftest import RETAIL_COLUMNS


def test_panel_matches_independent_groupby(retail_slice_path, retail):
    data = prepare_data(
        retail_slice_path,
        columns=RETAIL_COLUMNS,
        cleaning={"product_code_pattern": r"\d{5}[A-Za-z]{0,3}", "bulk": {"enabled": False}},
        calendar={"holiday_country": None},
        # every screen off, so the panel must equal a plain groupby (the bulk order would be implausible)
        panel={"min_history_days": 1, "min_nonzero_days": 1, "outlier_multiple": None},
    )
    raw = retail[retail["StockCode"].isin(data.panel["sku"].unique())]
    raw = raw[~raw["InvoiceNo"].str.startswith("C") & (raw["Quantity"] > 0) & (raw["UnitPrice"] > 0)]
    raw = raw.drop(columns=["CustomerID", "Country"]).drop_duplicates()
    expected = raw.groupby(["StockCode", raw["InvoiceDate"].dt.normalize()])["Quantity"].sum()
    got = data.panel[data.panel["demand"] > 0].set_index(["sku", "date"])["demand"]
    got.index.names = expected.index.names
    pd.testing.assert_series_equal(
        got.sort_index(), expected.sort_index().astype(float), check_names=False, check_index_type=False
    )


def test_panel_contract(retail_slice_path):
    data = prepare_data(
        retail_slice_path,
        columns=RETAIL_COLUMNS,
        cleaning={"product_code_pattern": r"\d{5}[A-Za-z]{0,3}"},
        panel={"min_history_days": 60, "min_nonzero_days": 5},
    )
    p = data.panel
    assert p["date"].dtype == "datetime64[ns]" and p["demand"].dtype == "float64"
    assert (p["demand"] >= 0).all()
    assert not p.duplicated(["sku", "date"]).any()
    assert p.equals(p.sort_values(["sku", "date"]).reset_index(drop=True))
    # No Saturdays (the retailer never trades then) and no Christmas 2010 closure in the panel.
    assert not (p["date"].dt.dayofweek == 5).any()
    assert not p["date"].isin(pd.to_datetime(["2010-12-27", "2011-01-03"])).any()
    assert data.calendar.closed_weekdays == (5,) and data.calendar.season_length == 6
    # Each SKU runs from its first sale to the data's last day, on every trading day in between.
    days = data.calendar.trading_days(p["date"].min(), p["date"].max())
    for _, g in p.groupby("sku"):
        assert g["demand"].iloc[0] > 0
        assert g["date"].iloc[-1] == p["date"].max()
        assert len(g) == int((days >= g["date"].iloc[0]).sum())
    assert (p.loc[p["filled"], "demand"] == 0).all()
    assert p["price"].notna().all()
    assert data.quality.repairs["missing_trading_days_filled_with_zero"] == int(p["filled"].sum()) + int(
        data.quality.notes["panel"]["rows"] < 0
    )


def test_infer_calendar_closes_weekday_and_holiday_gap():
    days = pd.date_range("2024-01-01", "2024-03-31", freq="D")
    sales = pd.Series(5.0, index=days)
    sales = sales[days.dayofweek != 5]  # never on Saturdays
    sales = sales.drop(pd.Timestamp("2024-02-14"))  # one closure
    cal = infer_calendar(sales)
    assert cal.closed_weekdays == (5,)
    assert cal.closed_dates == (pd.Timestamp("2024-02-14"),)
    nxt = cal.next_trading_days("2024-02-12", 3)
    assert list(nxt) == list(pd.to_datetime(["2024-02-13", "2024-02-15", "2024-02-16"]))


def test_days_without_sales_of_a_few_slow_movers_stay_trading_days(tmp_path):
    # Ten SKUs selling on 8% of days: no SKU sells on about 40% of the days. Those are days without a sale, not
    # closures; closed, they would leave the panel without its zeros and its demand per day 1.7 times too high.
    rng = np.random.default_rng(11)
    days = pd.date_range("2023-01-01", periods=600)
    rows = [
        {"sku": f"P{i}", "date": d, "qty": int(rng.poisson(3) + 1)}
        for i in range(10)
        for d in days[rng.random(600) < 0.08]
    ]
    path = tmp_path / "sparse.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    data = prepare_data(path, kind="demand", columns={"sku": "sku", "date": "date", "quantity": "qty"})
    assert data.calendar.closed_dates == () and data.calendar.closed_weekdays == ()
    assert "kept as trading days" in data.quality.as_dict()["days_without_sales"]
    per_day = data.panel.groupby("sku")["demand"].mean()
    assert ((per_day > 0.2) & (per_day < 0.5)).all()  # 8% of days x 4 units: 0.32 a day
    # A catalogue that sells every day still reads a day without any sale as a closure.
    every_day = pd.DataFrame({"sku": np.repeat(["a", "b", "c"], 30), "date": np.tile(days[:30], 3), "demand": 1.0})
    assert zero_day_chance(every_day) < 0.01


def test_public_holidays_close_future_days():
    cal = TradingCalendar(closed_weekdays=(5,), holiday_country="GB")
    days = cal.next_trading_days("2011-12-23", 3)
    # Saturday 24th, Christmas Day (Sunday), Boxing Day and the substitute day (Tuesday 27th) are closed.
    assert list(days) == list(pd.to_datetime(["2011-12-28", "2011-12-29", "2011-12-30"]))


def test_sales_on_closed_day_move_forward(tmp_path):
    from tests.conftest import make_demand_table

    t = make_demand_table(1, 21)
    t.loc[t["day"].dt.dayofweek == 5, "units"] = 0.0
    t.loc[t["day"] == "2024-01-06", "units"] = 7.0  # a Saturday, declared closed below
    path = tmp_path / "d.csv"
    t.to_csv(path, index=False)
    data = prepare_data(
        path,
        kind="demand",
        columns={"sku": "item", "date": "day", "quantity": "units"},
        calendar={"closed_weekdays": ["saturday"], "closed_dates": []},
        panel={"min_history_days": 1, "min_nonzero_days": 1},
    )
    p = data.panel.set_index("date")["demand"]
    assert pd.Timestamp("2024-01-06") not in p.index
    assert data.quality.repairs["sales_on_closed_days_moved_to_next_trading_day"] == 1
    assert p.sum() == t["units"].sum()
    assert np.isclose(p[pd.Timestamp("2024-01-07")], t.set_index("day")["units"][["2024-01-06", "2024-01-07"]].sum())
