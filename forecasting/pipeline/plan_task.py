"""task=plan: champions per segment, calibrated plan from sample paths, replay on history."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from omegaconf import DictConfig, OmegaConf

from forecasting.backtest.interval_calibration import apply_interval_factors
from forecasting.data.prepare import PreparedData
from forecasting.errors import InputError
from forecasting.explain.drivers import keep_drivers
from forecasting.pipeline.backtest_task import BacktestResult
from forecasting.pipeline.common import BASELINE, rehearsal_settings, replay_settings, sku_key
from forecasting.planning.allocation import expected_k, level_frame, level_table, portfolio_scope, with_service_scope
from forecasting.planning.calibration import METHODS
from forecasting.planning.decision import Decision, decide, decision_table
from forecasting.planning.exception_codes import skus_per_code
from forecasting.planning.global_final import planning_models
from forecasting.planning.inputs import policy_table, stock_position
from forecasting.planning.rehearsal import rehearsed_k
from forecasting.planning.replay import aggregate, saving_summary, stock_at_equal_fill
from forecasting.planning.replay_misses import flag_replay_misses, target_not_met
from forecasting.planning.runner import PlanSettings, plan_pass
from forecasting.planning.sales_history import mean_daily_demand, sku_history
from forecasting.planning.saving_interval import LEVEL, saving_interval
from forecasting.storage import read_csv, write_csv, write_parquet
from forecasting.vocabulary.saving_words import saving_not_shown

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PlanInputs:
    """What the plan takes besides forecasts, per SKU of the panel (see planning.inputs)."""

    params: pd.DataFrame
    on_hand: pd.Series
    open_orders: pd.DataFrame
    stock_source: pd.Series


def plan_inputs(cfg: DictConfig, data: PreparedData) -> PlanInputs:
    """Policy parameters, stock and open orders for every SKU of the panel, checked against it; cheap, so a run
    does it before the backtest and a bad file fails in seconds."""
    pcfg = OmegaConf.to_container(cfg.plan, resolve=True)
    calibration_methods(pcfg)
    key = sku_key(cfg)
    panel = data.panel
    today = panel["date"].max()
    skus = pd.Index(data.segments["sku"].astype(str), name="sku")
    last_price = (
        panel.sort_values("date").groupby("sku")["price"].last() if "price" in panel else pd.Series(dtype=float)
    )
    params = policy_table(
        skus,
        pcfg,
        last_price,
        pcfg.get("overrides_csv"),
        bool(pcfg.get("require_moq_multiple_of_pack")),
        key=key,
    )
    on_hand, open_orders, stock_source = stock_position(
        skus,
        mean_daily_demand(panel, data.calendar.frequency),
        pcfg.get("stock_csv"),
        pcfg.get("open_orders_csv"),
        float(pcfg["assumed_cover_days"]),
        today=today,
        missing_stock=pcfg.get("missing_stock", "error"),
        overdue_orders=pcfg.get("overdue_orders", "count"),
        horizon_days=float(pcfg["horizon_days"]),
        key=key,
    )
    return PlanInputs(params, on_hand, open_orders, stock_source)


def calibration_methods(pcfg: dict) -> list[str]:
    """plan.calibration_methods, checked (bad input: one sentence, exit status 2)."""
    methods = list(pcfg.get("calibration_methods") or METHODS)
    unknown = set(methods) - set(METHODS)
    if unknown:
        raise InputError(f"plan.calibration_methods has {sorted(unknown)}; use any of {', '.join(METHODS)}.")
    return methods


def decisions(
    pcfg: dict, data: PreparedData, result: BacktestResult, champions: pd.Series | None = None
) -> tuple[Decision, Decision | None]:
    """The production plan's champions and calibration, learnt from every fold (all end by the last date), and
    the replay's, learnt from the validation folds (they end by its start) with the segments of that day; None
    for the replay without validation folds. `champions` fixes the plan's (the scheduled job's standing ones)."""
    if champions is not None:
        return Decision(champions, windows=result.covers), None
    candidates = candidates_of(pcfg, result)
    options = {
        "metric": str(pcfg["champion_metric"]),
        "candidates": candidates,
        "fallback": BASELINE,
        "calibrate_windows": bool(pcfg.get("calibrate")),
        "min_windows": int(pcfg["min_calibration_windows"]),
        "methods": calibration_methods(pcfg),
    }
    covers = result.covers
    plan = decide(result.all_by_segment, covers, data.segments, **options)
    if result.validation_by_segment is None:
        return plan, None
    validation = covers[covers["role"] == "validation"] if len(covers) else covers
    return plan, decide(result.validation_by_segment, validation, result.validation_segments, **options)


def candidates_of(pcfg, result: BacktestResult) -> list[str]:
    """plan_candidates among the models `result` backtested, as the plan config `pcfg` allows."""
    backtested = [*result.local, *result.global_, *result.ensembles]
    return plan_candidates(pcfg.get("candidates"), backtested, pcfg.get("members_only"))


def plan_candidates(allowed, backtested: list[str], members_only=()) -> list[str]:
    """The models a champion may be: `plan.candidates`, or every model backtested but the baseline and
    `members_only` (plan.members_only: run for an ensemble). The baseline (seasonal naive: last week again) is the
    yardstick the plan must beat and the fallback of failed fits, not a plan: on the bundled data its calibrated
    window sums scored level with ETS's on validation windows, yet a plan ordering from it needed 33% more stock
    than ETS's at the same fill rate in the replay (benchmarks/README)."""
    if not allowed:
        left_out = {BASELINE, *(members_only or ())}
        return [m for m in backtested if m not in left_out] or list(backtested)
    unknown = sorted(set(allowed) - set(backtested))
    if unknown:
        raise InputError(
            f"plan.candidates names {unknown}, which the run did not backtest; pick among {', '.join(backtested)}."
        )
    return [m for m in backtested if m in set(allowed)]


