"""The project's default run against statsforecast's automatic models, on the project's own series, cutoffs and horizon.

    python benchmarks/vs_statsforecast.py --data bundled200 bundled synthetic --n-jobs 2

Per data set:
- **ours**: the default backtest (the default `model` list: arima, ets, croston, tsb, lightgbm, bootstrap,
  ensemble_weighted, ensemble_recent;
  `task=backtest`, the default folds: up to 3
  validation folds, then 3 test folds of 30 periods) through the run's own `run_backtest`. Its leaderboard's
  `champion` row is the per-segment choice made on the validation folds only, scored on the test folds; the
  per-model rows are each model on the test folds (the best of them is picked on test: it flatters).
- **statsforecast**: AutoETS, AutoARIMA, AutoTheta, CrostonOptimized, TSB, ADIDA, IMAPA (statsforecast's
  defaults, season length from the run's calendar) and the median of the seven, each fitted on every day of
  each SKU's history up to each test cutoff (`StatsForecast.forecast`, one call per model and cutoff) on exactly
  the SKUs our backtest forecast at that cutoff, with `level=[80, 90]` where the model gives intervals. The time
  axis is the position among the run's trading days, as our models see it. Forecasts are clipped at 0.
- **true mean** (synthetic only): the generator's expected demand (`mean_path`, with the known promo days) and
  its exact daily quantiles (`sample_paths`), scored on the same rows.

Every row is scored by our `score` on the same (SKU, cutoff, date) rows with our actuals and our RMSSE scales, so
the figures are the leaderboard's. `gap closed` = (best sf single model - champion) / (best sf single model - true
mean), on RMSSE. Times are wall seconds on this machine (ours: the whole backtest, its validation folds,
baseline, scoring and files included; statsforecast: the test folds only).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shlex
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO)]

log = logging.getLogger("benchmarks.vs_statsforecast")
SF_MODELS = ["AutoETS", "AutoARIMA", "AutoTheta", "CrostonOptimized", "TSB", "ADIDA", "IMAPA"]
SF_ENSEMBLE = "sf median ensemble"
TRUE_MEAN = "true mean (generator)"
RAW_CHAMPION = "champion, uncalibrated intervals"
METRICS = ["rmsse", "bias", "coverage_80", "coverage_90", "pinball", "mae"]
# The issue's bars.
RATIO_BAR, GAP_BAR, BIAS_BAR = 0.97, 0.5, 0.10
COVERAGE_BANDS = {"coverage_80": (0.77, 0.83), "coverage_90": (0.87, 0.93)}


def compose(overrides: list[str]):
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from omegaconf import OmegaConf

    from forecasting.datasets import bundled_path

    OmegaConf.register_new_resolver("bundled", bundled_path, replace=True)
    with initialize_config_dir(config_dir=str(REPO / "conf"), version_base="1.3"):
        cfg = hydra_compose(config_name="config", overrides=overrides)
    OmegaConf.set_struct(cfg, False)
    return cfg


def data_overrides(name: str, args, work: Path) -> tuple[list[str], object]:
    """Hydra overrides of the data set, and the generator (synthetic) whose true mean is scored."""
    if name == "bundled200":
        return ["data.panel.max_skus=200"], None
    if name == "bundled":
        return ["data.panel.max_skus=null"], None
    if name == "synthetic":
        from forecasting.datasets.synthetic import synthetic_demand

        days = int(round(365.25 * args.years))
        # Ending yesterday: rows after today are refused as bad dates.
        start = (pd.Timestamp.today().normalize() - pd.Timedelta(days=days)).date().isoformat()
        syn = synthetic_demand(args.skus, days, seed=args.seed, start=start, yearly=args.yearly)
        path = work / "synthetic.parquet"
        syn.table.to_parquet(path, index=False)
        return [
            "data=daily_demand",
            f"data.path={path}",
            "data.panel.max_skus=null",
            "data.columns.promo=promo",
            "data.columns.price=price",
            # The generator's promo days are a calendar set ahead (the true mean reads them too): said as a
            # user with a promo calendar says it. Its price is the promo's discount, set ahead with it.
            "data.future_covariates=known",
        ], syn
    raise SystemExit(f"unknown data set {name}: bundled200, bundled or synthetic")


def run_ours(cfg, data, work: Path, reuse: Path | None = None) -> tuple[pd.DataFrame, pd.DataFrame, float, dict]:
    """The default backtest (or the one run before in `reuse`, a run folder of the same data and settings: the
    champion is chosen again by this checkout's code); its test rows (per model, and the champion's) and its
    leaderboard."""
    from forecasting.backtest.champion_row import champion_test_rows
    from forecasting.pipeline.backtest_task import run_backtest
    from forecasting.pipeline.common import BASELINE

    if reuse is not None:
        out = reuse
        metrics = json.loads((out / "metrics.json").read_text())
        seconds = float(metrics["wall_seconds"])
    else:
        out = work / "ours"
        t0 = time.perf_counter()
        metrics, _ = run_backtest(cfg, data, out, t0)
        seconds = time.perf_counter() - t0
    bt = pd.read_parquet(out / "backtest.parquet")
    board = pd.read_csv(out / "leaderboard.csv")
    validation, test = bt[bt["role"] == "validation"], bt[bt["role"] == "test"]
    # The champion's rows as the leaderboard's champion row takes them (choice on validation, segments at T),
    # and the same choice with the intervals its models gave (before the validation calibration).
    candidates = sorted((set(validation["model"]) & set(test["model"])) - {BASELINE})
    segments = data.segments_as_of(validation["date"].max())
    quantiles = [float(q) for q in cfg.quantiles]
    metric = str(cfg.optimized_metric)
    champion, choice = champion_test_rows(validation, test, segments, metric, quantiles, candidates)
    raw, _ = champion_test_rows(validation, test, segments, metric, quantiles, candidates, calibrate_intervals=False)
    info = {"choice": choice, "folds": metrics["folds"], "board": board}
    return pd.concat([test, champion, raw.assign(model=RAW_CHAMPION)], ignore_index=True), board, seconds, info


def sf_models(m: int, approximation: bool = False) -> dict:
    import statsforecast.models as sf

    return {
        "AutoETS": sf.AutoETS(season_length=m),
        # statsforecast's default searches orders on the exact likelihood (about 1-3 s a fit on these series);
        # --sf-approximation searches on the approximate one, then fits the chosen order exactly (R's rule).
        "AutoARIMA": sf.AutoARIMA(season_length=m, approximation=approximation),
        "AutoTheta": sf.AutoTheta(season_length=m),
        "CrostonOptimized": sf.CrostonOptimized(),
        "TSB": sf.TSB(alpha_d=0.1, alpha_p=0.1),  # the project's tsb constants (statsforecast has no default)
        "ADIDA": sf.ADIDA(),
        "IMAPA": sf.IMAPA(),
    }


def has_intervals(model) -> bool:
    try:
        model.new().fit(np.arange(60, dtype=float) % 7).predict(h=2, level=[80])
    except Exception:  # noqa: BLE001 - no intervals of its own
        return False
    return True


def run_statsforecast(
    data, test: pd.DataFrame, cfg, n_jobs: int, approximation: bool = False, models: list[str] = SF_MODELS
) -> tuple[pd.DataFrame, dict]:
    """Each statsforecast model at each test cutoff, on the SKUs our backtest forecast there; rows in our
    forecast-table layout (quantile columns from the 80/90 intervals; the mean where there are none)."""
    from statsforecast import StatsForecast
    from statsforecast.models import SeasonalNaive

    from forecasting.vocabulary.column_names import quantile_column

    m = data.calendar.season_length
    horizon = int(cfg.backtest.horizon)
    quantiles = [float(q) for q in cfg.quantiles]
    days = pd.DatetimeIndex(np.sort(data.panel["date"].unique()))
    panel = pd.DataFrame(
        {
            "unique_id": data.panel["sku"].astype(str).to_numpy(),
            "ds": days.get_indexer(data.panel["date"]),
            "y": data.panel["demand"].to_numpy(dtype=float),
            "date": data.panel["date"].to_numpy(),
        }
    )
    skus_at = test.groupby("cutoff")["sku"].unique()
    frames, seconds = [], {"with_intervals": []}
    for alias, model in sf_models(m, approximation).items():
        if alias not in models:
            continue
        levels = [80, 90] if has_intervals(model) else None
        if levels:
            seconds["with_intervals"].append(alias)
        t0 = time.perf_counter()
        for cutoff, skus in skus_at.items():
            train = panel[(panel["date"] <= cutoff) & panel["unique_id"].isin(set(map(str, skus)))]
            sf = StatsForecast(models=[model], freq=1, n_jobs=n_jobs, fallback_model=SeasonalNaive(m))
            fc = sf.forecast(df=train[["unique_id", "ds", "y"]], h=horizon, level=levels)
            mean = fc[alias].clip(lower=0).to_numpy()
            rows = pd.DataFrame(
                {
                    "sku": fc["unique_id"].astype(str).to_numpy(),
                    "cutoff": cutoff,
                    "date": days[fc["ds"].to_numpy()],
                    "model": alias,
                    "mean": mean,
                }
            )
            for q in quantiles:
                level = round(abs(2 * q - 1) * 100)
                if levels and level in levels:
                    rows[quantile_column(q)] = (
                        fc[f"{alias}-{'lo' if q < 0.5 else 'hi'}-{level}"].clip(lower=0).to_numpy()
                    )
                else:
                    rows[quantile_column(q)] = mean if not levels or level == 0 else np.nan
            frames.append(rows)
        seconds[alias] = time.perf_counter() - t0
        print(f"  statsforecast {alias}: {seconds[alias]:.1f} s", flush=True)
    table = pd.concat(frames, ignore_index=True)
    # The median ensemble of the point forecasts (no intervals: statsforecast gives none for it).
    wide = table.pivot_table(index=["sku", "cutoff", "date"], columns="model", values="mean", observed=True)
    ens = wide.median(axis=1).rename("mean").reset_index().assign(model=SF_ENSEMBLE)
    for q in quantiles:
        ens[quantile_column(q)] = ens["mean"] if abs(q - 0.5) < 1e-9 else np.nan
    seconds[SF_ENSEMBLE] = sum(v for k, v in seconds.items() if k in SF_MODELS)
    return pd.concat([table, ens], ignore_index=True), seconds


def true_mean_rows(syn, test: pd.DataFrame, quantiles, draws: int = 2000) -> pd.DataFrame:
    """The generator's expected demand (promo days known) and its daily quantiles, on our test rows."""
    from forecasting.vocabulary.column_names import quantile_column

    promo = syn.table.assign(sku=syn.table["sku"].astype(str)).set_index(["sku", "date"])["promo"]
    rows = test[["sku", "cutoff", "date"]].drop_duplicates().sort_values(["sku", "date"])
    frames = []
    for sku, part in rows.groupby("sku", observed=True):
        dates = pd.DatetimeIndex(part["date"].unique())
        flags = promo.reindex(pd.MultiIndex.from_arrays([[str(sku)] * len(dates), dates])).fillna(0).to_numpy()
        mean = pd.Series(syn.mean_path(str(sku), dates, flags), index=dates)
        paths = syn.sample_paths(str(sku), dates, flags, draws=draws, seed=1)
        qs = pd.DataFrame(np.quantile(paths, quantiles, axis=0).T, index=dates)
        frame = part.assign(model=TRUE_MEAN, mean=mean.reindex(part["date"]).to_numpy())
        for i, q in enumerate(quantiles):
            frame[quantile_column(q)] = qs[i].reindex(part["date"]).to_numpy()
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def scored(ours: pd.DataFrame, others: pd.DataFrame, quantiles) -> pd.DataFrame:
    """Every table scored by our `score` on our rows' actuals and scales, on the rows every model forecast."""
    from forecasting.backtest.metrics import score

    ref = ours[["sku", "cutoff", "date", "demand", "scale"]].drop_duplicates(["sku", "cutoff", "date"])
    others = others.assign(sku=others["sku"].astype(str)).merge(
        ref.assign(sku=ref["sku"].astype(str)), on=["sku", "cutoff", "date"], how="inner"
    )
    table = pd.concat([ours.assign(sku=ours["sku"].astype(str)), others], ignore_index=True)
    # Only the (SKU, cutoff) series that every model forecast.
    n_models = table["model"].nunique()
    counts = table.groupby(["sku", "cutoff"])["model"].nunique()
    common = counts[counts == n_models].index
    table = table[pd.MultiIndex.from_frame(table[["sku", "cutoff"]]).isin(common)]
    return score(table, ["model"], quantiles).set_index("model"), len(common)


