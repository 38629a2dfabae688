"""The plan's policy settings (plan.* in the config, and a row of the overrides file), checked by one set of rules:
a bad value stops the run with one sentence naming the setting, what is allowed and the fix."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from forecasting.errors import InputError
from forecasting.planning.policy import MEASURES, POLICIES

NUMERIC = (
    "lead_time_days",
    "lead_time_std_days",
    "review_period_days",
    "max_order_cycle_days",
    "service_target",
    "moq",
    "pack_size",
    "unit_cost",
    "holding_cost_rate",
    "order_cost",
    "stockout_cost",
)
TEXT = ("service_measure", "policy")
# Empty means "use the rule's default" (spread 0, no economic order cycle, MOQ 0, pack 1) or "derive it from the
# selling price" (costs).
OPTIONAL = ("lead_time_std_days", "max_order_cycle_days", "moq", "pack_size", "unit_cost", "stockout_cost")
MISSING_STOCK = ("error", "assumed_cover")
OVERDUE_ORDERS = ("count", "ignore")
# The plan reports 60-day demand, and closed days at the end of the forecast must not cut that window short;
# two years of daily paths per SKU is already large.
HORIZON_DAYS = (70, 730)
CHANGE = "change it in conf/plan/ or on the command line (plan.{key}=...)."


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
    check_choice(p, "missing_stock", MISSING_STOCK)
    check_choice(p, "overdue_orders", OVERDUE_ORDERS)
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
    for col, ok, allowed in policy_rules(row, horizon, bool(p.get("require_moq_multiple_of_pack"))):
        if not ok.iloc[0]:
            problem = "is missing" if p.get(col) is None else "is out of range"
            raise InputError(
                f"plan.{col}={p.get(col)} {problem}: allowed {allowed_text(allowed, ok)}; {CHANGE.format(key=col)}"
            )


def policy_rules(t: pd.DataFrame, horizon: float, require_multiple: bool):
    """(column, ok mask, what is allowed) per rule, in the order a user should fix them."""
    std = t["lead_time_std_days"].fillna(0.0)
    review = t["review_period_days"]
    lead_max = (horizon - review.fillna(1.0) - 3 * std).clip(lower=0)
    cycle = t["max_order_cycle_days"].fillna(0.0)
    cycle_max = (horizon - t["lead_time_days"].fillna(0.0) - 3 * std).clip(lower=0)
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
        (
            "max_order_cycle_days",
            optional["max_order_cycle_days"] | (cycle == 0) | cycle.between(review, cycle_max),
            cycle_max.map(
                lambda m: (
                    f"0 (an order at every review), or from review_period_days to {m:g} days, so that lead time + "
                    f"the order cycle + 3 x lead_time_std_days fits in the forecast (plan.horizon_days={horizon:g})"
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


def check_choice(p: Mapping, key: str, allowed: tuple[str, ...]) -> None:
    if p.get(key, allowed[0]) not in allowed:
        raise InputError(f"plan.{key}={p.get(key)!r} is unknown; use one of: {', '.join(allowed)}.")


def allowed_text(allowed: str | pd.Series, ok: pd.Series) -> str:
    """What is allowed, for the first offending row where it differs per row (the lead time's upper bound)."""
    return allowed if isinstance(allowed, str) else str(allowed[~ok].iloc[0])
