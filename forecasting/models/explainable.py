"""What a run keeps so that a global booster's forecast can be explained after it: the booster and its rows.

A tree model's forecast is explained by the SHAP values of the feature rows it predicted from
(forecasting.explain.drivers). The fitted model object is gone when the run ends, so the boosters keep, in the run
folder's `models/<name>/explain/`, the booster of their latest forecast origin in LightGBM's own text format (any
LightGBM reads it back; no pickle, so loading it runs no code) and the feature rows of that forecast per SKU. The
latest origin wins: in a plan run that is the final forecast the plan is made from (the replay's and the
backtest's earlier origins are overwritten), in a backtest run its last fold.

Rows: `sku`, `step` (the forecast day, from 0) and the booster's features; `scale` and `start` where the model's
output is a level on the SKU's mean scale (lightgbm_level: units = (start + booster) x scale). A recursive booster
predicts each day from its own row; the first `STEPS` days are kept (every weekday once, and the lags still read
actual history): the drivers are about that week, which keeps the files small (about 1 MB per 1,000 SKUs).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

STEPS = 7
FOLDER = "explain"
RESERVED = ("sku", "step", "scale", "start")  # row columns that are not features
OUTPUTS = ("log", "level")  # log: a log-link booster (Tweedie); level: an additive level on the SKU's mean scale


@dataclass(frozen=True)
class Kept:
    """One model's kept booster (lightgbm.Booster) and rows, with what they mean (`meta`)."""

    model: str
    booster: object
    rows: pd.DataFrame
    meta: dict

    @property
    def features(self) -> list[str]:
        return list(self.meta["features"])


def wanted(context) -> bool:
    """Whether the TrainingContext asks its boosters to keep what explains them (runs do; library use does not)."""
    return bool(getattr(context, "explainable", False) and getattr(context, "work_dir", None))


def keep(context, name: str, booster, rows: pd.DataFrame, cutoff, **meta) -> None:
    """Write `booster` (a fitted LGBMRegressor or lightgbm.Booster) and `rows` under the TrainingContext's
    `work_dir/name/explain/` where it asks for it (`explainable`), unless an origin later than `cutoff` is kept
    there already. `meta`: output (OUTPUTS), unit, horizon, ..."""
    if not wanted(context):
        return
    if not (hasattr(booster, "booster_") or hasattr(booster, "model_to_string")):
        return  # no tree model (too few rows to boost: the moving average alone): nothing to explain
    final = Path(context.work_dir) / name / FOLDER
    cutoff = pd.Timestamp(cutoff)
    kept = _meta(final)
    if kept is not None and pd.Timestamp(kept["cutoff"]) > cutoff:
        return
    model = getattr(booster, "booster_", booster)
    features = list(model.feature_name())
    missing = [c for c in features if c not in rows]
    if missing:
        raise ValueError(f"the rows kept for {name} lack the booster's features {missing}")
    extra = [c for c in RESERVED if c in rows]
    table = rows[extra + features].reset_index(drop=True)
    table["sku"] = table["sku"].astype(str)
    body = {"model": name, "cutoff": str(cutoff.date()), "features": features, **meta}
    final.parent.mkdir(parents=True, exist_ok=True)
    # Written in a new folder that then replaces the old one: the booster and its rows are always one origin's.
    staging = Path(tempfile.mkdtemp(prefix=f".{FOLDER}.", dir=final.parent))
    model.save_model(str(staging / "booster.txt"))
    table.to_parquet(staging / "rows.parquet", index=False)
    (staging / "meta.json").write_text(json.dumps(body, indent=2, default=str) + "\n")
    os.chmod(staging, 0o755)  # mkdtemp's folder is owner-only; run folders read like any other
    old = final.with_name(f".{FOLDER}.old.{os.getpid()}")
    if final.exists():
        os.replace(final, old)
    os.replace(staging, final)
    shutil.rmtree(old, ignore_errors=True)


def load(run_dir: str | os.PathLike, name: str) -> Kept | None:
    """`name`'s kept booster and rows in a run folder, or None where the run kept none."""
    folder = Path(run_dir) / "models" / name / FOLDER
    meta = _meta(folder)
    if meta is None or meta.get("output") not in OUTPUTS:
        return None
    from lightgbm import Booster  # imported only where there is a booster to read

    booster = Booster(model_file=str(folder / "booster.txt"))
    rows = pd.read_parquet(folder / "rows.parquet")
    return Kept(model=name, booster=booster, rows=rows, meta=meta)


def kept_models(run_dir: str | os.PathLike) -> list[str]:
    """The models of a run folder that kept a booster to explain."""
    root = Path(run_dir) / "models"
    if not root.is_dir():
        return []
    return sorted(p.parent.parent.name for p in root.glob(f"*/{FOLDER}/meta.json"))


def _meta(folder: Path) -> dict | None:
    try:
        return json.loads((folder / "meta.json").read_text())
    except (OSError, ValueError):
        return None
