"""Tables as ERPs and suppliers write them (issue 22): each is read as the same data written the clean way, or
stops with one sentence whose fix, typed as printed (through a shell, into Hydra), works."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hydra import compose, initialize_config_dir
from hydra.core.override_parser.overrides_parser import OverridesParser

from forecasting.data.advice import override
from forecasting.data.prepare import prepare_data
from forecasting.errors import InputError
from tests.conftest import make_demand_table
from tests.frequency_tables import monthly_parts, weekly
from tests.test_run import run_cli

ROOT = Path(__file__).resolve().parents[1]
DAILY = {"sku": "item", "date": "day", "quantity": "units"}
WEEKLY = {"sku": "item", "date": "week_ending", "quantity": "qty"}
MONTHLY = {"sku": "part", "date": "month", "quantity": "units"}
SHORT = {"min_history_days": 4, "min_nonzero_days": 1}
# Settings as `data.<key>`: prepare_data's keyword for each (the rest are nested: columns, read_options).
TOP_LEVEL = (
    "start", "end", "as_of", "frequency", "week_ending", "missing", "incomplete_period", "date_format", "duplicates",
    "negative", "empty_dates", "path", "gaps", "first_period",
)  # fmt: skip


# --- advice as typed ---------------------------------------------------------------------------------------------


def printed_settings(message: str) -> list[str]:
    """The `data.*=...` settings a message prints, exactly as printed (what a user pastes)."""
    found = re.findall(r"\"\+?data\.[^\"]+\"|'data\.[^']+=[^']*'|(?<![\w'\"])data\.[\w.]+=[^\s,;)'\"]+", message)
    out = []
    for text in found:
        if text[0] not in "'\"" and text.endswith(".") and not text.endswith("=."):
            text = text[:-1]  # the sentence's full stop
        out.append(text)
    return out


def typed_overrides(message: str) -> list[str]:
    """The printed settings as a shell hands them to run.py."""
    return [word for text in printed_settings(message) for word in shlex.split(text)]


def apply_typed(message: str, pick: str, **kwargs) -> dict:
    """prepare_data keywords after typing the printed setting whose key (or key=value) holds `pick`: Hydra must
    take it as printed (no `+`, no quoting left to the user) in the real config."""
    words = [w for w in typed_overrides(message) if pick in (w if "=" in pick else w.split("=")[0])]
    assert words, f"no setting with {pick!r} in: {message}"
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        compose(config_name="config", overrides=["data=demand_table", *words])
    kwargs = {
        **kwargs,
        "columns": dict(kwargs.get("columns") or {}),
        "read_options": dict(kwargs.get("read_options") or {}),
    }
    for parsed in OverridesParser.create().parse_overrides(words):
        key, value = parsed.key_or_group.split("."), parsed.value()
        if key[1] in TOP_LEVEL:
            kwargs[key[1]] = value
        else:
            kwargs[key[1]] = {**(kwargs.get(key[1]) or {}), key[2]: value}
    return kwargs


def refused(path: Path, **kwargs) -> str:
    with pytest.raises(InputError) as err:
        prepare_data(path, kind="demand", **kwargs)
    message = str(err.value)
    assert "\n" not in message and str(path) in message
    return message


def panel(path: Path, **kwargs):
    return prepare_data(path, kind="demand", **{"panel": SHORT, **kwargs})


def same_panel(got, expected) -> None:
    pd.testing.assert_frame_equal(got.panel, expected.panel)


def write(frame: pd.DataFrame, path: Path, **kw) -> Path:
    frame.to_csv(path, index=False, **kw)
    return path


def test_printed_settings_survive_the_shell_and_hydra():
    """Values the shell or Hydra's grammar would eat (',' ';' spaces '%') are printed quoted twice."""
    for key, value in [
        ("data.read_options.decimal", ","),
        ("data.read_options.thousands", "."),
        ("data.read_options.sep", ";"),
        ("data.date_format", "%d/%m/%Y %H:%M"),
        ("data.columns.quantity", "units.1"),
        ("data.week_ending", "sunday"),
    ]:
        [parsed] = OverridesParser.create().parse_overrides(shlex.split(override(key, value)))
        assert parsed.value() == value
    # The README's own example works as written: the keys are declared in the config with null defaults.
    message = "set data.read_options.encoding=latin-1 and \"data.read_options.decimal=','\""
    assert apply_typed(message, "encoding")["read_options"] == {"encoding": "latin-1"}
    assert apply_typed(message, "decimal")["read_options"] == {"decimal": ","}


# --- 1. frequency per SKU, week anchors, periods not yet over -----------------------------------------------------


def sunday_weeks() -> pd.DataFrame:
    t = weekly(n_skus=4, weeks=40)
    return t.assign(week_ending=t["week_ending"] + pd.Timedelta(days=1))  # weeks Monday-Sunday


def test_weeks_dated_monday_for_some_skus_and_sunday_for_others(tmp_path):
    clean = panel(write(sunday_weeks(), tmp_path / "clean.csv"), columns=WEEKLY)
    mixed = sunday_weeks()
    starts = mixed["item"].isin(["SYN0", "SYN1"])
    mixed.loc[starts, "week_ending"] -= pd.Timedelta(days=6)  # "week commencing" Monday
    path = write(mixed, tmp_path / "mixed.csv")
    message = refused(path, columns=WEEKLY, panel=SHORT)
    assert "2 different weekdays" in message and "SYN0, SYN1" in message
    got = panel(path, **apply_typed(message, "week_ending", columns=WEEKLY))
    same_panel(got, clean)
    assert clean.calendar.frequency == "weekly"
    assert got.quality.repairs["weekly_dates_moved_to_week_ending_sunday"] == int(starts.sum())


def test_weekly_totals_among_daily_skus_are_named(tmp_path):
    daily = make_demand_table(4, 70)
    totals = daily[daily["item"].isin(["SKU0", "SKU1"])].copy()
    totals["day"] = totals["day"] + pd.to_timedelta(6 - totals["day"].dt.dayofweek, unit="D")
    totals = totals.groupby(["item", "day"], as_index=False)["units"].sum().assign(item=lambda t: "W" + t["item"])
    path = write(pd.concat([daily, totals]), tmp_path / "t.csv")
    message = refused(path, columns=DAILY, panel=SHORT)
    assert "2 SKU(s) have one row a week (e.g. every Sunday): WSKU0, WSKU1" in message
    assert "set data.frequency=D if they really sell on that one day only" in message
    # The printed way out, for SKUs that really sell on one weekday: read as days.
    got = panel(path, **apply_typed(message, "frequency", columns=DAILY))
    assert got.calendar.frequency == "daily" and got.panel["sku"].nunique() == 6


def test_monthly_totals_among_daily_skus_are_named(tmp_path):
    daily = make_demand_table(3, 250)
    months = daily.assign(day=daily["day"] + pd.offsets.MonthEnd(0)).groupby(["item", "day"], as_index=False).sum()
    path = write(pd.concat([daily, months.assign(item="M" + months["item"])]), tmp_path / "t.csv")
    message = refused(path, columns=DAILY, panel=SHORT)
    assert "3 SKU(s) have one row a month: MSKU0, MSKU1, MSKU2" in message


def test_daily_skus_among_weekly_ones_are_named(tmp_path):
    weeks = sunday_weeks()
    days = make_demand_table(1, 60, start="2025-01-06").rename(
        columns=dict(zip(DAILY.values(), WEEKLY.values(), strict=True))
    )
    path = write(pd.concat([weeks, days]), tmp_path / "t.csv")
    message = refused(path, columns=WEEKLY, panel=SHORT)
    assert "holds weekly rows, but 1 SKU(s) have rows on several weekdays, as daily data does: SKU0" in message


