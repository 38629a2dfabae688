"""Global neural forecasters: one darts torch model (LSTM, TCN, ...) trained across all SKUs under Lightning.

darts and Lightning are imported inside the methods that need them: they take ~7 s each to import, and the
per-SKU path and the CLI should not pay for that.

The series live on the trading-day axis (closed days absent) as integer-indexed darts series, so every SKU and
the shared calendar covariates line up by position. Each SKU's target is divided by its mean over the training
window (mean scaling, as in DeepAR), less 1, so the network predicts the deviation from the SKU's mean (see
`NeuralForecaster.level`), unless the likelihood is a count distribution, which needs raw counts.
"""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from forecasting.errors import InputError
from forecasting.models.base import Forecast, GlobalForecaster
from forecasting.models.covariates import CALENDAR_FEATURES, STATIC_LEVELS, calendar_features, carried_price

log = logging.getLogger(__name__)

COUNT_LIKELIHOODS = ("poisson", "negbin")


class NeuralForecaster(GlobalForecaster):
    """A global darts torch model. `model_class` names it (e.g. darts.models.TCNModel), `model_kwargs` are its
    parameters; the wrapper adds the likelihood, covariates, scaling and checkpoints, and trains with the
    callbacks (early stopping) and loggers its trainer settings carry (`lightning_config`)."""

    def __init__(
        self,
        model_class: str,
        model_kwargs: Mapping[str, Any] | None = None,
        likelihood: str = "quantile",
        use_price: bool = True,
        use_static: bool = True,
        max_samples_per_ts: int | None = 200,
        retrain: str = "every_cutoff",
        name: str | None = None,
    ) -> None:
        self.model_class = model_class
        self.model_kwargs = model_kwargs
        self.likelihood = likelihood
        self.use_price = use_price
        self.use_static = use_static
        self.max_samples_per_ts = max_samples_per_ts
        self.retrain = retrain
        # The darts class's name until the pipeline names the model after its config key.
        self.name = name or model_class.rsplit(".", 1)[-1]

    # ---- configuration -------------------------------------------------------------------------------
    def own_threads(self) -> int | None:
        """torch's CPU threads as the trainer config sets them (`trainer.threads`; null: the thread budget's)."""
        return self.context.trainer.get("threads")

    @property
    def level(self) -> float:
        """Subtracted from the mean-scaled target (1 on average over the history), so the network learns the
        deviation from each SKU's mean. Its outputs start near 0 and early stopping halts it after a few
        epochs: without the shift that 0 meant zero demand and the forecasts came out ~30% under the volume;
        with it an unfinished network errs toward the SKU's mean. Count likelihoods take raw counts: no shift."""
        return 1.0 if self.likelihood not in COUNT_LIKELIHOODS else 0.0

    @property
    def input_chunk_length(self) -> int:
        return int((self.model_kwargs or {}).get("input_chunk_length", 60))

    @property
    def output_chunk_length(self) -> int:
        return int((self.model_kwargs or {}).get("output_chunk_length", 30))

    def _darts_class(self):
        import importlib

        module, cls = self.model_class.rsplit(".", 1)
        return getattr(importlib.import_module(module), cls)

    def _likelihood(self):
        from darts.utils.likelihood_models import (
            GaussianLikelihood,
            NegativeBinomialLikelihood,
            PoissonLikelihood,
            QuantileRegression,
        )

        if self.likelihood == "quantile":
            qs = sorted({0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, *self.context.quantiles})
            return QuantileRegression(quantiles=qs)
        return {
            "gaussian": GaussianLikelihood,
            "poisson": PoissonLikelihood,
            "negbin": NegativeBinomialLikelihood,
        }[self.likelihood]()

    def _trainer_kwargs(self, model_name: str) -> dict:
        from forecasting.models.fast_dropout import CheaperDropout
        from forecasting.models.lightning_config import build_callbacks, build_loggers

        t = dict(self.context.trainer)
        loggers = build_loggers(t.get("logger"), os.path.join(self.context.work_dir, "logs"), model_name)
        kwargs = {
            "accelerator": t.get("accelerator", "auto"),
            "devices": t.get("devices", 1),
            "strategy": t.get("strategy", "auto"),
            "num_nodes": int(t.get("num_nodes", 1)),
            "precision": t.get("precision", "32-true"),
            # CheaperDropout is how this wrapper trains, not a choice of the run's: it is not in the config group.
            "callbacks": [*build_callbacks(t.get("callbacks")), CheaperDropout()],
            "logger": loggers or False,
            "enable_progress_bar": bool(t.get("progress_bar", True)),
            "enable_model_summary": False,
        }
        kwargs.update(t.get("extra", {}) or {})
        return kwargs

    # ---- data -----------------------------------------------------------------------------------------
    def _axis(self, panel: pd.DataFrame, horizon: int) -> pd.DatetimeIndex:
        """Trading days of the panel plus enough future trading days for the horizon."""
        days = pd.DatetimeIndex(np.sort(panel["date"].unique()))
        future = self.context.calendar.next_trading_days(days[-1], max(horizon, self.output_chunk_length) + 1)
        return days.append(future)

    def _series(
        self,
        panel: pd.DataFrame,
        segments: pd.DataFrame | None,
        cutoff: pd.Timestamp,
        horizon: int,
        level: float | None = None,
    ) -> dict[str, dict]:
        """Per SKU: scaled target (less `level`, by default this forecaster's) up to `cutoff`, covariates, scale
        factor. Short series are left-padded with zeros (no sales before launch) to one input window plus one
        output chunk."""
        from darts import TimeSeries

        axis = self._axis(panel, horizon)
        pos = pd.Series(np.arange(len(axis)), index=axis)
        cal = calendar_features(
            axis,
            getattr(self.context.calendar, "holiday_country", None),
            getattr(self.context.calendar, "frequency", "daily"),
        ).astype("float32")
        level = self.level if level is None else level
        model_cls = self._darts_class()
        supports_future = _supports(model_cls, "future")
        static_ok = self.use_static and segments is not None and _supports(model_cls, "static")
        end = int(pos[cutoff]) + 1
        need = self.input_chunk_length + self.output_chunk_length
        cov_end = end + max(horizon, self.output_chunk_length)
        seg = segments.set_index("sku") if segments is not None else None
        out: dict[str, dict] = {}
        for sku, g in panel[panel["date"] <= cutoff].groupby("sku", observed=True, sort=True):
            y = g["demand"].to_numpy(dtype=np.float64)
            scale = float(y.mean()) if self.likelihood not in COUNT_LIKELIHOODS else 1.0
            scale = scale if scale > 0 else 1.0
            start = end - len(y)
            pad = max(0, need - len(y))
            values = (np.concatenate([np.zeros(pad), y / scale]) - level).astype(np.float32)
            first = start - pad  # may be negative: padding reaches before the panel's first day
            idx = pd.RangeIndex(first, end)
            target = TimeSeries.from_times_and_values(idx, values.reshape(-1, 1), columns=["demand"])
            cov_idx = pd.RangeIndex(first, cov_end)
            cal_rows = cal.iloc[np.clip(np.arange(first, cov_end), 0, len(cal) - 1)].to_numpy()
            past_cols, past_vals = [], []
            if self.use_price and "price" in g:
                p = carried_price(g.set_index("date")["price"], cutoff, axis)
                p = p.reindex(axis[max(0, first) : cov_end]).ffill().bfill()
                p = p / (p[p.index <= cutoff].mean() or 1.0)
                vals = np.concatenate([np.full(cov_idx.size - len(p), p.iloc[0]), p.to_numpy()])
                past_cols.append("price")
                past_vals.append(vals.reshape(-1, 1))
            future = None
            if supports_future:
                future = TimeSeries.from_times_and_values(cov_idx, cal_rows, columns=list(CALENDAR_FEATURES))
            else:
                past_cols += list(CALENDAR_FEATURES)
                past_vals.append(cal_rows)
            past = None
            if past_vals:
                past_arr = np.hstack(past_vals).astype(np.float32)
                # A past covariate is only ever read up to the cutoff; beyond it the values are carried (price)
                # or deterministic (calendar), so trimming to `end` loses nothing and proves no leak.
                past = TimeSeries.from_times_and_values(
                    cov_idx[: end - first], past_arr[: end - first], columns=past_cols
                )
                if self.output_chunk_length < horizon:
                    past = TimeSeries.from_times_and_values(cov_idx, past_arr, columns=past_cols)
            if static_ok and sku in seg.index:
                target = target.with_static_covariates(_static_row(seg.loc[sku]))
            out[str(sku)] = {
                "target": target,
                "past": past,
                "future": future,
                "scale": scale,
                "length": len(y),
            }
        return out

    # ---- fit / predict ---------------------------------------------------------------------------------
    def fit(self, panel: pd.DataFrame, segments: pd.DataFrame | None, cutoff: pd.Timestamp) -> NeuralForecaster:
        """Train one model on every SKU's history up to `cutoff`; early stopping watches the last `val_days`."""
        import pytorch_lightning as pl

        # Lightning announces the devices and advertises services at every Trainer; once is enough.
        logging.getLogger("pytorch_lightning.utilities.rank_zero").setLevel(logging.WARNING)
        warnings.filterwarnings("ignore", message=".*pin_memory.*")
        warnings.filterwarnings("ignore", message=".*LeafSpec.*")
        warnings.filterwarnings("ignore", message=".*log_every_n_steps.*")
        pl.seed_everything(self.context.seed, workers=True, verbose=False)
        with torch_threads(self.threads):
            return self._fit(panel, segments, cutoff)

    def _fit(self, panel: pd.DataFrame, segments: pd.DataFrame | None, cutoff: pd.Timestamp) -> NeuralForecaster:
        from forecasting.models.window_cache import cache_windows, uncache_windows

        t = self.context.trainer
        val_days = int(t.get("val_days", 30))
        data = self._series(panel, segments, cutoff, self.output_chunk_length)
        need = self.input_chunk_length + self.output_chunk_length
        train, val, train_past, val_past, train_fut, val_fut = [], [], [], [], [], []
        for d in data.values():
            s = d["target"]
            if len(s) < need + val_days:
                continue
            train.append(s[: len(s) - val_days])
            val.append(s[len(s) - val_days - self.input_chunk_length :])
            train_past.append(d["past"])
            val_past.append(d["past"])
            train_fut.append(d["future"])
            val_fut.append(d["future"])
        if not train:
            unit = getattr(self.context.calendar, "unit", "trading day")
            raise InputError(
                f"{self.name}: no SKU has {need + val_days} {unit}s before {pd.Timestamp(cutoff).date()} "
                f"(input {self.input_chunk_length} + output {self.output_chunk_length} + validation {val_days}); "
                f"lower model.{self.name}.model_kwargs.input_chunk_length (e.g. 2 seasons) or trainer.val_days."
            )
        model_name = f"{self.name}_{pd.Timestamp(cutoff):%Y%m%d}"
        kwargs = effective_kwargs(self.model_kwargs)
        kwargs.update(
            likelihood=self._likelihood(),
            random_state=self.context.seed,
            pl_trainer_kwargs=self._trainer_kwargs(model_name),
            save_checkpoints=True,
            force_reset=True,
            model_name=model_name,
            work_dir=self.context.work_dir,
            n_epochs=int(t.get("max_epochs", 20)),
        )
        cls = self._darts_class()
        model = cache_windows(cls(**kwargs))
        has_past, has_future = train_past[0] is not None, train_fut[0] is not None
        workers = int(t.get("num_workers", 0))
        model.fit(
            train,
            past_covariates=train_past if has_past else None,
            future_covariates=train_fut if has_future else None,
            val_series=val,
            val_past_covariates=val_past if has_past else None,
            val_future_covariates=val_fut if has_future else None,
            max_samples_per_ts=self.max_samples_per_ts,
            # Workers that outlive the epoch keep the windows they cut (window_cache) instead of starting over.
            dataloader_kwargs={"num_workers": workers, "persistent_workers": workers > 0},
            verbose=bool(t.get("progress_bar", True)),
        )
        # Predict with the best epoch by validation loss, not the last one. The checkpoint holds the Lightning
        # loggers, which darts' safe loader refuses; it was written by this process moments ago, so trust it.
        self.model_ = uncache_windows(
            cls.load_from_checkpoint(model_name, work_dir=self.context.work_dir, best=True, trusted=True)
        )
        # The shift travels with the weights, so a saved model predicts on the scale it was trained on.
        self.model_.target_level = self.level
        # Prediction needs no loggers (each would open an empty log version) and no progress bar.
        self.model_.trainer_params.update(logger=False, enable_progress_bar=False)
        self.epochs_ = int(model.epochs_trained)
        log.info(
            "%s: %d epochs on %s, best checkpoint reloaded",
            model_name,
            self.epochs_,
            model.trainer.accelerator.__class__.__name__,
        )
        self.model_name_ = model_name
        return self

    def predict(
        self,
        panel: pd.DataFrame,
        segments: pd.DataFrame | None,
        cutoff: pd.Timestamp,
        horizon: int,
        num_samples: int,
    ) -> dict[str, Forecast]:
        """Sample paths for the `horizon` trading days after `cutoff`, per SKU, back on the demand scale."""
        level = getattr(self.model_, "target_level", 0.0)  # 0: saved before the target was centred
        data = self._series(panel, segments, cutoff, horizon, level)
        skus = list(data)
        first = data[skus[0]]
        with torch_threads(self.threads):
            preds = self.model_.predict(
                n=horizon,
                series=[data[s]["target"] for s in skus],
                past_covariates=[data[s]["past"] for s in skus] if first["past"] is not None else None,
                future_covariates=[data[s]["future"] for s in skus] if first["future"] is not None else None,
                num_samples=num_samples,
                verbose=False,
                show_warnings=False,
                random_state=self.context.seed,  # the same inputs give the same sample paths
            )
        out = {}
        for sku, pred in zip(skus, preds, strict=True):
            paths = (pred.all_values(copy=False)[:, 0, :].T.astype(np.float64) + level) * data[sku]["scale"]
            out[sku] = Forecast(mean=paths.mean(axis=0), paths=paths)
        return out

    # ---- persistence -------------------------------------------------------------------------------------
    def save(self, path: str | Path) -> None:
        """Weights and parameters without training state (loggers, callbacks), so it loads safely anywhere."""
        self.model_.save(str(path), clean=True)

    def load(self, path: str | Path, map_location: str = "cpu") -> NeuralForecaster:
        """Load weights saved anywhere (a GPU machine included) onto `map_location`."""
        cls = self._darts_class()
        trainer = {"logger": False, "enable_progress_bar": False}
        if map_location == "cpu":
            trainer["accelerator"] = "cpu"
        self.model_ = cls.load(str(path), map_location=map_location, pl_trainer_kwargs=trainer)
        return self


