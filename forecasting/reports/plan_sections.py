"""Report sections a planner acts on, shown when the run has a plan: orders, exceptions, the champion per segment,
policy replay."""

from __future__ import annotations

import pandas as pd

from forecasting.planning.exception_codes import split_codes
from forecasting.planning.saving_interval import LEVEL
from forecasting.reports.columns import Column
from forecasting.reports.formatting import Table, format_value, safe
from forecasting.reports.run_folder import RunFolder
from forecasting.reports.svg import hbar_chart, percent, short_number, xy_chart
from forecasting.reports.tables import exception_counts, orders_to_place, skus_with_exceptions
from forecasting.vocabulary.saving_words import POLICY_NAMES, saving_not_shown

# The columns a buyer needs to place the order and judge its urgency; the rest are in plan.xlsx.
ORDER_COLUMNS = [
    "order_by",
    "sku",
    "description",
    "order_qty",
    "order_value",
    "inventory_position",
    "reorder_point",
    "order_up_to",
    "days_of_cover",
    "stockout_date_p50",
    "stockout_date_p90",
    "exceptions",
]
EXCEPTION_COLUMNS = [
    "sku",
    "description",
    "segment",
    "exceptions",
    "on_hand",
    "inventory_position",
    "days_of_cover",
    "stockout_date_p50",
    "stockout_date_p90",
    "order_by",
    "order_qty",
    "demand_30d_p50",
]
REPLAY_COLUMNS = [
    "policy",
    "target_fill_rate",
    "fill_rate",
    "cycle_service_level",
    "stockout_days",
    "avg_stock_units",
    "avg_stock_value",
    "orders",
    "lost_units",
    "total_cost",
]
URGENT = "STOCKOUT_BEFORE_RECEIPT"
CHAMPION_COLUMNS = ["segment", "model", "how_chosen", "windows", "plan_pinball", "runner_up"]


def _urgency(exceptions: pd.Series) -> list[str]:
    return ["urgent" if URGENT in split_codes(e) else "" for e in exceptions.fillna("")]


def policy_text(policy: str, measure: str, target: float) -> str:
    return f"{policy}, {str(measure).replace('_', ' ')} target {format_value(target, 'pct')}"


def orders_section(run: RunFolder) -> dict | None:
    if run.plan is None:
        return None
    orders = orders_to_place(run.plan)
    total = float(orders["order_value"].sum()) if "order_value" in orders else float("nan")
    first = orders["order_by"].min() if "order_by" in orders and len(orders) else None
    facts = [
        ("SKUs to order", format_value(len(orders), "int")),
        ("Units", format_value(orders["order_qty"].sum(), "int")),
        ("Order value", format_value(total, "money")),
        ("Earliest order-by date", format_value(first, "date")),
    ]
    if "model" in run.plan:  # the planner picks a champion per segment, which may differ from rank 1 overall
        used = run.plan["model"].value_counts()
        facts.append(("Forecast models in the plan", ", ".join(f"{m} ({n} SKUs)" for m, n in used.items())))
    if {"policy", "service_measure", "service_target"} <= set(run.plan.columns):
        combos = run.plan[["policy", "service_measure", "service_target"]].drop_duplicates()
        facts.append(("Policy", "; ".join(policy_text(*row) for row in combos.itertuples(index=False))))
    return {
        "facts": facts,
        "count": len(orders),
        "value": total,
        "table": Table(
            orders,
            [c for c in ORDER_COLUMNS if c in orders],
            key="sku",
            row_css=_urgency(orders.get("exceptions", pd.Series([""] * len(orders)))),
        ),
    }


def exceptions_section(run: RunFolder) -> dict | None:
    if run.plan is None or "exceptions" not in run.plan:
        return None
    counts = exception_counts(run.plan)
    flagged = skus_with_exceptions(run.plan)
    return {
        "count": len(flagged),
        "counts": Table(
            counts,
            [
                Column("code", "Exception"),
                Column("skus", "SKUs", "int"),
                Column("meaning", "What it means and what to do"),
            ],
            key="code",
        ),
        "table": Table(
            flagged,
            [c for c in EXCEPTION_COLUMNS if c in flagged],
            key="sku",
            row_css=_urgency(flagged["exceptions"]),
        ),
    }


def champions_section(run: RunFolder) -> dict | None:
    """The plan's champion per segment and why (champion_choice.csv, the plan's decision rows)."""
    choice = run.champion_choice
    if choice is None or choice.empty or run.plan is None:
        return None
    if "decision" in choice:
        choice = choice[choice["decision"] == "plan"]
    choice = choice.assign(how_chosen=[how_chosen(r) for r in choice.to_dict("records")])
    return {"table": Table(choice, CHAMPION_COLUMNS, key="segment")}


