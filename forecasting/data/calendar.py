"""The panel's calendar: trading days for daily data, weeks or months otherwise.

A closed day (this retailer never trades on Saturdays, and shut for Christmas 2010) is not a zero-demand day:
it is absent from the panel, and models count seasons in trading days. Weekly and monthly panels have no
closed days: every period is open, and seasons, horizons and folds count periods.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from forecasting.data.frequency import SEASON, WEEKDAYS, period_alias
from forecasting.errors import InputError


@dataclass(frozen=True)
class TradingCalendar:
    closed_weekdays: tuple[int, ...] = ()
    closed_dates: tuple[pd.Timestamp, ...] = field(default_factory=tuple)
    #: ISO country whose public holidays are closed days too (the `holidays` package), so future dates that
    #: history cannot reveal (next Christmas) are closed in forecasts.
    holiday_country: str | None = None
    frequency: str = "daily"
    unit: str = "trading day"

    @property
    def season_length(self) -> int:
        """Trading days in a week: the period of weekly seasonality on the trading-day axis."""
        return 7 - len(self.closed_weekdays)

    def is_open(self, dates: pd.DatetimeIndex) -> np.ndarray:
        dates = pd.DatetimeIndex(dates)
        open_ = ~np.isin(dates.dayofweek, self.closed_weekdays)
        if self.closed_dates:
            open_ &= ~dates.normalize().isin(pd.DatetimeIndex(self.closed_dates))
        if self.holiday_country and len(dates):
            import holidays

            years = range(dates.year.min(), dates.year.max() + 1)
            public = holidays.country_holidays(self.holiday_country, years=years)
            open_ &= ~dates.normalize().isin(pd.DatetimeIndex(list(public.keys())))
        return open_

    def trading_days(self, start, end) -> pd.DatetimeIndex:
        days = pd.date_range(pd.Timestamp(start).normalize(), pd.Timestamp(end).normalize(), freq="D")
        return days[self.is_open(days)]

    def next_trading_days(self, after, n: int) -> pd.DatetimeIndex:
        """The `n` trading days strictly after `after`."""
        start = pd.Timestamp(after).normalize() + pd.Timedelta(days=1)
        # A week holds at least one trading day, so 7n + the closed dates always suffice.
        days = self.trading_days(start, start + pd.Timedelta(days=7 * n + len(self.closed_dates) + 30))
        return days[:n]

    def as_dict(self) -> dict:
        return {
            "closed_weekdays": [WEEKDAYS[d] for d in self.closed_weekdays],
            "closed_dates": [d.date().isoformat() for d in self.closed_dates],
            "holiday_country": self.holiday_country,
            "trading_days_per_week": self.season_length,
            "frequency": self.frequency,
            "unit": self.unit,
            "season_length": self.season_length,
        }


@dataclass(frozen=True)
class PeriodCalendar:
    """Weeks or months, each dated on its last day (`code`: a pandas alias such as 'W-SUN' or 'ME').

    The same interface as `TradingCalendar`, so models, folds and plans work on either axis: a "trading day"
    here is a period. `season_length` is 52 or 12 where the history holds two seasons, else 1 (no season).
    """

    code: str
    frequency: str
    season_length: int
    holiday_country: str | None = None
    closed_weekdays: tuple[int, ...] = ()
    closed_dates: tuple[pd.Timestamp, ...] = ()

    @property
    def unit(self) -> str:
        return "week" if self.frequency == "weekly" else "month"

    def is_open(self, dates: pd.DatetimeIndex) -> np.ndarray:
        return np.ones(len(pd.DatetimeIndex(dates)), dtype=bool)

    def trading_days(self, start, end) -> pd.DatetimeIndex:
        """The periods that overlap [start, end]: the last one may end after `end`, so a window of days that
        ends inside a period is covered by the forecast."""
        start, end = pd.Timestamp(start).normalize(), pd.Timestamp(end).normalize()
        return pd.date_range(start, pd.Period(end, period_alias(self.code)).end_time.normalize(), freq=self.code)

    def next_trading_days(self, after, n: int) -> pd.DatetimeIndex:
        """The `n` periods ending strictly after `after`."""
        return pd.date_range(pd.Timestamp(after).normalize() + pd.Timedelta(days=1), periods=n, freq=self.code)

    def as_dict(self) -> dict:
        return {
            "frequency": self.frequency,
            "period": self.code,
            "unit": self.unit,
            "season_length": self.season_length,
            "closed_weekdays": [],
            "closed_dates": [],
        }


def period_calendar(kind: str, code: str, periods: int, holiday_country: str | None = None) -> PeriodCalendar:
    """Weekly or monthly calendar; the yearly season only where `periods` (the panel's length) holds two."""
    season = SEASON[kind] if periods >= 2 * SEASON[kind] else 1
    return PeriodCalendar(code=code, frequency=kind, season_length=season, holiday_country=holiday_country)


def _weekday_numbers(names: Sequence[str | int]) -> tuple[int, ...]:
    out = []
    for n in names:
        if isinstance(n, int) or str(n).isdigit():
            out.append(int(n))
        elif str(n).lower() in WEEKDAYS:
            out.append(WEEKDAYS.index(str(n).lower()))
        else:
            raise InputError(
                f"data.calendar.closed_weekdays has '{n}'; use weekday names, e.g. "
                "'data.calendar.closed_weekdays=[saturday,sunday]'."
            )
    return tuple(sorted(set(out)))


# A day without a sale counts as a closure only where an open day goes without one less often than this.
CLOSED_DATE_CHANCE = 0.01


def quiet_days_close(zero_day_chance: float) -> bool:
    """Whether a day without any sale reads as a closure: where an open day would rarely go without one."""
    return zero_day_chance < CLOSED_DATE_CHANCE


def zero_day_chance(daily: pd.DataFrame) -> float:
    """The chance that no SKU of `daily` (sku, date, demand) sells on a given open day, were the SKUs independent:
    the product of each SKU's share of days without a sale, over the days from its first to its last sale."""
    sold = daily.loc[daily["demand"] > 0, ["sku", "date"]]
    if sold.empty:
        return 1.0
    by_sku = sold.assign(date=pd.DatetimeIndex(sold["date"]).normalize()).groupby("sku", observed=True)["date"]
    span = (by_sku.max() - by_sku.min()).dt.days + 1
    share = (by_sku.nunique() / span).clip(upper=1.0).to_numpy(dtype=float)
    return float(np.exp(np.sum(np.log1p(-np.minimum(share, 1 - 1e-12)))))


def infer_calendar(
    daily_total: pd.Series,
    closed_weekdays: str | Sequence[str | int] = "auto",
    closed_dates: str | Sequence[str] = "auto",
    min_open_share: float = 0.2,
    holiday_country: str | None = None,
    zero_day_chance: float = 0.0,
) -> TradingCalendar:
    """Infer the calendar from total demand per day (a Series indexed by every date with any row).

    A weekday is closed when its share of dates with any sales is under `min_open_share` of the busiest
    weekday's; with
    `closed_dates='auto'`, an otherwise open date with no sales at all across the business is closed too, where
    such a day is a surprise: `zero_day_chance` (the chance that no SKU sells on an open day, from each SKU's
    share of selling days: zero_day_chance below) under CLOSED_DATE_CHANCE. A small catalogue of slow movers
    has days without a sale as a matter of course; closed, they would drop its zeros and inflate its demand per
    trading day (ten SKUs selling on 8% of days: 263 of 600 days had been closed).
    """
    if daily_total.empty:
        raise InputError("no sales left after cleaning; check data.path and the cleaning rules in data.cleaning.")
    total = daily_total.groupby(pd.DatetimeIndex(daily_total.index).normalize()).sum()
    days = pd.date_range(total.index.min(), total.index.max(), freq="D")
    active = total.reindex(days, fill_value=0) > 0
    if closed_weekdays == "auto":
        # Against the busiest weekday's share: a few slow movers sell on a fifth of the days whatever the weekday,
        # and an absolute bar closed whichever weekdays fell under it by chance.
        share = active.groupby(days.dayofweek).mean()
        weekdays = tuple(int(d) for d in share.index if share[d] < min_open_share * share.max())
    else:
        weekdays = _weekday_numbers(closed_weekdays or ())
    if len(weekdays) == 7:  # only a list can close every weekday: the busiest one is never under its own share
        raise InputError(
            "data.calendar.closed_weekdays closes every weekday; list only the days the business is shut, e.g. "
            "'data.calendar.closed_weekdays=[sunday]'."
        )
    if closed_dates == "auto":
        open_day = ~np.isin(days.dayofweek, weekdays)
        dates = tuple(days[open_day & ~active.to_numpy()]) if quiet_days_close(zero_day_chance) else ()
    else:
        dates = tuple(pd.to_datetime(list(closed_dates or ())).normalize())
    return TradingCalendar(closed_weekdays=weekdays, closed_dates=dates, holiday_country=holiday_country)
