"""Orders at every review against orders for each SKU's economic cycle (`plan.max_order_cycle_days`).

    python benchmarks/order_cycle.py --items 30 --caps 0 28 --out /tmp/order_cycle

A generated item-store table (benchmarks/yearly_profile.py's M5-like shape: 5 years daily, about half the days
zero; `--items` items in 4 stores, each item at one list price of about 1-10) runs `task=plan` with the default
protocol once per cap (0: an order at every review, the default), and prints, per cap and policy, the replay at
the 95% fill-rate target: fill rate, mean stock value, orders and the total cost (holding + ordering + lost
margin) over the replayed weeks, and the champion's stock at equal fill against naive and the empirical policy
(median over the curve). Every policy of a run orders under the same cycle rule; the champions and calibration
are chosen on the validation windows before the replayed weeks (the run's log names both).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # this checkout's package
sys.path.insert(0, str(REPO / "benchmarks"))

from plan_replay import run_plan  # noqa: E402
from yearly_profile import item_store  # noqa: E402


def priced_table(items: int, seed: int) -> pd.DataFrame:
    """The item-store table with a list price per item (the same in every store)."""
    table = item_store(items, 4, seed)
    item = table["sku"].str.split("|").str[0]
    prices = pd.Series(np.round(np.random.default_rng(seed + 1).lognormal(1.0, 0.7, items), 2))
    table["price"] = item.str[5:].astype(int).map(prices)
    return table


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=30)
    parser.add_argument("--caps", type=int, nargs="+", default=[0, 28])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("/tmp/order_cycle"))
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"item_store_{args.items}_{args.seed}.csv"
    if not path.exists():
        priced_table(args.items, args.seed).to_csv(path, index=False)
    rows, saved = [], []
    for cap in args.caps:
        overrides = ["data=demand_table", f"data.path={path}", "data.columns.quantity=demand"]
        overrides += ["data.columns.price=price", f"plan.max_order_cycle_days={cap}"]
        result = run_plan(args.out / f"cap_{cap}", overrides)
        replay = result["replay"]
        at = replay[np.isclose(replay["target_fill_rate"], 0.95) | (replay["policy"] == "oracle")]
        for r in at.itertuples():
            rows.append({"cap_days": cap, "policy": r.policy, "fill_rate": round(r.fill_rate, 4),
                         "stock_value": round(r.avg_stock_value), "orders": r.orders,
                         "total_cost": round(r.total_cost)})  # fmt: skip
        equal = result["equal_fill"].groupby("reference")["stock_saved_share"].median()
        protocol = result["protocol"]
        saved.append({"cap_days": cap, **{f"saved_vs_{k}": round(v, 3) for k, v in equal.items()},
                      "chosen_on": " ".join(protocol.get("replay_chosen_on_cutoffs", [])),
                      "replayed": f"{protocol.get('replay_start')} to {protocol.get('replay_end')}"})  # fmt: skip
    print(pd.DataFrame(rows).to_string(index=False))
    print()
    print(pd.DataFrame(saved).to_string(index=False))


if __name__ == "__main__":
    main()
