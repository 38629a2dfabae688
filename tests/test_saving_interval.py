"""How sure the replay's stock saving is: a saving shown on an assortment must not rest on which SKUs it drew."""

from __future__ import annotations

import numpy as np
import pandas as pd

from forecasting.planning.replay import aggregate, saving_summary, stock_at_equal_fill
from forecasting.planning.saving_interval import MIN_SKUS, saving_interval
from forecasting.reports.plan_sections import savings_note
from forecasting.vocabulary.saving_words import FEW_SKUS, REACHES_ZERO

TARGETS = (0.5, 0.8, 0.95)


def replay_rows(champion_stock: np.ndarray, seed: int = 0) -> pd.DataFrame:
    """A replay of len(champion_stock) SKUs: at each target the naive and the champion policies reach the same
    fill rate, the naive one with stock 100 x (1 + target) per SKU (times the SKU's size), the champion with
    `champion_stock[i]` times that."""
    rng = np.random.default_rng(seed)
    size = rng.uniform(0.5, 2.0, len(champion_stock))
    rows = []
    for i, (ratio, volume) in enumerate(zip(champion_stock, size, strict=True)):
        for target in TARGETS:
            demand = 1000.0 * volume
            naive = 100.0 * (1 + target) * volume * 84
            for policy, stock in (("naive", naive), ("champion", naive * ratio)):
                rows.append((f"s{i}", policy, target, demand, demand * target, stock, 84))
    table = pd.DataFrame(rows, columns=["sku", "policy", "target", "demand", "sales", "stock_value_days", "days"])
    others = ["lost", "cycles_with_stockout", "stockout_days", "stock_unit_days", "orders", "holding_cost"]
    return table.assign(**dict.fromkeys([*others, "ordering_cost", "stockout_cost"], 0.0), cycles=12)


def point_saving(rows: pd.DataFrame) -> float:
    summary = saving_summary(stock_at_equal_fill(aggregate(rows), references=("naive",)))
    return float(summary["median_saved"].iloc[0])


def test_a_saving_every_sku_shares_is_shown_with_an_interval_around_it():
    ratios = np.random.default_rng(1).uniform(0.6, 0.8, 60)  # every SKU holds 20-40% less at the same fill
    rows = replay_rows(ratios)
    out = saving_interval(rows, references=("naive",)).iloc[0]
    assert out["saving_shown"] and out["not_shown_because"] is None and out["skus"] == 60
    assert 0.2 < out["median_saved_low"] < point_saving(rows) < out["median_saved_high"] < 0.4


def test_a_saving_carried_by_one_large_sku_is_not_shown():
    # 39 SKUs where the champion holds 5% more, one (the largest by far) where it holds 90% less: pooled, the
    # assortment "saves" most of its stock, but drawn again without that SKU it would save nothing.
    ratios = np.append(np.full(39, 1.05), 0.1)
    rows = replay_rows(ratios)
    big = rows["sku"] == "s39"
    rows.loc[big, ["demand", "sales", "stock_value_days"]] *= 100
    assert point_saving(rows) > 0.5
    out = saving_interval(rows, references=("naive",)).iloc[0]
    assert not out["saving_shown"] and out["not_shown_because"] == REACHES_ZERO
    assert out["median_saved_low"] < 0 < out["median_saved_high"]


def test_too_few_skus_claim_no_saving_and_say_why():
    rows = replay_rows(np.full(MIN_SKUS - 1, 0.5))
    out = saving_interval(rows, references=("naive",)).iloc[0]
    assert not out["saving_shown"] and out["not_shown_because"] == FEW_SKUS
    assert np.isnan(out["median_saved_low"]) and np.isnan(out["median_saved_high"])
    saved = {"naive": {"median_saved": 0.5, "worst_saved": 0.5, **out.drop("reference").to_dict()}}
    note = savings_note(saved, proof=True)
    assert "50.0% less stock value than the naive policy" in note
    assert f"with {MIN_SKUS - 1} SKUs the replay cannot tell a saving against the naive policy" in note


def test_the_interval_is_the_same_on_every_run():
    rows = replay_rows(np.random.default_rng(2).uniform(0.5, 1.2, 50))
    pd.testing.assert_frame_equal(saving_interval(rows), saving_interval(rows))
