"""Training throughput of our global LSTM and TCN against neuralforecast's, same model size, same data, same device.

    pip install -e '.[bench]'        # neuralforecast 3.3 (keep the torch you have: pin it on the same line, e.g.
                                     # pip install -e '.[bench]' torch==2.13.0, or pip resolves a CUDA build)
    python benchmarks/neural_throughput.py --skus 200 all --epochs 3 --threads 1 --repeat 2
    python benchmarks/neural_throughput.py --skus all --accelerator gpu        # on a GPU machine

Both libraries get the very series our forecaster trains on (the bundled panel's daily series up to the first
test cutoff, divided by their mean, with the same calendar, price and segment covariates), built by
`NeuralForecaster._series`, so only the training machinery differs. Same size: hidden size, layers, kernel and
dilations, input window (60), horizon (30), windows per step (256), float32, Gaussian likelihood, the same
number of optimiser steps (our epochs x our steps per epoch), validation once per epoch on the last 30 days,
the same torch threads. neuralforecast's LSTM gets `encoder_hidden_size`/`encoder_n_layers` equal to ours and
one decoder layer; its TCN gets our kernel, filters and dilations (darts picks 4 layers: 1, 2, 4, 8).

Each row runs in a fresh process, so its peak memory (max RSS) is its own. samples/s counts the training
windows of the optimiser steps over the seconds from the trainer's start to its end, validation excluded;
`fit s` is the whole `fit` call (series building, validation, checkpoint reload included). Test MAE and
RMSSE are on the 30 trading days after the cutoff (mean forecast). On a GPU the row records mean utilisation
(nvidia-smi, sampled each second) and the peak CUDA memory.
"""

from __future__ import annotations

import argparse
import itertools
import logging
import math
import os
import platform
import resource
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytorch_lightning as pl

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # this checkout's package, also in the spawned measuring processes
log = logging.getLogger("benchmarks.neural_throughput")


class Clock(pl.Callback):
    """Training seconds (fit start to end, validation excluded) and windows trained. The tallies live in the
    class: darts and neuralforecast hand the trainer a copy of the callback, and one process measures one row."""

    tally = {"seconds": 0.0, "val_seconds": 0.0, "windows": 0, "steps": 0}

    def __init__(self, windows_per_step: int | None = None):
        self.windows_per_step = windows_per_step  # neuralforecast samples its windows inside the step

    def on_fit_start(self, trainer, module):
        Clock._t0 = time.perf_counter()
        Clock._val0 = Clock.tally["val_seconds"]

    def on_fit_end(self, trainer, module):
        val = Clock.tally["val_seconds"] - Clock._val0
        Clock.tally["seconds"] += time.perf_counter() - Clock._t0 - val

    def on_validation_start(self, trainer, module):
        Clock._v0 = time.perf_counter()

    def on_validation_end(self, trainer, module):
        Clock.tally["val_seconds"] += time.perf_counter() - Clock._v0

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx):
        Clock.tally["steps"] += 1
        Clock.tally["windows"] += self.windows_per_step or int(batch.past_target.shape[0])


def prepare(kind: str, args):
    """Our configured forecaster and the series it trains on at the first test cutoff."""
    from benchmarks.neural import compose
    from forecasting.pipeline import build_models, cutoffs_from_config, load_data

    overrides = [
        f"model={kind}",
        f"data.panel.max_skus={'null' if args.skus_now is None else args.skus_now}",
        f"trainer={'gpu' if args.accelerator == 'gpu' else 'cpu'}",
        f"trainer.max_epochs={args.epochs}",
        f"callbacks.early_stopping.patience={args.epochs + 1}",  # the same number of epochs for both: no early stop
        "trainer.progress_bar=false",
        "logger=csv",
        f"trainer.threads={args.threads}",
        f"model.{kind}.likelihood=gaussian",
        *args.override,
    ]
    cfg = compose(overrides)
    data = load_data(cfg)
    _, models, _ = build_models(cfg, data, tempfile.mkdtemp(prefix=f"nt_{kind}_"))
    model = models[kind]
    cutoffs = cutoffs_from_config(cfg, data.panel)
    cutoff = cutoffs.loc[cutoffs["role"] == "test", "cutoff"].min()
    return cfg, data, model, cutoff


