"""Where a global network's forecast volume stands against the actual, the recent level and its own training
data, at the validation cutoff(s): the evidence behind the centred mean scaling in `NeuralForecaster.level`.

    python benchmarks/neural_bias.py tcn                      # 200 SKUs, backtest.validation_folds=1
    python benchmarks/neural_bias.py lstm callbacks.early_stopping.patience=100 trainer.max_epochs=12  # any override

Prints the validation-fold RMSSE, MAE and bias; then volume per day (history mean, last 60 days, actual,
forecast) overall and by how the last 60 days compare with the SKU's history mean (a model that reverts to the
history mean would show it there); then forecast/actual volume where the network has seen the answer (its last
training chunk) and on the early-stopping window. Validation folds only: never the test folds.
"""

from __future__ import annotations

import logging
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.neural import compose  # noqa: E402


def main() -> None:
    from forecasting.backtest.global_runner import backtest_global
    from forecasting.backtest.metrics import score
    from forecasting.pipeline import build_models, cutoffs_from_config, load_data
    from forecasting.pipeline.common import backtest_settings

    logging.basicConfig(level=logging.WARNING)
    kind, extra = sys.argv[1], sys.argv[2:]
    cfg = compose(
        [
            f"model={kind}",
            "data.panel.max_skus=200",
            "backtest.validation_folds=1",
            "trainer.threads=1",
            "trainer.progress_bar=false",
            "logger=csv",
            *extra,
        ]
    )
    data = load_data(cfg)
    _, models, _ = build_models(cfg, data, tempfile.mkdtemp(prefix=f"bias_{kind}_"))
    model = models[kind]
    cutoffs = cutoffs_from_config(cfg, data.panel)
    settings = backtest_settings(cfg)
    horizon, quantiles = settings.horizon, settings.quantiles
    panel, days = data.panel, np.sort(data.panel["date"].unique())
    for fold in cutoffs[cutoffs["role"] == "validation"].itertuples(index=False):
        rows, _, _ = backtest_global(kind, model, panel, data.segments, pd.DataFrame([fold._asdict()]), settings)
        m = score(rows.assign(model=kind), ["model"], quantiles).iloc[0]
        print(
            f"{kind} cutoff {fold.cutoff.date()}: {model.epochs_} epochs; RMSSE {m['rmsse']:.4f} "
            f"MAE {m['mae']:.2f} bias {m['bias']:+.3f}"
        )
        pos = int(np.searchsorted(days, np.datetime64(fold.cutoff)))
        recent = panel[(panel["date"] > days[pos - 60]) & (panel["date"] <= fold.cutoff)]
        df = pd.concat(
            {
                "history": panel[panel["date"] <= fold.cutoff].groupby("sku")["demand"].mean(),
                "last60": recent.groupby("sku")["demand"].sum() / 60,
                "actual": rows.groupby("sku")["demand"].sum() / horizon,
                "forecast": rows.groupby("sku")["mean"].sum() / horizon,
            },
            axis=1,
        ).dropna()
        print("  volume per day:", "  ".join(f"{c} {df[c].sum():,.0f}" for c in df.columns))
        ratio = df["last60"] / df["history"]
        for lo, hi in [(0, 0.8), (0.8, 1.25), (1.25, np.inf)]:
            s = df[(ratio >= lo) & (ratio < hi)]
            print(
                f"  last 60 days / history mean in [{lo}, {hi}): {len(s)} SKUs; actual/last60 "
                f"{s.actual.sum() / s.last60.sum():.2f}, forecast/last60 {s.forecast.sum() / s.last60.sum():.2f}"
            )
        val_days = int(cfg.trainer.val_days)
        for label, back in [("last training chunk", val_days + horizon), ("early-stopping window", val_days)]:
            c = pd.Timestamp(days[pos - back])
            forecasts = model.predict(panel, data.segments, c, horizon, int(cfg.num_samples))
            window = panel[(panel["date"] > c) & (panel["date"] <= days[pos - back + horizon])]
            actual = window.groupby("sku")["demand"].sum()
            forecast = pd.Series({sku: f.mean.sum() for sku, f in forecasts.items()}).reindex(actual.index)
            print(f"  {label} (cutoff {c.date()}): forecast/actual volume {forecast.sum() / actual.sum():.3f}")


if __name__ == "__main__":
    main()
