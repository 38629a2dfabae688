"""Compare run folders: metrics side by side per run and model, and the best model per segment across runs."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import pandas as pd
import yaml

from forecasting.errors import InputError
from forecasting.reports.columns import Column
from forecasting.reports.formatting import Table, render, safe
from forecasting.reports.run_folder import RunFolder, load_run
from forecasting.reports.svg import hbar_chart
from forecasting.reports.tables import sort_segments
from forecasting.storage import atomic_path, write_csv
from forecasting.vocabulary.model_names import BASELINE

log = logging.getLogger(__name__)

METRICS = [
    "rmsse",
    "mae",
    "rmse",
    "wape",
    "bias",
    "mape_nonzero",
    "pinball",
    "coverage_80",
    "coverage_90",
    "fva_rmsse",
    "fva_mae",
    "fva_pinball",
    "fallback_share",
    "failed_fits",
]
# The HTML table keeps to what fits a screen; comparison.csv has every metric.
LONG_TABLE_METRICS = [
    "rmsse",
    "mae",
    "wape",
    "bias",
    "pinball",
    "coverage_80",
    "coverage_90",
    "fva_rmsse",
    "fva_mae",
    "fva_pinball",
]
SIDE_BY_SIDE = [
    ("rmsse", "RMSSE", "metric"),
    ("fva_rmsse", "FVA RMSSE vs seasonal naive", "signed_pct"),
    ("wape", "WAPE", "pct"),
    ("pinball", "Pinball loss", "metric"),
    ("coverage_80", "Coverage 80%", "pct"),
]
# What must match for two runs' metrics to be comparable number for number.
COMPARABLE = [
    ("skus", "SKUs"),
    ("cutoffs", "fold cutoffs"),
    ("horizon", "horizon"),
    ("data", "data file"),
    ("data_up_to", "data end"),
    ("scored_folds", "scored folds"),
]


def find_runs(root: str | Path) -> list[Path]:
    """Run folders (those holding a leaderboard.csv) under `root`, multirun sweep subfolders included.

    A `root` that is not a folder is an error naming it: "no runs" would send the user to run a backtest when
    the runs are elsewhere (a typo, a relative path read from another working directory).
    """
    root = Path(root)
    if not root.is_dir():
        what = "is a file, not a folder" if root.exists() else "does not exist"
        where = "" if root.is_absolute() else f" (relative to {Path.cwd()})"
        raise InputError(
            f"compare_root={root} {what}{where}; point it at the folder that holds the "
            "run folders, e.g. compare_root=experiments or compare_root=/full/path/to/experiments."
        )
    found = {
        p.parent
        for p in root.rglob("leaderboard.csv")
        if not any(part.startswith(".") for part in p.parent.relative_to(root).parts)
    }
    return sorted(found)


def run_labels(paths: list[Path]) -> list[str]:
    """Short unique names: each path relative to what all of them share, e.g. 'arima/2026-11-23_15-30-07'."""
    resolved = [p.resolve() for p in paths]
    if len(resolved) == 1:
        return [resolved[0].name]
    common = Path(os.path.commonpath(resolved))
    labels = [str(p.relative_to(common)) if p != common else p.name for p in resolved]
    seen: dict[str, int] = {}
    unique = []
    for label in labels:
        seen[label] = seen.get(label, 0) + 1
        unique.append(label if seen[label] == 1 else f"{label} ({seen[label]})")
    return unique


def run_facts(run: RunFolder, label: str) -> dict:
    cfg, m = run.config, run.metrics
    board = run.leaderboard.set_index("model")
    champion = run.champion
    return {
        "run": label,
        "experiment": cfg.get("experiment_name", run.path.parent.name),
        "task": cfg.get("task", m.get("task", "backtest")),
        "skus": m.get("skus", run.quality.get("panel", {}).get("skus")),
        "folds": len(run.folds),
        "scored_folds": run.scored_role,
        "cutoffs": ", ".join(run.folds["cutoff"].dt.strftime("%Y-%m-%d")),
        "horizon": (cfg.get("backtest") or {}).get("horizon"),
        "data": Path(str((cfg.get("data") or {}).get("path", ""))).name,
        "data_up_to": run.quality.get("panel", {}).get("last_date"),
        "models": len(board),
        "champion": champion,
        "champion_rmsse": board.loc[champion, "rmsse"],
        "champion_fva_rmsse": board.loc[champion].get("fva_rmsse"),
        "objective_metric": m.get("optimized_metric"),
        "objective_value": m.get("value"),
        "wall_seconds": m.get("wall_seconds"),
        "path": str(run.path),
    }


def comparison_table(runs: list[RunFolder], labels: list[str]) -> pd.DataFrame:
    """One row per run and model: the run's set-up, then the model's test metrics."""
    rows = []
    for run, label in zip(runs, labels, strict=True):
        facts = run_facts(run, label)
        for rec in run.leaderboard.sort_values("rank").to_dict("records"):
            rows.append(
                {
                    "run": label,
                    "experiment": facts["experiment"],
                    "task": facts["task"],
                    "skus": facts["skus"],
                    "folds": facts["folds"],
                    "scored_folds": facts["scored_folds"],
                    "horizon": facts["horizon"],
                    "data_up_to": facts["data_up_to"],
                    "model": rec["model"],
                    "rank": rec["rank"],
                    "champion": rec["model"] == facts["champion"],
                    **{k: rec.get(k) for k in METRICS if k in rec},
                    "path": facts["path"],
                }
            )
    return pd.DataFrame(rows)


def best_by_segment(runs: list[RunFolder], labels: list[str]) -> pd.DataFrame:
    """Per ABC x demand class: the run and model with the lowest RMSSE, its runner-up, and seasonal naive."""
    frames = [
        run.by_segment.assign(run=label)
        for run, label in zip(runs, labels, strict=True)
        if not run.by_segment.empty
    ]
    if not frames:
        return pd.DataFrame()
    allseg = pd.concat(frames, ignore_index=True)
    rows = []
    for (abc, dclass), part in allseg.groupby(["abc", "demand_class"], sort=False):
        ranked = part.sort_values("rmsse", kind="stable")
        best = ranked.iloc[0]
        naive = part[(part["model"] == BASELINE) & (part["run"] == best["run"])]
        runner = ranked.iloc[1] if len(ranked) > 1 else None
        naive_rmsse = float(naive["rmsse"].iloc[0]) if len(naive) else float("nan")
        rows.append(
            {
                "abc": abc,
                "demand_class": dclass,
                "best_run": best["run"],
                "best_model": best["model"],
                "rmsse": best["rmsse"],
                "wape": best.get("wape"),
                "series": best.get("series"),
                "naive_rmsse": naive_rmsse,
                "fva_rmsse": 1 - best["rmsse"] / naive_rmsse if naive_rmsse else float("nan"),
                "runner_up": f"{runner['model']} ({runner['run']})" if runner is not None else "",
                "runner_up_rmsse": runner["rmsse"] if runner is not None else float("nan"),
                "candidates": len(part),
            }
        )
    return sort_segments(pd.DataFrame(rows))


def comparability_note(facts: pd.DataFrame) -> str:
    """One warning naming what differs between the runs; '' when their metrics compare number for number."""
    differences = []
    for key, what in COMPARABLE:
        values = facts[key].astype(str).unique()
        if len(values) > 1:
            differences.append(f"{what} ({' vs '.join(values[:3])}{' …' if len(values) > 3 else ''})")
    if not differences:
        return ""
    return (
        f"The runs differ in {'; '.join(differences)}. Compare their errors with care; FVA, which each run "
        "measures against its own seasonal naive, compares more fairly."
    )


def _short(label: str, n: int = 26) -> str:
    return label if len(label) <= n else "…" + label[-(n - 1) :]


def comparison_context(
    runs: list[RunFolder], labels: list[str], table: pd.DataFrame, best: pd.DataFrame
) -> dict:
    facts = pd.DataFrame([run_facts(r, label) for r, label in zip(runs, labels, strict=True)])
    models = list(dict.fromkeys(table["model"]))
    pivots = []
    for metric, title, kind in SIDE_BY_SIDE:
        if metric not in table:
            continue
        wide = table.pivot_table(index="run", columns="model", values=metric, aggfunc="first").reindex(labels)
        wide = wide.reset_index()
        pivots.append(
            {
                "title": title,
                "table": Table(
                    wide,
                    [Column("run", "Run"), *[Column(m, m, kind) for m in models if m in wide]],
                    key="run",
                ),
            }
        )
    chart = hbar_chart(
        "RMSSE of each run's champion (lower is better)",
        [_short(x) for x in facts["run"]],
        {"champion RMSSE": facts["champion_rmsse"].tolist()},
        lambda v: f"{v:.2f}",
    )
    overview_cols = [
        Column("run", "Run"),
        Column("experiment", "Experiment"),
        Column("task", "Task"),
        Column("skus", "SKUs", "int"),
        Column("folds", "Folds", "int"),
        Column("cutoffs", "Cutoffs"),
        Column("horizon", "Horizon", "int"),
        Column("data_up_to", "Data up to", "date"),
        Column("models", "Models", "int"),
        Column("champion", "Champion"),
        Column("champion_rmsse", "Champion RMSSE", "metric"),
        Column("champion_fva_rmsse", "Champion FVA RMSSE", "signed_pct"),
    ]
    best_cols = [
        Column("abc", "ABC"),
        Column("demand_class", "Demand class"),
        Column("best_model", "Best model"),
        Column("best_run", "In run"),
        Column("rmsse", "RMSSE", "metric"),
        Column("naive_rmsse", "Seasonal naive RMSSE (same run)", "metric"),
        Column("fva_rmsse", "FVA RMSSE", "signed_pct"),
        Column("wape", "WAPE", "pct"),
        Column("runner_up", "Runner-up"),
        Column("runner_up_rmsse", "Runner-up RMSSE", "metric"),
        Column("candidates", "Run x model candidates", "int"),
    ]
    long_cols = ["run", "model", "rank", *[m for m in LONG_TABLE_METRICS if m in table]]
    return {
        "title": f"Comparison of {len(runs)} run{'s' if len(runs) != 1 else ''}",
        "overview": Table(facts, overview_cols, key="run"),
        "chart": safe(chart),
        "pivots": pivots,
        "best": Table(best, best_cols) if len(best) else None,
        "long": Table(
            table, long_cols, key="run", row_css=["champion" if c else "" for c in table["champion"]]
        ),
        "note": comparability_note(facts),
    }


# What a damaged run folder raises on reading (a cut-off YAML or JSON, a garbled CSV, a missing column).
DAMAGED = (
    yaml.YAMLError,
    json.JSONDecodeError,
    UnicodeDecodeError,
    pd.errors.ParserError,
    pd.errors.EmptyDataError,
    KeyError,
    IndexError,
    ValueError,
    TypeError,
    OSError,
)


def readable_runs(paths: list[Path]) -> tuple[list[Path], list[RunFolder]]:
    """The run folders that read whole; each damaged one is skipped with its name and the reason in the log,
    so one half-written or hand-edited folder does not stop a comparison of the others."""
    kept, runs = [], []
    for path in paths:
        try:
            run = load_run(path, with_backtest=False)
            run_facts(run, path.name)  # the facts the page shows: a leaderboard without its columns fails here
        except DAMAGED as exc:
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            log.warning("skipped run folder %s: it is damaged (%s: %s)", path, type(exc).__name__, reason[:200])
            continue
        kept.append(path)
        runs.append(run)
    if paths and not runs:
        raise InputError(
            f"none of the {len(paths)} run folder(s) found could be read (each is named in the log above); "
            "point compare_root at a folder with intact runs, or run a backtest again."
        )
    return kept, runs


def write_comparison(run_dirs: list[Path], out_dir: str | Path) -> Path:
    """Write comparison.html, comparison.csv (run x model) and comparison_by_segment.csv into `out_dir`."""
    if not run_dirs:
        raise InputError(
            "there are no run folders (folders with a leaderboard.csv) to compare: run a backtest "
            "first, or point compare_root at the folder that holds the runs, e.g. compare_root=experiments."
        )
    paths, runs = readable_runs([Path(p) for p in run_dirs])
    labels = run_labels(paths)
    table = comparison_table(runs, labels)
    best = best_by_segment(runs, labels)
    out = Path(out_dir)
    write_csv(table, out / "comparison.csv")
    write_csv(best, out / "comparison_by_segment.csv")
    html = render("comparison.html.j2", **comparison_context(runs, labels, table, best))
    path = out / "comparison.html"
    with atomic_path(path) as tmp:
        tmp.write_text(html, encoding="utf-8")
    log.info("comparison of %d runs: %s", len(runs), path)
    return path
