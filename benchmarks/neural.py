"""Global LSTM and TCN on the bundled panel: training throughput, epoch time, 60-day predict time, peak memory,
and accuracy beside the per-SKU models on identical folds.

    python benchmarks/neural.py --skus 200 --likelihoods quantile gaussian negbin
    python benchmarks/neural.py --skus 200 --trainer gpu        # on a GPU machine

Each (model, likelihood) row trains in a fresh process so its peak memory (ru_maxrss of that process) is its
own. Training runs at the first test cutoff and predicts at every test cutoff (retrain=first_cutoff), which
keeps the benchmark to minutes; windows/s counts the training windows drawn per epoch (at most
max_samples_per_ts per SKU) times the epochs run, over the training wall time (validation included).
"""

from __future__ import annotations

import argparse
import json
import logging
import multiprocessing as mp
import os
import platform
import resource
import subprocess
import tempfile
import threading
import time
from datetime import date
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parents[1]
log = logging.getLogger("benchmarks.neural")


def compose(overrides: list[str]):
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from omegaconf import OmegaConf

    from forecasting.datasets import bundled_path

    OmegaConf.register_new_resolver("bundled", bundled_path, replace=True)
    with initialize_config_dir(config_dir=str(REPO / "conf"), version_base="1.3"):
        return hydra_compose(config_name="config", overrides=overrides)


def in_fresh_process(target, *args):
    """`target(*args, queue)` in a freshly spawned interpreter, and the row it puts on `queue`: each measurement
    starts with its own torch threads and memory, so one model's peak is not another's."""
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=target, args=(*args, queue))
    proc.start()
    row = queue.get()
    proc.join()
    return row


def gpu_sampler(stop: threading.Event, samples: list) -> None:
    """GPU utilisation (%) from nvidia-smi into `samples` once a second until `stop` (nothing without a GPU)."""
    while not stop.is_set():
        try:
            r = subprocess.run(
                ["nvidia-smi", "--query-gpu=utilization.gpu", "--format=csv,noheader,nounits"],
                capture_output=True,
                text=True,
                timeout=5,
            )
            samples.append(float(r.stdout.split()[0]))
        except (OSError, ValueError, IndexError, subprocess.SubprocessError):
            return
        stop.wait(1.0)


def run_one(kind: str, likelihood: str, args, queue) -> None:
    """Train, backtest and time one global model; put its row on `queue` (or the error that stopped it: a
    likelihood can diverge, and the table should say so rather than hang)."""
    try:
        queue.put(measure(kind, likelihood, args))
    except Exception as exc:  # noqa: BLE001
        queue.put(
            {"model": kind, "likelihood": likelihood, "device": args.trainer, "error": str(exc).splitlines()[0][:200]}
        )


def measure(kind: str, likelihood: str, args) -> dict:
    import threading

    from forecasting.backtest.global_runner import backtest_global
    from forecasting.backtest.metrics import score
    from forecasting.pipeline import build_models, cutoffs_from_config, load_data
    from forecasting.pipeline.common import backtest_settings

    overrides = [
        f"model={kind}",
        f"data.panel.max_skus={args.skus}",
        f"trainer={args.trainer}",
        f"trainer.max_epochs={args.max_epochs}",
        "trainer.progress_bar=false",
        "logger=csv",
        f"model.{kind}.likelihood={likelihood}",
        f"model.{kind}.retrain=first_cutoff",
        f"model.{kind}.model_kwargs.batch_size={args.batch_size}",
        f"trainer.num_workers={args.num_workers}",
    ]
    cfg = compose(overrides)
    data = load_data(cfg)
    work = tempfile.mkdtemp(prefix=f"bench_{kind}_")
    _, global_models, _ = build_models(cfg, data, work)
    model = global_models[kind]
    cutoffs = cutoffs_from_config(cfg, data.panel)
    cutoffs = cutoffs[cutoffs["role"] == "test"]
    quantiles = [float(q) for q in cfg.quantiles]

    stop, util = threading.Event(), []
    sampler = threading.Thread(target=gpu_sampler, args=(stop, util), daemon=True)
    sampler.start()
    t0 = time.perf_counter()
    rows, record, _ = backtest_global(kind, model, data.panel, data.segments, cutoffs, backtest_settings(cfg))
    backtest_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    model.predict(data.panel, data.segments, data.panel["date"].max(), 60, int(cfg.num_samples))
    predict60_s = time.perf_counter() - t0
    stop.set()
    sampler.join()

    fit = record["fits"][0]
    skus_trained = data.panel["sku"].nunique()
    windows = fit["epochs"] * skus_trained * int(cfg.model[kind].max_samples_per_ts)
    metrics = score(rows.assign(model=kind), ["model"], quantiles).iloc[0]
    return {
        "model": kind,
        "likelihood": likelihood,
        "device": args.trainer,
        "skus": skus_trained,
        "epochs": fit["epochs"],
        "train_s": fit["seconds"],
        "epoch_s": fit["seconds"] / max(fit["epochs"], 1),
        "windows_per_s": windows / fit["seconds"],
        "predict60_s": predict60_s,
        "backtest_s": backtest_s,
        "peak_mem_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "gpu_util_pct": sum(util) / len(util) if util else None,
        **{m: float(metrics[m]) for m in ("rmsse", "mae", "wape", "bias", "pinball", "coverage_80", "coverage_90")},
    }


