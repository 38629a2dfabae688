"""One published plan held in memory: every file of one run, read together, rendered once.

`experiments/latest` is a link to a folder that never changes once published (forecasting.storage.publish): a
new plan is a new folder and one rename of the link. So resolving the link once and reading every file below
the folder it names gives one run's files, never a mix; a folder removed while it is read (the job deletes sets
no link points at any more) is read again from the new link. Run-folder files that are not published (the
leaderboard, per-SKU backtest accuracy) come from the run folder SOURCE.json names, which is written once too.

Responses are rendered to JSON bytes here, once per plan, so a request is a dictionary lookup: a 3,000-SKU plan
served at 100 concurrent clients on two cores leaves no time for per-request serialisation.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from forecasting.storage import read_csv
from forecasting.storage.publish import SOURCE

log = logging.getLogger(__name__)

#: text columns of the forecast table (the rest are numbers, dates and flags)
FORECAST_TEXT = ("sku", "model")
#: plan columns a filter may name, and how it matches (exceptions: one code of the ";"-joined list)
FILTERS = ("segment", "abc", "demand_class", "model", "exception")


class NotPublished(Exception):
    """No complete plan is published at the folder yet (or it cannot be read)."""


@dataclass(frozen=True)
class Snapshot:
    """One run's plan, forecast and backtest accuracy, with what each request needs already rendered."""

    run_id: str
    data_cutoff: str
    completed_at: str
    folder: str  # the resolved published folder: a new one means a new publication
    run_dir: str
    plan: pd.DataFrame
    forecast: pd.DataFrame
    leaderboard: pd.DataFrame
    accuracy: pd.DataFrame  # metrics_by_sku.csv: per model and SKU on the backtest's test windows
    header: bytes  # '"run_id": ..., "data_cutoff": ...' shared by every response of this plan
    row_of: dict[str, int]  # SKU -> position in `plan`
    plan_json: list[bytes]  # per plan row
    forecast_json: dict[str, bytes]  # per SKU: the list of days
    forecast_span: dict[str, tuple[int, int]]  # per SKU: its rows of `forecast`
    accuracy_json: dict[str, bytes]  # per SKU: the list of models' metrics
    masks: dict[tuple[str, str], np.ndarray]  # (filter, value) -> rows that match
    order_rows: np.ndarray  # plan rows with an order, by order-by date then SKU
    exception_rows: np.ndarray  # plan rows with an exception
    order_by: np.ndarray  # datetime64 per plan row (NaT: no order date)
    extras: dict = field(default_factory=dict)  # what later stages add (explanations), by name
    responses: dict = field(default_factory=dict)  # answers sent about this plan (forecasting.serving.cache)

    @property
    def info(self) -> dict:
        return {"run_id": self.run_id, "data_cutoff": self.data_cutoff, "completed_at": self.completed_at}


def load(publish_dir: str | os.PathLike, text_columns: Sequence[str], attempts: int = 5) -> Snapshot:
    """The plan published now at `publish_dir`, all files from one run; NotPublished when there is none."""
    last: Exception | None = None
    for _ in range(attempts):
        try:
            folder = Path(publish_dir).resolve(strict=True)  # one readlink: every file below is this run's
            before = (folder / SOURCE).read_bytes()
            snap = _read(folder, json.loads(before), text_columns)
            # A pre-link layout (a plain folder) can change under us: the same SOURCE after reading proves not.
            if (folder / SOURCE).read_bytes() == before:
                return snap
        except FileNotFoundError as exc:  # replaced and removed while read: read the set the link names now
            last = exc
        time.sleep(0.05)
    raise NotPublished(f"no complete plan could be read from {publish_dir} ({last or 'it changed while read'})")


def current_folder(publish_dir: str | os.PathLike) -> str | None:
    """What the link names now (cheap: polled to notice a publication)."""
    try:
        return str(Path(publish_dir).resolve(strict=True))
    except OSError:
        return None


