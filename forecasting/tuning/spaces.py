"""Custom search spaces for the Hydra Optuna sweeper (`hydra.sweeper.custom_search_space`).

Each function receives the sweep's config and an Optuna trial and suggests parameters named by their config
override keys, so a trial's parameters are directly the overrides of its run. They encode constraints a flat
search space cannot: a TCN's input window must exceed its output chunk and its kernel; ARIMA orders must stay
estimable on a few months of daily data.
"""

from __future__ import annotations

from itertools import product

from omegaconf import DictConfig
from optuna.trial import Trial

# (p, q) pairs with p + q <= 4 and seasonal (P, Q) with P + Q <= 1: fits stay stable on ~200 days.
ARIMA_ORDERS = [f"[{p},{d},{q}]" for p, d, q in product(range(4), range(2), range(4)) if 0 < p + q <= 4]
SEASONAL_ORDERS = ["[0,0,0]", "[1,0,0]", "[0,0,1]", "[0,1,1]"]


def _horizon(cfg: DictConfig) -> int:
    """backtest.horizon, or where it is left to the data's frequency, the daily default (sweeps run before the
    data is loaded; tune weekly or monthly data with backtest.horizon set)."""
    b = cfg.backtest
    return int(b.horizon if b.get("horizon") is not None else b.by_frequency.daily.horizon)


def tcn_space(cfg: DictConfig, trial: Trial) -> None:
    """TCN: input chunk above the output chunk (fixed to the horizon), kernel below the input chunk."""
    key = "model.tcn.model_kwargs"
    horizon = _horizon(cfg)
    # Up to 3 horizons: longer windows leave too few SKUs with a full window before the first validation cutoff.
    input_chunk = trial.suggest_int(f"{key}.input_chunk_length", horizon + 6, 3 * horizon, step=6)
    trial.suggest_int(f"{key}.kernel_size", 2, min(7, input_chunk - 1))
    trial.suggest_int(f"{key}.dilation_base", 2, 3)
    trial.suggest_categorical(f"{key}.num_filters", [8, 16, 32])
    trial.suggest_float(f"{key}.dropout", 0.0, 0.3)
    trial.suggest_float(f"{key}.optimizer_kwargs.lr", 3e-4, 1e-2, log=True)
    training_budget("model.tcn", trial)


def lstm_space(cfg: DictConfig, trial: Trial) -> None:
    key = "model.lstm.model_kwargs"
    horizon = _horizon(cfg)
    trial.suggest_int(f"{key}.input_chunk_length", horizon, 3 * horizon, step=6)
    trial.suggest_categorical(f"{key}.hidden_dim", [16, 32, 64])
    trial.suggest_int(f"{key}.n_rnn_layers", 1, 2)
    trial.suggest_float(f"{key}.dropout", 0.0, 0.3)
    trial.suggest_float(f"{key}.optimizer_kwargs.lr", 3e-4, 1e-2, log=True)
    training_budget("model.lstm", trial)


def training_budget(model: str, trial: Trial) -> None:
    """Windows drawn per SKU per epoch and the batch size: how many gradient steps an epoch takes."""
    trial.suggest_categorical(f"{model}.max_samples_per_ts", [50, 100, 200])
    trial.suggest_categorical(f"{model}.model_kwargs.batch_size", [64, 128, 256])


def arima_space(cfg: DictConfig, trial: Trial) -> None:
    trial.suggest_categorical("model.arima.order", ARIMA_ORDERS)
    trial.suggest_categorical("model.arima.seasonal_order", SEASONAL_ORDERS)
