"""Rolling-origin backtest of per-SKU models, parallel over SKUs.

Each SKU's job sees only its own series; at each cutoff the models are fitted on the days up to and including
the cutoff and scored on the next `horizon` trading days, so nothing after a cutoff reaches a model.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from forecasting.backtest.cumulative import cover_columns, cover_record, cover_table
from forecasting.backtest.folds import train_length
from forecasting.backtest.metrics import rmsse_scale
from forecasting.backtest.panel_runner import backtest_panel
from forecasting.data.panel import sku_series, split_covariates
from forecasting.models.base import LocalForecaster
from forecasting.models.local_fit import SkuResult, concat_columns, fit_predict
from forecasting.models.panel import PanelForecaster
from forecasting.parallel import run_per_sku
from forecasting.vocabulary.text_columns import TEXT, encode_text, join_codes

#: the order of the backtest table's rows
ROW_ORDER = ["model", "sku", "cutoff", "date"]

log = logging.getLogger(__name__)


def backtest_sku(
    sku: str,
    series: pd.Series,
    cutoffs: pd.DataFrame | Sequence,
    horizon: int,
    models: Mapping[str, LocalForecaster],
    fallback: LocalForecaster,
    quantiles: Sequence[float],
    num_samples: int,
    seed: int,
    min_train_days: int,
    cover_days: int | None = None,
) -> SkuResult:
    """All folds of one SKU (`cutoffs` as a table or its rows as tuples): rows with `cutoff`, `fold`, `role`, the
    actual `demand` and the RMSSE `scale`;
    with `cover_days`, also the cumulative-demand records planning calibrates on (in `extra`)."""
    parts, failures, covers = [], [], []
    # Covariate rows run past the cutoff (promo and price only, never demand): a model reads them after the
    # cutoff only where its `future_covariates` says they are known ahead.
    series, covariates = split_covariates(series)
    folds = cutoffs.itertuples(index=False) if isinstance(cutoffs, pd.DataFrame) else cutoffs
    for fold in folds:
        n_train = train_length(series, fold.cutoff, horizon, min_train_days)
        if n_train is None:
            continue
        train = series.iloc[:n_train]
        test = series.iloc[n_train : n_train + horizon]
        res = fit_predict(
            sku, train, test.index, models, fallback, quantiles, num_samples, seed, int(fold.fold), covariates
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


def backtest(
    panel: pd.DataFrame,
    cutoffs: pd.DataFrame,
    horizon: int,
    models: Mapping[str, LocalForecaster],
    fallback: LocalForecaster,
    quantiles: Sequence[float],
    num_samples: int = 200,
    seed: int = 0,
    min_train_days: int = 28,
    n_jobs: int = 1,
    cover_days: int | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame] | tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Backtest table (forecast table + cutoff, fold, role, demand, scale, fallback) and the failure list;
    with `cover_days`, a third table of cumulative demand over that many days after each cutoff.

    Panel-wide models (seasonal naive, Croston, SES) run on the whole panel at once in this process; the others
    run per SKU on the parallel backend. Both give the same rows for a SKU, so they share one table.
    """
    panel_models = {name: m for name, m in models.items() if isinstance(m, PanelForecaster)}
    sku_models = {name: m for name, m in models.items() if name not in panel_models}
    options = dict(
        cutoffs=cutoffs,
        horizon=horizon,
        fallback=fallback,
        quantiles=quantiles,
        num_samples=num_samples,
        seed=seed,
        min_train_days=min_train_days,
        cover_days=cover_days,
    )
    results = []
    if sku_models:
        # Folds as plain tuples: iterating the DataFrame again for every SKU cost more than a cheap model's fit.
        per_sku = {**options, "cutoffs": list(cutoffs.itertuples(index=False))}
        series = sku_series(panel, [c for m in sku_models.values() for c in getattr(m, "covariates", ())])
        results += run_per_sku(backtest_sku, series, n_jobs=n_jobs, desc="backtest", models=sku_models, **per_sku)
    if panel_models:
        log.info("backtest: %s on all %d SKUs at once", ", ".join(panel_models), panel["sku"].nunique())
        results.append(backtest_panel(panel, models=panel_models, **options))
    table = sorted_table([r.columns for r in results if r.columns])
    failures = pd.DataFrame([f for r in results for f in r.failures], columns=["sku", "model", "cutoff", "error"])
    if cover_days:
        return table, failures, cover_table([c for r in results for c in r.extra])
    return table, failures


def sorted_table(parts: list[dict[str, np.ndarray]]) -> pd.DataFrame:
    """One table in ROW_ORDER from column parts, built once: each column is joined, put in order and its parts
    released in turn, and the frame keeps the arrays as they are, so the rows are never held twice over (a
    concatenation, a DataFrame sort or consolidating the float columns would each copy the whole table).
    The order comes from a stable sort of integer keys (text as codes in string order, dates as integers):
    a DataFrame sort of the key columns held several times their size while every part was still alive."""
    if not parts:
        return pd.DataFrame()
    names = list(parts[0])
    text = {k: join_codes([p.pop(k) for p in parts]) for k in TEXT if k in names}
    keys = [text[k][0] if k in text else np.concatenate([p[k] for p in parts]).view("i8") for k in ROW_ORDER]
    order = np.lexsort(keys[::-1])  # lexsort's last key is the primary one
    del keys
    columns = {}
    for k in names:
        if k in text:
            codes, values = text.pop(k)
            columns[k] = values[codes[order]]
        else:
            columns[k] = np.concatenate([p.pop(k) for p in parts])[order]
    return pd.DataFrame(columns, copy=False)
