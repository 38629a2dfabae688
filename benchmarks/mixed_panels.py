"""Panels of several demand classes without prices, planned as a user would bring them (fifteenth session).

    python benchmarks/mixed_panels.py --out /tmp/mixed                         # every table, every variant
    python benchmarks/mixed_panels.py --tables sales_only --variants default unit_costs --out /tmp/mixed

Two tables generated with `forecasting.datasets.synthetic` in shapes the bundled data is not: `sales_only` (80
intermittent, lumpy and smooth SKUs, 700 days, only the days that sold, codes with leading zeros, dd/mm/yyyy) and
`store_item` (90 SKUs of all four classes keyed by store and item columns, 800 days, only the days that sold, a
promo column whose future is unknown); and `three_keys` (24 small SKUs of all four classes keyed by item, store
and channel, 540 days, item codes written as floats). None has a price. Each runs `task=plan` with the default protocol
(champions and calibration chosen on the validation windows before the replayed weeks; the 12 weeks after them
replayed and scored; the log and `metrics.json` name both) once per variant, and the script prints per run the
champion's fill at the 95% target and its stock at equal fill against the naive and empirical-quantile policies
(median and worst over the curve), then the same median per demand class (each class's own service curve: stock
summed over its SKUs at each target, compared at equal fill within the class).

Variants: `default`; `one_abc` (every SKU in class A, so segments are the demand classes alone);
`pooled_calibration` (one calibration per model over all segments); `bootstrap_only` (the empirical block
bootstrap as the only candidate: the planners' own distribution through the plan's calibration and service-level
fit); `bootstrap_uncalibrated`; `unit_costs` (`sales_only` only: each SKU's unit cost, 0.6 x the generator's
price, given in `plan.overrides_csv`, so the plan can hold service where stock is cheapest; its stock is then
money, the other runs' units).
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

from forecasting.datasets.synthetic import synthetic_demand  # noqa: E402
from forecasting.planning.replay import median_saved  # noqa: E402

VARIANTS = {
    "default": [],
    "one_abc": ["data.segments.a_share=1.0", "data.segments.b_share=1.0"],
    "pooled_calibration": ["plan.min_calibration_windows=100000"],
    "bootstrap_only": ["plan.candidates=[bootstrap]"],  # bootstrap is among the default models
    "bootstrap_uncalibrated": ["plan.candidates=[bootstrap]", "plan.calibrate=false"],
    "unit_costs": [],  # the costs file is written beside the table
}


def sales_only(out: Path) -> tuple[list[str], Path]:
    """The sales-only table and its settings; and a unit-cost file for its SKUs (0.6 x the generator's price)."""
    data = synthetic_demand(80, 700, 6, classes=("intermittent", "lumpy", "smooth"))
    codes = {s: f"{i:06d}" for i, s in enumerate(data.table["sku"].cat.categories)}
    table = data.table[data.table["demand"] > 0].copy()
    table["sku"] = table["sku"].map(codes).astype(str)
    table["date"] = table["date"].dt.strftime("%d/%m/%Y")
    path, costs = out / "sales_only.csv", out / "sales_only_costs.csv"
    table[["sku", "date", "demand"]].to_csv(path, index=False)
    (0.6 * data.truth["price"]).rename("unit_cost").rename(index=codes).rename_axis("sku").to_csv(costs)
    return ["data=demand_table", f"data.path={path}", "data.date_format=%d/%m/%Y"], costs


def store_item(out: Path) -> tuple[list[str], None]:
    table = synthetic_demand(90, 800, 8).table
    code = table["sku"].cat.codes.astype(int)
    table["store"], table["item"] = "S" + (code % 3).astype(str), "I" + (code // 3).astype(str)
    path = out / "store_item.csv"
    table[table["demand"] > 0][["store", "item", "date", "demand", "promo"]].to_csv(path, index=False)
    return ["data=demand_table", f"data.path={path}", "data.columns.sku=[store,item]", "data.columns.promo=promo"], None


def three_keys(out: Path) -> tuple[list[str], None]:
    """24 small SKUs keyed by item, store and channel, 540 days, every day a row, item codes written as floats
    (1000.0): the table whose replay held 70% more stock than the empirical policy before b6d5284."""
    table = synthetic_demand(24, 540, 13).table
    code = table["sku"].cat.codes.astype(int)
    table["item"] = (1000 + code // 6).astype(float)
    table["store"] = "ST" + ((code // 2) % 3).astype(str)
    table["channel"] = np.where(code % 2, "web", "shop")
    path = out / "three_keys.csv"
    table[["item", "store", "channel", "date", "demand"]].to_csv(path, index=False)
    return ["data=demand_table", f"data.path={path}", "data.columns.sku=[item,store,channel]"], None


TABLES = {"sales_only": sales_only, "store_item": store_item, "three_keys": three_keys}


def saved_by_class(folder: Path) -> pd.Series:
    """Per demand class, the median over the empirical policy's curve of the stock the champion saves at equal
    fill (stock summed over the class's SKUs at each target; the champion's curve interpolated at each fill)."""
    rows = pd.read_csv(folder / "replay_by_sku.csv").merge(pd.read_csv(folder / "segments.csv"), on="sku")
    out = {}
    for dclass, part in rows.groupby("demand_class"):
        curve = part.groupby(["policy", "target"])[["demand", "sales", "stock_value_days"]].sum()
        curve["fill"] = curve["sales"] / curve["demand"]
        champion, empirical = curve.loc["champion"], curve.loc["empirical"]
        saved = median_saved(
            champion["fill"], champion["stock_value_days"], empirical["fill"], empirical["stock_value_days"]
        )
        out[dclass] = round(saved, 3)
    return pd.Series(out)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tables", nargs="+", default=list(TABLES), choices=list(TABLES))
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--out", type=Path, default=Path("/tmp/mixed_panels"))
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    rows, classes = [], {}
    for name in args.tables:
        settings, costs = TABLES[name](args.out)
        for variant in args.variants:
            if variant == "unit_costs" and costs is None:
                continue
            extra = [f"plan.overrides_csv={costs}"] if variant == "unit_costs" else VARIANTS[variant]
            folder = args.out / f"{name}_{variant}"
            result = run_plan(folder, [*settings, *extra])
            replay, protocol = result["replay"], result["protocol"]
            champion = replay[(replay["policy"] == "champion") & np.isclose(replay["target_fill_rate"], 0.95)]
            equal = result["equal_fill"].groupby("reference")["stock_saved_share"]
            rows.append(
                {
                    "table": name,
                    "variant": variant,
                    "fill_at_95": round(float(champion["fill_rate"].iloc[0]), 4),
                    **{f"vs_{k}_median": round(v, 3) for k, v in equal.median().items()},
                    **{f"vs_{k}_worst": round(v, 3) for k, v in equal.min().items()},
                    **{  # 90% interval of the median over resamples of the SKUs (planning.saving_interval)
                        f"vs_{k}_{end}": row.get(f"median_saved_{end}")
                        for k, row in result["stock_saved"].items()
                        for end in ("low", "high")
                    },
                    "chosen_on": " ".join(protocol.get("replay_chosen_on_cutoffs", [])),
                    "replayed": f"{protocol.get('replay_start')} to {protocol.get('replay_end')}",
                }
            )
            classes[(name, variant)] = saved_by_class(folder)
    with pd.option_context("display.width", 200):
        print(pd.DataFrame(rows).to_string(index=False))
        print("\nstock saved against the empirical policy at equal fill, per demand class (median over its curve):")
        print(pd.DataFrame(classes).T.rename_axis(["table", "variant"]).to_string())


if __name__ == "__main__":
    main()
