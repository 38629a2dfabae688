"""Sections on the run and its accuracy: summary, data quality, leaderboard, segments, bias, coverage."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from forecasting.reports.columns import Column
from forecasting.reports.formatting import Table, format_value, safe
from forecasting.reports.run_folder import RunFolder
from forecasting.reports.svg import PALETTE, hbar_chart, percent
from forecasting.reports.tables import coverage_columns, coverage_table, nominal, segment_accuracy
from forecasting.vocabulary.model_names import BASELINE

LEADERBOARD_COLUMNS = [
    "rank",
    "model",
    "rmsse",
    "fva_rmsse",
    "mae",
    "fva_mae",
    "wape",
    "bias",
    "pinball",
    "fva_pinball",
    "coverage_80",
    "coverage_90",
    "mape_nonzero",
    "fallback_share",
    "failed_fits",
]
FVA_NAMES = {"fva_rmsse": "FVA RMSSE", "fva_mae": "FVA MAE", "fva_pinball": "FVA pinball"}


def _get(d: dict, *keys, default=None):
    for k in keys:
        if not isinstance(d, dict) or k not in d:
            return default
        d = d[k]
    return d


def _short_target(target: str | None) -> str:
    return str(target).rsplit(".", 1)[-1] if target else ""


def model_settings(config: dict) -> list[dict]:
    """Each configured model's class and parameters, as one line a reader can check."""
    rows = []
    for name, params in (_get(config, "model", default={}) or {}).items():
        params = dict(params or {})
        target = params.pop("_target_", None)
        settings = ", ".join(f"{k}={v}" for k, v in params.items() if not str(k).startswith("_"))
        rows.append({"model": name, "class": _short_target(target), "settings": settings})
    return rows


def period_unit(quality: dict) -> str:
    """What one step of the panel is, for labels: 'trading day', 'week' or 'month' (plural with an s)."""
    return (quality.get("calendar") or {}).get("unit") or "trading day"


