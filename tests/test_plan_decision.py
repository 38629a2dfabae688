"""The plan's champion per segment: chosen for the decision (window sums), and kept on the overall best candidate
unless a segment's own winner is clearly better there."""

from __future__ import annotations

import numpy as np
import pandas as pd

from forecasting.planning.calibration import METHODS
from forecasting.planning.decision import PLAN_METRIC, decide
from forecasting.vocabulary.calibration_score import calibration_score


def covers(rng, skus, model, level, actuals, noise, shape=20.0, n=200):
    """Cover records of `model` for `skus` (`actuals`: SKU x cutoff window sums, gamma(shape) around each SKU's
    level): the forecast sample is the same gamma around the level times a lognormal error of sd `noise`."""
    rows = []
    for sku, lvl, sku_actuals in zip(skus, level, actuals, strict=True):
        for c, actual in enumerate(sku_actuals):
            centre = lvl * np.exp(rng.normal(0.0, noise)) if noise else lvl
            sums = np.sort(rng.gamma(shape, centre / shape, n))
            rows.append(
                {
                    "sku": sku,
                    "model": model,
                    "cutoff": pd.Timestamp("2024-01-01") + pd.Timedelta(weeks=4 * c),
                    "actual": float(actual),
                    "mean": float(sums.mean()),
                    "score": calibration_score(sums, float(actual), f"{sku}|{model}|{c}"),
                    "sums": sums,
                }
            )
    return rows


def panel(seed, cutoffs=4, shape=20.0):
    """Three segments of 60 SKUs: in `tie` both models are the truth (their losses differ by the noise of their
    samples); in `m2_wins` m1's level is off by 40% (lognormal sd); in `m1_wins`, the largest sellers, m2's is."""
    rng = np.random.default_rng(seed)
    rows, segments = [], []
    for segment, m1_noise, m2_noise, level in (
        ("tie", 0.0, 0.0, 50.0),
        ("m2_wins", 0.4, 0.0, 20.0),
        ("m1_wins", 0.0, 0.4, 100.0),
    ):
        skus = [f"{segment}{i}" for i in range(60)]
        levels = level * rng.uniform(0.5, 1.5, len(skus))
        actuals = rng.gamma(shape, levels[:, None] / shape, (len(skus), cutoffs))
        rows += covers(rng, skus, "m1", levels, actuals, m1_noise)
        rows += covers(rng, skus, "m2", levels, actuals, m2_noise)
        segments += [(s, segment) for s in skus]
    return pd.DataFrame(rows), pd.DataFrame(segments, columns=["sku", "segment"])


def test_a_segment_keeps_the_overall_best_model_unless_its_own_winner_is_clearly_better():
    records, segments = panel(seed=0)
    decision = decide(
        None, records, segments, PLAN_METRIC, ["m1", "m2"], fallback="m1", min_windows=30, methods=METHODS
    )
    table = decision.calibration_table.set_index(["segment", "model"])[PLAN_METRIC]
    choice = decision.choice.set_index("segment")
    # m1 is the better model over the assortment (it wins where the volume is) ...
    assert table.xs("m1", level="model").sum() < table.xs("m2", level="model").sum()
    # ... where the two are the same model, m2 scores a hair lower by chance: chosen by its own score, the
    # segment would flip from m1 on noise ...
    assert table[("tie", "m2")] < table[("tie", "m1")] < 1.05 * table[("tie", "m2")]
    # ... so it keeps m1, and says why.
    assert choice.loc["tie", "model"] == "m1" and choice.loc["tie", "chosen_by"] == "overall"
    assert choice.loc["tie", "margin_se"] < 2
    # Where m2 is clearly better, the segment takes it on its own evidence.
    assert choice.loc["m2_wins", "model"] == "m2" and choice.loc["m2_wins", "chosen_by"] == "segment"
    assert choice.loc["m2_wins", "margin_se"] > 4
    assert choice.loc["m1_wins", "model"] == "m1"
    assert set(decision.champions[segments.set_index("sku")["segment"] == "tie"]) == {"m1"}
