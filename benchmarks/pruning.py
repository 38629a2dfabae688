"""Would pruning neural trials pay? Replays a finished sweep's learning curves through Optuna's pruners.

    python benchmarks/pruning.py experiments/tcn/multirun/<timestamp> [more sweep folders]

The Hydra Optuna sweeper never hands the Optuna trial to its jobs, so pruning cannot run live (README,
"Tuning with Optuna"). Every trial logs its validation loss per epoch, though, so the decision each pruner would
have taken is measured offline: the trials are replayed in order into an in-memory study, reporting the first
training's validation loss epoch by epoch (later cutoffs retrain on another window, whose losses are not
comparable). A pruned trial saves the rest of its wall time from the epoch it is stopped at; the table says how
much time that is and whether the pruner would have stopped trials that score well on the sweep's objective.
"""

from __future__ import annotations

import argparse
import json
from datetime import date
from pathlib import Path

import optuna
import pandas as pd

REPO = Path(__file__).resolve().parents[1]


def load_trials(sweep_dirs: list[Path], model: str) -> pd.DataFrame:
    """One row per finished job: objective, wall time, and the first training's epoch time and loss curve."""
    rows = []
    for sweep in sweep_dirs:
        jobs = sorted((p for p in sweep.iterdir() if p.name.isdigit()), key=lambda p: int(p.name))
        for job in jobs:
            metrics_path = job / "metrics.json"
            if not metrics_path.exists():
                continue  # a failed or interrupted trial
            metrics = json.loads(metrics_path.read_text())
            fits = metrics["neural_training"][model]["fits"]
            first = fits[0]
            log_dir = job / "models" / "logs" / f"{model}_{first['cutoff'].replace('-', '')}" / "version_0"
            curve = pd.read_csv(log_dir / "metrics.csv").dropna(subset=["val_loss"])
            rows.append(
                {
                    "sweep": sweep.name,
                    "job": int(job.name),
                    "objective": float(metrics["value"]),
                    "wall_seconds": float(metrics["wall_seconds"]),
                    "epoch_seconds": first["seconds"] / max(first["epochs"], 1),
                    "curve": curve.groupby("epoch")["val_loss"].last().tolist(),
                }
            )
    if not rows:
        raise SystemExit(f"no finished {model} trials under {', '.join(map(str, sweep_dirs))}")
    return pd.DataFrame(rows)


def replay(trials: pd.DataFrame, pruner: optuna.pruners.BasePruner) -> pd.DataFrame:
    """Each trial's fate under `pruner`: the epoch it would be stopped at (None: runs to the end)."""
    study = optuna.create_study(direction="minimize", pruner=pruner)
    stopped = []
    for row in trials.itertuples():
        trial = study.ask()
        at = None
        for epoch, loss in enumerate(row.curve):
            trial.report(loss, epoch)
            if trial.should_prune():
                at = epoch
                break
        if at is None:
            study.tell(trial, row.objective)
        else:
            study.tell(trial, state=optuna.trial.TrialState.PRUNED)
        stopped.append(at)
    out = trials.drop(columns="curve").copy()
    out["pruned_at_epoch"] = stopped
    # Time spent up to and including the pruning epoch is paid; the rest of the trial is saved.
    paid = [
        row.wall_seconds if at is None else min(row.wall_seconds, (at + 1) * row.epoch_seconds)
        for row, at in zip(trials.itertuples(), stopped, strict=True)
    ]
    out["saved_seconds"] = out["wall_seconds"] - paid
    return out


def summarise(name: str, fates: pd.DataFrame, top: int) -> dict:
    ranked = fates["objective"].rank(method="first")
    pruned = fates["pruned_at_epoch"].notna()
    return {
        "pruner": name,
        "trials": len(fates),
        "pruned": int(pruned.sum()),
        "wall_s": round(fates["wall_seconds"].sum(), 1),
        "saved_s": round(fates["saved_seconds"].sum(), 1),
        "saved_%": round(100 * fates["saved_seconds"].sum() / fates["wall_seconds"].sum(), 1),
        f"top{top}_pruned": int((pruned & (ranked <= top)).sum()),
        "best_pruned": bool(pruned[ranked.idxmin()]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("sweep_dirs", nargs="+", type=Path, help="multirun folders of one study, in order")
    parser.add_argument("--model", default="tcn", help="the tuned model's name (its log folder prefix)")
    parser.add_argument("--top", type=int, default=5, help="how many of the best trials must survive")
    parser.add_argument("--out", type=Path, help="default: benchmarks/results/pruning_<model>.csv")
    args = parser.parse_args()
    args.out = args.out or REPO / "benchmarks" / "results" / f"pruning_{args.model}.csv"
    optuna.logging.set_verbosity(optuna.logging.WARNING)

    trials = load_trials(args.sweep_dirs, args.model)
    # How well the signal a pruner sees (the first training's best validation loss) ranks the objective.
    first_loss = trials["curve"].map(min)
    rho = first_loss.corr(trials["objective"], method="spearman")
    pruners = {
        "median, warm-up 2 epochs": optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=2),
        "median, warm-up 4 epochs": optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=4),
        "75th percentile, warm-up 2": optuna.pruners.PercentilePruner(75.0, n_startup_trials=5, n_warmup_steps=2),
        "successive halving": optuna.pruners.SuccessiveHalvingPruner(min_resource=2),
    }
    table = pd.DataFrame([summarise(name, replay(trials, p), args.top) for name, p in pruners.items()])
    table.insert(0, "date", date.today().isoformat())
    table["spearman_first_loss_vs_objective"] = round(rho, 3)
    print(f"{len(trials)} trials; Spearman rank correlation of the first training's best validation loss with")
    print(f"the sweep's objective: {rho:.3f}\n")
    print(table.drop(columns=["date", "spearman_first_loss_vs_objective"]).to_string(index=False))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(args.out, index=False)
    print(f"\nwritten: {args.out}")


if __name__ == "__main__":
    main()