def summary_section(run: RunFolder) -> dict:
    cfg, q, m = run.config, run.quality, run.metrics
    unit = period_unit(q)
    panel = q.get("panel", {})
    board = run.leaderboard
    champ = board.set_index("model").loc[run.champion]
    backtest_cfg = _get(cfg, "backtest", default={}) or {}
    skus = m.get("skus", panel.get("skus"))
    facts = [
        ("Task", cfg.get("task", m.get("task", "backtest"))),
        ("Experiment", cfg.get("experiment_name", run.path.parent.name)),
        ("Data", Path(str(_get(cfg, "data", "path", default=q.get("source", "")))).name or "–"),
        ("Data from / up to", f"{panel.get('first_date', '–')} to {panel.get('last_date', '–')}"),
        ("Data cut-off setting", _get(cfg, "data", "end") or "none (all data)"),
        (
            "SKUs covered",
            f"{skus} (of {panel['skus_before_filters']} in the data; selected by "
            f"{_get(cfg, 'data', 'panel', 'select_by', default='–')}, "
            f"max {_get(cfg, 'data', 'panel', 'max_skus', default=None) or 'all'})"
            if "skus_before_filters" in panel
            else skus,
        ),
        ("Models", ", ".join(board.sort_values("rank")["model"])),
        ("Baseline and fallback", f"{BASELINE} (always scored; stands in for a failed fit)"),
        ("Horizon", f"{backtest_cfg.get('horizon', '–')} {unit}s"),
        (
            "Folds",
            f"{len(run.folds)} (step {backtest_cfg.get('step', '–')} {unit}s, at least "
            f"{backtest_cfg.get('min_train_days', '–')} {unit}s of training data)",
        ),
        ("Quantiles", ", ".join(f"{float(x):g}" for x in cfg.get("quantiles", []))),
        ("Sample paths per forecast", cfg.get("num_samples", "–")),
        ("Seed", cfg.get("seed", "–")),
        ("Ranked by", f"{cfg.get('optimized_metric', 'rmsse')} on the {run.scored_role} folds"),
        ("Run time", f"{m['wall_seconds']:.0f} s" if "wall_seconds" in m else "–"),
    ]
    fva = champ.get("fva_rmsse", float("nan"))
    cards = [
        {
            "label": "SKUs forecast",
            "value": format_value(skus, "int") if skus is not None else "–",
            "note": "",
        },
        {"label": "Data up to", "value": panel.get("last_date", "–"), "note": f"last {unit} in the data"},
        {
            "label": "Leaderboard champion",
            "value": run.champion,
            "note": f"RMSSE {format_value(champ['rmsse'], 'metric')}, "
            f"{format_value(fva, 'signed_pct')} vs seasonal naive",
        },
    ]
    folds = Table(
        run.folds.assign(cutoff=run.folds["cutoff"].dt.date.astype(str)),
        [Column("fold", "Fold", "int"), Column("cutoff", "Cutoff"), Column("role", "Role")],
    )
    assumptions = [
        "Each fold fits every model on data up to its cutoff only and forecasts the next "
        f"{backtest_cfg.get('horizon', 'horizon')} {unit}s; the leaderboard scores the "
        f"{run.scored_role} folds.",
        "Closed days (see data quality) are left out of the series, not counted as zero sales; seasons "
        "are counted in trading days."
        if unit == "trading day"
        else f"The data is {unit}ly: seasons, horizons and folds are counted in {unit}s (a season of "
        f"{(q.get('calendar') or {}).get('season_length', '–')}; 1 means no season, when the history is shorter "
        "than two years); metrics are per "
        f"{unit}.",
        "Errors are forecast minus actual: a positive bias means over-forecasting.",
        "Forecast value added (FVA) = 1 − model error / seasonal naive error on the same SKUs and folds; "
        "positive means better than the baseline.",
        f"RMSSE scales each SKU's error by its own {'day' if unit == 'trading day' else unit}-to-"
        f"{'day' if unit == 'trading day' else unit} variability, so SKUs of any size count equally.",
    ]
    return {
        "facts": facts,
        "cards": cards,
        "folds": folds,
        "models": model_settings(cfg),
        "assumptions": assumptions,
        "config_text": (run.path / "config.yaml").read_text() if (run.path / "config.yaml").is_file() else "",
    }


def _humanize(key: str) -> str:
    return key.replace("_", " ").capitalize()


def _calendar_facts(cal: dict) -> list[tuple[str, str]]:
    if cal.get("unit", "trading day") != "trading day":
        return [("Frequency", f"{cal.get('frequency')} ({cal.get('period')})"), ("Season", cal.get("season_length"))]
    return [
        ("Closed weekdays", ", ".join(cal.get("closed_weekdays", [])) or "none"),
        ("Trading days per week", cal.get("trading_days_per_week", "–")),
        ("Holidays (future dates)", cal.get("holiday_country") or "none"),
    ]


def data_quality_section(run: RunFolder) -> dict | None:
    q = run.quality
    if not q:
        return None
    rows_in = q.get("rows_in") or 0
    dropped = pd.DataFrame(
        [
            {"reason": _humanize(k), "rows": v, "share": v / rows_in if rows_in else float("nan")}
            for k, v in (q.get("dropped_by_reason") or {}).items()
        ]
    )
    repairs = pd.DataFrame([{"repair": _humanize(k), "count": v} for k, v in (q.get("repairs") or {}).items()])
    cal = q.get("calendar", {})
    unit = period_unit(q)
    panel = q.get("panel", {})
    adds_up = rows_in == (q.get("rows_kept", 0) + sum((q.get("dropped_by_reason") or {}).values()))
    return {
        "facts": [
            ("Rows in", format_value(q.get("rows_in"), "int")),
            ("Rows kept", format_value(q.get("rows_kept"), "int")),
            ("Rows dropped", format_value(q.get("rows_dropped"), "int")),
            *_calendar_facts(cal),
            (
                "Panel",
                f"{format_value(panel.get('skus'), 'int')} SKUs, {format_value(panel.get('rows'), 'int')} "
                f"SKU-{unit.split()[-1]}s, {format_value(panel.get('zero_share'), 'pct')} zero {unit.split()[-1]}s",
            ),
        ],
        "adds_up": adds_up,
        "dropped": Table(
            dropped,
            [
                Column("reason", "Reason"),
                Column("rows", "Rows", "int"),
                Column("share", "Share of rows in", "pct"),
            ],
        )
        if len(dropped)
        else None,
        "repairs": Table(repairs, [Column("repair", "Repair"), Column("count", "Count", "int")])
        if len(repairs)
        else None,
        "closed_dates": cal.get("closed_dates", []),
        "read": read_notes(q),
    }


