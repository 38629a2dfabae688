"""What a plan learns from backtest windows: the champion per segment and its calibration, taken together.

One function, called on two sets of windows (see ../shared/DESIGN.md, "The evaluation protocol"): the validation
folds, whose horizons end by the replay's start, for the replay (a rehearsal of a run made that day), and every
fold for the production plan at the last date. Nothing here knows which; it only sees the windows it is given.

The default criterion, `plan_pinball`, chooses for the decision rather than for daily accuracy: a plan orders from
quantiles of demand SUMMED over lead time + review, after its calibration. So each candidate is first calibrated
on the windows (planning.calibration: per segment the best-covering, then sharpest, of its calibration methods,
judged out of sample across cutoffs), and per segment the champion is the candidate whose calibrated window-sum
quantiles cover best (within COVERAGE_SLACK of the best) and then have the lowest pinball loss at the upper levels
a plan orders at (0.8-0.98), all measured out of sample across cutoffs on the same windows for every candidate. A
segment with too few windows is judged on the candidate's windows of all segments (the best single model). A
segment's own winner replaces the overall best candidate (overall_candidate) only where it beats it by
MIN_MARGIN_SE standard errors, paired over the segment's windows: candidates within noise of each other swapped
places between the replay's decision and the production plan's, segment by segment, and each swap moved the
segment's stock.
Daily pinball picked models whose plans were bad: 3% apart on daily pinball was 75 points apart in stock at equal
fill rate on the bundled data, because daily quantiles say little about the tail of a three-week sum.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

import pandas as pd

from forecasting.planning.calibration import COVERAGE_SLACK, Calibration, calibrate, calibrate_with_losses
from forecasting.planning.champion_choice import choose_champions
from forecasting.vocabulary.paired_margin import MAX_MARGIN_SE, MIN_MARGIN_SE, paired_margin

log = logging.getLogger(__name__)

PLAN_METRIC = "plan_pinball"
# A candidate with cover records for fewer than this share of the most any candidate has is left out of a
# `plan_pinball` choice (its loss would be averaged over other windows than its rivals').
MIN_WINDOW_SHARE = 0.9


@dataclass
class Decision:
    """Champion per SKU, each SKU's calibration, the tables that say why, and the cover records it learnt from
    (what any later choice of the same decision, such as the per-SKU service levels, must learn from too)."""

    champions: pd.Series
    calibration: dict[str, Calibration] = field(default_factory=dict)
    choice: pd.DataFrame = field(default_factory=pd.DataFrame)
    calibration_table: pd.DataFrame = field(default_factory=pd.DataFrame)
    windows: pd.DataFrame = field(default_factory=pd.DataFrame)

    def champion_windows(self) -> pd.DataFrame:
        """The cover records of each SKU's champion among the decision's windows."""
        return champion_windows(self.windows, self.champions)


def decide(
    scores: pd.DataFrame | None,
    covers: pd.DataFrame,
    segments: pd.DataFrame,
    metric: str,
    candidates: Sequence[str],
    fallback: str,
    calibrate_windows: bool = True,
    min_windows: int = 30,
    methods: Sequence[str] = ("forecast",),
) -> Decision:
    """The champions and calibration learnt from `covers` (cover records) and `scores` (metrics per model and
    segment) of one set of windows; `segments` are the SKUs' segments as that decision knew them."""
    methods = list(methods) if calibrate_windows else ["forecast"]
    if metric == PLAN_METRIC:
        if len(covers) and "sums" in covers:
            return _decide_on_plan_pinball(covers, segments, candidates, fallback, min_windows, methods)
        log.warning("champions: no window records to choose on %s; choosing on daily pinball instead", PLAN_METRIC)
        metric = "pinball"
    champions, choice = choose_champions(scores, segments, metric, candidates, fallback)
    calibration, table = {}, pd.DataFrame()
    if calibrate_windows and len(covers) and "score" in covers:
        champ_covers = champion_windows(covers, champions)
        if len(champ_covers):
            table, calibration = calibrate(champ_covers, segments, min_windows, methods)
    return Decision(champions, calibration, choice, table, covers)


