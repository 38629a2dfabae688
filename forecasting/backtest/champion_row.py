"""The leaderboard's `champion` row: per segment, the model the validation folds choose, scored on the test folds.

The best model of a leaderboard is picked on the test folds themselves, so its figure flatters: the best of N
noisy scores. The champion row is what a user who follows the run's own choice gets: the choice is made on the
validation folds only, per segment (ABC x demand class) as the SKUs stood when those folds ended, and then
scored on the test folds that no choice has seen. It is the figure to quote (../shared/DESIGN.md, "The
evaluation protocol"). Without validation folds there is nothing to choose on, and no champion row.

The champion's daily intervals are calibrated on the same validation folds (backtest.interval_calibration: each
interval's width scaled, per chosen model and segment, to cover its nominal share of the validation days), so
its 80% and 90% intervals are what a user following the run's choice should read; the model rows keep the
intervals their models gave.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence

import pandas as pd

from forecasting.backtest.interval_calibration import ALL_SEGMENTS, apply_interval_factors, fit_interval_factors
from forecasting.backtest.leaderboard import leaderboard, robust_scores
from forecasting.backtest.metrics import score, series_losses
from forecasting.vocabulary.paired_margin import MAX_MARGIN_SE, MIN_MARGIN_SE, paired_margin

log = logging.getLogger(__name__)

CHAMPION = "champion"
#: A segment with fewer SKUs than this on the validation folds takes the model that is best over all segments:
#: a winner among a handful of SKUs is mostly noise (on a 200-SKU panel several ABC x class cells hold 2-5).
MIN_SEGMENT_SKUS = 10
#: ... and a segment whose own winner does not beat the overall model on its validation series by MIN_MARGIN_SE
#: standard errors (paired over the segment's SKU-fold series) takes the overall model too.


def choose_per_segment(
    validation: pd.DataFrame,
    segments: pd.DataFrame,
    metric: str,
    quantiles: Sequence[float],
    candidates: Iterable[str],
    min_skus: int = MIN_SEGMENT_SKUS,
    min_margin_se: float = MIN_MARGIN_SE,
) -> tuple[pd.DataFrame, str]:
    """One row per segment of `segments` (sku -> segment as of the validation folds' end): the chosen `model`,
    its validation `metric`, the segment's `skus`, `margin_se` (how many standard errors the segment's own winner
    beats the overall model by, paired over the segment's validation series) and `chosen_by` ('segment', or
    'overall' where the segment is thin or its winner's margin is under `min_margin_se`); and the model best over
    all segments, which SKUs without a segment take."""
    candidates = list(candidates)
    val = validation[validation["model"].isin(candidates)]
    # The overall choice as the leaderboard ranks: a single dominating series left out for every model.
    overall = str(robust_scores(val, metric, quantiles)[0].idxmin())
    val = val.assign(segment=val["sku"].map(segments.set_index("sku")["segment"]))
    by_segment = score(val, ["segment", "model"], quantiles).dropna(subset=[metric])
    best = by_segment.sort_values([metric, "model"], kind="stable").drop_duplicates("segment").set_index("segment")
    skus = val.groupby("segment", observed=True)["sku"].nunique()
    table = pd.DataFrame({"segment": skus.index, "skus": skus.to_numpy()})
    margins = paired_margins(val, best["model"], overall, metric, quantiles)
    # capped: a winner better on every series alike is infinitely many standard errors ahead (no JSON number)
    table["margin_se"] = table["segment"].map(margins.clip(upper=MAX_MARGIN_SE)).to_numpy(dtype=float)
    clear = {s: m == overall or margins.get(s, 0.0) >= min_margin_se for s, m in best["model"].items()}
    table["chosen_by"] = ["segment" if n >= min_skus and clear.get(s, False) else "overall" for s, n in skus.items()]
    table["model"] = [
        best.at[s, "model"] if how == "segment" else overall
        for s, how in zip(table["segment"], table["chosen_by"], strict=True)
    ]
    scores = by_segment.set_index(["segment", "model"])[metric]
    table[f"validation_{metric}"] = [scores.get((s, m)) for s, m in zip(table["segment"], table["model"], strict=True)]
    return table, overall


def paired_margins(
    val: pd.DataFrame, winners: pd.Series, overall: str, metric: str, quantiles: Sequence[float]
) -> pd.Series:
    """Per segment: the mean of (overall model's loss - segment winner's loss) over the segment's validation
    (SKU, fold) series, in standard errors of that mean (inf where the winner is better on every series alike;
    NaN where the winner is the overall model)."""
    models = [overall, *sorted(set(winners) - {overall})]
    losses = series_losses(val[val["model"].isin(models)], metric, quantiles)
    wide = losses.pivot_table(index=["sku", "cutoff"], columns="model", values="loss", observed=True)
    segment_of = val.drop_duplicates("sku").set_index("sku")["segment"]
    wide["segment"] = wide.index.get_level_values("sku").map(segment_of)
    out = {}
    for segment, winner in winners.items():
        if winner == overall:
            continue
        rows = wide[wide["segment"] == segment]
        out[segment] = paired_margin((rows[overall] - rows[winner]).to_numpy(dtype=float))
    return pd.Series(out, dtype=float)


def champion_rows(
    test: pd.DataFrame,
    segments: pd.DataFrame,
    choice: pd.DataFrame,
    overall: str,
    factors: pd.DataFrame | None = None,
    quantiles: Sequence[float] = (),
) -> pd.DataFrame:
    """The test rows of each SKU's chosen model, named `champion` (SKUs new since the choice: the overall one),
    their intervals scaled by `factors` (fit_interval_factors) where given."""
    by_segment = choice.set_index("segment")["model"]
    by_sku = segments.set_index("sku")["segment"].map(by_segment)
    chosen = test["sku"].map(by_sku).fillna(overall).to_numpy()
    rows = test[test["model"].to_numpy() == chosen]
    if factors is not None and len(factors):
        rows = apply_interval_factors(rows, segments, factors, list(quantiles))
    return rows.assign(model=CHAMPION)


def champion_test_rows(
    validation: pd.DataFrame,
    test: pd.DataFrame,
    segments: pd.DataFrame,
    metric: str,
    quantiles: Sequence[float],
    candidates: Iterable[str],
    calibrate_intervals: bool = True,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The champion's test rows (chosen and, with `calibrate_intervals`, interval-calibrated on the validation
    folds) and the choice per segment, with the chosen model's interval factors (`interval_<level>_<side>`)."""
    candidates = list(candidates)
    choice, overall = choose_per_segment(validation, segments, metric, quantiles, candidates)
    factors = None
    if calibrate_intervals:
        factors = fit_interval_factors(
            validation[validation["model"].isin(candidates)], segments, quantiles, MIN_SEGMENT_SKUS
        )
        choice = with_factors(choice, factors)
    return champion_rows(test, segments, choice, overall, factors, quantiles), choice


def with_factors(choice: pd.DataFrame, factors: pd.DataFrame) -> pd.DataFrame:
    """The choice per segment with its chosen model's interval factors per level and side
    (`interval_<level>_lower`, `interval_<level>_upper`; the model's over all segments where the segment's own
    were not fitted)."""
    if factors.empty:
        return choice
    choice = choice.copy()
    for level, part in factors.groupby("level", sort=True):
        for side in ("lower", "upper"):
            own = part.set_index(["model", "segment"])[f"factor_{side}"]
            overall = part[part["segment"] == ALL_SEGMENTS].set_index("model")[f"factor_{side}"]
            choice[f"interval_{round(100 * level):d}_{side}"] = [
                own.get((m, s), overall.get(m, 1.0)) for m, s in zip(choice["model"], choice["segment"], strict=True)
            ]
    return choice


def with_champion_row(
    board: pd.DataFrame,
    validation: pd.DataFrame,
    test: pd.DataFrame,
    segments: pd.DataFrame,
    metric: str,
    quantiles: Sequence[float],
    baseline: str,
    exclude: Iterable[str] = (),
    calibrate_intervals: bool = True,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """`board` with the champion row added last, unranked (it is a choice among the ranked models, not one of
    them), its FVA against `baseline` on the same SKUs and folds; and the choice per segment. Candidates: every
    model scored on both the validation and the test folds but `baseline` and `exclude` (as plans choose)."""
    left_out = {baseline, *exclude}
    candidates = sorted((set(validation["model"]) & set(test["model"])) - left_out)
    if not candidates:
        return board, pd.DataFrame()
    rows, choice = champion_test_rows(validation, test, segments, metric, quantiles, candidates, calibrate_intervals)
    # Scored by the leaderboard itself beside the baseline's rows, so every column means what it means above.
    scored = leaderboard(pd.concat([rows, test[test["model"] == baseline]]), quantiles, metric, baseline)
    row = scored[scored["model"] == CHAMPION].drop(columns=["rank"])
    board = pd.concat([board, row], ignore_index=True)
    board["rank"] = board["rank"].astype("Int64")  # the champion row's is empty
    return board, choice


def log_champion(board: pd.DataFrame, choice: pd.DataFrame, metric: str) -> None:
    """The figure to quote, and where it came from, in the run's log."""
    row = board[board["model"] == CHAMPION]
    if row.empty:
        log.info("no champion row: no model but the baseline was scored on both validation and test folds")
        return
    r = row.iloc[0]
    picks = ", ".join(
        f"{c.segment}: {c.model}{'' if c.chosen_by == 'segment' else ' (overall)'}" for c in choice.itertuples()
    )
    log.info(
        "champion (chosen per segment on the validation folds, scored on the test folds): %s %.4f, bias %+.1f%%; %s",
        metric,
        r[metric],
        100 * r["bias"],
        picks,
    )