def test_month_still_running_is_dropped_and_counted_or_refused(tmp_path):
    parts = monthly_parts(n_parts=6, months=24)  # month-start dates up to December 2025
    clean = panel(write(parts, tmp_path / "clean.csv"), columns=MONTHLY, as_of="2026-01-15")
    running = parts.groupby("part", as_index=False).last().assign(month=pd.Timestamp("2026-01-01"), units=3.0)
    path = write(pd.concat([parts, running]), tmp_path / "t.csv")
    got = panel(path, columns=MONTHLY, as_of="2026-01-15")
    same_panel(got, clean)
    assert got.quality.dropped["incomplete_period"] == len(running)
    # The same month dated on its last day (after "today"): a running month, not a row from the future.
    ends = pd.concat([parts, running.assign(month=pd.Timestamp("2026-01-31"))])
    same_panel(panel(write(ends, tmp_path / "ends.csv"), columns=MONTHLY, as_of="2026-01-15"), clean)
    message = refused(path, columns=MONTHLY, panel=SHORT, as_of="2026-01-15", incomplete_period="error")
    assert (
        f"{len(running)} row(s) for the month that ends 2026-01-31, after the data's cut-off (data.as_of: 2026-01-15)"
        in message
    )
    same_panel(panel(path, **apply_typed(message, "incomplete_period", columns=MONTHLY, as_of="2026-01-15")), clean)


def test_a_last_week_that_may_still_be_running_is_named_with_a_fix(tmp_path, caplog):
    # Weeks dated on their Monday: nothing tells a week's first day from its last. Two days after the last Monday
    # its week, if it started then, has two days of sales; its low total reads as a drop in demand. Said, with the
    # setting that reads Mondays as week starts, which leaves that week out.
    weeks = weekly(n_skus=4, weeks=40)
    weeks["week_ending"] -= pd.to_timedelta(weeks["week_ending"].dt.dayofweek, unit="D")  # each week's Monday
    last = weeks["week_ending"] == weeks["week_ending"].max()
    weeks.loc[last, "qty"] = (weeks.loc[last, "qty"] * 2 / 7).round()
    path = write(weeks, tmp_path / "t.csv")
    as_of = (weeks["week_ending"].max() + pd.Timedelta(days=2)).strftime("%Y-%m-%d")
    got = panel(path, columns=WEEKLY, as_of=as_of)
    note = got.quality.as_dict()["last_week"]
    assert "(a monday)" in note and "data.week_ending=sunday" in note and "still running" in note
    fixed = panel(path, **apply_typed(note, "week_ending", columns=WEEKLY, as_of=as_of))
    assert fixed.panel["date"].max() < weeks["week_ending"].max()  # the running week left out
    assert fixed.quality.as_dict()["dropped_by_reason"]["incomplete_period"] == int(last.sum())
    assert "last_week" not in fixed.quality.as_dict()
    # Long after that week (a history, not a fresh export), or a full last week: nothing to say.
    assert "last_week" not in panel(path, columns=WEEKLY, as_of="2030-01-01").quality.as_dict()
    full = write(weekly(n_skus=4, weeks=40).assign(week_ending=weeks["week_ending"]), tmp_path / "full.csv")
    assert "last_week" not in panel(full, columns=WEEKLY, as_of=as_of).quality.as_dict()


def test_weeks_ahead_without_quantities_are_no_sales(tmp_path):
    # A promo calendar exported with the sales: rows for the weeks ahead, quantity empty. Read as missing sales,
    # data.missing=zero planned on weeks of zero demand; they are set aside and counted.
    weeks = weekly(n_skus=4, weeks=40).assign(promo=0)
    clean = panel(write(weeks, tmp_path / "clean.csv"), columns={**WEEKLY, "promo": "promo"})
    last = weeks["week_ending"].max()
    ahead = pd.DataFrame(
        [(sku, last + pd.Timedelta(weeks=w), np.nan, w % 2) for sku in weeks["item"].unique() for w in range(1, 4)],
        columns=weeks.columns,
    )
    path = write(pd.concat([weeks, ahead.dropna(axis=1, how="all")], ignore_index=True), tmp_path / "t.csv")
    for rule in ("error", "zero"):
        got = panel(path, columns={**WEEKLY, "promo": "promo"}, missing=rule, as_of="2030-01-01")
        same_panel(got, clean)
        assert got.quality.as_dict()["dropped_by_reason"]["ahead_of_the_history"] == len(ahead)


def test_week_still_running_is_dropped_at_as_of(tmp_path):
    weeks = sunday_weeks()
    last = weeks["week_ending"].max()
    as_of = str((last + pd.Timedelta(days=3)).date())  # a Wednesday: the next week is running
    clean = panel(write(weeks, tmp_path / "clean.csv"), columns=WEEKLY, as_of=as_of)
    running = weeks[weeks["week_ending"] == last].assign(week_ending=last + pd.Timedelta(days=7))
    got = panel(write(pd.concat([weeks, running]), tmp_path / "t.csv"), columns=WEEKLY, as_of=as_of)
    same_panel(got, clean)
    assert got.quality.dropped["incomplete_period"] == len(running)


def test_week_still_running_is_dropped_by_data_end(tmp_path):
    weeks = sunday_weeks()
    last = weeks["week_ending"].max()
    clean = panel(write(weeks, tmp_path / "clean.csv"), columns=WEEKLY, end=str(last.date() + pd.Timedelta(days=3)))
    running = weeks[weeks["week_ending"] == last].assign(week_ending=last + pd.Timedelta(days=7))
    got = panel(
        write(pd.concat([weeks, running]), tmp_path / "t.csv"),
        columns=WEEKLY,
        end=str(last.date() + pd.Timedelta(days=3)),
    )
    same_panel(got, clean)
    assert got.quality.dropped["after_data_end"] == len(running)  # dated after data.end: the week is not over


# --- 2. thousands separators and decimal commas -------------------------------------------------------------------


def big_daily() -> pd.DataFrame:
    t = make_demand_table(3, 60)
    return t.assign(units=t["units"] * 250 + 7)  # values from 7 to several thousand


@pytest.mark.parametrize(
    "name, fmt, sep",
    [
        ("comma_thousands", lambda v: f"{v:,.0f}", ","),
        ("dot_thousands_semicolons", lambda v: f"{v:,.0f}".replace(",", "."), ";"),
        ("european_with_decimals", lambda v: f"{v:,.1f}".replace(",", "_").replace(".", ",").replace("_", "."), ";"),
        ("english_with_decimals", lambda v: f"{v:,.2f}", "\t"),
        ("spaces_and_decimal_commas", lambda v: f"{v:,.1f}".replace(",", "\u00a0").replace(".", ","), ";"),
        ("swiss_apostrophes", lambda v: f"{v:,.0f}".replace(",", "'"), ","),
    ],
)
def test_number_formats_read_as_the_plain_numbers(name, fmt, sep, tmp_path):
    table = big_daily()
    clean = panel(write(table, tmp_path / "clean.csv"), columns=DAILY)
    got = panel(write(table.assign(units=table["units"].map(fmt)), tmp_path / "t.csv", sep=sep), columns=DAILY)
    same_panel(got, clean)
    assert "units" in got.quality.as_dict()["read"]["numbers"]


