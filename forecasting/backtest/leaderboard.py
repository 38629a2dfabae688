"""Rank models on the test folds and measure forecast value added (FVA) against the baseline.

A model is never crowned by one series: when a single (SKU, cutoff) series makes up more than
`dominance_share` of any model's total on the ranking metric (a data error such as a day of 1e18 units, or one
series a model fits absurdly well or badly), that series is left out of the ranking for every model, logged,
and named in the leaderboard; the plain metric is still reported beside the value ranked on.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import pandas as pd

from forecasting.backtest.metrics import SERIES_LOSS, score, series_losses
from forecasting.errors import InputError

log = logging.getLogger(__name__)

FVA_METRICS = ("mae", "rmsse", "pinball")
DOMINANCE_SHARE = 0.5
MIN_SERIES = 4  # with fewer series than this, one of them carrying half the total is no anomaly


def dominance(
    bt: pd.DataFrame, metric: str, quantiles: Sequence[float], share: float = DOMINANCE_SHARE
) -> pd.DataFrame:
    """Per model: its largest single series on `metric` (`top_series`, 'sku @ cutoff') and that series' share
    of the model's total (`top_series_share`), and whether it dominates (`dominated`)."""
    cols = ["model", "top_sku", "top_cutoff", "top_series", "top_series_share", "dominated"]
    if metric not in SERIES_LOSS or bt.empty:
        return pd.DataFrame(columns=cols)
    losses = series_losses(bt, metric, quantiles).dropna(subset=["loss"])
    if losses.empty:
        return pd.DataFrame(columns=cols)
    totals = losses.groupby("model")["loss"].agg(["sum", "size"])
    top = losses.loc[losses.groupby("model")["loss"].idxmax()].set_index("model")
    out = pd.DataFrame(
        {
            "top_sku": top["sku"],
            "top_cutoff": top["cutoff"],
            "top_series_share": (top["loss"] / totals["sum"].where(totals["sum"] > 0)).fillna(0.0),
        }
    )
    out["top_series"] = out["top_sku"].astype(str) + " @ " + pd.to_datetime(out["top_cutoff"]).dt.strftime("%Y-%m-%d")
    out["dominated"] = (out["top_series_share"] > share) & (totals["size"] >= MIN_SERIES)
    return out.reset_index()[cols]


def robust_scores(
    bt: pd.DataFrame,
    metric: str,
    quantiles: Sequence[float],
    share: float = DOMINANCE_SHARE,
    scored: pd.DataFrame | None = None,
) -> tuple[pd.Series, pd.DataFrame]:
    """`metric` per model with every dominating series left out for all models (the value to rank on), and the
    dominance table. `scored` (`score(bt, ["model"], ...)`, when the caller has it) is reused when no series
    dominates, rather than scoring the same rows again."""
    dom = dominance(bt, metric, quantiles, share)
    excluded = dom[dom["dominated"]]
    kept = bt
    if len(excluded):
        drop = pd.MultiIndex.from_frame(excluded[["top_sku", "top_cutoff"]].drop_duplicates())
        kept = bt[~pd.MultiIndex.from_frame(bt[["sku", "cutoff"]]).isin(drop)]
        log.warning(
            "%s of %s is dominated by single series (%s): they are left out of the ranking for every model; "
            "check those SKUs' data",
            metric,
            ", ".join(excluded["model"]),
            "; ".join(f"{r.top_series} = {r.top_series_share:.0%} of {r.model}'s total" for r in excluded.itertuples()),
        )
    if not len(kept):
        values = pd.Series(dtype=float)
    else:
        table = scored if scored is not None and kept is bt else score(kept, ["model"], quantiles)
        values = table.set_index("model")[metric]
    return values.rename("rank_value"), dom


def leaderboard(
    bt: pd.DataFrame,
    quantiles: Sequence[float],
    rank_by: str = "rmsse",
    baseline: str = "seasonal_naive",
    dominance_share: float = DOMINANCE_SHARE,
) -> pd.DataFrame:
    """One row per model: metrics over all test folds, FVA (1 - metric / baseline's), rank by `rank_by`.

    FVA of +0.2 means the model's error is 20% below seasonal naive's on the same SKUs and folds. The rank
    follows `rank_value`: `rank_by` without dominating series (equal to it when no series dominates).
    """
    if rank_by not in SERIES_LOSS:
        raise InputError(f"optimized_metric '{rank_by}' is unknown; use one of {', '.join(SERIES_LOSS)}.")
    board = score(bt, ["model"], quantiles)
    fallbacks = bt.groupby("model")["fallback"].mean().rename("fallback_share")
    board = board.merge(fallbacks, left_on="model", right_index=True, how="left")
    base = board.set_index("model")
    for m in FVA_METRICS:
        ref = base[m].get(baseline)
        board[f"fva_{m}"] = 1.0 - board[m] / ref if ref else float("nan")
    values, dom = robust_scores(bt, rank_by, quantiles, dominance_share, scored=board)
    board["rank_value"] = board["model"].map(values) if len(values) else board.get(rank_by)
    board = board.merge(dom[["model", "top_series", "top_series_share", "dominated"]], on="model", how="left")
    board = board.sort_values(["rank_value", rank_by], kind="stable", na_position="last").reset_index(drop=True)
    board.insert(0, "rank", range(1, len(board) + 1))
    return board
