"""Top features of a gradient-boosted forecast by SHAP value, in a planner's words and units.

SHAP values come from LightGBM's own TreeSHAP (`predict(pred_contrib=True)`): exact for tree ensembles, the
same values shap's TreeExplainer gives for a LightGBM model (tests/test_explain.py checks), without importing
shap (seconds and a few hundred MB in a server that explains every SKU of a plan when it loads).

Input: a booster and the feature rows it predicted from, with a `sku` column beside the features; the run keeps
both for its global boosters (forecasting.models.explainable). Per SKU, a feature's contribution is its SHAP
value over the SKU's rows (the first week of a recursive forecast; one row for a level model), read as:
- `log` boosters (lightgbm: Tweedie, a log link on the SKU's mean-scaled demand): the mean SHAP value over the
  rows is a factor on the forecast, exp(value); shown as a percentage (+30%: the feature raises it by 30%);
- `level` boosters (lightgbm_level: an additive correction of a moving-average start, on the SKU's mean scale):
  the SHAP value times the SKU's mean is units a day, shown beside the start it corrects.
Features that mean one thing to a planner (the sine and cosine of the weekday) are added up as one driver.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from forecasting.models.explainable import FOLDER, RESERVED, Kept, kept_models, load
from forecasting.storage import write_json

log = logging.getLogger(__name__)

TOP = 5
# TreeSHAP costs ~4 ms of a core per row for the bundled boosters (300 trees of 63 leaves): a 3,000-SKU plan's
# 21,000 rows take over a minute. So a plan run computes them once (`keep_drivers`); a reader computes them itself
# only for this many rows (a report's sample SKU, a small run), never at a server's start for a whole plan.
ON_REQUEST_ROWS = 2000
DRIVERS = "drivers.json"
WORDS = {
    "promo": "promotion",
    "rel_price": "price against its usual price",
    "dow_sin": "day of the week",
    "dow_cos": "day of the week",
    "month_sin": "month of the year",
    "month_cos": "month of the year",
    "woy_sin": "week of the year",
    "woy_cos": "week of the year",
    "gap_before": "closed days just before",
    "gap_after": "closed days just after",
    "holiday_next_7d": "a holiday in the next 7 days",
    "abc": "its ABC class",
    "demand_class": "its demand class (smooth, erratic, intermittent, lumpy)",
    "log_mean": "its long-run average demand",
    "age": "how long it has sold",
    "since_sale": "time since its last sale",
    "volatility": "how much its demand varies",
}


def shap_values(booster, features: pd.DataFrame) -> np.ndarray:
    """One SHAP value per row and feature, plus the expected value as a last column: each row's values add up
    to the booster's raw output (before its link function and any start score)."""
    model = getattr(booster, "booster_", booster)  # a fitted LGBMRegressor holds its lightgbm.Booster
    return np.asarray(model.predict(features, pred_contrib=True))


def top_drivers(booster, rows: pd.DataFrame, k: int = TOP) -> pd.DataFrame:
    """sku, rank, feature, contribution (SHAP value summed over the SKU's rows), share (of the SKU's total
    absolute contribution): the `k` largest by absolute contribution per SKU."""
    features = rows.drop(columns=[c for c in RESERVED if c in rows])
    values = pd.DataFrame(shap_values(booster, features)[:, :-1], columns=features.columns)
    values["sku"] = rows["sku"].astype(str).to_numpy()
    return _ranked(values.groupby("sku").sum(), k)


def _ranked(per_sku: pd.DataFrame, k: int) -> pd.DataFrame:
    long = per_sku.stack().rename("contribution").reset_index()
    long.columns = ["sku", "feature", "contribution"]
    long["size"] = long["contribution"].abs()
    long["share"] = long["size"] / long.groupby("sku")["size"].transform("sum").replace(0, np.nan)
    long = long.sort_values(["sku", "size"], ascending=[True, False], kind="stable")
    long["rank"] = long.groupby("sku").cumcount() + 1
    return long.loc[long["rank"] <= k, ["sku", "rank", "feature", "contribution", "share"]].reset_index(drop=True)


