"""Planning inputs: policy parameters (defaults from config, per-SKU overrides from a CSV) and current stock.

Every check of a plan input lives here, used both by the early check (before the backtest: settings, then the
files, then the files against the panel) and by the plan itself. A bad input stops the run with one sentence
naming the setting or the file, the lines and values, and the fix.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from forecasting.data.codes import joined_codes, shown_codes, stripped_codes
from forecasting.data.numbers import parse_numbers
from forecasting.data.sniffing import csv_options
from forecasting.errors import InputError
from forecasting.planning.policy import MEASURES, POLICIES

NUMERIC = (
    "lead_time_days",
    "lead_time_std_days",
    "review_period_days",
    "service_target",
    "moq",
    "pack_size",
    "unit_cost",
    "holding_cost_rate",
    "order_cost",
    "stockout_cost",
)
TEXT = ("service_measure", "policy")
# Empty means "use the rule's default" (spread 0, MOQ 0, pack 1) or "derive it from the selling price" (costs).
OPTIONAL = ("lead_time_std_days", "moq", "pack_size", "unit_cost", "stockout_cost")
MISSING_STOCK = ("error", "assumed_cover")
OVERDUE_ORDERS = ("count", "ignore")
# The plan reports 60-day demand, and closed days at the end of the forecast must not cut that window short;
# two years of daily paths per SKU is already large.
HORIZON_DAYS = (70, 730)
SHOWN = 5  # offending rows named in a message
log = logging.getLogger(__name__)

# A number with thousands marks and nothing else: "2.500", "1,234,567" (whole or decimal? the column decides).
GROUPED = r"[-+]?\d{1,3}(?:[.,]\d{3})+"
# The column a plan file names its SKUs in (the data's SKU columns too, where it has several: _read).
SKU_KEY = ("sku",)
CHANGE = "change it in conf/plan/ or on the command line (plan.{key}=...)."


# ---- settings -------------------------------------------------------------------------------------------------


def check_settings(p: Mapping) -> None:
    """Every plan setting of the config that needs no file and no data, in one pass before any work."""
    horizon = _setting_number(p, "horizon_days")
    if not HORIZON_DAYS[0] <= horizon <= HORIZON_DAYS[1]:
        raise InputError(
            f"plan.horizon_days={p['horizon_days']} is out of range: allowed {HORIZON_DAYS[0]} to "
            f"{HORIZON_DAYS[1]} calendar days (60-day demand, plus room for closed days at the end); "
            + CHANGE.format(key="horizon_days")
        )
    check_policy_defaults(p)
    cover = _setting_number(p, "assumed_cover_days")
    if not 0 <= cover <= horizon:
        raise InputError(
            f"plan.assumed_cover_days={p['assumed_cover_days']} is out of range: allowed 0 to {horizon:g} days "
            f"(plan.horizon_days); {CHANGE.format(key='assumed_cover_days')}"
        )
    _choice(p, "missing_stock", MISSING_STOCK)
    _choice(p, "overdue_orders", OVERDUE_ORDERS)
    replay = p.get("replay") or {}
    if replay.get("enabled", True):
        targets = replay.get("targets") or []
        numbers = pd.to_numeric(pd.Series(list(targets), dtype=object), errors="coerce")
        if not len(targets) or numbers.isna().any() or not ((numbers > 0) & (numbers < 1)).all():
            raise InputError(
                f"plan.replay.targets={list(targets)} is not allowed: give a list of service targets each between "
                "0 and 1 (exclusive), e.g. [0.8,0.9,0.95]."
            )
        weeks = _number(replay.get("weeks"))
        if not (weeks >= 1 and float(weeks).is_integer()):
            raise InputError(
                f"plan.replay.weeks={replay.get('weeks')} is not allowed: give a whole number of weeks of 1 or "
                "more, or set plan.replay.enabled=false."
            )


def check_policy_defaults(p: Mapping) -> None:
    """The config's policy parameters (plan.lead_time_days, ...), named as settings in the message."""
    horizon = _setting_number(p, "horizon_days")
    row = pd.DataFrame({col: [p.get(col)] for col in NUMERIC + TEXT}, index=pd.Index(["plan config"], name="sku"))
    for col in NUMERIC:
        row[col] = _number(p.get(col))
        if p.get(col) is not None and np.isnan(row[col].iloc[0]):
            raise InputError(f"plan.{col}={p.get(col)!r} is not a number; give a number for plan.{col}.")
    for col, ok, allowed in _policy_rules(row, horizon, bool(p.get("require_moq_multiple_of_pack"))):
        if not ok.iloc[0]:
            problem = "is missing" if p.get(col) is None else "is out of range"
            raise InputError(
                f"plan.{col}={p.get(col)} {problem}: allowed {_allowed(allowed, ok)}; {CHANGE.format(key=col)}"
            )


