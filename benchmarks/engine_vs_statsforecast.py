"""Our per-SKU backtest against statsforecast's own `cross_validation`, model by model, back to back in one process.

    python benchmarks/engine_vs_statsforecast.py --skus 200 --n-jobs 2

For each default model (and the seasonal-naive baseline) the same SKUs, cutoffs and horizon run through
`forecasting.backtest.runner.backtest` (fit, 200 sample paths, quantiles, forecast table) and through
`StatsForecast(models=[the same statsforecast model]).cross_validation` (fit, point forecast, Gaussian intervals
where the model has them). Both are scored by our `score` on the (SKU, cutoff) series both forecast.

time_s: wall time of the call, worker start-up included (both engines start a process pool per call).
peak_mem_mb: the peak summed PSS of this process and all its children during the call, sampled every 0.1 s
from /proc (PSS splits shared pages, so forked workers are not counted twice).
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import shlex
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "benchmarks")]  # this checkout's package, and the benchmarks' helpers

from memory import PeakMemory  # noqa: E402

log = logging.getLogger("benchmarks.engine_vs_statsforecast")
METRICS = ["rmsse", "mae", "wape", "bias", "pinball", "coverage_80", "coverage_90"]


def load(skus: int, models: list[str]):
    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf

    from forecasting.datasets import bundled_path
    from forecasting.pipeline.common import build_models, cutoffs_from_config, load_data

    OmegaConf.register_new_resolver("bundled", bundled_path, replace=True)
    overrides = [f"data.panel.max_skus={skus}"] + ([f"model=[{','.join(models)}]"] if models else [])
    with initialize_config_dir(config_dir=str(REPO / "conf"), version_base="1.3"):
        cfg = compose(config_name="config", overrides=overrides)
    data = load_data(cfg)
    local, global_, fallback = build_models(cfg, data, work_dir=Path(tempfile.gettempdir()))
    if global_:
        raise SystemExit(f"global models are not benchmarked here: {', '.join(global_)}")
    return cfg, data, local, fallback, cutoffs_from_config(cfg, data.panel)


def statsforecast_twin(model, season_length: int):
    """The statsforecast model our forecaster fits; our seasonal naive's twin is statsforecast's."""
    import statsforecast.models as sf

    from forecasting.models.intermittent import Croston

    if isinstance(model, Croston):  # panel-wide; statsforecast's Croston variants smooth both at 0.1
        if model.variant == "tsb":
            return sf.TSB(alpha_d=model.alpha, alpha_p=model.beta)
        if model.alpha != 0.1 or model.beta != 0.1:
            raise SystemExit(f"statsforecast has no Croston with alpha={model.alpha}, beta={model.beta}")
        return sf.CrostonSBA() if model.variant == "sba" else sf.CrostonClassic()
    twin = getattr(model, "statsforecast_model", None)
    return twin() if twin else sf.SeasonalNaive(season_length=season_length)


def run_ours(data, cutoffs, name, model, fallback, cfg, n_jobs):
    from dataclasses import replace

    from forecasting.backtest.runner import backtest
    from forecasting.pipeline.common import backtest_settings

    run = backtest(data.panel, cutoffs, {name: model}, fallback, replace(backtest_settings(cfg), n_jobs=n_jobs))
    return run.table, len(run.failures)


def run_statsforecast(data, cutoffs, sf_model, cfg, season_length, n_jobs):
    from statsforecast import StatsForecast
    from statsforecast.models import SeasonalNaive

    from forecasting.vocabulary.column_names import quantile_column

    b = cfg.backtest
    days = pd.DatetimeIndex(np.sort(data.panel["date"].unique()))
    # Integer time axis = position among trading days, so closed days are skipped as for our models.
    df = pd.DataFrame(
        {
            "unique_id": data.panel["sku"].astype(str),
            "ds": days.get_indexer(data.panel["date"]),
            "y": data.panel["demand"],
        }
    )
    quantiles = [float(q) for q in cfg.quantiles]
    levels = sorted({round(abs(2 * q - 1) * 100) for q in quantiles} - {0})
    probe = sf_model.new().fit(np.arange(60, dtype=float) % 7)
    try:
        probe.predict(h=2, level=levels)
    except Exception:  # noqa: BLE001 - the model has no intervals of its own: point forecasts only
        levels = []
    sf = StatsForecast(models=[sf_model], freq=1, n_jobs=n_jobs, fallback_model=SeasonalNaive(season_length))
    cv = sf.cross_validation(
        df=df, h=int(b.horizon), n_windows=len(cutoffs), step_size=int(b.step), level=levels or None
    )
    alias = repr(sf_model)
    out = pd.DataFrame(
        {
            "sku": cv["unique_id"].astype(str).to_numpy(),
            "cutoff": days[cv["cutoff"].to_numpy()],
            "date": days[cv["ds"].to_numpy()],
            "model": alias,
            "mean": cv[alias].clip(lower=0).to_numpy(),
        }
    )
    for q in quantiles:
        level = round(abs(2 * q - 1) * 100)
        src = f"{alias}-{'lo' if q < 0.5 else 'hi'}-{level}" if levels and level else alias
        out[quantile_column(q)] = cv[src].clip(lower=0).to_numpy()
    return out, bool(levels)


def score_pair(ours: pd.DataFrame, theirs: pd.DataFrame, quantiles) -> tuple[pd.Series, pd.Series, int]:
    """Both tables scored on the (SKU, cutoff) series both forecast, with our actuals and RMSSE scales."""
    from forecasting.backtest.metrics import score

    ref = ours[["sku", "cutoff", "date", "demand", "scale"]]
    theirs = theirs.merge(ref, on=["sku", "cutoff", "date"], how="inner")
    pairs = theirs[["sku", "cutoff"]].drop_duplicates()
    ours = ours.merge(pairs, on=["sku", "cutoff"])
    return score(ours, ["model"], quantiles).iloc[0], score(theirs, ["model"], quantiles).iloc[0], len(pairs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--skus", type=int, default=50, help="data.panel.max_skus: the largest SKUs by revenue")
    parser.add_argument("--n-jobs", type=int, default=2, help="worker processes, for both engines")
    parser.add_argument("--models", nargs="*", default=[], help="conf/model names (default: the default set)")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "engine_vs_statsforecast.csv")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(message)s")

    from statsforecast import __version__ as sf_version

    cfg, data, models, fallback, cutoffs = load(args.skus, args.models)
    quantiles = [float(q) for q in cfg.quantiles]
    m = data.calendar.season_length
    rows = []
    for name, model in models.items():
        twin = statsforecast_twin(model, m)
        with PeakMemory() as mem_ours:
            t0 = time.perf_counter()
            ours, failed = run_ours(data, cutoffs, name, model, fallback, cfg, args.n_jobs)
            t_ours = time.perf_counter() - t0
        with PeakMemory() as mem_sf:
            t0 = time.perf_counter()
            theirs, intervals = run_statsforecast(data, cutoffs, twin.new(), cfg, m, args.n_jobs)
            t_sf = time.perf_counter() - t0
        ours_m, sf_m, series = score_pair(ours, theirs, quantiles)
        if not intervals:
            sf_m[["pinball", "coverage_80", "coverage_90"]] = np.nan
        for engine, seconds, mem, metrics in [
            ("forecasting", t_ours, mem_ours.peak, ours_m),
            (f"statsforecast {sf_version}", t_sf, mem_sf.peak, sf_m),
        ]:
            rows.append(
                {
                    "model": name,
                    "engine": engine,
                    "statsforecast_model": repr(twin),
                    "series": series,
                    "time_s": seconds,
                    "peak_mem_mb": mem,
                    **metrics[METRICS].to_dict(),
                }
            )
        rows[-2]["failed_fits"], rows[-1]["failed_fits"] = failed, np.nan
        rows[-2]["time_ratio"] = t_ours / t_sf
        print(f"{name}: ours {t_ours:.2f} s, statsforecast {t_sf:.2f} s ({t_ours / t_sf:.2f}x)", flush=True)
    table = pd.DataFrame(rows)
    total = table.groupby("engine", sort=False)[["time_s"]].sum()
    table = table.round({"time_s": 2, "peak_mem_mb": 0, "time_ratio": 2, **dict.fromkeys(METRICS, 4)})
    args.out.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(args.out, index=False)
    print(
        f"machine: nproc={len(os.sched_getaffinity(0))}, {platform.platform()}, Python {platform.python_version()}, "
        f"load avg {os.getloadavg()[0]:.2f} | {datetime.now():%Y-%m-%d %H:%M}\n"
        f"command: python {shlex.join(sys.argv)}\n"
        f"data: {data.panel['sku'].nunique()} SKUs, cutoffs {', '.join(str(c.date()) for c in cutoffs['cutoff'])}, "
        f"horizon {cfg.backtest.horizon} trading days (season {m}), n_jobs={args.n_jobs}, "
        f"our sample paths={cfg.num_samples}"
    )
    print(table.to_string(index=False))
    print(
        "total time: "
        + ", ".join(f"{engine} {row.time_s:.2f} s" for engine, row in total.iterrows())
        + f" (ours / statsforecast = {total['time_s'].iloc[0] / total['time_s'].iloc[1]:.2f})\n"
        "NaN pinball/coverage for statsforecast: the model has no intervals of its own (quantiles = mean)."
    )


if __name__ == "__main__":
    main()