def bars(board: pd.DataFrame, synthetic: bool) -> list[tuple[str, bool, str]]:
    champ = board.loc["champion"]
    singles = board.loc[[m for m in SF_MODELS if m in board.index]]
    best_sf = singles["rmsse"].idxmin()
    ens = board.loc[SF_ENSEMBLE, "rmsse"]
    out = []
    ratio = champ["rmsse"] / singles.loc[best_sf, "rmsse"]
    if synthetic:
        truth = board.loc[TRUE_MEAN, "rmsse"]
        gap = singles.loc[best_sf, "rmsse"] - truth
        closed = (singles.loc[best_sf, "rmsse"] - champ["rmsse"]) / gap if gap > 0 else float("nan")
        out.append((f"closes >= {GAP_BAR:.0%} of the gap to the true mean", closed >= GAP_BAR, f"{closed:.0%} closed"))
    else:
        out.append((f"champion <= {RATIO_BAR}x best sf single model ({best_sf})", ratio <= RATIO_BAR, f"{ratio:.3f}x"))
    out.append(("champion no worse than the sf median ensemble", champ["rmsse"] <= ens, f"{champ['rmsse'] / ens:.3f}x"))
    out.append((f"|bias| <= {BIAS_BAR:.0%}", abs(champ["bias"]) <= BIAS_BAR, f"{champ['bias']:+.1%}"))
    for col, (lo, hi) in COVERAGE_BANDS.items():
        out.append((f"{col} in {lo:.2f}-{hi:.2f}", lo <= champ[col] <= hi, f"{champ[col]:.3f}"))
    return out