def _policy_rules(t: pd.DataFrame, horizon: float, require_multiple: bool):
    """(column, ok mask, what is allowed) per rule, in the order a user should fix them."""
    std = t["lead_time_std_days"].fillna(0.0)
    review = t["review_period_days"]
    lead_max = (horizon - review.fillna(1.0) - 3 * std).clip(lower=0)
    moq, pack = t["moq"].fillna(0.0), t["pack_size"].fillna(1.0)
    optional = {col: t[col].isna() for col in OPTIONAL}
    rules = [
        ("lead_time_std_days", optional["lead_time_std_days"] | (std >= 0), "0 days or more (0 = a fixed lead time)"),
        ("review_period_days", review.between(1, horizon), f"1 to {horizon:g} days (plan.horizon_days)"),
        (
            "lead_time_days",
            t["lead_time_days"].between(0, lead_max),
            lead_max.map(
                lambda m: (
                    f"0 to {m:g} days, so that lead time + review period + 3 x lead_time_std_days fits in "
                    f"the forecast (plan.horizon_days={horizon:g})"
                )
            ),
        ),
        ("service_target", t["service_target"].between(0.5, 0.9999), "0.5 to 0.9999 (a share, e.g. 0.95)"),
        ("service_measure", t["service_measure"].isin(MEASURES), " or ".join(MEASURES)),
        ("policy", t["policy"].isin(POLICIES), ", ".join(POLICIES)),
        ("moq", moq >= 0, "0 units or more"),
        ("pack_size", pack > 0, "more than 0 units (1 = single units)"),
        ("unit_cost", optional["unit_cost"] | (t["unit_cost"] > 0), "more than 0, or empty to use the price"),
        ("holding_cost_rate", t["holding_cost_rate"] >= 0, "0 or more (a share of unit cost per year, e.g. 0.25)"),
        ("order_cost", t["order_cost"] >= 0, "0 or more per order"),
        ("stockout_cost", optional["stockout_cost"] | (t["stockout_cost"] >= 0), "0 or more, or empty"),
    ]
    if require_multiple:
        rest = np.mod(moq, pack)
        ok = np.isclose(rest, 0) | np.isclose(rest, pack)
        rules.append(("moq", pd.Series(ok, index=t.index), "a whole number of packs (pack_size)"))
    # inf compares as a number; no parameter may be infinite.
    return [(col, ok & ~np.isinf(t[col]) if col in NUMERIC else ok, allowed) for col, ok, allowed in rules]


def _number(value) -> float:
    """A setting as a float; NaN for anything that is not a number (text, null, a list)."""
    number = pd.to_numeric(pd.Series([value], dtype=object), errors="coerce").iloc[0]
    return float(number) if pd.notna(number) else float("nan")


def _setting_number(p: Mapping, key: str) -> float:
    number = _number(p.get(key))
    if np.isnan(number):
        raise InputError(f"plan.{key}={p.get(key)!r} is not a number; give a number for plan.{key}.")
    return number


def _choice(p: Mapping, key: str, allowed: tuple[str, ...]) -> None:
    if p.get(key, allowed[0]) not in allowed:
        raise InputError(f"plan.{key}={p.get(key)!r} is unknown; use one of: {', '.join(allowed)}.")


def _allowed(allowed: str | pd.Series, ok: pd.Series) -> str:
    """What is allowed, for the first offending row where it differs per row (the lead time's upper bound)."""
    return allowed if isinstance(allowed, str) else str(allowed[~ok].iloc[0])


# ---- files ----------------------------------------------------------------------------------------------------


