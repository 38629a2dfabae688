"""The GPU path: `trainer=gpu` trains on CUDA, and a model trained there predicts on a CPU machine.

The `gpu` tests are deselected by default and skip without CUDA: `pytest -m gpu tests/test_neural_gpu.py`.
"""

from __future__ import annotations

import subprocess
import threading
import time

import numpy as np
import pandas as pd
import pytest

from forecasting.models.base import TrainingContext
from forecasting.models.neural import NeuralForecaster
from tests.test_neural import MODELS, QUANTILES, TINY_TRAINER, tiny_panel
from tests.test_run import composed, run_cli


def test_gpu_trainer_config_asks_lightning_for_one_cuda_device_in_bf16():
    trainer = composed("experiment=lstm", "trainer=gpu").trainer
    assert trainer.accelerator == "gpu" and trainer.devices == 1 and trainer.precision == "bf16-mixed"
    # Everything else (early stopping, epochs, validation window) is the CPU trainer's.
    cpu = composed("experiment=lstm", "trainer=cpu").trainer
    assert {k: v for k, v in trainer.items() if k not in ("accelerator", "precision", "num_workers")} == {
        k: v for k, v in cpu.items() if k not in ("accelerator", "precision", "num_workers")
    }


def cuda():
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("no CUDA GPU here")
    return torch


def gpu_utilisation(stop: threading.Event, samples: list) -> None:
    while not stop.is_set():
        r = subprocess.run(
            ["nvidia-smi", "--query-gpu=utilization.gpu", "--format=csv,noheader,nounits"],
            capture_output=True,
            text=True,
        )
        samples.append(float(r.stdout.split()[0]))
        stop.wait(0.2)


@pytest.mark.gpu
@pytest.mark.parametrize("kind", ["lstm", "tcn"])
def test_trained_on_gpu_then_reloaded_on_cpu_gives_the_same_forecast(kind, tmp_path, record_property):
    torch = cuda()
    panel, seg, cal = tiny_panel(n_skus=16, days=200)
    cutoff = panel["date"].unique()[-8]
    gpu_trainer = {**TINY_TRAINER, "accelerator": "gpu", "precision": "bf16-mixed", "max_epochs": 3}
    cls, kwargs = MODELS[kind]
    # The quantile likelihood's single path is its median: deterministic, so two devices can be compared.
    model = NeuralForecaster(cls, kwargs, likelihood="quantile", max_samples_per_ts=50, name=kind)
    model.configure(TrainingContext(str(tmp_path), gpu_trainer, QUANTILES, seed=1, calendar=cal))
    stop, util = threading.Event(), []
    sampler = threading.Thread(target=gpu_utilisation, args=(stop, util), daemon=True)
    sampler.start()
    torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter()
    model.fit(panel, seg, cutoff)
    seconds = time.perf_counter() - t0
    stop.set()
    sampler.join()
    assert torch.cuda.max_memory_allocated() > 0  # the network and its batches lived on the GPU
    assert model.model_.trainer_params["accelerator"] == "gpu"
    windows = model.epochs_ * 16 * 50
    record_property("samples_per_s", windows / seconds)
    record_property("gpu_util_pct_mean", float(np.mean(util)) if util else None)
    on_gpu = model.predict(panel, seg, cutoff, 7, 1)

    model.save(tmp_path / f"{kind}.pt")
    cpu = NeuralForecaster(cls, kwargs, likelihood="quantile", name=kind)
    cpu.configure(TrainingContext(str(tmp_path), TINY_TRAINER, QUANTILES, seed=1, calendar=cal))
    cpu.load(tmp_path / f"{kind}.pt", map_location="cpu")
    assert next(cpu.model_.model.parameters()).device.type == "cpu"
    on_cpu = cpu.predict(panel, seg, cutoff, 7, 1)
    for sku in on_gpu:
        # bf16 on the GPU against float32 on the CPU: equal to bf16's ~3 significant digits.
        np.testing.assert_allclose(on_gpu[sku].mean, on_cpu[sku].mean, rtol=0.02, atol=0.05)


@pytest.mark.gpu
def test_run_with_trainer_gpu_trains_on_cuda(tmp_path):
    cuda()
    res = run_cli(
        "experiment=lstm",
        "trainer=gpu",
        "debug=tiny",
        "trainer.max_epochs=1",
        "backtest.horizon=7",
        "model.lstm.model_kwargs.input_chunk_length=14",
        f"hydra.run.dir={tmp_path}",
    )
    assert res.returncode == 0, res.stderr[-2000:]
    log = (tmp_path / "run.log").read_text()
    assert "CUDAAccelerator" in log  # NeuralForecaster.fit logs the accelerator that trained
    assert pd.read_csv(tmp_path / "leaderboard.csv")["model"].eq("lstm").any()
