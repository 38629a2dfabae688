"""Champion / challenger per segment: a model replaces a segment's champion only when it beats it on the
latest backtest, and every decision is recorded with both figures."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd


def decide_champions(
    current: pd.DataFrame, by_segment: pd.DataFrame, metric: str, candidates: Sequence[str]
) -> pd.DataFrame:
    """Decisions per segment: segment, model, previous_model, metric, value, previous_value, reason.

    `current` holds the standing champions (segment, model); `by_segment` the latest backtest's metrics per
    model and ABC x demand class.
    """
    scored = by_segment[by_segment["model"].isin(candidates)].dropna(subset=[metric]).copy()
    scored["segment"] = scored["abc"] + "-" + scored["demand_class"]
    standing = current.set_index("segment")["model"] if len(current) else pd.Series(dtype=str)
    rows = []
    for segment, g in scored.groupby("segment"):
        values = g.set_index("model")[metric]
        best = values.idxmin()
        incumbent = standing.get(segment)
        if incumbent is None or incumbent not in values:
            reason = (
                "first champion" if incumbent is None else f"{incumbent} missing from the latest backtest"
            )
            rows.append((segment, best, incumbent, metric, values[best], None, reason))
        elif best != incumbent and values[best] < values[incumbent]:
            rows.append(
                (
                    segment,
                    best,
                    incumbent,
                    metric,
                    values[best],
                    values[incumbent],
                    f"{best} beats {incumbent} on {metric}",
                )
            )
        else:
            rows.append((segment, incumbent, incumbent, metric, values[incumbent], values[incumbent], "kept"))
    return pd.DataFrame(
        rows, columns=["segment", "model", "previous_model", "metric", "value", "previous_value", "reason"]
    )