def how_chosen(row: dict) -> str:
    """Why a segment's champion is the one it is, in words (planning.decision's `chosen_by` and `margin_se`)."""
    margin, by, runner_up = row.get("margin_se"), row.get("chosen_by"), row.get("runner_up")
    if by == "overall" and isinstance(runner_up, str) and not pd.isna(margin):
        return (
            f"Best over all segments; {runner_up} scored better on this segment's windows, but by only "
            f"{float(margin):.1f} standard errors (2 needed)."
        )
    if str(row.get("pooled")) == "True":
        return "Best over all segments (too few windows of its own)."
    if by == "segment" and not pd.isna(margin):
        return f"Best on this segment's windows, {float(margin):.1f} standard errors ahead of the best overall."
    return "Best on this segment's windows." if by is not None else ""


def replay_section(run: RunFolder) -> dict | None:
    if run.replay is None or run.replay.empty:
        return None
    plan_metrics = run.metrics.get("plan", {}) if isinstance(run.metrics.get("plan"), dict) else {}
    protocol = protocol_note(plan_metrics.get("protocol"))
    savings = savings_note(plan_metrics.get("stock_saved"), (plan_metrics.get("protocol") or {}).get("proof", True))
    curve = service_curve_section(run)
    replay = run.replay
    by_policy = replay.set_index("policy")
    note = ""
    if {"champion", "naive"} <= set(by_policy.index) and {"fill_rate", "avg_stock_value"} <= set(replay.columns):
        c, n = by_policy.loc["champion"], by_policy.loc["naive"]
        stock_change = c["avg_stock_value"] / n["avg_stock_value"] - 1 if n["avg_stock_value"] else float("nan")
        more_or_less = "more" if stock_change >= 0 else "less"
        note = (
            f"Replayed on history, the champion's forecasts reached a fill rate of "
            f"{format_value(c['fill_rate'], 'pct')} against {format_value(n['fill_rate'], 'pct')} with naive "
            f"forecasts, holding {format_value(abs(stock_change), 'pct')} {more_or_less} stock value on "
            "average. "
            "The oracle knows future demand: it bounds what any forecast can achieve."
        )
    unmet = target_not_met_note(run.plan)
    if unmet:
        note = f"{note} {unmet}".strip()
    charts = []
    if {"fill_rate", "avg_stock_value"} <= set(replay.columns):
        charts.append(
            safe(
                hbar_chart(
                    "Fill rate by policy",
                    replay["policy"].astype(str).tolist(),
                    {"fill rate": replay["fill_rate"].tolist()},
                    percent,
                    ceiling=1.0,
                )
            )
        )
    return {
        "table": Table(
            replay,
            [c for c in REPLAY_COLUMNS if c in replay],
            key="policy",
            row_css=["champion" if p == "champion" else "" for p in replay["policy"]],
        ),
        "note": note,
        "charts": charts,
        "protocol": protocol,
        "savings": savings,
        "curve": curve["chart"] if curve else None,
    }


def protocol_note(protocol: dict | None) -> str:
    """Which windows chose what the replay used, and which days it replayed, in dates."""
    if not protocol:
        return ""
    chosen = ", ".join(protocol.get("replay_chosen_on_cutoffs") or []) or "no fold"
    played = f"{protocol.get('replay_start')} to {protocol.get('replay_end')}"
    if protocol.get("proof"):
        return (
            f"How this replay was run: the days after {protocol.get('replay_start')} up to "
            f"{protocol.get('replay_end')} were replayed as if planned on {protocol.get('replay_start')}. The "
            f"champions and the calibration it used were chosen on the backtest windows from the cutoffs {chosen}, "
            "whose horizons all end before the replayed days start: no choice saw the days it is judged on. The "
            "plan below applies the same rules at the last date, learning from every fold."
        ) + rehearsal_notes(protocol.get("service_levels") or {})
    return (
        f"No proof: this data is too short to hold out validation windows before the replayed days ({played}), so "
        f"the replay's champions and calibration were chosen on windows (cutoffs {chosen}) that overlap the days "
        "it replays. Its figures show how the policy behaves, not what it would have saved; no stock saving is "
        "claimed. Give the run more history, or lower backtest.horizon or plan.replay.weeks."
    )


def rehearsal_notes(rehearsals: dict) -> str:
    """How the replay's and the plan's service levels were set on rehearsals (planning.rehearsal), in words."""
    whose = {"replay": "The replay's per-SKU service levels", "plan": "The plan's own"}
    return "".join(rehearsal_note(whose[name], rehearsals.get(name)) for name in whose)