def _decide_on_plan_pinball(
    covers: pd.DataFrame,
    segments: pd.DataFrame,
    candidates: Sequence[str],
    fallback: str,
    min_windows: int,
    methods: Sequence[str],
) -> Decision:
    covers = common_windows(covers[covers["model"].astype(str).isin(candidates)])
    tables, calibrations, losses = [], {}, []
    for model, part in covers.groupby(covers["model"].astype(str), sort=True):
        table, calibrations[model], window_loss = calibrate_with_losses(part, segments, min_windows, methods)
        tables.append(table)
        losses.append(window_loss)
    table = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame()
    if table.empty:
        champions = pd.Series(fallback, index=segments["sku"].astype(str), name="model")
        return Decision(champions, {}, pd.DataFrame(), table, covers)
    table[PLAN_METRIC] = [row[f"pinball_{row['method']}"] for _, row in table.iterrows()]
    table["plan_coverage_error"] = [row[f"coverage_error_{row['method']}"] for _, row in table.iterrows()]
    overall = overall_candidate(table)
    losses = pd.concat(losses, ignore_index=True)
    rows = []
    for segment, seg in table.groupby("segment", sort=True):
        calibrated = seg[seg["plan_coverage_error"] <= seg["plan_coverage_error"].min() + COVERAGE_SLACK]
        best = calibrated.sort_values([PLAN_METRIC, "model"], kind="stable").iloc[0]
        margin, chosen_by = float("nan"), "segment"
        if best["model"] != overall and overall in set(calibrated["model"]):
            margin = segment_margin(losses[losses["segment"] == segment], overall, best["model"])
            if margin < MIN_MARGIN_SE:
                best, chosen_by = calibrated[calibrated["model"] == overall].iloc[0], "overall"
        rows.append(
            {
                "segment": segment,
                "model": best["model"],
                "method": best["method"],
                "windows": int(best["windows"]),
                "pooled": bool(best["pooled"]),
                PLAN_METRIC: float(best[PLAN_METRIC]),
                "plan_coverage_error": float(best["plan_coverage_error"]),
                "chosen_by": chosen_by,
                "margin_se": min(margin, MAX_MARGIN_SE),
                "runner_up": _runner_up(calibrated, best["model"]),
                "candidates": ", ".join(f"{m}={v:.4g}" for m, v in zip(seg["model"], seg[PLAN_METRIC], strict=True)),
            }
        )
    choice = pd.DataFrame(rows)
    by_segment = choice.set_index("segment")["model"]
    sku = segments["sku"].astype(str)
    champions = pd.Series(segments["segment"].map(by_segment).fillna(fallback).to_numpy(), index=sku, name="model")
    calibration = {s: calibrations[m][s] for s, m in champions.items() if m in calibrations and s in calibrations[m]}
    return Decision(champions, calibration, choice, table, covers)


def overall_candidate(table: pd.DataFrame) -> str:
    """The candidate a plan would take for every segment: among those whose calibrated window sums cover their
    windows best over all segments (window-weighted, within COVERAGE_SLACK), the lowest total `plan_pinball`."""
    weights = table["windows"].astype(float)
    total = (table[PLAN_METRIC] * weights).groupby(table["model"]).sum()
    miss = (table["plan_coverage_error"] * weights).groupby(table["model"]).sum() / weights.groupby(
        table["model"]
    ).sum()
    covering = miss.index[miss <= miss.min() + COVERAGE_SLACK]
    return str(total[covering].sort_index().idxmin())


def segment_margin(losses: pd.DataFrame, overall: str, challenger: str) -> float:
    """How many standard errors the challenger's window losses beat the overall candidate's by, paired over the
    windows the segment was judged on."""
    wide = losses.pivot_table(index=["sku", "cutoff"], columns="model", values="loss", observed=True)
    if overall not in wide or challenger not in wide:
        return 0.0
    return paired_margin((wide[overall] - wide[challenger]).to_numpy(dtype=float))


def _runner_up(table: pd.DataFrame, best: str) -> str | None:
    others = table[table["model"] != best].sort_values(PLAN_METRIC, kind="stable")
    return None if others.empty else str(others["model"].iloc[0])


def common_windows(covers: pd.DataFrame) -> pd.DataFrame:
    """The records of the (SKU, cutoff) windows every candidate has, among the candidates with nearly all of the
    windows (MIN_WINDOW_SHARE): their losses are then averages over the same windows."""
    if covers.empty:
        return covers
    key = covers["sku"].astype(str) + "|" + covers["cutoff"].astype(str)
    model = covers["model"].astype(str)
    counts = key.groupby(model).nunique()
    kept = counts.index[counts >= MIN_WINDOW_SHARE * counts.max()]
    dropped = sorted(set(counts.index) - set(kept))
    if dropped:
        log.info("champions: %s left out of the choice (cover records for too few windows)", ", ".join(dropped))
    inside = model.isin(kept)
    shared = key[inside].groupby(key[inside]).transform("size") == len(kept)
    return covers[inside][shared.to_numpy()]


def champion_windows(covers: pd.DataFrame, champions: pd.Series) -> pd.DataFrame:
    """The cover records of each SKU's champion."""
    if covers.empty:
        return covers
    chosen = pd.DataFrame({"sku": champions.index.astype(str), "model": champions.to_numpy()})
    return covers.assign(sku=covers["sku"].astype(str), model=covers["model"].astype(str)).merge(
        chosen, on=["sku", "model"]
    )


def decision_table(plan: pd.DataFrame, replay: pd.DataFrame | None) -> pd.DataFrame:
    """The plan's and the replay's rows of a decision table, told apart by `decision`."""
    parts = [plan.assign(decision="plan")]
    if replay is not None and len(replay):
        parts.append(replay.assign(decision="replay"))
    table = pd.concat(parts, ignore_index=True)
    return table[["decision", *(c for c in table.columns if c != "decision")]]