def windows_per_epoch(model, series: dict, val_days: int) -> int:
    need = model.input_chunk_length + model.output_chunk_length
    lengths = [len(d["target"]) - val_days for d in series.values() if len(d["target"]) >= need + val_days]
    return sum(min(model.max_samples_per_ts or n, n - need + 1) for n in lengths)


def test_scores(data, cutoff, horizon: int, means: dict[str, np.ndarray]) -> tuple[float, float]:
    from forecasting.backtest.metrics import rmsse_scale

    panel = data.panel
    maes, rmsses = [], []
    future_days = np.sort(panel.loc[panel["date"] > cutoff, "date"].unique())[:horizon]
    for sku, g in panel.groupby("sku", observed=True):
        if str(sku) not in means:
            continue
        actual = g.set_index("date")["demand"].reindex(future_days).fillna(0.0).to_numpy()
        err = means[str(sku)][: len(actual)] - actual
        maes.append(np.abs(err).mean())
        scale = rmsse_scale(g.loc[g["date"] <= cutoff, "demand"].to_numpy())
        if scale and np.isfinite(scale) and scale > 0:
            rmsses.append(math.sqrt((err**2).mean() / scale))
    return float(np.mean(maes)), float(np.mean(rmsses))


def run_ours(kind: str, args) -> dict:
    cfg, data, model, cutoff = prepare(kind, args)
    clock = Clock()
    trainer_kwargs = model._trainer_kwargs

    def with_clock(name):
        kwargs = trainer_kwargs(name)
        kwargs["callbacks"] = [*kwargs["callbacks"], clock]
        return kwargs

    model._trainer_kwargs = with_clock
    t0 = time.perf_counter()
    model.fit(data.panel, data.segments, cutoff)
    fit_s = time.perf_counter() - t0
    horizon = int(cfg.backtest.horizon)
    forecasts = model.predict(data.panel, data.segments, cutoff, horizon, args.num_samples)
    mae, rmsse = test_scores(data, cutoff, horizon, {s: f.mean for s, f in forecasts.items()})
    return {
        "params": sum(p.numel() for p in model.model_.model.parameters()),
        "fit_s": fit_s,
        "clock": clock,
        "epochs": model.epochs_,
        "mae": mae,
        "rmsse": rmsse,
    }


def nf_frames(series: dict, val_days: int, need: int):
    """Our scaled series as neuralforecast's long frames (integer time index, as ours)."""
    train, futr, static = [], [], []
    for sku, d in series.items():
        if len(d["target"]) < need + val_days:
            continue
        t = d["target"]
        frame = pd.DataFrame({"unique_id": sku, "ds": t.time_index.to_numpy(), "y": t.values()[:, 0]})
        for cov in (d["past"], d["future"]):
            if cov is not None:
                c = cov.to_dataframe()
                frame = frame.merge(c, left_on="ds", right_index=True, how="left")
        train.append(frame)
        if d["future"] is not None:
            f = d["future"].to_dataframe()
            futr.append(f[f.index > t.end_time()].rename_axis("ds").reset_index().assign(unique_id=sku))
        if t.static_covariates is not None:
            static.append(t.static_covariates.assign(unique_id=sku))
    df = pd.concat(train, ignore_index=True).ffill()
    return (
        df,
        pd.concat(futr, ignore_index=True) if futr else None,
        pd.concat(static, ignore_index=True) if static else None,
    )


