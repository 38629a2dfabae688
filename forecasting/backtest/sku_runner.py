"""Rolling-origin backtest of per-SKU models, one SKU's folds per job (run in parallel over SKUs by the runner).

Each SKU's job sees only its own series; at each cutoff the models are fitted on the days up to and including
the cutoff and scored on the next `horizon` trading days, so nothing after a cutoff reaches a model.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from forecasting.backtest.cumulative import cover_columns, cover_record
from forecasting.backtest.folds import train_length
from forecasting.backtest.metrics import rmsse_scale
from forecasting.backtest.settings import BacktestSettings
from forecasting.data.panel import split_covariates
from forecasting.models.base import LocalForecaster
from forecasting.models.local_fit import SkuResult, concat_columns, fit_predict
from forecasting.vocabulary.text_columns import encode_text


def backtest_sku(
    sku: str,
    series: pd.Series,
    cutoffs: pd.DataFrame | Sequence,
    models: Mapping[str, LocalForecaster],
    fallback: LocalForecaster,
    settings: BacktestSettings,
) -> SkuResult:
    """All folds of one SKU (`cutoffs` as a table or its rows as tuples): rows with `cutoff`, `fold`, `role`, the
    actual `demand` and the RMSSE `scale`;
    with `settings.cover_days`, also the cumulative-demand records planning calibrates on (in `extra`)."""
    horizon, cover_days = settings.horizon, settings.cover_days
    parts, failures, covers = [], [], []
    # Covariate rows run past the cutoff (promo and price only, never demand): a model reads them after the
    # cutoff only where its `future_covariates` says they are known ahead.
    series, covariates = split_covariates(series)
    folds = cutoffs.itertuples(index=False) if isinstance(cutoffs, pd.DataFrame) else cutoffs
    for fold in folds:
        n_train = train_length(series, fold.cutoff, horizon, settings.min_train_days)
        if n_train is None:
            continue
        train = series.iloc[:n_train]
        test = series.iloc[n_train : n_train + horizon]
        res = fit_predict(
            sku,
            train,
            test.index,
            models,
            fallback,
            settings.quantiles,
            settings.num_samples,
            settings.seed,
            int(fold.fold),
            covariates,
        )
        n = len(res.columns["sku"])
        parts.append(
            {
                "cutoff": np.full(n, np.datetime64(fold.cutoff, "ns")),
                **res.columns,
                "fold": np.full(n, fold.fold),
                "role": np.full(n, fold.role, dtype=object),
                "demand": np.tile(test.to_numpy(), len(models)),
                "scale": np.full(n, rmsse_scale(train.to_numpy())),
            }
        )
        failures += [{**f, "cutoff": fold.cutoff} for f in res.failures]
        if cover_days:
            for name, forecast in res.forecasts.items():
                record = cover_record(sku, name, fold.cutoff, forecast, test, cover_days)
                if record:
                    covers.append({**record, "role": fold.role})
    return SkuResult(columns=encode_text(concat_columns(parts)), failures=failures, extra=[cover_columns(covers)])