def drivers_sentence(drivers: pd.DataFrame) -> str:
    """'promo +3.1 (62%), lag_7 +0.9 (18%), ...' for one SKU's rows of `top_drivers` (raw SHAP units)."""
    parts = [f"{r.feature} {r.contribution:+.3g} ({r.share:.0%})" for r in drivers.itertuples(index=False)]
    return "Top drivers by SHAP value: " + ", ".join(parts) + "." if parts else "No driver stands out."


def explain_kept(kept: Kept, skus, k: int = TOP) -> dict[str, dict]:
    """sku -> {method, sentence, drivers: [{driver, features, effect, unit, share}], ...} for the SKUs of `skus`
    that `kept` has rows for, the `k` biggest drivers first."""
    wanted = set(map(str, skus))
    rows = kept.rows[kept.rows["sku"].astype(str).isin(wanted)].reset_index(drop=True)
    if rows.empty:
        return {}
    values = shap_values(kept.booster, rows[kept.features])
    words = [feature_words(f, kept.meta) for f in kept.features]
    per_row = pd.DataFrame(values[:, :-1], columns=kept.features)
    # One driver per meaning: the weekday's sine and cosine are one "day of the week".
    per_row = per_row.T.groupby(words, sort=False).sum().T
    per_row["sku"] = rows["sku"].astype(str).to_numpy()
    level = kept.meta["output"] == "level"
    if level:  # to units a day: each SKU's row times its mean (the level's scale)
        scale = rows["scale"].to_numpy(dtype=float)
        per_row[per_row.columns[:-1]] = per_row[per_row.columns[:-1]].mul(scale, axis=0)
    per_sku = per_row.groupby("sku").mean()
    ranked = _ranked(per_sku, k)
    members = {w: [f for f, w2 in zip(kept.features, words, strict=True) if w2 == w] for w in dict.fromkeys(words)}
    starts = _starts(rows, values.sum(axis=1), kept.meta) if level else {}
    days = int(rows["step"].max()) + 1 if "step" in rows else 1
    out = {}
    for sku, top in ranked.groupby("sku", sort=False):
        drivers = []
        for r in top.itertuples(index=False):
            effect = float(r.contribution) if level else float(np.expm1(r.contribution))
            drivers.append(
                {
                    "driver": r.feature,
                    "features": members[r.feature],
                    "effect": round(effect, 4),
                    "unit": "units a day" if level else "share of the forecast",
                    "share": None if pd.isna(r.share) else round(float(r.share), 3),
                }
            )
        out[sku] = {
            "method": _method(kept, days),
            "sentence": _sentence(drivers, starts.get(sku), level),
            "drivers": drivers,
        }
        if sku in starts:
            out[sku]["start"] = starts[sku]
    return out


def booster_skus(plan: pd.DataFrame, name: str, ensembles: Mapping[str, Mapping] | None = None) -> pd.Series:
    """sku -> plan model, for the plan SKUs that booster `name` forecasts: as their model, or as a member of their
    model's ensemble (`ensembles`: name -> {"members": [...], ...}, as metrics.json records them)."""
    models = plan["model"].astype(str)
    through = {name} | {e for e, spec in (ensembles or {}).items() if name in (spec.get("members") or [])}
    inside = models.isin(through)
    return pd.Series(models[inside].to_numpy(), index=plan.loc[inside, "sku"].astype(str).to_numpy())


def as_member(drivers: dict, ensemble: str, spec: Mapping, member: str) -> dict:
    """A member booster's drivers told as the part of an ensemble's forecast they explain: the ensemble combines
    its members' forecasts, so SHAP values explain only the booster's share of it (its weight)."""
    members = list(spec.get("members") or [])
    weights = list(spec.get("weights") or [])
    weight = weights[members.index(member)] if member in members and len(weights) == len(members) else None
    share = f" (weight {weight:.2f})" if weight is not None else ""
    lead = (
        f"{ensemble} combines {', '.join(members)}; these drivers explain its {member} part{share}, not the other "
        "members'. "
    )
    return {**drivers, "member": member, "weight": weight, "sentence": lead + drivers.get("sentence", "")}