def local_rows(args) -> list[dict]:
    """The per-SKU models on the same test folds (retrained at every cutoff, as they always are)."""
    from dataclasses import replace

    from forecasting.backtest.metrics import score
    from forecasting.backtest.runner import backtest
    from forecasting.pipeline import build_models, cutoffs_from_config, load_data
    from forecasting.pipeline.common import backtest_settings

    cfg = compose([f"data.panel.max_skus={args.skus}", "model=[arima,ets,croston]", f"parallel.n_jobs={args.n_jobs}"])
    data = load_data(cfg)
    local, _, fallback = build_models(cfg, data, tempfile.mkdtemp())
    cutoffs = cutoffs_from_config(cfg, data.panel)
    quantiles = [float(q) for q in cfg.quantiles]
    t0 = time.perf_counter()
    bt = backtest(data.panel, cutoffs, local, fallback, replace(backtest_settings(cfg), n_jobs=args.n_jobs)).table
    seconds = time.perf_counter() - t0
    table = score(bt[bt["role"] == "test"], ["model"], quantiles)
    return [
        {
            "model": r["model"],
            "likelihood": "-",
            "device": "cpu",
            "skus": int(bt["sku"].nunique()),
            "backtest_s": seconds,
            **{m: float(r[m]) for m in ("rmsse", "mae", "wape", "bias", "pinball", "coverage_80", "coverage_90")},
        }
        for _, r in table.iterrows()
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--skus", type=int, default=200)
    parser.add_argument("--models", nargs="+", default=["lstm", "tcn"])
    parser.add_argument("--likelihoods", nargs="+", default=["quantile", "gaussian", "negbin"])
    parser.add_argument("--trainer", default="cpu", choices=["cpu", "gpu", "auto"])
    parser.add_argument("--max-epochs", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--num-workers", type=int, default=0)
    parser.add_argument("--n-jobs", type=int, default=2, help="workers for the per-SKU models")
    parser.add_argument("--no-local", action="store_true", help="skip the per-SKU models")
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "neural.csv"))
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")

    rows = []
    for kind in args.models:
        for likelihood in args.likelihoods:
            log.info("training %s with %s likelihood", kind, likelihood)
            row = in_fresh_process(run_one, kind, likelihood, args)
            rows.append(row)
            log.info("%s", json.dumps(row))
    if not args.no_local:
        rows += local_rows(args)
    table = pd.DataFrame(rows)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(args.out, index=False)
    print(
        f"# neural benchmark, {date.today()}, {platform.platform()}, {os.cpu_count()} cores, "
        f"{args.skus} SKUs, trainer={args.trainer}, max_epochs={args.max_epochs}, batch={args.batch_size}"
    )
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))


if __name__ == "__main__":
    main()