def _read(folder: Path, source: dict, text_columns: Sequence[str]) -> Snapshot:
    plan = read_csv(folder / "plan.csv", dtype={c: str for c in text_columns})
    texts = [c for c in text_columns if c in plan]
    plan[texts] = plan[texts].fillna("")
    plan = plan.sort_values("sku", kind="stable").reset_index(drop=True)
    forecast = pd.read_parquet(folder / "forecast.parquet")
    forecast = forecast.sort_values(["sku", "date"], kind="stable").reset_index(drop=True)
    run_dir = Path(str(source.get("run_dir", "")))
    leaderboard = _run_file(run_dir, "leaderboard.csv")
    accuracy = _run_file(run_dir, "metrics_by_sku.csv", dtype={"sku": str, "model": str})
    if "sku" in accuracy:
        accuracy = accuracy.sort_values(["sku", "model"], kind="stable").reset_index(drop=True)
    info = {k: str(source.get(k, "")) for k in ("run_id", "data_cutoff", "completed_at")}
    header = json.dumps(info, separators=(",", ":"))[1:-1].encode()
    skus = plan["sku"].to_numpy(dtype=object)
    order_by = pd.to_datetime(plan["order_by"].replace("", None), errors="coerce").to_numpy()
    has_order = plan["order_qty"].fillna(0).to_numpy() > 0
    order_rows = np.flatnonzero(has_order)
    order_rows = order_rows[np.lexsort((skus[order_rows], order_by[order_rows]))]
    return Snapshot(
        **info,
        folder=str(folder),
        run_dir=str(run_dir),
        plan=plan,
        forecast=forecast,
        leaderboard=leaderboard,
        accuracy=accuracy,
        header=header,
        row_of={str(s): i for i, s in enumerate(skus)},
        plan_json=records(plan),
        forecast_json=grouped_records(forecast.assign(date=forecast["date"].dt.strftime("%Y-%m-%d")), "sku"),
        forecast_span=spans(forecast, "sku"),
        accuracy_json=grouped_records(accuracy, "sku") if "sku" in accuracy else {},
        masks=_masks(plan),
        order_rows=order_rows,
        exception_rows=np.flatnonzero(plan["exceptions"].to_numpy(dtype=object) != ""),
        order_by=order_by,
    )


def _run_file(run_dir: Path, name: str, **kwargs) -> pd.DataFrame:
    """A run-folder table, or an empty one where the folder was moved or pruned (the plan is still served)."""
    path = run_dir / name
    if not path.is_file():
        log.warning("run folder file %s is missing; served without it", path)
        return pd.DataFrame()
    return read_csv(path, **kwargs)


def records(frame: pd.DataFrame) -> list[bytes]:
    """Each row as a JSON object (pandas' C writer: NaN as null, one line per row)."""
    if frame.empty:
        return []
    text = frame.to_json(orient="records", lines=True, date_format="iso", double_precision=10)
    return [line.encode() for line in text.splitlines()]


def spans(frame: pd.DataFrame, key: str) -> dict[str, tuple[int, int]]:
    """Per value of `key` in a table sorted by it, the rows it spans (start, end)."""
    if frame.empty:
        return {}
    keys = frame[key].to_numpy(dtype=object)
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    ends = np.r_[starts[1:], len(keys)]
    return {str(keys[s]): (int(s), int(e)) for s, e in zip(starts, ends, strict=True)}


def grouped_records(frame: pd.DataFrame, key: str) -> dict[str, bytes]:
    """Per value of `key`, a JSON list of its rows (in table order), without repeating the key in each row."""
    rows = records(frame.drop(columns=[key])) if not frame.empty else []
    return {k: b"[" + b",".join(rows[s:e]) + b"]" for k, (s, e) in spans(frame, key).items()}


def _masks(plan: pd.DataFrame) -> dict[tuple[str, str], np.ndarray]:
    """Rows per filter value, built once: a filtered page is then a few boolean ANDs over the plan."""
    masks: dict[tuple[str, str], np.ndarray] = {}
    for column in FILTERS:
        if column == "exception":
            codes = plan["exceptions"].str.split(";")
            for code in sorted({c for cs in codes for c in cs if c}):
                masks[(column, code)] = codes.map(lambda cs, code=code: code in cs).to_numpy(dtype=bool)
        elif column in plan:
            values = plan[column].astype(str).to_numpy(dtype=object)
            for value in pd.unique(values):
                masks[(column, str(value))] = values == value
    return masks