def test_ambiguous_thousands_name_both_settings_and_each_works(tmp_path):
    table = big_daily()
    table = table[table["units"] >= 1000]
    clean = panel(write(table, tmp_path / "clean.csv"), columns=DAILY)
    path = write(table.assign(units=table["units"].map(lambda v: f"{v:,.0f}")), tmp_path / "t.csv")
    message = refused(path, columns=DAILY, panel=SHORT)
    assert "set \"data.read_options.thousands=','\" for the first or \"data.read_options.decimal=','\"" in message
    same_panel(panel(path, **apply_typed(message, "thousands", columns=DAILY)), clean)
    as_decimals = panel(path, **apply_typed(message, "decimal", columns=DAILY))
    assert as_decimals.panel["demand"].max() == pytest.approx(clean.panel["demand"].max() / 1000)


def test_a_price_column_settles_the_quantity_column_format(tmp_path):
    """Quantities all like "1.540" fit both readings; the same file's prices "2,50" say ',' is the decimal mark."""
    table = big_daily()
    table = table[table["units"] >= 1000].assign(cost=2.5)
    clean = panel(write(table, tmp_path / "clean.csv"), columns={**DAILY, "price": "cost"})
    european = table.assign(
        units=table["units"].map(lambda v: f"{v:,.0f}".replace(",", ".")), cost=table["cost"].map("{:.2f}".format)
    )
    european["cost"] = european["cost"].str.replace(".", ",")
    got = panel(write(european, tmp_path / "t.csv", sep=";"), columns={**DAILY, "price": "cost"})
    same_panel(got, clean)


@pytest.mark.parametrize("fmt", ["£{:.2f}", "{:.2f} €", "EUR {:.2f}", "$ {:.2f}", "{:.2f} USD"])
def test_prices_with_a_currency_sign_read_as_amounts_quantities_do_not(fmt, tmp_path):
    table = big_daily().assign(cost=2.5)
    columns = {**DAILY, "price": "cost"}
    clean = panel(write(table, tmp_path / "clean.csv"), columns=columns)
    got = panel(write(table.assign(cost=table["cost"].map(fmt.format)), tmp_path / "t.csv", sep=";"), columns=columns)
    same_panel(got, clean)
    assert "currency" in got.quality.as_dict()["read"]["numbers"]["cost"]
    # Money mapped as the quantity would plan on amounts: refused.
    amounts = table.assign(units=table["units"].map(fmt.format))
    assert "non-numeric value(s)" in refused(write(amounts, tmp_path / "q.csv", sep=";"), columns=DAILY)


@pytest.mark.parametrize(
    "fmt, sep",
    [
        (lambda v: f"{abs(v):,.3f}".replace(",", "_").replace(".", ",").replace("_", ".") + "-" * (v < 0), ";"),
        (lambda v: f"({abs(v):,.2f})" if v < 0 else f"{v:,.2f}", "\t"),
    ],
    ids=["sap_trailing_minus", "accounting_parentheses"],
)
def test_negatives_written_by_accounting_systems_are_negatives(fmt, sep, tmp_path):
    """SAP writes a return of 36 as "36,000-", accounting exports as "(36.00)": a number with a sign, never text
    to refuse or, worse, a sale."""
    table = big_daily()
    table.loc[table.index % 9 == 4, "units"] *= -0.01
    clean = panel(write(table, tmp_path / "clean.csv"), columns=DAILY, negative="zero")
    got = panel(write(table.assign(units=table["units"].map(fmt)), tmp_path / "t.csv", sep=sep), columns=DAILY,
                negative="zero")  # fmt: skip
    same_panel(got, clean)
    assert "negatives" in got.quality.as_dict()["read"]["numbers"]["units"]
    assert "negative demand" in refused(tmp_path / "t.csv", columns=DAILY, panel=SHORT)


@pytest.mark.parametrize(
    "above", ["Sales report;;\nExported 2024-03-01 by ERP;;\n;;\n", "sep=;\n", "Weekly units sold\n\n"]
)
def test_a_header_below_title_lines_is_found(above, tmp_path):
    """A report export puts a title, a date or Excel's "sep=;" above the header: the table is the same table."""
    table = big_daily()
    clean = panel(write(table, tmp_path / "clean.csv"), columns=DAILY)
    path = tmp_path / "t.csv"
    path.write_text(above + table.to_csv(index=False, sep=";"))
    got = panel(path, columns=DAILY)
    same_panel(got, clean)
    assert f"line {above.count(chr(10)) + 1}" in got.quality.as_dict()["read"]["header_line"]
    # The check for rows longer than the header still reads the rows under the header found.
    path.write_text(above + table.to_csv(index=False, sep=";") + "SKU0;2024-03-01;1;540\n")
    assert "more fields than the header" in refused(path, columns=DAILY, panel=SHORT)


def test_a_dash_alone_is_zero_as_a_spreadsheet_displays_it(tmp_path):
    table = make_demand_table(3, 60)
    table = table.assign(units=table["units"] * 250)  # about 40% zero days
    clean = panel(write(table, tmp_path / "clean.csv"), columns=DAILY)
    shown = table.assign(units=table["units"].map(lambda v: " -   " if v == 0 else f"{v:,.0f}"))
    got = panel(write(shown, tmp_path / "t.csv"), columns=DAILY)
    same_panel(got, clean)
    assert "dash alone read as zero" in got.quality.as_dict()["read"]["numbers"]["units"]


@pytest.mark.parametrize("unit", ["pcs", "EA", "Stk."])
def test_one_unit_after_every_quantity_is_the_unit_two_are_refused(unit, tmp_path):
    table = big_daily()
    clean = panel(write(table, tmp_path / "clean.csv"), columns=DAILY)
    got = panel(write(table.assign(units=table["units"].map(f"{{:,.0f}} {unit}".format)), tmp_path / "t.csv"),
                columns=DAILY)  # fmt: skip
    same_panel(got, clean)
    assert f"the unit '{unit.rstrip('.')}'" in got.quality.as_dict()["read"]["numbers"]["units"]
    grams = table.assign(units=[f"{v:.0f} {'kg' if i % 2 else 'g'}" for i, v in enumerate(table["units"])])
    assert "units ('g' and 'kg'" in refused(write(grams, tmp_path / "g.csv"), columns=DAILY, panel=SHORT)


def test_spreadsheet_error_values_are_empty_quantities_under_data_missing(tmp_path):
    """'#VALUE!' or '#DIV/0!' in a CSV saved from a sheet is a formula that failed: an unknown quantity, which
    data.missing rules on, as it does on an empty cell."""
    table = big_daily()
    broken = table.assign(units=table["units"].map("{:.0f}".format))
    broken.loc[broken.index % 13 == 5, "units"] = "#VALUE!"
    broken.loc[broken.index % 29 == 7, "units"] = "#DIV/0!"
    path = write(broken, tmp_path / "t.csv")
    message = refused(path, columns=DAILY, panel=SHORT)
    assert "data.missing=zero" in message
    got = panel(path, **apply_typed(message, "data.missing=zero", columns=DAILY))
    zeros = table.assign(units=np.where((table.index % 13 == 5) | (table.index % 29 == 7), 0.0, table["units"]))
    same_panel(got, panel(write(zeros, tmp_path / "clean.csv"), columns=DAILY))
    assert "spreadsheet error value(s)" in got.quality.as_dict()["read"]["numbers"]["units"]