def run_neuralforecast(kind: str, args) -> dict:
    import torch
    from neuralforecast import NeuralForecast
    from neuralforecast.losses.pytorch import DistributionLoss
    from neuralforecast.models import LSTM, TCN

    cfg, data, model, cutoff = prepare(kind, args)
    torch.set_num_threads(args.threads)
    horizon = int(cfg.backtest.horizon)
    val_days = int(cfg.trainer.val_days)
    series = model._series(data.panel, data.segments, cutoff, horizon, model.level)
    need = model.input_chunk_length + model.output_chunk_length
    per_epoch = windows_per_epoch(model, series, val_days)
    mk = model.model_kwargs
    batch = int(mk["batch_size"])
    steps_per_epoch = math.ceil(per_epoch / batch)
    df, futr, static = nf_frames(series, val_days, need)
    first = next(iter(series.values()))
    past_cols = list(first["past"].columns) if first["past"] is not None else []
    futr_cols = list(first["future"].columns) if first["future"] is not None else []
    clock = Clock(windows_per_step=batch)
    common = dict(
        h=model.output_chunk_length,
        input_size=model.input_chunk_length,
        hist_exog_list=past_cols or None,
        futr_exog_list=futr_cols or None,
        stat_exog_list=[c for c in static.columns if c != "unique_id"] if static is not None else None,
        loss=DistributionLoss("Normal", level=[80, 90]),
        max_steps=args.epochs * steps_per_epoch,
        val_check_steps=steps_per_epoch,
        learning_rate=float(mk.get("optimizer_kwargs", {}).get("lr", 1e-3)),
        batch_size=32,
        windows_batch_size=batch,
        scaler_type="identity",  # the series are already divided by their mean (less 1), as ours are
        random_seed=int(cfg.seed),
        accelerator="gpu" if args.accelerator == "gpu" else "cpu",
        devices=1,
        enable_progress_bar=False,
        enable_model_summary=False,
        enable_checkpointing=False,
        logger=False,
        callbacks=[clock],
    )
    if kind == "lstm":
        net = LSTM(
            encoder_hidden_size=int(mk["hidden_dim"]),
            encoder_n_layers=int(mk.get("n_rnn_layers", 1)),
            decoder_hidden_size=int(mk["hidden_dim"]),
            decoder_layers=1,
            **common,
        )
    else:
        layers = ours_tcn_layers(mk)
        net = TCN(
            kernel_size=int(mk["kernel_size"]),
            dilations=[int(mk.get("dilation_base", 2)) ** i for i in range(layers)],
            encoder_hidden_size=int(mk["num_filters"]),
            decoder_hidden_size=int(mk["num_filters"]),
            decoder_layers=1,
            **common,
        )
    nf = NeuralForecast(models=[net], freq=1)
    t0 = time.perf_counter()
    nf.fit(df, static_df=static, val_size=val_days)
    fit_s = time.perf_counter() - t0
    pred = nf.predict(futr_df=futr)
    name = type(net).__name__
    means = {
        str(sku): (g.sort_values("ds")[name].to_numpy() + model.level) * series[str(sku)]["scale"]
        for sku, g in pred.groupby("unique_id")
    }
    mae, rmsse = test_scores(data, cutoff, horizon, means)
    return {
        "params": sum(p.numel() for p in nf.models[0].parameters()),
        "fit_s": fit_s,
        "clock": clock,
        "epochs": args.epochs,
        "mae": mae,
        "rmsse": rmsse,
    }


def ours_tcn_layers(mk: dict) -> int:
    """The layer count darts' TCNModel picks when num_layers is null (receptive field covers the input)."""
    if mk.get("num_layers"):
        return int(mk["num_layers"])
    base, k, n = int(mk.get("dilation_base", 2)), int(mk["kernel_size"]), int(mk["input_chunk_length"])
    if base > 1:
        return math.ceil(math.log((n - 1) * (base - 1) / (k - 1) / 2 + 1, base))
    return math.ceil((n - 1) / (k - 1) / 2)


