"""Covariates for models, on the panel's axis (trading days, weeks or months).

Calendar features are known ahead and may be used as future covariates. Whether the promo and price of the
horizon are known is the user's statement about the data, not something a model may guess, so it is one option,
`future_covariates`, read by every model that takes them through `future_covariates()`:

- `carried`: nothing after the cutoff is read, and no model learns from promo or price (LEARNABLE_COLUMNS): their
  horizon values would be made up (no promotion, the last price carried forward).
- `known`: the panel's promo and price on the horizon's days where the panel has rows there (a backtest's days
  after each cutoff; the final forecast's from the table's rows after its last sale, data.periods_ahead); days it
  has no row for are taken as `carried` ones. The per-SKU statsforecast models read the promo calendar then
  (models/promo_lift.py), `arima_x` promo and price as regressors, the global models both as features. Only
  right where price and promo are set ahead: a price computed from the day's own sales (revenue / units, as the
  bundled retailer's) would carry the future day's demand.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from forecasting.data.covariates import FUTURE_COLUMNS
from forecasting.errors import InputError

#: the values of the `future_covariates` option
FUTURE_COVARIATE_MODES = ("known", "carried")
#: what a model may learn from, per mode. Under `carried` the horizon's promo and price are unknown: a model that
#: learned their effects and is then fed made-up values (no promotion, today's price, which is a promo price on a
#: promo day) forecasts every day as an unpromoted one, or as a promoted one (a grocery table with frequent
#: promotions: bias -49%). Left out, a model learns demand with the usual share of promoted days.
LEARNABLE_COLUMNS = {"known": ("promo", "price"), "carried": ()}

#: segment columns a global model may read as static features, and their levels in order
STATIC_LEVELS = {"abc": ("A", "B", "C"), "demand_class": ("smooth", "erratic", "intermittent", "lumpy")}

CALENDAR_FEATURES = (
    "dow_sin",
    "dow_cos",
    "month_sin",
    "month_cos",
    "woy_sin",
    "woy_cos",
    "gap_before",
    "gap_after",
    "holiday_next_7d",
)


def calendar_features(
    days: pd.DatetimeIndex, holiday_country: str | None = None, frequency: str = "daily"
) -> pd.DataFrame:
    """Cyclical day-of-week, month and week-of-year; closures around each trading day; holidays ahead.

    `gap_before` / `gap_after` count closed calendar days just before / after the trading day (a Monday after a
    closed Saturday-Sunday has 1 before it here; the day before Christmas shows the coming shutdown). Weekly
    and monthly panels keep the same columns (one model layout) with what a period cannot carry set to zero:
    the weekday and closures, and for months the week of year; `holiday_next_7d` there flags a holiday inside
    the period.
    """
    days = pd.DatetimeIndex(days)
    out = pd.DataFrame(index=days)
    for name, value, period in (
        ("dow", days.dayofweek, 7),
        ("month", days.month - 1, 12),
        ("woy", days.isocalendar().week.to_numpy() - 1, 53),
    ):
        angle = 2 * np.pi * np.asarray(value, dtype=float) / period
        out[f"{name}_sin"] = np.sin(angle)
        out[f"{name}_cos"] = np.cos(angle)
    stamps = days.asi8 // 86_400_000_000_000
    gaps = np.diff(stamps) - 1
    out["gap_before"] = np.concatenate([[0], gaps]).astype(float)
    out["gap_after"] = np.concatenate([gaps, [0]]).astype(float)
    out["holiday_next_7d"] = 0.0
    if holiday_country:
        import holidays

        public = holidays.country_holidays(holiday_country, years=range(days.year.min(), days.year.max() + 2))
        hol = pd.DatetimeIndex(list(public.keys())).sort_values().asi8 // 86_400_000_000_000
        nxt = np.searchsorted(hol, stamps, side="right")
        ahead = np.where(nxt < len(hol), hol[np.minimum(nxt, len(hol) - 1)] - stamps, 999)
        out["holiday_next_7d"] = (ahead <= 7).astype(float)
    if frequency != "daily":
        out[["dow_sin", "dow_cos", "gap_before", "gap_after"]] = 0.0
        if frequency == "monthly":
            out[["woy_sin", "woy_cos"]] = 0.0
        if holiday_country:
            first = np.concatenate([[stamps[0] - 6 if len(stamps) else 0], stamps[:-1] + 1])
            inside = np.searchsorted(hol, stamps, side="right") - np.searchsorted(hol, first, side="left")
            out["holiday_next_7d"] = (inside > 0).astype(float)
    return out


def carried_price(price: pd.Series, cutoff: pd.Timestamp, until: pd.DatetimeIndex) -> pd.Series:
    """Price observed up to `cutoff`, then held at its last value over `until` (no future prices)."""
    known = price[price.index <= cutoff]
    out = known.reindex(known.index.union(until[until > cutoff]))
    return out.ffill().bfill()


def check_future_covariates(mode: str, model: str) -> str:
    """`mode` when it is a value of the option, else the one sentence that names the model's setting."""
    if mode not in FUTURE_COVARIATE_MODES:
        raise InputError(
            f"future_covariates '{mode}' (model {model}) is unknown; set data.future_covariates to known (the "
            "panel's promo and price after the cutoff are set ahead) or carried (no promo, the last price)."
        )
    return mode