def _read(path: str | Path, what: str, key: Sequence[str] = SKU_KEY) -> pd.DataFrame:
    """A plan file with its SKU codes in `sku`: that column, or where the data's SKU is several columns (`key`,
    data.columns.sku=[item,store]) those columns, joined as the data loader joins them."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such {what} file; fix plan.{what}_csv or set it to null.")
    # Read as the data loader reads its table (the same ERP writes both): encoding, separator and compression
    # detected, every cell as text, numbers parsed by _numbers with the loader's rules for thousands and decimals.
    options, _ = csv_options(path, {})
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""], **options)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise InputError(
            f"{path}: not a readable comma-separated {what} file ({str(exc).splitlines()[0]}); save it as CSV."
        ) from exc
    frame.columns = [str(c).strip() for c in frame.columns]
    if "sku" not in frame and len(key) > 1 and all(c in frame for c in key):
        frame.insert(0, "sku", joined_codes([frame.pop(c) for c in key]))
    if "sku" not in frame:
        parts = f", or give the data's SKU columns {', '.join(key)}" if len(key) > 1 else ""
        raise InputError(f"{path}: no 'sku' column; name the SKU column 'sku'{parts}.")
    # Codes padded by an ERP export (" A100 ") are the data's "A100": stripped as the data loader strips them.
    frame["sku"] = stripped_codes(frame["sku"])
    blank = frame["sku"].isna() | (frame["sku"] == "")
    if blank.any():
        raise InputError(f"{path}: line(s) {_lines(blank)} have no sku; fill in or remove them.")
    frame["sku"] = frame["sku"].astype(str)
    return frame


def _lines(mask: pd.Series, frame: pd.DataFrame | None = None, column: str | None = None) -> str:
    """'3 (SKU b: 'abc'), 5 (...)': file line numbers (the header is line 1) of the first offending rows."""
    rows = np.flatnonzero(np.asarray(mask))
    shown = []
    for i in rows[:SHOWN]:
        detail = ""
        if frame is not None:  # codes quoted where they hold a space or an invisible character
            detail = f" (SKU {shown_codes([frame['sku'].iloc[i]])}: {_show(frame[column].iloc[i])})"
        shown.append(f"{i + 2}{detail}")
    more = f" and {len(rows) - SHOWN} more" if len(rows) > SHOWN else ""
    return ", ".join(shown) + more


def _show(value) -> str:
    """A cell as a message shows it: numbers plain (read as text, "-4" is the number -4), other text quoted."""
    if isinstance(value, str) and re.fullmatch(r"\s*[-+]?(\d+(\.\d*)?|\.\d+|inf|nan)\s*", value, re.IGNORECASE):
        value = float(value)
    if isinstance(value, int | float | np.number) and not isinstance(value, bool):
        return "empty" if pd.isna(value) else f"{float(value):g}"
    return "empty" if pd.isna(value) else repr(str(value))


def _numbers(frame: pd.DataFrame, column: str, path, fix: str) -> pd.Series:
    """The column as floats, by the data loader's rules for thousands marks and decimal commas (decided by the
    whole column: "1.234" beside "3,5" is 1234); text that is not a number is an error naming the lines, never a
    silent NaN, and a column that reads both ways ("2.500" alone) is refused."""
    cells = frame[column]
    try:
        values = (
            parse_numbers(cells.astype("string"), Path(path), column)
            if cells.notna().any()
            else pd.to_numeric(cells, errors="coerce")
        )
    except InputError:
        known = cells.dropna().astype(str).str.strip()
        if len(known) and known.str.fullmatch(GROUPED).all():
            raise InputError(
                f"{path}: {column} writes every number like '{known.iloc[0]}', which reads as a whole number with a "
                "thousands mark or as a decimal; write the numbers plainly (e.g. 2500 or 2.5)."
            ) from None
        values = pd.to_numeric(cells, errors="coerce")  # the lines that are not numbers are named below
    text = cells.notna() & values.isna()
    if text.any():
        raise InputError(f"{path}: {column} is not a number on line(s) {_lines(text, frame, column)}; {fix}.")
    return values.astype(float)


def _unique(frame: pd.DataFrame, path) -> None:
    dup = frame["sku"].duplicated(keep=False)
    if dup.any():
        raise InputError(
            f"{path}: SKU(s) {shown_codes(frame.loc[dup, 'sku'].unique(), SHOWN)} appear on more than one row "
            f"(lines {_lines(dup)}); keep one row per SKU."
        )


def _known(frame: pd.DataFrame, known: pd.Index, path) -> None:
    unknown = pd.Index(frame["sku"].unique()).difference(known)
    if len(unknown):
        raise InputError(
            f"{path}: SKU(s) {shown_codes(unknown, SHOWN)} are not in the planned panel of {len(known)} SKUs (e.g. "
            f"{shown_codes(known[:3], 3)}); remove those rows, or if they are SKUs of the data left out by its "
            "filters, widen the panel (data.panel.max_skus=null, a lower data.panel.min_history_days)."
        )


def read_overrides(path: str | Path, defaults: Mapping, key: Sequence[str] = SKU_KEY) -> pd.DataFrame:
    """The override file as one row per listed SKU: its non-empty cells over the config defaults, checked by the
    same rules as the config (the defaults must have passed `check_policy_defaults`)."""
    over = _read(path, "overrides", key)
    _unique(over, path)
    extra = [c for c in over.columns if c not in NUMERIC + TEXT + ("sku",)]
    if extra:
        raise InputError(f"{path}: unknown column(s) {', '.join(extra)}; use {', '.join(NUMERIC + TEXT)}.")
    for col in over.columns.intersection(NUMERIC):
        over[col] = _numbers(over, col, path, f"write numbers only, or leave the cell empty to use plan.{col}")
    merged = pd.DataFrame({col: [defaults.get(col)] * len(over) for col in NUMERIC + TEXT}, index=over.index)
    merged[list(NUMERIC)] = merged[list(NUMERIC)].apply(pd.to_numeric).astype(float)
    for col in over.columns.drop("sku"):
        given = over[col].notna()
        merged.loc[given, col] = over.loc[given, col]
    merged["param_source"] = np.where(over.drop(columns="sku").notna().any(axis=1), "overrides", "config")
    horizon = float(defaults["horizon_days"])
    for col, ok, allowed in _policy_rules(merged, horizon, bool(defaults.get("require_moq_multiple_of_pack"))):
        if not ok.all():
            shown = merged.assign(sku=over["sku"])
            raise InputError(
                f"{path}: {col} is out of range on line(s) {_lines(~ok, shown, col)}: allowed {_allowed(allowed, ok)}; "
                f"fix those cells, or leave them empty to use plan.{col}."
            )
    return merged.set_index(over["sku"].rename("sku"))


def read_stock(path: str | Path, key: Sequence[str] = SKU_KEY) -> pd.Series:
    """On hand per SKU from a stock file (sku, on_hand)."""
    stock = _read(path, "stock", key)
    _unique(stock, path)
    if "on_hand" not in stock:
        raise InputError(f"{path}: no 'on_hand' column; give columns sku, on_hand (units on hand).")
    on_hand = _numbers(stock, "on_hand", path, "give units on hand as numbers")
    bad = ~np.isfinite(on_hand) | (on_hand < 0)
    if bad.any():
        raise InputError(
            f"{path}: on_hand is empty, negative or infinite on line(s) {_lines(bad, stock, 'on_hand')}; give units "
            "on hand of 0 or more for every SKU listed."
        )
    return pd.Series(on_hand.to_numpy(), index=pd.Index(stock["sku"], name="sku"), name="on_hand")


def read_open_orders(path: str | Path, key: Sequence[str] = SKU_KEY) -> pd.DataFrame:
    """Open orders (sku, quantity, arrival_date), several per SKU allowed."""
    orders = _read(path, "open_orders", key)
    missing = [c for c in ("quantity", "arrival_date") if c not in orders]
    if missing:
        raise InputError(f"{path}: column(s) {', '.join(missing)} missing; give sku, quantity, arrival_date.")
    quantity = _numbers(orders, "quantity", path, "give order quantities as numbers")
    bad = ~np.isfinite(quantity) | (quantity <= 0)
    if bad.any():
        raise InputError(
            f"{path}: quantity is empty, not positive or infinite on line(s) {_lines(bad, orders, 'quantity')}; "
            "give units on order above 0, or remove the row."
        )
    arrival = pd.to_datetime(orders["arrival_date"], errors="coerce", format="mixed")
    if isinstance(arrival.dtype, pd.DatetimeTZDtype):
        raise InputError(f"{path}: arrival_date carries a time zone; give plain dates such as 2024-02-01.")
    bad = arrival.isna()
    if bad.any():
        raise InputError(
            f"{path}: arrival_date is empty or not a date on line(s) {_lines(bad, orders, 'arrival_date')}; give "
            "dates such as 2024-02-01."
        )
    return pd.DataFrame({"sku": orders["sku"], "quantity": quantity, "arrival_date": arrival.dt.normalize()})


def check_files(p: Mapping, key: Sequence[str] = SKU_KEY) -> None:
    """The plan's files on their own (columns, numbers, ranges, dates), before the data is loaded."""
    if p.get("overrides_csv"):
        read_overrides(p["overrides_csv"], p, key)
    if p.get("stock_csv"):
        read_stock(p["stock_csv"], key)
    if p.get("open_orders_csv"):
        read_open_orders(p["open_orders_csv"], key)