def test_codes_a_spreadsheet_saved_in_scientific_notation_are_refused(tmp_path):
    """123456789012 and 123456789013 both saved as '1.23457E+11': two parts would be planned as one."""
    table = big_daily()
    table["item"] = table["item"].map({"SKU0": "1.23457E+11", "SKU1": "1.23457E+11", "SKU2": "4E2"})
    message = refused(write(table, tmp_path / "t.csv"), columns=DAILY, panel=SHORT)
    assert "scientific notation (e.g. '1.23457E+11'" in message and "formatted as text" in message
    kept = table[table["item"] == "4E2"]  # a code that only looks like a number stays a code
    assert panel(write(kept, tmp_path / "k.csv"), columns=DAILY).panel["sku"].unique().tolist() == ["4E2"]


def test_placeholder_texts_print_the_read_option_that_makes_them_empty(tmp_path):
    """'n.a.' among the quantities: the printed na_values setting, typed, reads them as empty cells, and the
    data.missing setting printed next makes them no sales."""
    table = big_daily()
    text = table.assign(units=table["units"].map("{:.0f}".format))
    text.loc[text.index % 17 == 3, "units"] = "n.a."
    path = write(text, tmp_path / "t.csv")
    first = refused(path, columns=DAILY, panel=SHORT)
    assert "\"+data.read_options.na_values=['n.a.']\"" in first
    typed = apply_typed(first, "na_values", columns=DAILY, panel=SHORT)
    second = refused(path, **typed)
    assert "data.missing=zero" in second
    got = panel(path, **apply_typed(second, "data.missing=zero", **typed))
    zeros = table.assign(units=np.where(table.index % 17 == 3, 0.0, table["units"]))
    same_panel(got, panel(write(zeros, tmp_path / "clean.csv"), columns=DAILY))
    # The loader's own read options are not the user's to set: one sentence, not a crash.
    with pytest.raises(InputError, match="data.read_options.dtype is set by the loader itself"):
        prepare_data(path, kind="demand", columns=DAILY, read_options={"dtype": "str"})


def test_overlapping_exports_print_the_setting_that_keeps_one_of_each_repeated_row(tmp_path):
    """Two exports appended, their last and first weeks overlapping: the repeated rows are the same sales once;
    data.duplicates=sum would count them twice."""
    weeks = sunday_weeks()
    clean = panel(write(weeks, tmp_path / "clean.csv"), columns=WEEKLY)
    overlap = weeks[weeks["week_ending"] >= weeks["week_ending"].max() - pd.Timedelta(weeks=5)]
    path = write(pd.concat([weeks, overlap], ignore_index=True), tmp_path / "t.csv")
    message = refused(path, columns=WEEKLY, panel=SHORT)
    assert f"{len(overlap)} of them repeat another row in every column" in message
    got = panel(path, **apply_typed(message, "data.duplicates=drop_repeats", columns=WEEKLY))
    same_panel(got, clean)
    assert got.quality.as_dict()["dropped_by_reason"]["repeated_row"] == len(overlap)


# --- 3. two columns under the mapped name -------------------------------------------------------------------------


def test_two_columns_with_the_mapped_name(tmp_path):
    table = make_demand_table(2, 40)
    clean = panel(write(table, tmp_path / "clean.csv"), columns=DAILY)
    path = tmp_path / "t.csv"
    doubled = table.assign(first=table["units"] * 0 + 1)[["item", "day", "first", "units"]]
    doubled.to_csv(path, index=False, header=["item", "day", "units", "units"])
    message = refused(path, columns=DAILY, panel=SHORT)
    assert "2 columns are named 'units' (columns 3, 4), the column data.columns.quantity names" in message
    same_panel(panel(path, **apply_typed(message, "columns.quantity", columns=DAILY)), clean)


# --- 5. monthly rows dated on month starts and month ends ---------------------------------------------------------


def test_month_starts_and_ends_mixed_are_one_month_each(tmp_path):
    parts = monthly_parts(n_parts=6, months=24)
    clean = panel(write(parts, tmp_path / "clean.csv"), columns=MONTHLY)
    mixed = parts.copy()
    odd = mixed.index % 2 == 1
    mixed.loc[odd, "month"] = mixed.loc[odd, "month"] + pd.offsets.MonthEnd(0)
    got = panel(write(mixed, tmp_path / "t.csv"), columns=MONTHLY)
    same_panel(got, clean)
    assert "month(s) on the first day" in got.quality.as_dict()["read"]["months"]


@pytest.mark.parametrize("fmt", ["%d/%m/%Y", "%m/%d/%Y", "%d.%m.%Y", "%d-%m-%Y", "%d/%m/%y", "%m/%d/%y"])
def test_day_and_month_order_is_read_from_the_whole_column(fmt, tmp_path):
    # Monthly dates on the 1st read both ways ('01/02/2024'); the field that never changes is the day. Weekly ones
    # reach days above 12 in either order. Read by the first value alone, a British monthly table became
    # January 1-12 of each year.
    parts = monthly_parts(n_parts=6, months=24)
    clean = panel(write(parts, tmp_path / "clean.csv"), columns=MONTHLY)
    got = panel(write(parts.assign(month=parts["month"].dt.strftime(fmt)), tmp_path / "t.csv"), columns=MONTHLY)
    same_panel(got, clean)
    if fmt.startswith("%d"):
        assert "read day first" in got.quality.as_dict()["read"]["date_order"]
    weeks = weekly(n_skus=4, weeks=40)
    clean = panel(write(weeks, tmp_path / "clean_w.csv"), columns=WEEKLY)
    text = weeks.assign(week_ending=weeks["week_ending"].dt.strftime(fmt))
    same_panel(panel(write(text, tmp_path / "w.csv"), columns=WEEKLY), clean)


@pytest.mark.parametrize("fmt", ["%b-%y", "%B %y", "%b %Y", "%m.%Y", "%Y.%m"])
def test_month_labels_read_as_months(fmt, tmp_path):
    # Excel's month format ('Jan-23') and other labels pandas guesses no format for: each is its month. '01.2024'
    # and '2024.10' must reach the date parser as written: read as numbers they were 1.2024 and 2024.1.
    parts = monthly_parts(n_parts=6, months=24)
    clean = panel(write(parts, tmp_path / "clean.csv"), columns=MONTHLY)
    got = panel(write(parts.assign(month=parts["month"].dt.strftime(fmt)), tmp_path / "t.csv"), columns=MONTHLY)
    same_panel(got, clean)


def test_dates_that_read_both_ways_name_both_formats(tmp_path):
    rows = pd.DataFrame({"part": "a", "month": ["01/02/2024", "03/04/2024", "05/06/2024"], "units": [1, 2, 3]})
    message = refused(write(rows, tmp_path / "t.csv"), columns=MONTHLY)
    assert "\"data.date_format='%d/%m/%Y'\"" in message and "\"data.date_format='%m/%d/%Y'\"" in message
    assert apply_typed(message, "data.date_format='%d/%m/%Y'")["date_format"] == "%d/%m/%Y"


