"""Our per-SKU models against statsforecast: same SKUs, same cutoffs, same metric code.

    python benchmarks/local_models.py --skus 50 --n-jobs 2

The panel, models and cutoffs come from the default experiment (Hydra config in conf/). Every row of the table
runs in a fresh process, so one row's imports, caches and worker pools never help or burden another:
wall_s is the time of the backtest call inside that process (worker start-up included, interpreter start-up
and imports of the driver excluded), and peak_mem_mb is the largest summed PSS of that process and all its
workers, sampled every 0.25 s from /proc (PSS splits pages shared between processes, so forked workers are not
counted twice).
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import shlex
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
COLUMNS = [
    "library",
    "model",
    "skus",
    "wall_s",
    "skus_per_s",
    "peak_mem_mb",
    "rmsse",
    "mae",
    "wape",
    "bias",
    "pinball",
    "coverage_80",
    "coverage_90",
]
PROBABILISTIC = ["pinball", "coverage_80", "coverage_90"]
log = logging.getLogger("benchmarks.local_models")


def setup_logging() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(processName)s %(levelname)s %(message)s")


def load(skus: int, n_jobs: int):
    """Config, prepared data, our models and cutoffs, built as `run.py` and the pipeline build them."""
    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf

    from forecasting.backtest.folds import make_cutoffs
    from forecasting.datasets import bundled_path
    from forecasting.pipeline import build_models, load_data

    OmegaConf.register_new_resolver("bundled", bundled_path, replace=True)
    # tsb joins the default model list so statsforecast's TSB has a counterpart; it changes nothing else.
    overrides = [f"data.panel.max_skus={skus}", f"parallel.n_jobs={n_jobs}", "model=[arima,ets,croston,tsb]"]
    with initialize_config_dir(config_dir=str(REPO / "conf"), version_base="1.3"):
        cfg = compose(config_name="config", overrides=overrides)
    data = load_data(cfg)
    # work_dir only holds global (neural) models' checkpoints, and none of these models is global.
    models, global_models, fallback = build_models(cfg, data, work_dir=Path(tempfile.gettempdir()))
    if global_models:
        raise ValueError(f"global models are not benchmarked here: {', '.join(global_models)}")
    b = cfg.backtest
    cutoffs = make_cutoffs(
        pd.DatetimeIndex(data.panel["date"].unique()),
        horizon=int(b.horizon),
        folds=int(b.folds),
        step=int(b.step),
        validation_folds=int(b.get("validation_folds", 0)),
        min_train_days=int(b.min_train_days),
    )
    return cfg, data, models, fallback, cutoffs


def statsforecast_models(cfg, m: int) -> list[tuple[str, object, bool]]:
    """(our model it answers, statsforecast model, has its own intervals), in table order.

    Besides the automatic searches the brief asks for, the fixed ARIMA and ETS that our config fits are run
    too, so speed can be compared on the same model and not only on model selection.
    """
    from statsforecast import models as sf

    a, e, t = cfg.model.arima, cfg.model.ets, cfg.model.tsb
    ets = (
        ("A" if e.error == "add" else "M")
        + ("A" if e.trend else "N")
        + {"add": "A", "mul": "M"}.get(e.seasonal, "N")
    )
    arima = f"ARIMA{tuple(a.order)}{tuple(a.seasonal_order)}".replace(" ", "")
    return [
        ("seasonal_naive", sf.SeasonalNaive(season_length=m), True),
        ("arima", sf.AutoARIMA(season_length=m), True),
        (
            "arima",
            sf.ARIMA(
                order=tuple(a.order),
                seasonal_order=tuple(a.seasonal_order),
                season_length=m,
                include_mean=a.trend == "c",
                alias=arima,
            ),
            True,
        ),
        ("ets", sf.AutoETS(season_length=m), True),
        ("ets", sf.AutoETS(season_length=m, model=ets, alias=f"ETS({ets})"), True),
        # statsforecast smooths both Croston parts with a fixed alpha of 0.1, as conf/model/croston.yaml does.
        ("croston", sf.CrostonSBA(), False),
        ("tsb", sf.TSB(alpha_d=float(t.alpha), alpha_p=float(t.beta)), False),
    ]


def run_ours(panel, cutoffs, name, model, fallback, quantiles, cfg_backtest, num_samples, seed, n_jobs):
    from forecasting.backtest.runner import backtest

    t0 = time.perf_counter()
    bt, failures = backtest(
        panel,
        cutoffs,
        horizon=cfg_backtest["horizon"],
        models={name: model},
        fallback=fallback,
        quantiles=quantiles,
        num_samples=num_samples,
        seed=seed,
        min_train_days=cfg_backtest["min_train_days"],
        n_jobs=n_jobs,
    )
    return {"table": bt, "wall_s": time.perf_counter() - t0, "failures": len(failures)}


def run_statsforecast(
    panel, cutoffs, model, intervals, quantiles, horizon, min_train_days, season_length, n_jobs
):
    """One statsforecast `forecast` over every (SKU, cutoff) training window, as a series of its own."""
    from statsforecast import StatsForecast
    from statsforecast.models import SeasonalNaive

    from forecasting.backtest.metrics import quantile_column

    t0 = time.perf_counter()
    # Integer time axis = position among trading days, so closed days are skipped exactly as for our models.
    days = pd.DatetimeIndex(np.sort(panel["date"].unique()))
    frame = (
        panel[["sku", "date", "demand"]]
        .rename(columns={"demand": "y"})
        .assign(ds=days.get_indexer(panel["date"]))
    )
    # freq=1 assumes no gaps: each SKU must hold every trading day from its first sale on.
    if not (frame.groupby("sku")["ds"].diff().dropna() == 1).all():
        raise ValueError("a SKU's series skips trading days; statsforecast would misread its time axis")
    windows = []
    for fold in cutoffs.itertuples(index=False):
        train = frame[frame["ds"] <= days.get_loc(fold.cutoff)]
        # The rule our backtest applies: a SKU joins a fold once it has min_train_days of history.
        sizes = train.groupby("sku").size()
        train = train[train["sku"].isin(sizes.index[sizes >= min_train_days])]
        windows.append(train.assign(unique_id=train["sku"] + "@" + str(fold.fold), cutoff=fold.cutoff))
    df = pd.concat(windows, ignore_index=True)
    keys = df.drop_duplicates("unique_id")[["unique_id", "sku", "cutoff"]]

    levels = sorted({round(abs(2 * q - 1) * 100) for q in quantiles} - {0}) if intervals else None
    sf = StatsForecast(models=[model], freq=1, n_jobs=n_jobs, fallback_model=SeasonalNaive(season_length))
    fc = sf.forecast(h=horizon, df=df[["unique_id", "ds", "y"]], level=levels)
    fc = fc.reset_index() if "unique_id" not in fc else fc
    fc = fc.merge(keys, on="unique_id", how="left")

    alias = model.alias
    out = pd.DataFrame(
        {
            "sku": fc["sku"],
            "cutoff": fc["cutoff"],
            "date": days[fc["ds"].to_numpy()],
            "model": alias,
            "mean": fc[alias].clip(lower=0),
        }
    )
    for q in quantiles:
        level = round(abs(2 * q - 1) * 100)
        src = alias if not intervals or level == 0 else f"{alias}-{'lo' if q < 0.5 else 'hi'}-{level}"
        out[quantile_column(q)] = fc[src].clip(lower=0).to_numpy()
    return {"table": out, "wall_s": time.perf_counter() - t0, "failures": 0}


def tree_pss_mb(root: int) -> float:
    """Summed PSS of `root` and all its descendants, in MB (processes that vanish mid-read count as 0)."""
    total_kb, todo = 0, [root]
    while todo:
        pid = todo.pop()
        try:
            for task in Path(f"/proc/{pid}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total_kb += int(line.split()[1])
                    break
        except OSError:
            pass
    return total_kb / 1024


def measured(fn, **kwargs) -> tuple[dict, float]:
    """`fn(**kwargs)` in a fresh interpreter, with the peak PSS of that process tree.

    A plain `python` process rather than a multiprocessing child: multiprocessing children skip atexit, so
    joblib's worker pool is never shut down and the child hangs joining its workers.
    """
    with tempfile.TemporaryDirectory() as tmp:
        job = Path(tmp) / "job.pkl"
        pd.to_pickle((fn.__name__, kwargs), job)
        proc = subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "--child", str(job)])
        peak = 0.0
        while proc.poll() is None:
            peak = max(peak, tree_pss_mb(proc.pid))
            time.sleep(0.25)
        if proc.returncode:
            raise RuntimeError(
                f"{fn.__name__} failed in its process (exit code {proc.returncode}); see the log"
            )
        return pd.read_pickle(job.with_suffix(".out")), peak


def score_runs(runs, quantiles, horizon: int, no_intervals: set[str]) -> pd.DataFrame:
    """One row per run, every run scored by our `score` on the same (SKU, cutoff) series and days."""
    from forecasting.backtest.metrics import score

    # Actuals and RMSSE scale come from our backtest, on the (SKU, cutoff) pairs both libraries forecast.
    ref = runs[0][2]["table"][["sku", "cutoff", "date", "demand", "scale"]]
    pair_sets = [
        set(map(tuple, r["table"][["sku", "cutoff"]].drop_duplicates().to_numpy())) for _, _, r, _ in runs
    ]
    common = set.intersection(*pair_sets)
    log.info("scoring %d (SKU, cutoff) series of %d days each", len(common), horizon)
    if any(len(s) != len(common) for s in pair_sets):
        log.warning(
            "libraries forecast different (SKU, cutoff) pairs; scoring the %d they share", len(common)
        )
    common_df = pd.DataFrame(sorted(common), columns=["sku", "cutoff"]).astype(
        {"cutoff": ref["cutoff"].dtype}
    )

    rows = []
    for library, name, res, peak in runs:
        table = (
            res["table"]
            .drop(columns=["demand", "scale"], errors="ignore")
            .merge(common_df, on=["sku", "cutoff"])
        )
        scored = table.merge(ref, on=["sku", "cutoff", "date"], how="inner")
        # Same days and horizon on both sides: every forecast row must find its actual.
        if len(scored) != len(table) or len(scored) != len(common) * horizon:
            raise RuntimeError(f"{library} {name}: {len(scored)} of {len(table)} rows match our test days")
        metrics = score(scored, ["model"], quantiles).iloc[0]
        skus = scored["sku"].nunique()
        row = {
            "library": library,
            "model": name,
            "skus": skus,
            "wall_s": res["wall_s"],
            "skus_per_s": skus / res["wall_s"],
            "peak_mem_mb": peak,
            **metrics[COLUMNS[6:]].to_dict(),
        }
        if name in no_intervals:
            row.update(dict.fromkeys(PROBABILISTIC, float("nan")))
        rows.append(row)
    return pd.DataFrame(rows, columns=COLUMNS).round(
        {"wall_s": 1, "skus_per_s": 2, "peak_mem_mb": 0, **dict.fromkeys(COLUMNS[6:], 4)}
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--skus", type=int, default=50, help="data.panel.max_skus: the largest SKUs by revenue"
    )
    parser.add_argument("--n-jobs", type=int, default=2, help="worker processes, for both libraries")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "local_models.csv")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)  # internal: one measured run
    args = parser.parse_args()
    setup_logging()
    if args.child:
        name, kwargs = pd.read_pickle(args.child)
        pd.to_pickle(globals()[name](**kwargs), args.child.with_suffix(".out"))
        return

    from statsforecast import __version__ as sf_version

    cfg, data, models, fallback, cutoffs = load(args.skus, args.n_jobs)
    quantiles = [float(q) for q in cfg.quantiles]
    b = {k: int(v) for k, v in cfg.backtest.items()}
    m = data.calendar.season_length
    log.info("load average at start: %.2f", os.getloadavg()[0])
    log.info(
        "cutoffs: %s; season length %d trading days", ", ".join(str(c.date()) for c in cutoffs["cutoff"]), m
    )

    runs = []  # (library, model, result, peak MB)
    for name, model in models.items():
        res, peak = measured(
            run_ours,
            panel=data.panel,
            cutoffs=cutoffs,
            name=name,
            model=model,
            fallback=fallback,
            quantiles=quantiles,
            cfg_backtest=b,
            num_samples=int(cfg.num_samples),
            seed=int(cfg.seed),
            n_jobs=args.n_jobs,
        )
        log.info(
            "ours %s: %.1f s, %.0f MB, %d failed fits fell back to seasonal naive",
            name,
            res["wall_s"],
            peak,
            res["failures"],
        )
        runs.append(("forecasting", name, res, peak))
    sf_specs = statsforecast_models(cfg, m)
    for _, model, intervals in sf_specs:
        res, peak = measured(
            run_statsforecast,
            panel=data.panel,
            cutoffs=cutoffs,
            model=model,
            intervals=intervals,
            quantiles=quantiles,
            horizon=b["horizon"],
            min_train_days=b["min_train_days"],
            season_length=m,
            n_jobs=args.n_jobs,
        )
        log.info("statsforecast %s: %.1f s, %.0f MB", model.alias, res["wall_s"], peak)
        runs.append((f"statsforecast {sf_version}", model.alias, res, peak))

    no_intervals = {model.alias for _, model, intervals in sf_specs if not intervals}
    table = score_runs(runs, quantiles, b["horizon"], no_intervals)

    args.out.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(args.out, index=False)
    header = (
        f"machine: nproc={len(os.sched_getaffinity(0))}, {platform.platform()}, "
        f"Python {platform.python_version()}, "
        f"load avg {os.getloadavg()[0]:.2f} at end | date: {datetime.now():%Y-%m-%d %H:%M} | "
        f"command: python {shlex.join(sys.argv)}\n"
        f"data: {table['skus'].iloc[0]} SKUs, {len(cutoffs)} folds (cutoffs "
        f"{', '.join(str(c.date()) for c in cutoffs['cutoff'])}), horizon {b['horizon']} trading days, "
        f"n_jobs={args.n_jobs}, our sample paths={cfg.num_samples}"
    )
    print(header)
    print(table.to_string(index=False))
    print(
        "wall_s: the backtest call in a fresh process, worker start-up included; "
        "skus_per_s counts a SKU with all its folds.\n"
        "peak_mem_mb: peak summed PSS of that process and its workers (sampled every 0.25 s).\n"
        "NaN pinball/coverage: the model has no intervals (quantiles = point forecast), not comparable."
    )
    log.info("table written to %s", args.out)


if __name__ == "__main__":
    main()