@contextmanager
def torch_threads(threads: int | None) -> Iterator[None]:
    """torch's intra-op threads set to `threads` inside the block and restored after it: a backtest that trains
    a global model leaves the process as it found it for the per-SKU models that run next."""
    import torch

    before = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def effective_kwargs(model_kwargs: Mapping[str, Any] | None) -> dict:
    """The model's parameters as darts should get them. A recurrent model's dropout acts only between stacked
    recurrent layers (torch warns that it does nothing with one); a config or tuning trial that sets it with one
    layer gets no dropout instead of the warning."""
    kwargs = dict(model_kwargs or {})
    if "n_rnn_layers" in kwargs and int(kwargs["n_rnn_layers"]) < 2 and kwargs.get("dropout"):
        kwargs["dropout"] = 0.0
    return kwargs


def _supports(model_cls, kind: str) -> bool:
    """Whether a darts model class takes future / static covariates (read off an instance-free property)."""
    prop = getattr(model_cls, f"supports_{kind}_covariates", None)
    if isinstance(prop, property):
        try:
            return bool(prop.fget(object.__new__(model_cls)))
        except Exception:  # noqa: BLE001 - a property that needs state: assume unsupported
            return False
    return bool(prop)


def _static_row(row: pd.Series) -> pd.DataFrame:
    """One-hot ABC class and demand class as numeric static covariates (darts rejects text)."""
    values = {f"{col}_{lvl}": float(row.get(col) == lvl) for col, levels in STATIC_LEVELS.items() for lvl in levels}
    return pd.DataFrame([values])