# Notes data_quality.json carries beside its counts: how the file was read and what the loader had to decide.
NOTE_KEYS = ("last_week", "days_without_sales", "aggregated", "total_rows", "row_gaps", "promotions")


def read_notes(quality: dict) -> list[str]:
    """What the loader had to interpret or warn about, one sentence each (the report escapes them: they quote the
    file's own text)."""
    notes = [str(quality[key])[:1].upper() + str(quality[key])[1:] for key in NOTE_KEYS if quality.get(key)]
    for key, value in (quality.get("read") or {}).items():
        if isinstance(value, dict):
            notes += [f"{_humanize(key)}, column '{column}': {text}" for column, text in value.items()]
        else:
            notes.append(f"{_humanize(key)}: {value}")
    return notes


def leaderboard_section(run: RunFolder) -> dict:
    board = run.leaderboard.sort_values("rank").reset_index(drop=True)
    champion = run.champion
    row_css = ["champion" if m == champion else "baseline" if m == BASELINE else "" for m in board["model"]]
    champ = board.iloc[0]
    fva = champ.get("fva_rmsse", float("nan"))
    if champion == BASELINE or not fva > 0:
        verdict = "No model beats seasonal naive on RMSSE in this run: plan on the baseline or revisit the models."
    else:
        verdict = (
            f"The champion, {champion}, has {format_value(fva, 'pct')} lower RMSSE than seasonal naive "
            f"(MAE {format_value(champ.get('fva_mae'), 'signed_pct')}, pinball loss "
            f"{format_value(champ.get('fva_pinball'), 'signed_pct')} FVA)."
        )
    others = board[board["model"] != BASELINE]
    fva_cols = [c for c in ("fva_rmsse", "fva_mae", "fva_pinball") if c in board]
    chart = None
    if len(others) and fva_cols:
        chart = safe(
            hbar_chart(
                "Forecast value added vs seasonal naive",
                others["model"].tolist(),
                {FVA_NAMES[c]: others[c].tolist() for c in fva_cols},
                percent,
            )
        )
    return {
        "table": Table(board, [c for c in LEADERBOARD_COLUMNS if c in board], key="model", row_css=row_css),
        "champion": champion,
        "verdict": verdict + _dominance_note(board),
        "scope": f"Scored on {format_value(champ.get('series'), 'int')} SKU x cutoff series "
        f"({format_value(champ.get('points'), 'int')} SKU-days) of the {run.scored_role} folds per model.",
        "chart": chart,
    }


def _dominance_note(board: pd.DataFrame) -> str:
    """Why the ranking differs from the plain metric, when a single series would have decided it."""
    if "dominated" not in board:
        return ""
    ranked_apart = board[board["dominated"].astype(str).str.lower() == "true"]
    if ranked_apart.empty:
        return ""
    named = "; ".join(
        f"{r.model}: {r.top_series} is {format_value(r.top_series_share, 'pct')} of its total"
        for r in ranked_apart.itertuples()
    )
    return (
        f" Single series dominate the metric ({named}); they are left out of the ranking for every model, so "
        "check those SKUs' data."
    )


def segment_label(abc: str, demand_class: str) -> str:
    return f"{abc} · {demand_class}"