def measure(library: str, kind: str, args, queue) -> None:
    logging.basicConfig(level=logging.WARNING)
    import warnings

    warnings.filterwarnings("ignore")
    try:
        import torch

        from benchmarks.neural import gpu_sampler

        stop, util = threading.Event(), []
        sampler = threading.Thread(target=gpu_sampler, args=(stop, util), daemon=True)
        if args.accelerator == "gpu":
            sampler.start()
        r = (run_ours if library == "ours" else run_neuralforecast)(kind, args)
        stop.set()
        r.pop("clock")
        clock = argparse.Namespace(**Clock.tally)
        row = {
            "library": library,
            "model": kind.upper(),
            "skus": args.skus_now or "all",
            "device": args.accelerator,
            "threads": args.threads,
            **r,
            "steps": clock.steps,
            "windows": clock.windows,
            "train_s": clock.seconds,
            "samples_per_s": clock.windows / clock.seconds if clock.seconds else float("nan"),
            "epoch_s": clock.seconds / max(r["epochs"], 1),
            "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        }
        if args.accelerator == "gpu" and torch.cuda.is_available():
            row["gpu_util_pct"] = float(np.mean(util)) if util else None
            row["gpu_peak_mb"] = torch.cuda.max_memory_allocated() / 2**20
        queue.put(row)
    except Exception as exc:  # noqa: BLE001 - a row that failed says why instead of stopping the table
        queue.put({"library": library, "model": kind.upper(), "error": f"{type(exc).__name__}: {exc}"[:300]})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--skus", nargs="+", default=["200"], help="panel sizes; 'all' for every SKU")
    parser.add_argument("--models", nargs="+", default=["lstm", "tcn"], choices=["lstm", "tcn"])
    parser.add_argument("--libraries", nargs="+", default=["ours", "neuralforecast"])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=1, help="runs per row, interleaved; the fastest is shown")
    parser.add_argument("--threads", type=int, default=2, help="torch threads for both libraries")
    parser.add_argument("--accelerator", default="cpu", choices=["cpu", "gpu"])
    parser.add_argument("--num-samples", type=int, default=100, help="sample paths for our test forecast")
    parser.add_argument("--override", nargs="*", default=[], help="extra Hydra overrides for our model")
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "neural_throughput.csv"))
    args = parser.parse_args()
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    from benchmarks.neural import in_fresh_process

    rows = []
    for skus, _, kind, library in itertools.product(args.skus, range(args.repeat), args.models, args.libraries):
        args.skus_now = None if skus == "all" else int(skus)
        row = in_fresh_process(measure, library, kind, args)
        rows.append(row)
        print({k: (round(v, 3) if isinstance(v, float) else v) for k, v in row.items()}, flush=True)
    table = pd.DataFrame(rows)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(args.out, index=False)
    if "samples_per_s" in table and args.repeat > 1:
        # On a shared machine other jobs only ever slow a run down: the fastest of the repeats is the measure.
        table["runs"] = table.groupby(["skus", "library", "model"])["samples_per_s"].transform("size")
        best = table.groupby(["skus", "library", "model"], sort=False)["samples_per_s"].idxmax()
        table = table.loc[best.dropna()]
    print(f"\n{platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch threads {args.threads}\n")
    cols = [
        c
        for c in (
            "skus library model runs params epochs steps samples_per_s epoch_s train_s fit_s peak_mb gpu_util_pct "
            "gpu_peak_mb mae rmsse error"
        ).split()
        if c in table
    ]
    print(markdown(table[cols]))


def markdown(table: pd.DataFrame) -> str:
    """A Markdown table (pandas' to_markdown needs tabulate, which the project does not install)."""

    def cell(v):
        if isinstance(v, float):
            return "" if np.isnan(v) else f"{v:,.0f}" if abs(v) >= 100 else f"{v:.3g}"
        return f"{v:,}" if isinstance(v, int) else str(v)

    lines = ["| " + " | ".join(table.columns) + " |", "|" + "---|" * len(table.columns)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in table.itertuples(index=False)]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
