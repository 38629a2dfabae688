"""Does a tuned config beat its untuned default beyond seed noise? Validation and test, several seeds.

    python benchmarks/tuning_check.py --experiment lstm --tuned lstm_optuna --seeds 0 1 2 --jobs 2

For each seed it runs `python run.py experiment=<e> backtest.validation_folds=2 seed=<s>` with and without
`tuned=<study>` (the validation folds are the ones the sweep's trials were scored on; the test folds the sweep
never saw), then prints one row per run and two aggregates per config: the mean over seeds, and the ensemble
of the seeds (their forecasts averaged), which is the least noisy estimate of what the config is worth. A run
folder that already holds a finished run is reused; `--fresh` reruns everything. With `--jobs 2` two runs share
the machine, each with one torch thread (two runs with default threads on two cores thrash).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parents[1]
QUANTILES = (0.05, 0.1, 0.5, 0.9, 0.95)


def run_dir(out: Path, config: str, seed: int) -> Path:
    return out / f"{config}_s{seed}"


def finished(folder: Path) -> Path | None:
    runs = sorted(folder.glob("*/metrics.json"))
    return runs[-1].parent if runs else None


def launch(args, config: str, seed: int) -> Path:
    folder = run_dir(args.out, config, seed)
    if not args.fresh and (done := finished(folder)):
        print(f"reusing {done}", flush=True)
        return done
    cmd = [
        sys.executable,
        str(REPO / "run.py"),
        f"experiment={args.experiment}",
        "backtest.validation_folds=2",
        f"seed={seed}",
        "trainer.progress_bar=false",
        f"hydra.run.dir={folder}/run",
        *([f"tuned={args.tuned}"] if config == "tuned" else []),
        *(["trainer.threads=1"] if args.jobs > 1 else []),
        *args.overrides,
    ]
    print(" ".join(cmd[1:]), flush=True)
    subprocess.run(cmd, cwd=REPO, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return folder / "run"


def scores(bt: pd.DataFrame, model: str) -> dict[str, float]:
    from forecasting.backtest.metrics import score

    bt = bt[bt["model"] == model]
    row = {role: score(bt[bt["role"] == role], ["model"], QUANTILES).iloc[0] for role in ("validation", "test")}
    out = {f"{role}_{m}": row[role][m] for role in row for m in ("rmsse", "pinball")}
    out["test_bias"] = row["test"]["bias"]
    return out


def ensemble(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """The seeds' forecasts averaged, point and quantiles alike (rows align: same folds, SKUs and days)."""
    keys = ["model", "cutoff", "sku", "date"]
    base = frames[0].sort_values(keys).reset_index(drop=True)
    cols = ["mean", *[c for c in base.columns if c.startswith("p") and c[1:].isdigit()]]
    for c in cols:
        base[c] = sum(f.sort_values(keys)[c].to_numpy() for f in frames) / len(frames)
    return base


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--experiment", default="lstm")
    parser.add_argument("--tuned", default=None, help="the study whose best config to check (default <e>_optuna)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--jobs", type=int, default=1, help="runs at a time")
    parser.add_argument("--out", type=Path, default=None, help="default: experiments/tuning_check/<study>")
    parser.add_argument("--fresh", action="store_true", help="rerun even where a finished run exists")
    parser.add_argument("overrides", nargs="*", help="more run.py overrides for both configs")
    args = parser.parse_args()
    args.tuned = args.tuned or f"{args.experiment}_optuna"
    args.out = args.out or REPO / "experiments" / "tuning_check" / args.tuned

    jobs = [(config, seed) for seed in args.seeds for config in ("default", "tuned")]
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        folders = list(pool.map(lambda job: launch(args, *job), jobs))

    rows, frames = [], {"default": [], "tuned": []}
    for (config, seed), folder in zip(jobs, folders, strict=True):
        model = json.loads((folder / "metrics.json").read_text())["optimized_model"]
        bt = pd.read_parquet(folder / "backtest.parquet")
        frames[config].append(bt[bt["model"] == model])
        rows.append({"config": config, "seed": str(seed), **scores(bt, model)})
    table = pd.DataFrame(rows)
    for config in ("default", "tuned"):
        mine = table[table["config"] == config]
        rows.append({"config": config, "seed": "mean", **mine.drop(columns=["config", "seed"]).mean().to_dict()})
        rows.append({"config": config, "seed": "ensemble", **scores(ensemble(frames[config]), model)})
    table = pd.DataFrame(rows).sort_values(["config", "seed"], kind="stable")
    print(f"\n{args.experiment}: untuned default against tuned={args.tuned}, seeds {args.seeds}\n")
    print(table.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    agg = table.set_index(["config", "seed"])
    for seed in ("mean", "ensemble"):
        change = {
            role: 100 * (agg.loc[("tuned", seed), f"{role}_rmsse"] / agg.loc[("default", seed), f"{role}_rmsse"] - 1)
            for role in ("validation", "test")
        }
        print(
            f"RMSSE of tuned against default ({seed}; negative is better): "
            f"validation {change['validation']:+.2f}%, test {change['test']:+.2f}%"
        )
    out_csv = REPO / "benchmarks" / "results" / f"tuning_check_{args.tuned}.csv"
    table.insert(0, "date", date.today().isoformat())
    table.to_csv(out_csv, index=False)
    print(f"written: {out_csv}")


if __name__ == "__main__":
    main()