def markdown(board: pd.DataFrame, seconds: dict) -> str:
    lines = ["| model | RMSSE | bias | cov. 80 | cov. 90 | pinball | s |", "|---|---:|---:|---:|---:|---:|---:|"]
    fmt = lambda v, f: "–" if pd.isna(v) else format(v, f)  # noqa: E731
    for model, r in board.iterrows():
        lines.append(
            f"| {model} | {fmt(r['rmsse'], '.4f')} | {fmt(r['bias'], '+.1%')} | {fmt(r['coverage_80'], '.3f')} | "
            f"{fmt(r['coverage_90'], '.3f')} | {fmt(r['pinball'], '.4f')} | {fmt(seconds.get(model), '.1f')} |"
        )
    return "\n".join(lines)


def arima_note(args) -> str:
    if "AutoARIMA" not in args.sf_models:
        return "not run"
    return "approximation=True" if args.sf_approximation else "defaults (exact search)"


def one_data_set(name: str, args) -> str:
    from forecasting.pipeline.common import apply_frequency_defaults, load_data

    work = Path(tempfile.mkdtemp(prefix=f"vs_sf_{name}_"))
    overrides, syn = data_overrides(name, args, work)
    cfg = compose([*overrides, "task=backtest", f"parallel.n_jobs={args.n_jobs}", *args.override])
    data = load_data(cfg)
    apply_frequency_defaults(cfg, data.calendar.frequency)
    quantiles = [float(q) for q in cfg.quantiles]
    print(f"== {name}: {data.panel['sku'].nunique()} SKUs x {data.panel['date'].nunique()} periods", flush=True)
    reuse = Path(args.ours_dir) / name / "ours" if args.ours_dir else None
    ours, board_ours, t_ours, info = run_ours(cfg, data, work, reuse if reuse and reuse.exists() else None)
    print(f"  ours (default backtest, every fold): {t_ours:.1f} s", flush=True)
    test = ours[~ours["model"].isin(["champion", RAW_CHAMPION])]
    cache = (
        Path(args.sf_cache) / f"{name}{'_approx' if args.sf_approximation else ''}.parquet" if args.sf_cache else None
    )
    if cache is not None and cache.exists():  # statsforecast's side does not change with ours: rerun ours only
        sf_rows = pd.read_parquet(cache)
        seconds = json.loads(cache.with_suffix(".json").read_text())
        print(f"  statsforecast rows and times read from {cache}", flush=True)
    else:
        sf_rows, seconds = run_statsforecast(data, test, cfg, args.n_jobs, args.sf_approximation, args.sf_models)
        if cache is not None:
            cache.parent.mkdir(parents=True, exist_ok=True)
            sf_rows.to_parquet(cache, index=False)
            cache.with_suffix(".json").write_text(json.dumps(seconds))
    others = [sf_rows]
    if syn is not None:
        others.append(true_mean_rows(syn, test, quantiles))
    board, series = scored(ours, pd.concat(others, ignore_index=True), quantiles)
    no_intervals = [m for m in [*SF_MODELS, SF_ENSEMBLE] if m not in seconds.get("with_intervals", ())]
    board.loc[board.index.isin(no_intervals), ["coverage_80", "coverage_90", "pinball"]] = np.nan
    order = ["champion", RAW_CHAMPION, *sorted(set(test["model"])), *SF_MODELS, SF_ENSEMBLE] + (
        [TRUE_MEAN] if syn else []
    )
    board = board.loc[[m for m in order if m in board.index], METRICS]
    seconds = {**seconds, "champion": t_ours}
    folds = pd.DataFrame(info["folds"])
    levels = sorted({c.split("_")[1] for c in info["choice"].columns if c.startswith("interval_")})

    def factors(c) -> str:
        return ", ".join(
            f"{lv}: x{getattr(c, f'interval_{lv}_lower'):.2f}/x{getattr(c, f'interval_{lv}_upper'):.2f}"
            for lv in levels
        )

    picks = "; ".join(
        f"{c.segment}: {c.model}{'' if c.chosen_by == 'segment' else ' (overall)'}"
        + (f" ({factors(c)})" if levels else "")
        for c in info["choice"].itertuples()
    )
    text = [
        f"### {name}: {data.panel['sku'].nunique()} SKUs x {data.panel['date'].nunique()} periods, "
        f"{series} (SKU, test cutoff) series",
        "",
        f"- chosen on: validation cutoffs {', '.join(folds.loc[folds['role'] == 'validation', 'cutoff'])}; "
        f"scored on: test cutoffs {', '.join(folds.loc[folds['role'] == 'test', 'cutoff'])}; "
        f"horizon {cfg.backtest.horizon}, season {data.calendar.season_length}; statsforecast AutoARIMA "
        f"{arima_note(args)}; sf median ensemble of "
        f"{', '.join(m for m in SF_MODELS if m in board.index)}",
        f"- champion per segment (interval factors lower/upper side): {picks}",
        f"- ours: {t_ours:.1f} s for the whole default backtest (every fold); champion row's `s` is that time",
        "",
        markdown(board, seconds),
        "",
    ]
    for label, met, value in bars(board, syn is not None):
        text.append(f"- {'met' if met else '**not met**'}: {label}: {value}")
    out = "\n".join(text)
    print(out, flush=True)
    if args.csv_dir:
        Path(args.csv_dir).mkdir(parents=True, exist_ok=True)
        board.assign(seconds=board.index.map(seconds)).to_csv(Path(args.csv_dir) / f"vs_statsforecast_{name}.csv")
    return out


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", nargs="*", default=["bundled200", "bundled", "synthetic"])
    parser.add_argument("--n-jobs", type=int, default=2, help="worker processes, for both engines")
    parser.add_argument("--skus", type=int, default=300, help="synthetic SKUs")
    parser.add_argument("--years", type=float, default=2.5, help="synthetic years of daily history")
    parser.add_argument("--yearly", type=float, default=0.5, help="synthetic yearly season amplitude (up to 0.9)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--sf-approximation", action="store_true", help="AutoARIMA(approximation=True)")
    parser.add_argument("--sf-models", nargs="*", default=SF_MODELS, help="a subset, where time is short")
    parser.add_argument("--sf-cache", default=None, help="keep statsforecast's rows here and reuse them")
    parser.add_argument(
        "--ours-dir", default=None, help="<dir>/<data set>/ours: a backtest run before, whose champion is re-chosen"
    )
    parser.add_argument("--override", nargs="*", default=[], help="Hydra overrides of our run")
    parser.add_argument("--csv-dir", default=str(REPO / "benchmarks" / "results"))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(message)s")
    from statsforecast import __version__ as sf_version

    print(
        f"command: python {shlex.join(sys.argv)}\nstatsforecast {sf_version}, cpus {os.cpu_count()}, "
        f"load avg {os.getloadavg()[0]:.1f}, {datetime.now():%Y-%m-%d %H:%M}",
        flush=True,
    )
    for name in args.data:
        one_data_set(name, args)
        print(f"load avg {os.getloadavg()[0]:.1f}\n", flush=True)


if __name__ == "__main__":
    main()
