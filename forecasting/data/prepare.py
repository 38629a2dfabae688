"""From a source file to the demand panel and SKU segments, with every input row accounted for."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from forecasting.data.calendar import (
    PeriodCalendar,
    TradingCalendar,
    infer_calendar,
    period_calendar,
    quiet_days_close,
    zero_day_chance,
)
from forecasting.data.cleaning import CleaningRules, clean_transactions
from forecasting.data.covariates import demand_table_prices, promotions_note
from forecasting.data.date_checks import (
    cut_off,
    drop_incomplete_periods,
    note_running_last_week,
    refuse_placeholder_dates,
)
from forecasting.data.frequency import (
    PERIOD_DAYS,
    WEEKDAYS,
    aggregate_daily,
    complete_periods,
    frequency_kind,
    period_alias,
    period_code,
    to_period_ends,
)
from forecasting.data.loading import column_label, mapped_columns, read_table
from forecasting.data.missing import resolve_missing, rows_ahead
from forecasting.data.panel import (
    aggregate_lines,
    build_panel,
    history_filter,
    top_skus,
    validate_demand_table,
)
from forecasting.data.periods_ahead import ahead_on_periods, ahead_summed, keep_ahead
from forecasting.data.plausibility import screen_implausible
from forecasting.data.quality import DataQuality, row_list
from forecasting.data.row_gaps import resolve_gaps, row_gaps
from forecasting.data.segments import segment_skus
from forecasting.data.table_frequency import resolve_frequency, week_end_day
from forecasting.data.table_sources import read_sources
from forecasting.data.total_rows import drop_dateless_totals, drop_total_rows
from forecasting.errors import InputError

log = logging.getLogger(__name__)

# Minimum history per SKU, in periods of the panel, where data.panel leaves it unset: about a quarter of a
# year of days, half a year of weeks, a year of months.
HISTORY_DEFAULTS = {
    "daily": {"min_history_days": 90, "min_nonzero_days": 10},
    "weekly": {"min_history_days": 26, "min_nonzero_days": 4},
    "monthly": {"min_history_days": 12, "min_nonzero_days": 3},
}
HISTORY_KEYS = ("min_history_days", "min_nonzero_days")


@dataclass
class PreparedData:
    panel: pd.DataFrame
    segments: pd.DataFrame
    calendar: TradingCalendar | PeriodCalendar
    quality: DataQuality
    #: the `segments` options the run was given (ABC shares, demand-class cut-offs)
    segment_options: Mapping = field(default_factory=dict)
    #: promo and price of the periods after the history (sku, date, promo / price), read by the final forecast
    #: under data.future_covariates=known (periods_ahead); None without
    ahead: pd.DataFrame | None = None
    #: periods of history the panel requires of a SKU (data.panel.min_history_days, or the frequency's default)
    min_history: int = 0
    _segments_by_date: dict = field(default_factory=dict, repr=False, compare=False)

    def segments_as_of(self, date: pd.Timestamp) -> pd.DataFrame:
        """The panel's SKUs segmented on their history up to `date`: what a run made that day knew. ABC ranks
        the panel's SKUs among themselves (the assortment beyond the panel is not kept); SKUs with no history
        by then are absent. Kept per date: the backtest and the plan ask for the same dates again."""
        date = pd.Timestamp(date)
        if date not in self._segments_by_date:
            seg = segment_skus(self.panel[self.panel["date"] <= date], **dict(self.segment_options))
            static = [c for c in self.segments.columns if c not in seg.columns]
            seg = seg.merge(self.segments[["sku", *static]], on="sku", how="left") if static else seg
            self._segments_by_date[date] = seg
        return self._segments_by_date[date]


def prepare_data(
    path: str | Path,
    kind: str = "transactions",
    columns: Mapping[str, str | None] | None = None,
    read_options: Mapping | None = None,
    date_format: str | None = None,
    end: str | None = None,
    cleaning: Mapping | None = None,
    calendar: Mapping | None = None,
    panel: Mapping | None = None,
    segments: Mapping | None = None,
    as_of: str | None = None,
    frequency: str | None = None,
    aggregate_to: str | None = None,
    start: str | None = None,
    missing: str | None = None,
    incomplete_period: str | None = None,
    week_ending: str | None = None,
    duplicates: str | None = None,
    negative: str | None = None,
    future_covariates: str | None = None,
    empty_dates: str | None = None,
    gaps: str | None = None,
    first_period=None,
) -> PreparedData:
    """Load, clean (order lines) or validate (demand tables), build the panel, filter and segment SKUs.

    Every row read is either kept or dropped under one reason in `quality`; `panel` options are
    `min_history_days`, `min_nonzero_days`, `max_skus` (None keeps all), `select_by`, and `outlier_multiple` /
    `outlier_action` for implausible days (see `plausibility`). Data dated after `as_of` (default: today) is
    an error: a plan computed from the future is wrong.

    `frequency` (D/W/M, None = inferred from a demand table's dates) is the table's period; `aggregate_to`
    (W or M) sums a daily panel to weeks or months. History limits count periods of the panel's frequency
    (None takes the frequency's default). A demand table's frequency is checked SKU by SKU and its weeks and
    months that end after the cut-off are dropped (`table_frequency`, `date_checks`; `week_ending`,
    `incomplete_period`); `missing` says what an empty quantity inside a SKU's history is (`missing`);
    `duplicates` whether rows that share a SKU and period stop the run or are summed (panel.sum_same_period);
    `negative` whether a period's negative demand (net returns) stops it or counts as 0; rows before `start` are
    ignored. Rows after the last sale without a quantity are the periods ahead (`periods_ahead`): the final
    forecast's promo and price with `future_covariates` "known" (`PreparedData.ahead`), else counted aside. Rows
    without a date stop it, or with `empty_dates` "drop" are left out and counted.
    """
    columns = dict(columns or {"sku": "sku", "date": "date", "quantity": "quantity"})
    panel_opts = {
        "max_skus": None,
        "select_by": "revenue",
        "outlier_multiple": 500,
        "outlier_action": "error",
    }
    # History limits left unset (None) take the frequency's default once the frequency is known.
    panel_opts.update({k: v for k, v in (panel or {}).items() if v is not None or k not in HISTORY_KEYS})
    cal_opts = dict(calendar or {})

    end_day = _config_date(end, "data.end")
    start_day = _config_date(start, "data.start")
    as_of_day = _config_date(as_of, "data.as_of")
    read_notes: dict = {}
    ahead = None
    frame = read_sources(
        path,
        lambda file, notes: read_table(
            file, columns, kind, read_options, date_format, notes, empty_dates, first_period, frequency
        ),
        read_notes,
        mapped_columns(columns),
    )
    columns["date"] = column_label(columns, "date")  # messages below name the date's columns (a year and week)
    dq = DataQuality(source=str(path), rows_in=len(frame))
    frame = drop_dateless_totals(frame, dq)
    frame = dq.drop(frame, frame["date"].isna(), "empty_date")  # only with data.empty_dates=drop: else refused
    if read_notes:
        dq.notes["read"] = read_notes
    if kind == "transactions":
        frame = clean_transactions(frame, CleaningRules.from_dict(dict(cleaning or {})), dq)
    else:
        frame = drop_total_rows(frame, dq)
        frame, ahead = rows_ahead(frame)
        ahead = keep_ahead(ahead, future_covariates, dq, path)
        frame = resolve_missing(frame, missing, dq, path, columns["quantity"])
        frame = demand_table_prices(frame, path, columns.get("price"), dq)
    if start_day is not None:
        frame = dq.drop(frame, frame["date"] < start_day, "before_data_start")
    if end_day is not None:
        frame = dq.drop(frame, frame["date"] >= end_day + pd.Timedelta(days=1), "after_data_end")
    if frame.empty:
        raise InputError(f"{path}: no rows left after cleaning; check data.columns and data.cleaning.")
    refuse_placeholder_dates(frame, path, columns["date"])
    source_kind = "daily"
    if kind != "transactions":
        source_kind, frame = resolve_frequency(frame, path, columns["date"], frequency, week_ending, dq)
        if ahead is not None:
            ahead = ahead_on_periods(ahead, source_kind, week_end_day(week_ending))
        limit, limit_source = cut_off(end_day, as_of_day)
        frame = drop_incomplete_periods(
            frame, source_kind, limit, limit_source, incomplete_period, dq, path, columns["date"]
        )
        running = note_running_last_week(frame, source_kind, limit, limit_source, dq)
        if running:
            log.warning("%s: %s", path, running)
    _refuse_future(frame, path, columns["date"], as_of_day)
    frame = screen_implausible(
        frame, panel_opts["outlier_multiple"], panel_opts["outlier_action"], dq, path, columns["quantity"]
    )
    target = frequency_kind(aggregate_to, "data.aggregate_to") or source_kind
    week_end = week_end_day(week_ending)
    if week_end is not None and target != "weekly":
        # Said once here: ignored, it would leave a user who meant weeks ending Saturday with days or Sunday weeks.
        fix = (
            f", or data.aggregate_to=W to sum its days to weeks ending {WEEKDAYS[week_end]}"
            if source_kind == "daily"
            else ""
        )
        raise InputError(
            f"data.week_ending={week_ending} names the day weeks end on, but {path} is planned in {target} periods; "
            f"set data.week_ending=null{fix}."
        )
    if target != source_kind:
        if source_kind != "daily":
            raise InputError(
                f"data.aggregate_to={aggregate_to} asks for {target} periods, but {path} is already {source_kind}; "
                "only a daily table can be aggregated: drop data.aggregate_to."
            )
        # The period the data ends inside is incomplete: its low total would read as a drop in demand.
        incomplete = ~complete_periods(frame["date"], target, week_end)
        if incomplete.any() and str(incomplete_period).strip().lower() == "error":
            raise InputError(
                f"{path}: the data ends on {frame['date'].max():%Y-%m-%d}, inside a {target[:-2]} (data.aggregate_to); "
                "set data.incomplete_period=drop to leave that period out (counted), or set data.end to its last day."
            )
        frame = dq.drop(frame, incomplete, "incomplete_last_period")
        if ahead is not None:
            ahead = ahead_summed(ahead, target, week_end)
    # Rows behind each SKU, so that SKU-level filters below can be counted in input rows.
    rows_per_sku = frame.groupby("sku", observed=True).size()
    static = _static_attributes(frame)

    if kind == "transactions":
        daily = aggregate_lines(frame)
    else:
        daily = validate_demand_table(
            frame, path, columns["date"], source_kind, columns["sku"], duplicates, dq, negative
        )
    if target != source_kind:
        daily = aggregate_daily(daily, target, week_end)
        dq.notes["aggregated"] = f"daily demand summed to {target} periods, each dated on its last day"
    if target == "daily":
        chance = zero_day_chance(daily)
        if not quiet_days_close(chance) and cal_opts.get("closed_dates", "auto") == "auto":
            dq.notes["days_without_sales"] = (
                f"kept as trading days, not closures: with these SKUs' rates of sale an open day goes without any "
                f"sale {chance:.1%} of the time (set data.calendar.closed_dates to list real closures)"
            )
        cal = infer_calendar(
            daily.groupby("date")["demand"].sum(),
            closed_weekdays=cal_opts.get("closed_weekdays", "auto"),
            closed_dates=cal_opts.get("closed_dates", "auto"),
            holiday_country=cal_opts.get("holiday_country"),
            min_open_share=float(cal_opts.get("min_open_share", 0.2)),
            zero_day_chance=chance,
        )
    else:
        daily = daily.assign(date=to_period_ends(daily["date"], target))
        code = period_code(target, pd.DatetimeIndex(daily["date"]))
        periods = len(pd.period_range(daily["date"].min(), daily["date"].max(), freq=period_alias(code)))
        cal = period_calendar(target, code, periods, cal_opts.get("holiday_country"))
    for key, value in HISTORY_DEFAULTS[target].items():
        panel_opts.setdefault(key, value)
    # Rows of 0 the file writes, per SKU (closed days too, which the panel folds into the next open day).
    written_zero = daily.loc[daily["demand"].eq(0), "sku"].astype(str).value_counts()
    full = build_panel(daily, cal, dq)
    gap_list = row_gaps(full, written_zero, PERIOD_DAYS[target])
    full = resolve_gaps(full, gap_list, gaps, cal.unit, PERIOD_DAYS[target], dq)
    # The source rows are as large as the panel again, and nothing below reads them.
    del frame, daily

    # A SKU that never sold is not short of history: say so, so the user does not lengthen the file for it.
    sold = full.groupby("sku", observed=True)["demand"].sum() > 0
    sold = sold.index[sold]
    _drop_skus(dq, rows_per_sku, full["sku"].unique(), sold, "all_zero")
    # Both filters on the whole panel, then one copy (each copy is a panel's worth of memory).
    keep = history_filter(full, int(panel_opts["min_history_days"]), int(panel_opts["min_nonzero_days"]))
    keep = keep[keep.isin(sold)]
    _drop_skus(dq, rows_per_sku, sold, keep, "short_history")
    short = full[full["sku"].isin(keep)]
    skus_before_filters = int(full["sku"].nunique())
    if short.empty:
        raise InputError(_no_history_message(full, path, panel_opts, cal.unit))
    del full
    # Segments are computed over every SKU with history, so ABC ranks a SKU against the whole assortment.
    seg = segment_skus(short, **dict(segments or {}))
    chosen = top_skus(short, panel_opts["max_skus"], panel_opts["select_by"])
    _drop_skus(dq, rows_per_sku, keep, chosen, "outside_max_skus")
    result = short[short["sku"].isin(chosen)].reset_index(drop=True)
    seg = seg[seg["sku"].isin(chosen)].reset_index(drop=True)
    if static is not None:
        seg = seg.merge(static, on="sku", how="left")
    dq.notes["calendar"] = cal.as_dict()
    dq.notes["panel"] = {
        "skus": int(result["sku"].nunique()),
        "rows": len(result),
        "first_date": str(result["date"].min().date()),
        "last_date": str(result["date"].max().date()),
        "zero_share": round(float((result["demand"] == 0).mean()), 4),
        "filled_share": round(float(result["filled"].mean()), 4),
        "skus_before_filters": skus_before_filters,
    }
    log.info(
        "panel: %d SKUs x %d %ss (%s to %s), %.0f%% zero periods",
        dq.notes["panel"]["skus"],
        result["date"].nunique(),
        cal.unit,
        dq.notes["panel"]["first_date"],
        dq.notes["panel"]["last_date"],
        100 * dq.notes["panel"]["zero_share"],
    )
    if ahead is not None:
        ahead = ahead[ahead["sku"].isin(chosen)].sort_values(["sku", "date"], kind="stable").reset_index(drop=True)
    promotions = promotions_note(result, future_covariates, ahead)
    if promotions:
        dq.notes["promotions"] = promotions
        log.info("%s", promotions)
    return PreparedData(
        panel=result,
        segments=seg,
        calendar=cal,
        quality=dq,
        segment_options=dict(segments or {}),
        ahead=ahead,
        min_history=int(panel_opts["min_history_days"]),
    )


def _no_history_message(full: pd.DataFrame, path, panel_opts: Mapping, unit: str) -> str:
    """Which limits to set, from the SKU with the most sales: settings that keep at least that SKU."""
    by_sku = (full["demand"] > 0).groupby(full["sku"], observed=True)
    stats = pd.DataFrame({"periods": by_sku.size(), "sales": by_sku.sum()}).sort_values(
        ["sales", "periods"], ascending=False, kind="stable"
    )
    limits = (
        f"data.panel.min_history_days={panel_opts['min_history_days']}, "
        f"min_nonzero_days={panel_opts['min_nonzero_days']}"
    )
    if stats.empty or stats["sales"].iloc[0] == 0:
        return f"{path}: no SKU has any sales ({limits}); check data.columns.quantity."
    sku, best = stats.index[0], stats.iloc[0]
    return (
        f"{path}: no SKU has enough history ({limits}): the SKU with the most, {sku}, has {int(best['periods'])} "
        f"{unit}s from its first sale with {int(best['sales'])} of them selling; lower the limits, e.g. "
        f"data.panel.min_history_days={int(best['periods'])} data.panel.min_nonzero_days={int(best['sales'])}."
    )


def _config_date(value, key: str) -> pd.Timestamp | None:
    if value is None or str(value).strip() == "":
        return None
    try:
        return pd.Timestamp(str(value)).normalize()  # str: an int 20240630 would be read as nanoseconds
    except (ValueError, TypeError):
        raise InputError(
            f"{key} is '{value}', which is not a date; write it as YYYY-MM-DD, e.g. {key}=2024-06-30."
        ) from None


def _refuse_future(frame: pd.DataFrame, path, column: str, as_of: pd.Timestamp | None) -> None:
    """Rows dated after the as-of day (default today) are typos or a wrong year; a plan from them is wrong."""
    limit = as_of if as_of is not None else pd.Timestamp.today().normalize()
    late = frame["date"] >= limit + pd.Timedelta(days=1)
    if late.any():
        latest = frame["date"].max()
        raise InputError(
            f"{path}: column '{column}' has {int(late.sum())} row(s) dated after "
            f"{'data.as_of' if as_of is not None else 'today'} ({limit:%Y-%m-%d}), up to {latest:%Y-%m-%d} (row(s) "
            f"{row_list(late)}); fix those dates, or set data.end to "
            "the last real day to ignore later rows, or data.as_of to the day the data runs to."
        )


def _drop_skus(dq: DataQuality, rows_per_sku: pd.Series, before, after, reason: str) -> None:
    gone = pd.Index(before).difference(pd.Index(after))
    dq.dropped[reason] = dq.dropped.get(reason, 0) + int(rows_per_sku.reindex(gone).fillna(0).sum())


def _static_attributes(frame: pd.DataFrame) -> pd.DataFrame | None:
    """Category and description per SKU (the most frequent value), for segments and reports."""
    cols = [c for c in ("category", "description") if c in frame]
    if not cols:
        return None
    out = pd.DataFrame(index=pd.Index(frame["sku"].unique(), name="sku"))
    for col in cols:
        counts = frame.groupby(["sku", col], observed=True).size()
        if len(counts):
            top = counts.sort_values(ascending=False, kind="stable").reset_index().drop_duplicates("sku")
            out[col] = top.set_index("sku")[col]
    return out.reset_index().astype({"sku": str})
