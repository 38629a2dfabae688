"""Champion per segment on a leaderboard metric (daily accuracy, or `cover_pinball`), over the windows given.

Every model of the backtest competes: per-SKU, global and ensembles. Which windows those are is the caller's
choice (planning.decision: the validation folds for the replay, every fold for the production plan); the test
folds only report. The plan's default criterion is not here but in planning.decision (`plan_pinball`).
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd


def choose_champions(
    scores: pd.DataFrame,
    segments: pd.DataFrame,
    metric: str,
    candidates: Sequence[str],
    fallback: str,
) -> tuple[pd.Series, pd.DataFrame]:
    """SKU -> champion model (the fallback where a SKU's segment has no score), and one row per ABC x demand
    class: the champion and its `metric` on the windows scored."""
    key = ["abc", "demand_class"]
    if metric not in scores:
        raise KeyError(f"no {metric} in the scores")
    scored = scores[scores["model"].isin(candidates)].dropna(subset=[metric])
    best = scored.sort_values(metric, kind="stable").drop_duplicates(key).set_index(key)
    table = pd.DataFrame(
        {
            "segment": [f"{abc}-{dclass}" for abc, dclass in best.index],
            "abc": best.index.get_level_values(0),
            "demand_class": best.index.get_level_values(1),
            "model": best["model"].to_numpy(),
            metric: best[metric].to_numpy(),
        }
    )
    by_key = best["model"]
    keys = list(zip(segments["abc"], segments["demand_class"], strict=True))
    champions = pd.Series([by_key.get(k, fallback) for k in keys], index=segments["sku"].astype(str), name="model")
    return champions, table