def keep_drivers(
    run_dir: str | os.PathLike, plan: pd.DataFrame, ensembles: Mapping[str, Mapping] | None = None
) -> None:
    """Every plan SKU's drivers, for each booster the run kept that forecasts it (as its model or as a member of its
    ensemble), written once beside the booster (`drivers.json`, for the API and the report; the booster and rows
    stay for anyone who wants more)."""
    if "model" not in plan:
        return
    for name in kept_models(run_dir):
        skus = booster_skus(plan, name, ensembles).index
        kept = load(run_dir, name) if len(skus) else None
        if kept is None:
            continue
        drivers = explain_kept(kept, skus)
        path = Path(run_dir) / "models" / name / FOLDER / DRIVERS
        write_json({"cutoff": kept.meta["cutoff"], "skus": drivers}, path)
        log.info("why: SHAP drivers of %d %s SKUs kept in %s", len(drivers), name, path)


def kept_drivers(run_dir: str | os.PathLike, kept: Kept) -> dict[str, dict] | None:
    """The drivers `keep_drivers` wrote for `kept`'s origin, or None."""
    path = Path(run_dir) / "models" / kept.model / FOLDER / DRIVERS
    try:
        done = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return done["skus"] if done.get("cutoff") == kept.meta["cutoff"] else None


def _method(kept: Kept, days: int) -> str:
    over = "the forecast origin's row" if days == 1 else f"the first {days} days of the forecast"
    origin = kept.meta["cutoff"]
    return f"SHAP values of the {kept.model} booster (LightGBM TreeSHAP) over {over}, forecast from {origin}"


def _starts(rows: pd.DataFrame, raw: np.ndarray, meta: dict) -> dict[str, dict]:
    """lightgbm_level: the moving average the booster corrects and the level it ends at, in units a day, per SKU.
    `raw`: the booster's output per row (its SHAP values and expected value added up)."""
    if "start" not in rows or "scale" not in rows:
        return {}
    table = rows[["sku", "start", "scale"]].assign(raw=raw).groupby("sku").first()
    window = meta.get("start_window")
    label = feature_words(f"ma_{float(window):g}h", meta) if window is not None else "its moving average"
    out = {}
    for sku, r in table.iterrows():
        start, level = r.start * r.scale, max((r.start + r.raw) * r.scale, 0.0)  # as the model's _levels
        out[str(sku)] = {"driver": label, "units_a_day": round(float(start), 4), "level": round(float(level), 4)}
    return out


def _sentence(drivers: list[dict], start: dict | None, level: bool) -> str:
    if not drivers or all(d["effect"] == 0 for d in drivers):
        return "No feature moved this forecast: the booster gives it its average."
    if level:
        parts = [f"{d['driver']} {d['effect']:+.3g} a day" for d in drivers]
        head = ""
        if start:
            begin, level = f"{start['units_a_day']:.3g}", f"{start['level']:.3g}"
            head = f"From {start['driver']} ({begin} a day) to a level of {level} a day, "
        return f"{head}the biggest drivers by SHAP value: " + "; ".join(parts) + "."
    parts = [f"{d['driver']} ({d['effect']:+.0%})" for d in drivers]
    return "What moves the forecast most, by SHAP value (against an average SKU-day): " + "; ".join(parts) + "."


def feature_words(feature: str, meta: dict) -> str:
    """A booster's feature name as a planner reads it, e.g. rolling_mean_lag1_window_size24 -> 'average demand of
    the last 24 trading days'. Unknown names come back as they are."""
    unit = str(meta.get("unit") or "trading day")
    if feature in WORDS:
        return WORDS[feature]
    if m := re.fullmatch(r"lag(\d+)", feature):
        return f"demand {_count(int(m[1]), unit)} before"
    if m := re.fullmatch(r"rolling_(mean|std)_lag(\d+)_window_size(\d+)", feature):
        what = "average demand" if m[1] == "mean" else "variability of demand"
        back = int(m[2])
        ending = "" if back <= 1 else f", ending {_count(back - 1, unit)} back"
        return f"{what} over the last {_count(int(m[3]), unit)}{ending}"
    if m := re.fullmatch(r"(ma|sale_freq)_([\d.]+)h", feature):
        periods = max(int(round(float(m[2]) * int(meta.get("horizon") or 1))), 1)
        what = "average demand" if m[1] == "ma" else "how often it sold"
        return f"{what} over the last {_count(periods, unit)}"
    return feature


def _count(n: int, unit: str) -> str:
    return f"{n} {unit}{'' if n == 1 else 's'}"