def future_covariates(rows: pd.DataFrame, cutoff: pd.Timestamp, dates: pd.DatetimeIndex, mode: str) -> pd.DataFrame:
    """Promo and price of every SKU in `rows` (columns sku, date and any of promo, price) on `dates` (after `cutoff`).

    One row per SKU and date, SKUs in sorted order and dates as given: with `known` the rows' own values on those
    dates where they exist; otherwise no promo (0) and the SKU's last price on or before `cutoff`. With `carried`
    no row after `cutoff` is read.
    """
    if mode not in FUTURE_COVARIATE_MODES:  # the models check their option when built; this is a caller's bug
        raise ValueError(f"future_covariates mode {mode!r} is not one of {FUTURE_COVARIATE_MODES}")
    cutoff = pd.Timestamp(cutoff)
    dates = pd.DatetimeIndex(dates)
    columns = [c for c in FUTURE_COLUMNS if c in rows]
    hist = rows[rows["date"] <= cutoff]
    skus = np.sort(hist["sku"].unique())
    out = pd.DataFrame({"sku": np.repeat(skus, len(dates)), "date": np.tile(dates.to_numpy(), len(skus))})
    if mode == "known" and columns:
        ahead = rows.loc[(rows["date"] > cutoff) & rows["date"].isin(dates), ["sku", "date", *columns]]
        out = out.merge(ahead.drop_duplicates(["sku", "date"]), on=["sku", "date"], how="left")
    if "promo" in columns:
        out["promo"] = out["promo"].fillna(0.0).astype(float) if "promo" in out else 0.0
    if "price" in columns:
        last = hist.groupby("sku", observed=True)["price"].last()  # the last known price, skipping gaps
        carried = out["sku"].map(last).to_numpy(dtype=float)
        out["price"] = out["price"].fillna(pd.Series(carried, index=out.index)) if "price" in out else carried
    return out


def static_codes(segments: pd.DataFrame) -> pd.DataFrame:
    """The segment columns of STATIC_LEVELS that `segments` has, as ordinal float codes by SKU (text index): what
    tree models read; a level outside STATIC_LEVELS is NaN, for the caller to fill."""
    seg = segments.assign(sku=segments["sku"].astype(str)).set_index("sku")
    return pd.DataFrame(
        {
            col: seg[col].map({lvl: float(i) for i, lvl in enumerate(levels)})
            for col, levels in STATIC_LEVELS.items()
            if col in seg
        },
        index=seg.index,
    )