def test_rows_split_by_store_are_refused_or_summed_with_data_duplicates(tmp_path):
    weeks = weekly(n_skus=4, weeks=40).assign(price=2.5)
    clean = panel(write(weeks, tmp_path / "clean.csv"), columns={**WEEKLY, "price": "price"})
    first = weeks.assign(qty=weeks["qty"] // 3, store="north")
    split = pd.concat([first, weeks.assign(qty=weeks["qty"] - first["qty"], store="south")], ignore_index=True)
    path = write(split.sample(frac=1.0, random_state=0), tmp_path / "t.csv")
    message = refused(path, columns={**WEEKLY, "price": "price"}, panel=SHORT)
    assert "data.duplicates=sum" in message
    got = panel(path, **apply_typed(message, "duplicates", columns={**WEEKLY, "price": "price"}))
    same_panel(got, clean)
    quality = got.quality.as_dict()
    assert quality["rows_in"] == quality["rows_kept"] == len(split)
    assert quality["repairs"]["rows_summed_into_one_per_sku_and_period"] == len(weeks)


def test_months_dated_mid_month_need_data_frequency_m(tmp_path):
    parts = monthly_parts(n_parts=6, months=24)
    clean = panel(write(parts, tmp_path / "clean.csv"), columns=MONTHLY)
    path = write(parts.assign(month=parts["month"] + pd.Timedelta(days=14)), tmp_path / "t.csv")
    message = refused(path, columns=MONTHLY, panel=SHORT)
    assert "date(s) are neither the first nor the last day of their month" in message
    same_panel(panel(path, **apply_typed(message, "frequency", columns=MONTHLY)), clean)


def test_excel_day_numbers_are_dates(tmp_path):
    # A sheet's date column saved without its format holds Excel's day numbers (45292 is 2024-01-01); read as days
    # since 1970 they would be 2094, so the reading is not a guess. Days since 1970 stay refused (they are also
    # Excel's 1919-1956).
    days = make_demand_table(3, 120)
    clean = panel(write(days, tmp_path / "clean.csv"), columns=DAILY)
    serials = days.assign(day=(days["day"] - pd.Timestamp("1899-12-30")).dt.days)
    got = panel(write(serials, tmp_path / "t.csv"), columns=DAILY)
    same_panel(got, clean)
    assert "Excel day numbers" in got.quality.as_dict()["read"]["dates"]
    epoch = days.assign(day=(days["day"] - pd.Timestamp(0)).dt.days)
    assert "holds numbers, not dates" in refused(write(epoch, tmp_path / "e.csv"), columns=DAILY)


def test_net_returns_are_refused_or_counted_as_no_demand_with_data_negative(tmp_path):
    weeks = weekly(n_skus=4, weeks=40)
    net = weeks.copy()
    net.loc[[3, 50], "qty"] = [-2, -5]  # more returned than sold in two weeks
    path = write(net, tmp_path / "t.csv")
    message = refused(path, columns=WEEKLY, panel=SHORT)
    assert "2 row(s) have negative demand" in message and "data.negative=zero" in message
    got = panel(path, **apply_typed(message, "negative", columns=WEEKLY))
    same_panel(got, panel(write(net.assign(qty=net["qty"].clip(lower=0)), tmp_path / "c.csv"), columns=WEEKLY))
    assert got.quality.as_dict()["repairs"]["negative_demand_set_to_zero"] == 2
    # A store's net returns inside a week the SKU sold in overall are no negative demand: summed first.
    north = weeks.assign(qty=weeks["qty"] + 3, store="north")
    split = pd.concat([north, weeks.assign(qty=-3, store="south")], ignore_index=True)
    summed = panel(write(split, tmp_path / "s.csv"), columns=WEEKLY, duplicates="sum")
    same_panel(summed, panel(write(weeks, tmp_path / "w.csv"), columns=WEEKLY))


def test_yyyymm_numbers_are_months(tmp_path):
    parts = monthly_parts(n_parts=6, months=24)
    clean = panel(write(parts, tmp_path / "clean.csv"), columns=MONTHLY)
    keys = parts.assign(month=parts["month"].dt.strftime("%Y%m").astype(int))
    same_panel(panel(write(keys, tmp_path / "t.csv"), columns=MONTHLY), clean)


# --- 6. ISO week labels and date formats --------------------------------------------------------------------------


@pytest.mark.parametrize("label, date_format", [("%G-W%V", None), ("%GW%V", None), ("%G-W%V", "%G-W%V")])
def test_iso_week_labels_read_as_the_weeks_sundays(label, date_format, tmp_path):
    weeks = sunday_weeks()
    clean = panel(write(weeks, tmp_path / "clean.csv"), columns=WEEKLY)
    labels = weeks.assign(week_ending=weeks["week_ending"].dt.strftime(label))
    got = panel(write(labels, tmp_path / "t.csv"), columns=WEEKLY, date_format=date_format)
    same_panel(got, clean)
    assert "ISO week" in got.quality.as_dict()["read"]["dates"]


@pytest.mark.parametrize("key", ["%G%V", "%G-%V", "%G/%V"])
def test_year_and_week_keys_read_as_iso_weeks(key, tmp_path):
    """An ERP's calendar-week key (SAP's CALWEEK 202437) is the ISO week, dated on its Sunday."""
    weeks = sunday_weeks()
    clean = panel(write(weeks, tmp_path / "clean.csv"), columns=WEEKLY)
    keys = weeks.assign(week_ending=weeks["week_ending"].dt.strftime(key))
    got = panel(write(keys, tmp_path / "t.csv"), columns=WEEKLY)
    same_panel(got, clean)
    assert "ISO weeks" in got.quality.as_dict()["read"]["dates"]


def test_year_and_week_in_two_columns_are_one_date_and_the_week_alone_prints_the_mapping(tmp_path):
    weeks = sunday_weeks()
    clean = panel(write(weeks, tmp_path / "clean.csv"), columns=WEEKLY)
    iso = weeks["week_ending"].dt.isocalendar()
    split = weeks.drop(columns="week_ending").assign(Year=iso["year"].to_numpy(), Week=iso["week"].to_numpy())
    path = write(split, tmp_path / "t.csv", sep=";")
    message = refused(path, columns={**WEEKLY, "date": "Week"}, panel=SHORT)
    assert "'data.columns.date=[Year,Week]'" in message
    same_panel(panel(path, **apply_typed(message, "data.columns.date", columns={**WEEKLY, "date": "Week"})), clean)


def test_year_and_month_in_two_columns_are_the_month(tmp_path):
    parts = monthly_parts(n_parts=6, months=24)
    clean = panel(write(parts, tmp_path / "clean.csv"), columns=MONTHLY)
    split = parts.assign(y=parts["month"].dt.year, m=parts["month"].dt.month).drop(columns="month")
    same_panel(panel(write(split, tmp_path / "t.csv"), columns={**MONTHLY, "date": ["y", "m"]}), clean)


def test_a_week_53_iso_years_lack_is_refused_not_moved_into_the_next_year(tmp_path):
    table = pd.DataFrame({"item": ["A", "A"], "week_ending": ["2024-52", "2024-53"], "qty": [3, 4]})
    message = refused(write(table, tmp_path / "t.csv"), columns=WEEKLY, panel=SHORT)
    assert "week 53 of 2024" in message and "'2024-53'" in message


@pytest.mark.parametrize("label, name", [("%Y-%m-%d", "t.csv"), ("%d/%m/%Y", "t.csv"), ("%G-W%V", "t.parquet")])
def test_a_sheet_with_one_column_per_week_reads_as_the_long_table(label, name, tmp_path):
    """A planner's sheet: a row per SKU, a column per week, a description and a total beside them."""
    weeks = sunday_weeks()
    clean = panel(write(weeks, tmp_path / "clean.csv"), columns=WEEKLY)
    sheet = weeks.assign(week_ending=weeks["week_ending"].dt.strftime(label)).pivot(
        index="item", columns="week_ending", values="qty"
    )
    sheet = sheet[weeks["week_ending"].dt.strftime(label).unique()]  # the weeks in calendar order, as sheets hold them
    sheet.loc["Grand Total"] = sheet.sum()  # a pivot table's total row, left out as the total it is
    sheet["Total"] = sheet.sum(axis=1)
    sheet.insert(0, "Description", "a part")
    path = tmp_path / name
    sheet.reset_index().to_csv(path, index=False) if name.endswith(".csv") else sheet.reset_index().to_parquet(path)
    defaults = {"sku": "item", "date": "date", "quantity": "demand"}  # conf/data/demand_table.yaml's, but the SKU
    got = panel(path, columns=defaults)
    same_panel(got, clean)
    assert "one column per period" in got.quality.as_dict()["read"]["layout"]
    # A long table whose mapping is wrong is still named as such, not taken for a sheet.
    assert "not columns of the file" in refused(write(weeks, tmp_path / "long.csv"), columns=defaults)


@pytest.mark.parametrize("prefix", ["d_", "Week ", "W"])
def test_a_sheet_with_numbered_period_columns_prints_the_settings_that_date_them(prefix, tmp_path):
    # M5's sales file ('d_1' to 'd_1941', dated in another file) and planners' 'Week 1' to 'Week 52' sheets.
    weeks = sunday_weeks()
    clean = panel(write(weeks, tmp_path / "clean.csv"), columns=WEEKLY)
    sheet = weeks.pivot(index="item", columns="week_ending", values="qty")
    sheet.columns = [f"{prefix}{i + 1}" for i in range(sheet.shape[1])]
    sheet.insert(0, "Description", "a part")
    path = write(sheet.reset_index(), tmp_path / "numbered.csv")
    defaults = {"sku": "item", "date": "date", "quantity": "demand"}
    message = refused(path, columns=defaults)
    assert f"numbered from '{prefix}1' to '{prefix}{sheet.shape[1] - 1}'" in message
    assert printed_settings(message) == ["data.first_period=2024-01-01", "data.frequency=D"]
    # Typed with the first week's date and W, the sheet is the long table.
    first = weeks["week_ending"].min().date().isoformat()
    typed = apply_typed(
        message.replace("2024-01-01", first).replace("frequency=D", "frequency=W"), "data.", columns=defaults
    )
    got = panel(path, **typed)
    same_panel(got, clean)
    assert "numbered, read as the periods from" in got.quality.as_dict()["read"]["layout"]


@pytest.mark.parametrize(
    "fmt, with_time",
    [
        ("%Y-%m-%d", "%Y-%m-%d 00:00:00"),  # midnight written on some rows only
        ("%d.%m.%Y", "%d.%m.%Y 00:00"),  # day first, decided on the dates alone
        ("%m/%d/%Y", "%m/%d/%Y 12:00:00 AM"),  # US exports: midnight as 12 AM
        ("%a, %d %b %Y", "%A, %d %b %Y"),  # weekday names before the date, short and long
    ],
)
def test_dates_with_and_without_a_time_of_day_are_one_format(fmt, with_time, tmp_path):
    table = big_daily()
    clean = panel(write(table, tmp_path / "clean.csv"), columns=DAILY)
    text = table["day"].dt.strftime(fmt).where(table.index % 3 > 0, table["day"].dt.strftime(with_time))
    got = panel(write(table.assign(day=text), tmp_path / "t.csv"), columns=DAILY)
    same_panel(got, clean)


@pytest.mark.parametrize("label", ["Grand Total", "Summe", "Total:"])
def test_an_exports_total_row_is_left_out_not_planned_as_a_sku(label, tmp_path):
    """A pivot table saved with its total as one more row per week: planned, it would be the assortment's A item and
    order every unit twice. A SKU whose code only reads like a total keeps its own sales."""
    weeks = sunday_weeks()
    clean = panel(write(weeks, tmp_path / "clean.csv"), columns=WEEKLY)
    total = weeks.groupby("week_ending", as_index=False)["qty"].sum().assign(item=label)
    got = panel(write(pd.concat([weeks, total], ignore_index=True), tmp_path / "t.csv"), columns=WEEKLY)
    same_panel(got, clean)
    assert got.quality.as_dict()["dropped_by_reason"]["total_row"] == len(total)
    own = total.assign(qty=total["qty"] // 3, item="Total Care Shampoo")
    kept = panel(write(pd.concat([weeks, own], ignore_index=True), tmp_path / "k.csv"), columns=WEEKLY)
    assert "Total Care Shampoo" in set(kept.panel["sku"])


def test_a_sheet_with_one_column_per_week_below_a_title_reads_the_same(tmp_path):
    """The header of such a sheet holds the SKU column and dates, no date or quantity column: it is found by the
    SKU column's name below the title lines."""
    weeks = sunday_weeks()
    sheet = weeks.pivot(index="item", columns="week_ending", values="qty")
    sheet.columns = sheet.columns.strftime("%Y-%m-%d")
    plain, titled = tmp_path / "plain.csv", tmp_path / "titled.csv"
    sheet.reset_index().to_csv(plain, index=False, sep=";")
    titled.write_text("Units by week;;\nas of 2025-12-28;;\n" + plain.read_text())
    defaults = {"sku": "item", "date": "date", "quantity": "demand"}
    got = panel(titled, columns=defaults)
    same_panel(got, panel(plain, columns=defaults))
    assert "line 3" in got.quality.as_dict()["read"]["header_line"]


# --- 7. placeholder dates -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("placeholder", ["9999-12-31", "0001-01-01"])
def test_dates_no_calendar_holds_are_named_as_placeholders(placeholder, tmp_path):
    table = make_demand_table(2, 30)
    table["day"] = table["day"].dt.strftime("%Y-%m-%d")
    table.loc[7, "day"] = placeholder
    message = refused(write(table, tmp_path / "t.csv"), columns=DAILY, panel=SHORT)
    assert f"1 date(s) outside the years 1677-2262, e.g. '{placeholder}' at row(s) 8: placeholders" in message


@pytest.mark.parametrize("placeholder", ["1899-12-30", "1970-01-01", "1900-01-01"])
def test_placeholder_dates_are_named_with_a_working_fix(placeholder, tmp_path):
    table = make_demand_table(2, 60)
    clean = panel(write(table, tmp_path / "clean.csv"), columns=DAILY)
    bad = table.copy()
    bad["day"] = bad["day"].dt.strftime("%Y-%m-%d")
    extra = bad.iloc[[3, 70]].assign(day=placeholder)
    path = write(pd.concat([bad, extra], ignore_index=True), tmp_path / "t.csv")
    message = refused(path, columns=DAILY, panel=SHORT)
    assert (
        f"has 2 row(s) dated {placeholder}, long before the other rows (2024-01-01 to 2024-02-29), at row(s) 121, 122"
        in message
    )
    got = panel(path, **apply_typed(message, "start", columns=DAILY))
    same_panel(got, clean)
    assert got.quality.dropped["before_data_start"] == 2


# --- 8. empty quantities ------------------------------------------------------------------------------------------


def catalogue(parts: pd.DataFrame) -> pd.DataFrame:
    """Every part on every month, the quantity empty until the part was first recorded: an ERP's parts grid."""
    grid = pd.MultiIndex.from_product(
        [parts["part"].unique(), sorted(parts["month"].unique())], names=["part", "month"]
    )
    return parts.set_index(["part", "month"]).reindex(grid).reset_index()


def test_parts_not_yet_listed_are_dropped_and_counted(tmp_path):
    parts = monthly_parts(n_parts=10, months=24)
    clean = panel(write(parts, tmp_path / "clean.csv"), columns=MONTHLY)
    grid = catalogue(parts)
    got = panel(write(grid, tmp_path / "t.csv"), columns=MONTHLY)
    same_panel(got, clean)
    assert got.quality.dropped["not_yet_listed"] == int(grid["units"].isna().sum()) > 0


def test_empty_quantity_inside_a_history_follows_data_missing(tmp_path):
    parts = monthly_parts(n_parts=10, months=24)
    zero = parts.index[(parts["units"] == 0) & (parts["part"] == parts["part"].shift())][0]
    clean = panel(write(parts, tmp_path / "clean.csv"), columns=MONTHLY)
    path = write(parts.assign(units=parts["units"].where(parts.index != zero)), tmp_path / "t.csv")
    message = refused(path, columns=MONTHLY, panel=SHORT)
    assert (
        "is empty in 1 row(s) after their SKU's first recorded quantity" in message and f"row(s) {zero + 1})" in message
    )
    as_zero = panel(path, **apply_typed(message, "missing=zero", columns=MONTHLY))
    same_panel(as_zero, clean)
    assert as_zero.quality.repairs["missing_quantity_set_to_zero"] == 1
    dropped = panel(path, **apply_typed(message, "missing=drop", columns=MONTHLY))
    pd.testing.assert_series_equal(dropped.panel["demand"], clean.panel["demand"])
    assert dropped.quality.dropped["missing_quantity"] == 1 and dropped.panel["filled"].sum() == 1


# --- whole runs: exit 2 with one sentence, and a printed fix typed into a shell --------------------------------


def empty_sku_column(path: Path) -> Path:
    return write(make_demand_table(2, 30).assign(item=np.nan), path)


def bad_directive(path: Path) -> Path:
    return write(sunday_weeks().rename(columns=dict(zip(WEEKLY.values(), DAILY.values(), strict=True))), path)


def daily_with_weekly_skus(path: Path) -> Path:
    daily = make_demand_table(3, 70)
    weekly_rows = daily[daily["day"].dt.dayofweek == 6].assign(item=lambda t: "W" + t["item"])
    return write(pd.concat([daily, weekly_rows]), path)


CLI = [
    ("empty_sku_column", empty_sku_column, (), "column 'item' (data.columns.sku) is empty in every row; map"),
    ("bad_date_directive", bad_directive, ("data.date_format=%Y-%Q",), "uses %Q, which is not a date directive"),
    ("iso_without_weekday", bad_directive, ("data.date_format=%G-%m",), "cannot read dates (ISO year directive"),
    ("weekly_among_daily", daily_with_weekly_skus, (), "3 SKU(s) have one row a week (e.g. every Sunday): WSKU0"),
]


@pytest.mark.parametrize("name, write_file, extra, says", CLI, ids=[c[0] for c in CLI])
def test_run_py_exits_2_with_one_sentence(name, write_file, extra, says, tmp_path):
    path = write_file(tmp_path / "sales.csv")
    cols = [f"data.columns.{k}={v}" for k, v in DAILY.items()]
    res = run_cli("data=demand_table", f"data.path={path}", *cols, *extra, f"hydra.run.dir={tmp_path / 'run'}")
    out = res.stdout + res.stderr
    assert res.returncode == 2, out[-2000:]
    assert "Traceback" not in out
    assert len([line for line in out.splitlines() if says in line]) == 1, out[-2000:]


def ambiguous_thousands(path: Path) -> Path:
    table = big_daily()
    table = table[table["units"] >= 1000]
    return write(table.assign(units=table["units"].map(lambda v: f"{v:,.0f}")), path)


def monday_and_sunday_weeks(path: Path) -> Path:
    weeks = sunday_weeks()
    starts = weeks["item"].isin(["SYN0", "SYN1"])
    weeks.loc[starts, "week_ending"] -= pd.Timedelta(days=6)
    return write(weeks.rename(columns=dict(zip(WEEKLY.values(), DAILY.values(), strict=True))), path)


def quantity_named_in_capitals(path: Path) -> Path:
    weeks = sunday_weeks().rename(columns=dict(zip(WEEKLY.values(), DAILY.values(), strict=True)))
    return write(weeks.rename(columns={"units": "UNITS"}), path)


SHELL = [
    ("ambiguous_thousands", ambiguous_thousands, "thousands", ("backtest.horizon=7", "data.panel.min_history_days=20")),
    ("monday_and_sunday_weeks", monday_and_sunday_weeks, "week_ending", ()),
    ("quantity_named_in_capitals", quantity_named_in_capitals, "quantity", ()),
]


@pytest.mark.parametrize("name, make, pick, extra", SHELL, ids=[c[0] for c in SHELL])
def test_printed_fix_typed_into_a_shell_runs(name, make, pick, extra, tmp_path):
    """run.py refuses the table (exit 2); the setting its one line prints, pasted into bash, makes it run."""
    path = make(tmp_path / "t.csv")
    args = [sys.executable, "run.py", "data=demand_table", f"data.path={path}"]
    args += [f"data.columns.{k}={v}" for k, v in DAILY.items()]
    args += ["task=backtest", "model=[croston]", "backtest.folds=1", "parallel.n_jobs=1", "num_samples=20", *extra]
    first = subprocess.run([*args, f"hydra.run.dir={tmp_path / 'run1'}"], cwd=ROOT, capture_output=True, text=True)
    said = [line for line in (first.stdout + first.stderr).splitlines() if "ERROR" in line]
    assert first.returncode == 2 and len(said) == 1, (first.stdout + first.stderr)[-2000:]
    [fix] = [text for text in printed_settings(said[0]) if pick in text]
    command = " ".join(map(shlex.quote, args)) + f" {fix} hydra.run.dir={shlex.quote(str(tmp_path / 'run'))}"
    res = subprocess.run(["bash", "-c", command], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, (res.stdout + res.stderr)[-2000:]
    quality = json.loads((tmp_path / "run" / "data_quality.json").read_text())
    assert quality["rows_in"] == len(pd.read_csv(path))
    clean = prepare_data(path, kind="demand", panel=SHORT, **apply_typed(fix, pick, columns=DAILY)).panel
    backtest = pd.read_parquet(tmp_path / "run" / "backtest.parquet")
    actual = clean.set_index(["sku", "date"])["demand"]
    assert (
        backtest.set_index(["sku", "date"])["demand"] == actual.reindex(backtest.set_index(["sku", "date"]).index)
    ).all()


# --- the other advice the loader prints ---------------------------------------------------------------------------


def test_sparse_daily_sales_keep_every_weekday_and_day_open(tmp_path):
    """A SKU selling every ninth day sells on no weekday's 20% of dates; against the busiest weekday's share no
    weekday is closed, and its days without a sale are not closures (an absolute 20% bar stopped this run)."""
    days = pd.date_range("2024-01-01", periods=40, freq="9D")
    path = write(pd.DataFrame({"item": "A", "day": days, "units": 5.0}), tmp_path / "t.csv")
    got = panel(path, columns=DAILY)
    assert got.calendar.closed_weekdays == () and got.calendar.closed_dates == ()
    assert got.panel["demand"].sum() == 200 and len(got.panel) == (days[-1] - days[0]).days + 1


def test_rows_without_a_sku_are_named(tmp_path):
    table = make_demand_table(2, 20)
    table.loc[[4, 30], "item"] = np.nan
    message = refused(write(table, tmp_path / "t.csv"), columns=DAILY, panel=SHORT)
    assert "column 'item' is empty in 2 row(s) (row(s) 5, 31), which have no SKU" in message


def test_a_total_row_without_a_date_is_left_out_and_other_dateless_rows_follow_data_empty_dates(tmp_path):
    # Spreadsheet exports end with a "Total" row: a SKU text, the summed quantity, no date. No sale lacks a date,
    # and the code reads as a total: left out, counted.
    table = make_demand_table(2, 30)
    total = pd.DataFrame({"item": ["Total"], "units": [table["units"].sum()]})  # "day" left empty
    clean = panel(write(table, tmp_path / "clean.csv"), columns=DAILY)
    got = panel(write(pd.concat([table, total], ignore_index=True), tmp_path / "total.csv"), columns=DAILY)
    same_panel(got, clean)
    assert got.quality.as_dict()["dropped_by_reason"]["total_row"] == 1
    # A row of some other code without a date stops the run, or is left out with the printed setting.
    other = total.assign(item="Rounding")
    path = write(pd.concat([table, other], ignore_index=True), tmp_path / "t.csv")
    message = refused(path, columns=DAILY, panel=SHORT)
    assert "1 empty date(s) at row(s) 61" in message and "data.empty_dates=drop" in message
    got = panel(path, **apply_typed(message, "empty_dates", columns=DAILY))
    same_panel(got, panel(write(table, tmp_path / "clean.csv"), columns=DAILY))
    assert got.quality.as_dict()["dropped_by_reason"]["empty_date"] == 1


def test_too_short_histories_print_limits_that_keep_a_sku(tmp_path):
    path = write(make_demand_table(2, 30), tmp_path / "t.csv")
    message = refused(path, columns=DAILY)
    assert "no SKU has enough history" in message
    kwargs = apply_typed(message, "min_history_days", **apply_typed(message, "min_nonzero_days", columns=DAILY))
    assert panel(path, **kwargs).panel["sku"].nunique() >= 1


def test_a_short_weekly_table_runs_as_the_printed_settings_say(tmp_path):
    # 20 weeks: too few for the weekly backtest's default folds. The message counts weeks and prints settings
    # that fit; typed as printed, the run plans, and with no SKU the history to be replayed from it says so
    # instead of failing.
    path = write(weekly(n_skus=4, weeks=20), tmp_path / "t.csv")
    args = [sys.executable, "run.py", "data=demand_table", f"data.path={path}"]
    args += [f"data.columns.{k}={v}" for k, v in WEEKLY.items()]
    args += [
        "model=[croston]",
        "parallel.n_jobs=1",
        "num_samples=20",
        *[f"data.panel.{k}={v}" for k, v in SHORT.items()],
    ]
    first = subprocess.run([*args, f"hydra.run.dir={tmp_path / 'run1'}"], cwd=ROOT, capture_output=True, text=True)
    said = [line for line in (first.stdout + first.stderr).splitlines() if "ERROR" in line]
    assert first.returncode == 2 and len(said) == 1, (first.stdout + first.stderr)[-2000:]
    assert "the data has 20 weeks" in said[0]
    fixes = [text for text in re.findall(r"backtest\.\w+=\d+", said[0])]
    assert "backtest.folds=1" in fixes
    res = subprocess.run(
        [*args, *fixes, f"hydra.run.dir={tmp_path / 'run'}"], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert res.returncode == 0, (res.stdout + res.stderr)[-2000:]
    assert (tmp_path / "run" / "plan.csv").exists() and not (tmp_path / "run" / "replay.csv").exists()
    assert "nothing was replayed" in res.stdout + res.stderr


def test_a_global_model_without_the_history_to_learn_prints_the_model_list_without_it(tmp_path):
    # 10 months, one test fold of 2: lightgbm reaches its cutoff with 8 months and cannot learn. "Leave it out of
    # model=[...]" could not be typed by a user of the default list; the list to type is printed.
    parts = monthly_parts(n_parts=4, months=10)
    path = write(parts, tmp_path / "t.csv")
    args = [sys.executable, "run.py", "data=demand_table", f"data.path={path}", "parallel.n_jobs=1", "num_samples=20"]
    args += [f"data.columns.{k}={v}" for k, v in MONTHLY.items()]
    args += ["data.panel.min_history_days=4", "data.panel.min_nonzero_days=1", "backtest.folds=1"]
    args += ["backtest.horizon=2", "backtest.min_train_days=6", "task=backtest"]
    first = subprocess.run(
        [*args, "model=[croston,lightgbm]", f"hydra.run.dir={tmp_path / 'run1'}"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    said = [line for line in (first.stdout + first.stderr).splitlines() if "ERROR" in line]
    assert first.returncode == 2 and len(said) == 1, (first.stdout + first.stderr)[-2000:]
    assert "lightgbm: 8 months of history" in said[0] and "leave lightgbm out: model=[croston]" in said[0]
    typed = re.search(r"model=\[[\w,]+\]", said[0]).group(0)
    res = subprocess.run(
        [*args, typed, f"hydra.run.dir={tmp_path / 'run'}"], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert res.returncode == 0, (res.stdout + res.stderr)[-2000:]


def test_a_sku_of_item_and_store_columns(tmp_path):
    # An item-store export: the SKU is the pair. Mapped as a list, each pair is one series, as a joined column is.
    weeks = weekly(n_skus=3, weeks=40)
    stores = pd.concat([weeks.assign(store=s, qty=weeks["qty"] + i) for i, s in enumerate(["CA_1", "TX_2"])])
    joined = stores.assign(item=stores["item"] + "|" + stores["store"]).drop(columns="store")
    clean = panel(write(joined, tmp_path / "joined.csv"), columns=WEEKLY)
    columns = {**WEEKLY, "sku": ["item", "store"]}
    path = write(stores, tmp_path / "t.csv")
    got = panel(path, columns=columns)
    same_panel(got, clean)
    assert got.panel["sku"].nunique() == 6
    # A part misspelt: the message prints the whole list to type.
    message = refused(path, columns={**WEEKLY, "sku": ["item", "Store"]}, panel=SHORT)
    assert "'data.columns.sku=[item,store]'" in message
    same_panel(panel(path, **apply_typed(message, "sku", columns=WEEKLY)), clean)


def test_columns_named_with_more_words_print_every_setting_to_type(tmp_path):
    # A shop system's export: 'Order Date' and 'Net Sales (EUR)' where the mapping says date and sales.
    weeks = weekly(n_skus=3, weeks=40)
    clean = panel(write(weeks, tmp_path / "clean.csv"), columns=WEEKLY)
    named = weeks.rename(columns={"week_ending": "Order Date", "qty": "Net Sales (EUR)"})
    path = write(named, tmp_path / "shop.csv")
    message = refused(path, columns={**WEEKLY, "date": "date", "quantity": "sales"})
    assert "\"data.columns.date='Order Date'\" \"data.columns.quantity='Net Sales (EUR)'\"" in message
    same_panel(panel(path, **apply_typed(message, "columns", columns={**WEEKLY, "date": "d", "quantity": "q"})), clean)
    # Two columns holding the word: no guess, the list to pick from.
    both = named.assign(**{"Ship Date": named["Order Date"]})
    message = refused(write(both, tmp_path / "two.csv"), columns={**WEEKLY, "date": "date"})
    assert "set data.columns.date to one of them" in message


def test_header_names_padded_with_spaces_are_the_names_mapped(tmp_path):
    # Fixed-width exports pad their header cells: ' item', 'qty ' are the columns item and qty.
    weeks = weekly(n_skus=3, weeks=40)
    clean = panel(write(weeks, tmp_path / "clean.csv"), columns=WEEKLY)
    padded = weeks.rename(columns={name: f"  {name} " for name in weeks.columns})
    same_panel(panel(write(padded, tmp_path / "padded.csv"), columns=WEEKLY), clean)
    padded.to_parquet(tmp_path / "padded.parquet", index=False)
    same_panel(panel(tmp_path / "padded.parquet", columns=WEEKLY), clean)
