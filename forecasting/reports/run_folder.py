"""Read what the pipeline wrote into a run folder; plan files are optional (they exist once plans do)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import yaml

from forecasting.errors import InputError
from forecasting.storage import read_csv
from forecasting.vocabulary.column_names import band_columns

PLAN_DATES = ("order_by", "stockout_date_p50", "stockout_date_p90")


@dataclass
class RunFolder:
    path: Path
    config: dict
    quality: dict
    metrics: dict
    leaderboard: pd.DataFrame
    by_segment: pd.DataFrame
    segments: pd.DataFrame
    folds: pd.DataFrame
    backtest: pd.DataFrame | None = None  # the scored folds' rows, with the columns the charts read
    plan: pd.DataFrame | None = None
    replay: pd.DataFrame | None = None
    service_curve: pd.DataFrame | None = None
    champion_choice: pd.DataFrame | None = None

    @property
    def champion(self) -> str:
        return str(self.leaderboard.sort_values("rank")["model"].iloc[0])

    @property
    def scored_role(self) -> str:
        """The folds the leaderboard scored: test, or validation in a tuning trial without test folds."""
        return self.metrics.get("leaderboard_folds") or (
            "test" if (self.folds.empty or (self.folds["role"] == "test").any()) else "validation"
        )


def _csv(path: Path) -> pd.DataFrame:
    # SKU codes look numeric ("22423") but are labels: keep them strings so tables join with the parquet.
    return read_csv(path, dtype={"sku": str})


def _optional_csv(path: Path) -> pd.DataFrame | None:
    return _csv(path) if path.is_file() else None


def _csv_or_empty(path: Path, columns: list[str]) -> pd.DataFrame:
    table = _optional_csv(path)
    return pd.DataFrame(columns=columns) if table is None else table


def _read_plan(path: Path) -> pd.DataFrame | None:
    plan = _optional_csv(path)
    if plan is None:
        return None
    for col in PLAN_DATES:
        if col in plan:
            plan[col] = pd.to_datetime(plan[col], errors="coerce")
    if "exceptions" in plan:
        plan["exceptions"] = plan["exceptions"].fillna("").astype(str)
    return plan


def load_run(run_dir: str | Path, with_backtest: bool = True) -> RunFolder:
    path = Path(run_dir)
    if not (path / "leaderboard.csv").is_file():
        raise InputError(
            f"{path} is not a run folder: it has no leaderboard.csv; point at a folder a backtest wrote."
        )
    config = yaml.safe_load((path / "config.yaml").read_text()) if (path / "config.yaml").is_file() else {}
    quality = (
        json.loads((path / "data_quality.json").read_text()) if (path / "data_quality.json").is_file() else {}
    )
    metrics = json.loads((path / "metrics.json").read_text()) if (path / "metrics.json").is_file() else {}
    folds = _optional_csv(path / "folds.csv")
    if folds is None:
        folds = pd.DataFrame(metrics.get("folds", []), columns=["fold", "cutoff", "role"])
    folds["cutoff"] = pd.to_datetime(folds["cutoff"])
    run = RunFolder(
        path=path,
        config=config or {},
        quality=quality,
        metrics=metrics,
        leaderboard=_csv(path / "leaderboard.csv"),
        by_segment=_csv_or_empty(path / "metrics_by_segment.csv", ["model", "abc", "demand_class"]),
        segments=_csv_or_empty(path / "segments.csv", ["sku", "value", "description", "abc", "demand_class"]),
        folds=folds,
        plan=_read_plan(path / "plan.csv"),
        replay=_optional_csv(path / "replay.csv"),
        service_curve=_optional_csv(path / "service_curve.csv"),
        champion_choice=_optional_csv(path / "champion_choice.csv"),
    )
    if with_backtest and (path / "backtest.parquet").is_file():
        run.backtest = _charted_rows(path / "backtest.parquet", run.scored_role)
    return run


def _charted_rows(path: Path, role: str) -> pd.DataFrame:
    """The backtest rows of the scored folds, with the columns the report's charts read: at 30,000 SKUs the whole
    table is 10 million rows of 20 columns, and reading it all made the report the run's peak of memory."""
    names = pq.read_schema(path).names
    wanted = ["sku", "model", "role", "cutoff", "date", "demand", "mean", "scale", *(band_columns(names) or ())]
    table = pd.read_parquet(path, columns=[c for c in wanted if c in names], filters=[("role", "==", role)])
    table["sku"] = table["sku"].astype(str)
    return table