# ---- inputs of the plan ---------------------------------------------------------------------------------------


def policy_table(
    skus: pd.Index,
    defaults: Mapping,
    unit_price: pd.Series,
    overrides_csv: str | Path | None = None,
    require_moq_multiple_of_pack: bool = False,
    key: Sequence[str] = SKU_KEY,
) -> pd.DataFrame:
    """One row of policy parameters per SKU: config defaults, then the override file's non-empty cells.

    Without a unit cost anywhere, it is `cost_share_of_price` times the SKU's recent selling price.
    """
    defaults = {**defaults, "require_moq_multiple_of_pack": require_moq_multiple_of_pack}
    check_policy_defaults(defaults)
    table = pd.DataFrame(index=pd.Index(skus, name="sku"))
    for col in NUMERIC + TEXT:
        table[col] = defaults.get(col)
    table[list(NUMERIC)] = table[list(NUMERIC)].apply(pd.to_numeric).astype(float)
    table["param_source"] = "config"
    if overrides_csv:
        over = read_overrides(overrides_csv, defaults, key)
        _known(over.reset_index(), table.index, overrides_csv)
        table.loc[over.index, over.columns] = over
    if table["unit_cost"].isna().all() and unit_price.dropna().empty:
        # A table of units alone (spare parts, B2B exports): money columns count units, and the plan says so.
        table[["unit_cost", "stockout_cost"]] = table[["unit_cost", "stockout_cost"]].fillna(1.0)
        table["param_source"] = "config; no prices in the data: costs and values in units"
    if table["unit_cost"].isna().any():
        guess = unit_price.reindex(table.index) * float(defaults.get("cost_share_of_price", 0.6))
        table["unit_cost"] = table["unit_cost"].fillna(guess)
    if table["stockout_cost"].isna().any():
        # Lost margin per unit: selling price minus cost.
        margin = (unit_price.reindex(table.index) - table["unit_cost"]).clip(lower=0)
        table["stockout_cost"] = table["stockout_cost"].fillna(margin)
    no_cost = table["unit_cost"].isna() | (table["unit_cost"] <= 0)
    if no_cost.any():
        raise InputError(
            f"{overrides_csv or 'plan config'}: unit cost is missing or not positive for SKU(s) "
            f"{', '.join(map(str, table.index[no_cost][:SHOWN]))}; set plan.unit_cost, or unit_cost per SKU in "
            "plan.overrides_csv (the data has no prices to guess from)."
        )
    return table