def rehearsal_note(whose: str, rehearsal: dict | None) -> str:
    """One rehearsal: the days it replayed, the fill rate the expected levels gave there, and what it changed."""
    if not rehearsal or rehearsal.get("fill_at_expected_k") is None:
        return ""
    fill, factor = rehearsal.get("fill_at_expected_k"), rehearsal.get("k_factor")
    moved = (
        "the miss was within that rehearsal's noise, so they were kept"
        if factor == 1
        else f"the value of a unit served they are set from was scaled by {factor:.2f} toward the target"
    )
    return (
        f" {whose} were set on a rehearsal: the same decision replayed on {rehearsal.get('start')} to "
        f"{rehearsal.get('decided_on')}, where the levels the calibrated forecasts expected gave a fill rate of "
        f"{fill:.1%}; {moved}."
    )


def savings_note(saved: dict | None, proof: bool) -> str:
    """The champion's stock at equal fill rate against each baseline policy, in words, with how sure the figure
    is over resamples of the SKUs (planning.saving_interval) and, where that does not show a saving, why not."""
    if not saved or not proof:
        return ""
    parts, unreached, unshown = [], [], []
    for reference, row in saved.items():
        name = POLICY_NAMES.get(reference, reference)
        reason = row.get("not_shown_because")
        low, high = row.get("median_saved_low"), row.get("median_saved_high")
        if reason:
            unshown.append(saving_not_shown(reference, reason, low, high, int(row.get("skus") or 0)))
        median, worst = row.get("median_saved"), row.get("worst_saved")
        if median is None or median != median:
            unreached.append(name)
            continue
        interval = (
            f"; a share saved of {format_value(low, 'pct')} to {format_value(high, 'pct')} in "
            f"{LEVEL:.0%} of resamples of the SKUs"
            if low is not None and high is not None and low == low and high == high
            else ""
        )
        parts.append(
            f"{format_value(abs(median), 'pct')} {'less' if median >= 0 else 'more'} stock value than "
            f"{name} at the same fill rate (median over its curve{interval}; "
            f"{format_value(abs(worst), 'pct')} {'less' if worst >= 0 else 'more'} at its worst point)"
        )
    notes = ["At equal fill rate the champion holds " + "; ".join(parts) + "."] if parts else []
    if unreached:
        notes.append(f"The champion's service curve does not reach the fill rates of {' or '.join(unreached)}.")
    if unshown:
        text = "; and ".join(unshown) + "."
        notes.append(f"But {text}" if parts else text[0].upper() + text[1:])
    return " ".join(notes)


def target_not_met_note(plan: pd.DataFrame | None) -> str:
    """Where the plan's target cannot be met, in words: SKUs the replay left more than 2 points short (by
    segment) and SKUs whose stock cannot reach the target before an order placed today arrives."""
    if plan is None or "exceptions" not in plan or not len(plan):
        return ""
    codes = plan["exceptions"].fillna("").map(split_codes)
    target = format_value(plan["service_target"].iloc[0], "pct") if "service_target" in plan else "the target"
    parts = []
    missed = plan[codes.map(lambda c: "REPLAY_MISSED_TARGET" in c)]
    if len(missed):
        segments = missed["segment"].value_counts() if "segment" in missed else pd.Series(dtype=int)
        where = ", ".join(f"{s} ({n})" for s, n in segments.items())
        parts.append(
            f"The target of {target} was not met on {len(missed)} of {len(plan)} SKUs, which fell more than 2 "
            f"points short in the replay (REPLAY_MISSED_TARGET{': ' + where if where else ''})."
        )
    unreachable = int(codes.map(lambda c: "TARGET_UNREACHABLE_BEFORE_RECEIPT" in c).sum())
    if unreachable:
        parts.append(
            f"{unreachable} SKUs cannot reach {target} before an order placed today arrives "
            "(TARGET_UNREACHABLE_BEFORE_RECEIPT)."
        )
    return " ".join(parts)


def service_curve_section(run: RunFolder) -> dict | None:
    curve = run.service_curve
    if curve is None or curve.empty:
        return None
    series = {}
    for policy, part in curve.sort_values(["policy", "target"]).groupby("policy", sort=False):
        series[str(policy)] = (
            part["avg_stock_value"].tolist(),
            part["fill_rate"].tolist(),
            [f"{t * 100:g}%" for t in part["target"]],
        )
    chart = xy_chart(
        "Service curve: fill rate against average stock value",
        series,
        short_number,
        percent,
        "Average stock value",
        "Fill rate",
    )
    return {"chart": safe(chart)}