def protocol(result: BacktestResult, today: pd.Timestamp, replay_start: pd.Timestamp | None, proof: bool) -> dict:
    """Which windows chose and which days were replayed, in dates (the log, metrics.json and the report)."""
    folds = result.cutoffs if result.cutoffs is not None else pd.DataFrame(columns=["cutoff", "role"])
    validation = folds.loc[folds["role"] == "validation", "cutoff"]
    test = folds.loc[folds["role"] == "test", "cutoff"]
    return {
        "proof": bool(proof),
        "replay_chosen_on_cutoffs": days(validation) if proof else days([*validation, *test]),
        "replay_start": None if replay_start is None else str(replay_start.date()),
        "replay_end": str(pd.Timestamp(today).date()),
        "plan_chosen_on_cutoffs": days([*validation, *test]),
        "test_cutoffs": days(test),
    }


def rehearsal_summary(curves: list[pd.DataFrame]) -> dict:
    """Per decision (plan, replay), the rehearsal its service levels were fitted on (planning.rehearsal): the days
    it replayed, its fill rate at the expected-fill k, and the factor it applied to k; {} where none ran."""
    out = {}
    for curve in curves:
        if not curve["skus"].max():  # no SKU had the history to rehearse: the expected-fill k stood
            continue
        first = curve.iloc[0]
        at_expected = curve.loc[np.isclose(curve["k"], first["expected_k"]), "fill_rate"]
        out[str(first["decision"])] = {
            "start": str(first["start"]),
            "decided_on": str(first["decided_on"]),
            "fill_at_expected_k": round(float(at_expected.iloc[0]), 4) if len(at_expected) else None,
            "k_factor": round(float(first["fitted_k"] / first["expected_k"]), 4),
        }
    return out


def days(dates) -> list[str]:
    return [str(pd.Timestamp(d).date()) for d in dates]