def stock_position(
    skus: pd.Index,
    mean_daily_demand: pd.Series,
    stock_csv: str | Path | None = None,
    open_orders_csv: str | Path | None = None,
    assumed_cover_days: float = 14.0,
    *,
    today: pd.Timestamp,
    missing_stock: str = "error",
    overdue_orders: str = "count",
    horizon_days: float | None = None,
    key: Sequence[str] = SKU_KEY,
) -> tuple[pd.Series, pd.DataFrame, pd.Series]:
    """On hand per SKU, open orders and, per SKU, where both figures came from (`stock_source`). `key`: the
    columns a file may give the SKU in instead of `sku` (the data's, where it is several: _read).

    Without a stock file, on hand is assumed to be `assumed_cover_days` of mean demand. A SKU a stock file does
    not list is an error, or with `missing_stock="assumed_cover"` gets that assumed cover, flagged on its row.
    The orders come back with `overdue` (due before `today`) and `counted` (in the inventory position and the
    projected stock: every order, or with `overdue_orders="ignore"` only those not overdue).

    An order due after the plan's horizon (`today + horizon_days`: a typo such as 2099, an order for next season)
    arrives after every day the plan looks at, so it is `beyond_horizon`, never `counted`: counted, it would raise
    the inventory position and cut today's order for stock that cannot arrive within the plan. Each SKU's
    `stock_source` names such orders and the run log counts them.
    """
    _choice({"missing_stock": missing_stock}, "missing_stock", MISSING_STOCK)
    _choice({"overdue_orders": overdue_orders}, "overdue_orders", OVERDUE_ORDERS)
    index = pd.Index(skus, name="sku")
    assumed = (mean_daily_demand.reindex(index).fillna(0) * assumed_cover_days).round()
    assumed_text = f"assumed: {assumed_cover_days:g} days of mean demand on hand"
    if stock_csv:
        listed = read_stock(stock_csv, key)
        _known(listed.reset_index(), index, stock_csv)
        absent = index.difference(listed.index)
        if len(absent) and missing_stock == "error":
            raise InputError(
                f"{stock_csv}: {len(absent)} of the {len(index)} planned SKUs are not in the stock file "
                f"({shown_codes(absent, SHOWN)}); add their on_hand, "
                "or set plan.missing_stock=assumed_cover to assume plan.assumed_cover_days of mean demand for them "
                "(flagged in stock_source)."
            )
        on_hand = listed.reindex(index).fillna(assumed)
        source = pd.Series(f"stock file {stock_csv}", index=index)
        source[absent] = f"{assumed_text} (not in stock file {stock_csv})"
    else:
        on_hand = assumed
        source = pd.Series(assumed_text, index=index)

    if open_orders_csv:
        orders = read_open_orders(open_orders_csv, key)
        _known(orders, index, open_orders_csv)
        orders["overdue"] = orders["arrival_date"] < pd.Timestamp(today).normalize()
        orders["counted"] = ~orders["overdue"] if overdue_orders == "ignore" else True
        orders["beyond_horizon"] = _beyond_horizon(orders, today, horizon_days, open_orders_csv)
        orders["counted"] &= ~orders["beyond_horizon"]
        texts = {sku: _orders_text(group, open_orders_csv) for sku, group in orders.groupby("sku")}
        source += pd.Series(texts, dtype=object).reindex(index).fillna(f"; no open orders in {open_orders_csv}")
    else:
        orders = pd.DataFrame(
            {
                "sku": pd.Series(dtype=str),
                "quantity": pd.Series(dtype=float),
                "arrival_date": pd.Series(dtype="datetime64[ns]"),
                "overdue": pd.Series(dtype=bool),
                "counted": pd.Series(dtype=bool),
                "beyond_horizon": pd.Series(dtype=bool),
            }
        )
        source += "; no open-orders file"
    return on_hand.rename("on_hand"), orders, source.rename("stock_source")


