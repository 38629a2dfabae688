"""How sure the replay's stock saving is: a bootstrap over the SKUs replayed.

The saving at equal fill (replay.stock_at_equal_fill, the median over a reference policy's service curve) is the
figure of one assortment. Drawn again from SKUs like these it would differ, and on a few dozen SKUs by more than
the saving itself: one SKU the champion over-stocks, or the naive policy starves, can carry the whole figure. So
the SKUs are resampled with replacement, each resample's curves pooled as the replay pools them (units summed,
fill = sales / demand), and the median saving taken again; the 5th and 95th percentiles of those medians bound it.
A saving whose interval reaches 0 is not shown by this replay, whatever its point figure. Below MIN_SKUS the
resamples repeat a handful of series and their spread means little: no interval is given, and no saving claimed.

It measures which SKUs were drawn, not which weeks: the 12 replayed weeks are the same in every resample, so a
season that favoured one policy on every SKU still favours it here.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from forecasting.planning.replay import median_saved
from forecasting.vocabulary.saving_words import CURVE_MISSED, FEW_SKUS, REACHES_ZERO

REPLICATES = 1000
LEVEL = 0.90
# Fewer SKUs than this: the resamples are drawn from too few series for their spread to bound anything.
MIN_SKUS = 20
COLUMNS = ["reference", "median_saved_low", "median_saved_high", "saving_shown", "not_shown_because", "skus"]


def saving_interval(
    per_sku: pd.DataFrame,
    policy: str = "champion",
    references: Sequence[str] = ("naive", "empirical"),
    replicates: int = REPLICATES,
    level: float = LEVEL,
    seed: int = 0,
) -> pd.DataFrame:
    """Per reference policy: the `level` bootstrap interval (over SKUs) of the median stock `policy` saves at the
    reference's fill rates (`median_saved_low`, `median_saved_high`), whether the saving is shown (the interval's
    low end above 0), why not where it is not (saving_words: FEW_SKUS, CURVE_MISSED, REACHES_ZERO) and the SKUs
    resampled. `per_sku`: the replay's rows (sku, policy, target, demand, sales,
    stock_value_days, days), one per SKU, policy and target. NaN bounds and no saving shown below MIN_SKUS SKUs,
    or where the policy's curve misses the reference's in more than a tenth of the resamples."""
    keep = per_sku[per_sku["policy"].isin([policy, *references])]
    skus = keep["sku"].unique()
    counts = np.random.default_rng(seed).multinomial(len(skus), np.full(len(skus), 1.0 / len(skus)), replicates)
    columns = ["demand", "sales", "stock_value_days"]
    table = keep.pivot_table(index="sku", columns=["policy", "target"], values=columns, aggfunc="sum", fill_value=0)
    table = table.reindex(skus).fillna(0.0)
    keys = table["demand"].columns
    resampled = {column: counts @ table[column].reindex(columns=keys).to_numpy(dtype=float) for column in columns}
    days = keep.groupby(["policy", "target"])["days"].max().reindex(keys).to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        fill = resampled["sales"] / resampled["demand"]
        stock = resampled["stock_value_days"] / days
    own = np.asarray(keys.get_level_values("policy") == policy)
    rows = []
    for reference in references:
        ref = np.asarray(keys.get_level_values("policy") == reference)
        if not ref.any() or not own.any():
            continue
        medians = np.array(
            [median_saved(fill[b, own], stock[b, own], fill[b, ref], stock[b, ref]) for b in range(replicates)]
        )
        reason = FEW_SKUS if len(skus) < MIN_SKUS else CURVE_MISSED if np.isnan(medians).mean() > 0.1 else None
        low, high = np.nanquantile(medians, [(1 - level) / 2, (1 + level) / 2]) if reason is None else (np.nan,) * 2
        reason = reason or (None if low > 0 else REACHES_ZERO)
        rows.append((reference, float(low), float(high), reason is None, reason, len(skus)))
    return pd.DataFrame(rows, columns=COLUMNS)