def segment_columns(champion: str) -> list[Column]:
    return [
        Column("abc", "ABC"),
        Column("demand_class", "Demand class"),
        Column("series", "Series", "int"),
        Column("rmsse", f"RMSSE {champion}", "metric"),
        Column("naive_rmsse", "RMSSE seasonal naive", "metric"),
        Column("fva_rmsse", "FVA RMSSE", "signed_pct"),
        Column("wape", f"WAPE {champion}", "pct"),
        Column("naive_wape", "WAPE seasonal naive", "pct"),
        Column("bias", f"Bias {champion}", "signed_pct"),
        Column("coverage_80", f"Coverage 80% {champion}", "pct"),
        Column("coverage_90", f"Coverage 90% {champion}", "pct"),
        Column("best_model", "Best model in segment"),
        Column("best_rmsse", "Best RMSSE", "metric"),
    ]


def segments_section(run: RunFolder) -> dict | None:
    champion = run.champion
    seg = segment_accuracy(run.by_segment, champion)
    if seg.empty:
        return None
    labels = [segment_label(a, d) for a, d in zip(seg["abc"], seg["demand_class"], strict=True)]
    cols = segment_columns(champion)
    chart = hbar_chart(
        f"RMSSE by segment: {champion} vs seasonal naive",
        labels,
        {champion: seg["rmsse"].tolist(), "seasonal naive": seg["naive_rmsse"].tolist()},
        lambda v: f"{v:.2f}",
    )
    row_css = ["" if b == champion else "other-best" for b in seg["best_model"]]
    return {"table": Table(seg, cols, row_css=row_css), "chart": safe(chart), "frame": seg, "labels": labels}


def signed_percent(v: float) -> str:
    return f"{v * 100:+.0f}%"


def bias_section(run: RunFolder, segments: dict | None) -> dict:
    board = run.leaderboard.sort_values("rank")
    # 460 wide: two charts side by side are drawn at about their natural size, so the text stays legible.
    charts = [
        {
            "caption": "Bias by model",
            "svg": safe(
                hbar_chart(
                    "Bias by model",
                    board["model"].tolist(),
                    {"bias": board["bias"].tolist()},
                    signed_percent,
                    width=460,
                )
            ),
        }
    ]
    if segments is not None:
        charts.append(
            {
                "caption": f"Bias of {run.champion} by segment",
                "svg": safe(
                    hbar_chart(
                        f"Bias of {run.champion} by segment",
                        segments["labels"],
                        {"bias": segments["frame"]["bias"].tolist()},
                        signed_percent,
                        width=460,
                    )
                ),
            }
        )
    worst = board.loc[board["bias"].abs().idxmax()]
    return {
        "charts": charts,
        "note": f"The most biased model is {worst['model']} "
        f"({format_value(worst['bias'], 'signed_pct')} of actual "
        "volume). Persistent under-forecasting leads to stockouts; over-forecasting to excess stock.",
    }


def coverage_section(run: RunFolder) -> dict | None:
    board = run.leaderboard.sort_values("rank")
    cols = coverage_columns(board)
    if not cols:
        return None
    table = coverage_table(board)
    columns = [Column("model", "Model")]
    for c in cols:
        level = c.split("_")[1]
        columns += [
            Column(c, f"Coverage {level}%", "pct"),
            Column(f"gap_{level}", f"Gap vs {level}%", "signed_pct"),
        ]
    names = {c: f"{c.split('_')[1]}% interval" for c in cols}
    chart = hbar_chart(
        "Interval coverage vs nominal",
        board["model"].tolist(),
        {names[c]: board[c].tolist() for c in cols},
        percent,
        ceiling=1.0,
        references=[(nominal(c), f"{c.split('_')[1]}%", PALETTE[i % len(PALETTE)]) for i, c in enumerate(cols)],
    )
    row_css = ["champion" if m == run.champion else "" for m in table["model"]]
    return {"table": Table(table, columns, key="model", row_css=row_css), "chart": safe(chart)}