def run_plan(
    cfg: DictConfig,
    data: PreparedData,
    out: Path,
    result: BacktestResult,
    champions: pd.Series | None = None,
    inputs: PlanInputs | None = None,
) -> dict:
    """Champion per segment, final forecasts, calibrated plan, replay on history; returns plan metrics."""
    pcfg = OmegaConf.to_container(cfg.plan, resolve=True)
    panel, segments = data.panel, data.segments
    today = panel["date"].max()
    n_jobs, seed = int(cfg.parallel.n_jobs), int(cfg.seed)
    replay = replay_settings(cfg)
    plan_decision, replay_decision = decisions(pcfg, data, result, champions)
    proof = replay_decision is not None
    if replay is not None and not proof:
        log.warning(
            "replay: no validation fold fits between the panel's minimum history (data.panel.min_history_days) "
            "and the replay's start, so its champions and calibration saw the weeks it replays; it claims no "
            "proof and no stock saved (give the data more history, or lower backtest.horizon or "
            "plan.replay.weeks)"
        )
    replay_decision = replay_decision or plan_decision
    if inputs is None:
        inputs = plan_inputs(cfg, data)
    params = inputs.params
    if len(plan_decision.choice):
        write_csv(
            decision_table(plan_decision.choice, replay_decision.choice if proof else None), out / "champion_choice.csv"
        )
    if len(plan_decision.calibration_table):
        write_csv(
            decision_table(plan_decision.calibration_table, replay_decision.calibration_table if proof else None),
            out / "calibration.csv",
        )
    champions = plan_decision.champions
    # A fill-rate target over the assortment: each SKU's own service level (planning.allocation), learnt on the
    # windows of the decision that uses it.
    scope = portfolio_scope(
        pcfg.get("service_scope", "portfolio"), pcfg["service_measure"], pcfg["service_target"], params
    )
    # Rehearsals (planning.rehearsal) replay each decision on the weeks before the day it was made.
    rehearsal = (
        rehearsal_settings(cfg, data.calendar.frequency, (panel["date"].max() - panel["date"].min()).days)
        if scope.any() and pcfg.get("service_level_fit") == "rehearsal"
        else None
    )
    periods = replay or rehearsal
    # The replay's champions too: a global one among them is trained for its reviews (and the rehearsals').
    models = planning_models(
        pd.concat([champions, replay_decision.champions]), result.local, result.global_, result.ensembles, panel,
        data.segments_as_of, data.calendar,
        int(pcfg["horizon_days"]), replay.weeks if replay else None, params, int(cfg.num_samples),
        periods.refit_every if periods else 1, rehearsal_weeks=rehearsal.weeks if rehearsal else None,
        ahead=data.ahead,
    )  # fmt: skip
    plan_params, replay_levels, sku_levels = params, None, None
    curves: list[pd.DataFrame] = []
    if scope.any():
        target = float(pcfg["service_target"])

        def levels(decision: Decision, decided_on: pd.Timestamp, targets: list[float], name: str) -> pd.DataFrame:
            k = expected_k(decision.champion_windows(), decision.calibration, params[scope], [*targets, target])
            if rehearsal is not None:  # fitted at the decision's target; the curve's other targets shift with it
                fitted, curve = rehearsed_k(
                    panel, decided_on, decision.champions, models, result.fallback, data.calendar, params[scope],
                    decision.calibration, decision.champion_windows(), rehearsal, target, k[-1],
                    int(cfg.num_samples), seed, n_jobs,
                )  # fmt: skip
                k = k * fitted / k[-1]
                curves.append(
                    curve.assign(
                        decision=name,
                        start=str(rehearsal.start(decided_on).date()),
                        decided_on=str(pd.Timestamp(decided_on).date()),
                    )
                )
            return level_frame(k[:-1], params[scope], targets)

        sku_levels = levels(plan_decision, today, [target], "plan")[target]
        plan_params = params.copy()
        plan_params.loc[scope, "service_measure"] = "cycle_service_level"
        plan_params.loc[sku_levels.index, "service_target"] = sku_levels
        if replay is not None:
            replay_levels = levels(replay_decision, replay.start(today), replay.targets, "replay")
        write_csv(level_table(sku_levels, replay_levels), out / "service_levels.csv")
        if curves:
            write_csv(pd.concat(curves, ignore_index=True), out / "rehearsal.csv")
    history = sku_history(panel, data.calendar.frequency)
    history["previous_p50_60d"] = previous_plan_p50(out, history.index)
    quantiles = [float(q) for q in cfg.quantiles]
    t0 = time.perf_counter()
    done = plan_pass(
        panel,
        champions.dropna(),
        models,
        result.fallback,
        data.calendar,
        PlanSettings(int(pcfg["horizon_days"]), int(cfg.num_samples), seed, quantiles, pcfg["exceptions"]),
        plan_params,
        inputs.on_hand,
        inputs.open_orders,
        plan_decision.calibration,
        history,
        replay,
        n_jobs,
        replay_champions=replay_decision.champions.dropna(),
        replay_calibration=replay_decision.calibration,
        replay_levels=replay_levels,
        ahead=data.ahead,
    )
    wall = time.perf_counter() - t0
    # The final forecast's intervals scaled as the leaderboard's champion row is, by factors fitted on every fold;
    # a day the fallback forecast is scaled as the baseline's.
    forecast = apply_interval_factors(done.forecast, segments, result.interval_factors, quantiles, BASELINE)
    write_parquet(forecast, out / "forecast.parquet")
    plan = segments[["sku", "abc", "demand_class", "segment"] + [c for c in ("description",) if c in segments]].merge(
        done.plan, on="sku", how="right"
    )
    plan["stock_source"] = plan["sku"].map(inputs.stock_source)
    plan["param_source"] = plan["sku"].map(params["param_source"])
    plan = with_service_scope(plan, params, scope, sku_levels)
    # The SHAP drivers of the SKUs a kept booster forecasts, alone or in an ensemble, once (the API reads them).
    keep_drivers(out, plan, {n: e.spec() for n, e in result.ensembles.items()})
    overdue = inputs.open_orders[inputs.open_orders["overdue"]]
    summary = {
        "plan_date": str(today.date()),
        "stock_assumed_skus": int(plan["stock_source"].str.startswith("assumed").sum()),
        "overdue_orders": {
            "orders": len(overdue),
            "units": float(overdue["quantity"].sum()),
            "treatment": pcfg.get("overdue_orders", "count"),
        },
        "orders": int((plan["order_qty"] > 0).sum()),
        "order_value": round(float(plan["order_value"].sum()), 2),
        "exceptions": skus_per_code(plan["exceptions"]),
        "champions": champions.value_counts().to_dict(),
        "replay_champions": replay_decision.champions.value_counts().to_dict(),
        "protocol": {
            **protocol(result, today, replay.start(today) if replay else None, proof),
            "service_levels": rehearsal_summary(curves),
        },
        # One pass does both, so its wall time is split by the time the workers spent on each.
        "seconds": split_seconds(wall, done.seconds),
    }
    log.info(
        "plan: %d SKUs, %d orders worth %.0f; exceptions %s",
        len(plan),
        summary["orders"],
        summary["order_value"],
        summary["exceptions"],
    )
    if replay is not None and done.replay.empty:
        # A short history (weeks or months of it) leaves no SKU the periods a replay forecasts from at its start.
        log.warning(
            "replay: no SKU has %d %ss of history before the replay's start %s, so nothing was replayed and no "
            "proof is claimed; give the data more history, or lower plan.replay.weeks",
            replay.min_history,
            data.calendar.unit,
            replay.start(today).date(),
        )
        summary["replay"] = None
    elif replay is not None:
        per_sku = done.replay
        write_csv(per_sku, out / "replay_by_sku.csv")
        curve = aggregate(per_sku)
        write_csv(curve, out / "service_curve.csv")
        target = float(pcfg["service_target"])
        at_target = curve[(curve["target"] == target) | (curve["policy"] == "oracle")].copy()
        at_target.insert(1, "target_fill_rate", target)
        write_csv(at_target.drop(columns=["target"]), out / "replay.csv")
        summary["replay"] = at_target.drop(columns=["target"]).set_index("policy").round(4).to_dict("index")
        plan = flag_replay_misses(plan, per_sku, target)
        summary["target_not_met"] = target_not_met(plan)
        if proof:  # without validation folds the replay saw its own choices: no saving is claimed
            equal_fill = stock_at_equal_fill(curve)
            write_csv(equal_fill, out / "stock_at_equal_fill.csv")
            summary["stock_at_equal_fill"] = json_ready(equal_fill).to_dict("records")
            saved = saving_summary(equal_fill).merge(saving_interval(per_sku), on="reference", how="left")
            summary["stock_saved"] = json_ready(saved.set_index("reference")).to_dict("index")
            log.info(
                "stock saved at equal fill rate (champion vs each policy, over its service curve; low and high: "
                "%.0f%% interval of the median over resamples of the SKUs):\n%s",
                100 * LEVEL,
                saved.to_string(index=False, float_format=lambda v: f"{v:.3f}"),
            )
            for row in saved[saved["not_shown_because"].notna()].itertuples():
                log.warning(
                    "replay: %s",
                    saving_not_shown(
                        row.reference, row.not_shown_because, row.median_saved_low, row.median_saved_high, row.skus
                    ),
                )
        p = summary["protocol"]
        log.info(
            "replay of %s to %s: champions and calibration chosen on the windows of cutoffs %s%s",
            p["replay_start"],
            p["replay_end"],
            ", ".join(p["replay_chosen_on_cutoffs"]),
            "" if proof else " (which overlap the replayed days: no proof claimed)",
        )
        log.info(
            "replay at target %.2f:\n%s",
            target,
            at_target[["policy", "fill_rate", "cycle_service_level", "avg_stock_value", "total_cost"]].to_string(
                index=False, float_format=lambda v: f"{v:.4f}"
            ),
        )
    write_csv(plan, out / "plan.csv")
    return {"plan": summary}


def json_ready(frame: pd.DataFrame) -> pd.DataFrame:
    """Rounded to 4 places, NaN as None: NaN is no JSON (a strict reader of metrics.json refuses it), null is."""
    frame = frame.round(4).astype(object)
    return frame.where(frame.notna(), None)


def split_seconds(wall: float, cpu: dict[str, float]) -> dict[str, float]:
    """The pass's wall time split in proportion to the time the workers spent on each part."""
    total = sum(cpu.values()) or 1.0
    return {"plan_pass": round(wall, 2), **{k: round(wall * v / total, 2) for k, v in cpu.items()}}


def previous_plan_p50(out: Path, skus: pd.Index) -> pd.Series:
    """The 60-day P50 demand of this experiment's previous plan, for the FORECAST_MOVED exception."""
    earlier = sorted(p for p in out.parent.glob("*/plan.csv") if p.parent.name < out.name)
    if not earlier:
        return pd.Series(np.nan, index=skus)
    prev = read_csv(earlier[-1], dtype={"sku": str}).set_index("sku")["demand_60d_p50"]
    return prev.reindex(skus)
