"""The plan's exception codes: what each means, most urgent first, how a plan row spells several, and how many
SKUs carry each. The rules that raise them sit beside what they judge (planning.plan, planning.replay_misses);
reports read the meanings and the order from here."""

from __future__ import annotations

import pandas as pd

# Most urgent first: the order in which a planner should work through the exceptions.
EXCEPTION_MEANINGS = {
    "STOCKOUT_BEFORE_RECEIPT": "Projected to run out before an order placed today arrives: expedite it.",
    "TARGET_UNREACHABLE_BEFORE_RECEIPT": "Stock on hand and on order serves less than the service target before an "
    "order placed today can arrive: the target cannot be met this cycle; expedite or accept the shortfall.",
    "REPLAY_MISSED_TARGET": "Replayed on history, the plan's policy fell more than 2 points short of the fill-rate "
    "target on this SKU (replay_fill_rate): check its forecast and lead time before trusting its orders.",
    "OVERDUE_ORDER": "An open order is past its arrival date: chase the supplier or correct the open-orders file "
    "(stock_source says whether the plan counted it).",
    "OPEN_ORDER_AFTER_CYCLE": "An open order arrives after the lead time + review period of the order placed today, "
    "so that order is sized without it: pull the open order in and order less, or confirm both are wanted.",
    "EXCESS_STOCK": "Stock far above the order-up-to level: hold orders, consider a markdown or transfer.",
    "NO_RECENT_SALES": "No recent sales: check the listing, availability, or whether the SKU is phased out.",
    "FORECAST_MOVED": "The forecast moved sharply since the last plan: check for a promotion or data error.",
    "SHORT_HISTORY": "Little sales history: the forecast is uncertain; review the order by hand.",
}


def split_codes(text: str) -> list[str]:
    return [c.strip() for c in str(text).split(";") if c.strip()]


def skus_per_code(codes: pd.Series) -> dict[str, int]:
    """How many plan rows carry each code (`codes`: the plan's `exceptions` column), the most frequent first."""
    exploded = codes.fillna("").str.split(";").explode()
    return exploded[exploded != ""].value_counts().to_dict()
