"""The replay's stock saving in words, as the log and the report say it (planning.saving_interval measures it)."""

from __future__ import annotations

import math

POLICY_NAMES = {"naive": "the naive policy", "empirical": "the empirical-quantile policy"}
# Why a saving is not shown (saving_interval's `not_shown_because`).
FEW_SKUS, CURVE_MISSED, REACHES_ZERO = "few_skus", "curve_missed", "reaches_zero"


def saving_not_shown(reference: str, reason: str, low: float | None, high: float | None, skus: int) -> str:
    """One sentence: why this replay does not show that the champion saves stock against `reference`."""
    name = POLICY_NAMES.get(reference, reference)
    if reason == FEW_SKUS:
        return (
            f"with {skus} SKUs the replay cannot tell a saving against {name} from the luck of which SKUs were "
            "drawn, so it claims none"
        )
    if reason == CURVE_MISSED:
        return f"the champion's service curve misses the fill rates of {name} on many resamples of the SKUs"
    if low is None or high is None or math.isnan(low) or math.isnan(high):
        return f"no saving against {name} is shown"
    return (
        f"no saving against {name} is shown: over resamples of the {skus} SKUs the median stock saved at equal "
        f"fill ranges from {low:.1%} to {high:.1%} (a negative share is more stock)"
    )
