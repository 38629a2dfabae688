"""REPLAY_MISSED_TARGET: a SKU whose plan, replayed on history, fell short of its own fill-rate target, and where
the target cannot be met at all (the codes a planner checks before trusting a SKU's orders)."""

from __future__ import annotations

import numpy as np
import pandas as pd

# A SKU whose replayed fill rate falls further than this below the target is flagged (REPLAY_MISSED_TARGET); the
# code's meaning (planning.exception_codes) tells the planner "2 points": change both together.
MISS_TOLERANCE = 0.02


def flag_replay_misses(plan: pd.DataFrame, per_sku: pd.DataFrame, target: float) -> pd.DataFrame:
    """The champion's replayed fill rate at the plan's target per SKU (`replay_fill_rate`), and the code
    REPLAY_MISSED_TARGET where it fell more than MISS_TOLERANCE short of a fill-rate target set on the SKU itself
    (over the assortment a SKU's own fill is meant to differ from the target)."""
    champ = per_sku[(per_sku["policy"] == "champion") & np.isclose(per_sku["target"], target)]
    fill = (champ["sales"] / champ["demand"].where(champ["demand"] > 0)).groupby(champ["sku"]).first()
    plan = plan.assign(replay_fill_rate=plan["sku"].map(fill).round(4))
    own = (plan["service_measure"] == "fill_rate") & (plan.get("service_scope", "sku") == "sku")
    if own.any():
        missed = own & (plan["replay_fill_rate"] < target - MISS_TOLERANCE)
        codes = plan["exceptions"].fillna("")
        plan["exceptions"] = codes.where(~missed, (codes + ";REPLAY_MISSED_TARGET").str.lstrip(";"))
    return plan


def target_not_met(plan: pd.DataFrame) -> dict:
    """Where the target cannot be met: SKUs per code, and per segment."""
    out = {}
    for code in ("TARGET_UNREACHABLE_BEFORE_RECEIPT", "REPLAY_MISSED_TARGET"):
        hit = plan["exceptions"].fillna("").str.split(";").apply(lambda c, code=code: code in c)
        out[code] = {"skus": int(hit.sum()), "by_segment": plan.loc[hit, "segment"].value_counts().to_dict()}
    return out