def _beyond_horizon(orders: pd.DataFrame, today, horizon_days: float | None, path) -> pd.Series:
    """Orders due after the plan horizon (none without a horizon), with a warning counting them."""
    if horizon_days is None:
        return pd.Series(False, index=orders.index)
    last = pd.Timestamp(today).normalize() + pd.Timedelta(days=float(horizon_days))
    beyond = orders["arrival_date"] > last
    if beyond.any():
        log.warning(
            "%s: %d open order(s) (%g units, line(s) %s) arrive after the plan horizon (%s, plan.horizon_days=%g) and "
            "are not counted as on order; fix arrival_date if it is a typo",
            path,
            int(beyond.sum()),
            float(orders.loc[beyond, "quantity"].sum()),
            _lines(beyond),
            last.date(),
            float(horizon_days),
        )
    return beyond


def _orders_text(orders: pd.DataFrame, path) -> str:
    """'; 2 open order(s) (30 units) from oo.csv, 1 overdue (due 2001-01-05, 5 units) counted as arriving now'."""
    text = f"; {len(orders)} open order(s) ({orders['quantity'].sum():g} units) from {path}"
    late = orders[orders["overdue"]]
    if len(late):
        treatment = "counted as arriving now" if late["counted"].all() else "ignored"
        text += (
            f", {len(late)} overdue (due {late['arrival_date'].min().date()}, {late['quantity'].sum():g} units) "
            f"{treatment}"
        )
    far = orders[orders["beyond_horizon"]] if "beyond_horizon" in orders else orders.iloc[:0]
    if len(far):
        text += (
            f", {len(far)} due after the plan horizon (due {far['arrival_date'].min().date()}, "
            f"{far['quantity'].sum():g} units) not counted"
        )
    return text
