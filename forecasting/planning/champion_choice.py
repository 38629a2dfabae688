"""Champion per segment, chosen on the validation folds and reported on the test folds.

Every model of the backtest competes: per-SKU, global and ensembles. Choosing on the same folds that report the
champion's accuracy would flatter it (the best of many noisy scores is optimistic), so the test folds only
report. Without validation folds the test folds are all there is; the table says so in `chosen_on`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import pandas as pd

log = logging.getLogger(__name__)


def choose_champions(
    validation_by_segment: pd.DataFrame | None,
    test_by_segment: pd.DataFrame,
    segments: pd.DataFrame,
    metric: str,
    candidates: Sequence[str],
    fallback: str,
) -> tuple[pd.Series, pd.DataFrame]:
    """SKU -> champion model, and one row per ABC x demand class: the champion, where it was chosen, its
    validation and test `metric` and the test `metric` of the best model on the test folds (for reference)."""
    chosen_on = "validation" if validation_by_segment is not None and len(validation_by_segment) else "test"
    if chosen_on == "test":
        log.warning("champions: no validation folds, so they are chosen on the test folds they are reported on")
    source = validation_by_segment if chosen_on == "validation" else test_by_segment
    key = ["abc", "demand_class"]
    scored = source[source["model"].isin(candidates)].dropna(subset=[metric])
    best = scored.sort_values(metric, kind="stable").drop_duplicates(key).set_index(key)
    test = test_by_segment.set_index(["abc", "demand_class", "model"])[metric]
    rows = []
    for (abc, dclass), row in best.iterrows():
        on_test = test_by_segment[(test_by_segment["abc"] == abc) & (test_by_segment["demand_class"] == dclass)]
        on_test = on_test[on_test["model"].isin(candidates)].dropna(subset=[metric])
        rows.append(
            {
                "segment": f"{abc}-{dclass}",
                "abc": abc,
                "demand_class": dclass,
                "model": row["model"],
                "chosen_on": chosen_on,
                f"validation_{metric}": row[metric] if chosen_on == "validation" else float("nan"),
                f"test_{metric}": test.get((abc, dclass, row["model"]), float("nan")),
                "best_on_test": on_test.loc[on_test[metric].idxmin(), "model"] if len(on_test) else None,
                f"best_test_{metric}": on_test[metric].min() if len(on_test) else float("nan"),
            }
        )
    table = pd.DataFrame(rows)
    by_key = best["model"]
    keys = list(zip(segments["abc"], segments["demand_class"], strict=True))
    champions = pd.Series([by_key.get(k, fallback) for k in keys], index=segments["sku"].astype(str), name="model")
    return champions, table
