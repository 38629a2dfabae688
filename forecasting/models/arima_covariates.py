"""Per-SKU ARIMA with promo and relative price as regressors (regression with ARIMA errors, statsforecast).

The global booster reads promo and price; without them a per-SKU model sees a promo day's spike as noise and
never forecasts the next one. statsforecast's ARIMA takes an exogenous matrix: the SKU's demand is regressed on
`promo` (0/1) and `rel_price` (price / the SKU's mean price over its training history) with ARIMA errors, so
the regressors shift the mean and the ARIMA part, its psi weights and variance, shape the paths as in `arima`.

Per SKU, a regressor that is constant over the training window (a SKU never on promotion, a price never
changed), or that the others and the intercept already explain (a promo that is always the same discount
makes the price a copy of the promo), is left out: it would make the regression singular. A SKU with no
regressor left is fitted as the plain ARIMA and forecasts exactly as `arima`.

The horizon's promo and price come from `future_covariates` (known | carried; forecasting/models/covariates.py),
the option the global booster reads too; with `carried` their future is unknown and the model is `arima`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from forecasting.models.base import Forecast
from forecasting.models.covariates import (
    FUTURE_COLUMNS,
    LEARNABLE_COLUMNS,
    check_future_covariates,
    future_covariates,
)
from forecasting.models.paths import gaussian_paths
from forecasting.models.statsforecast_adapter import StatsForecastModel, innovation_weights


class CovariateARIMA(StatsForecastModel):
    """`StatsForecastModel` of an ARIMA whose fit takes the SKU's promo and price rows as `covariates`.

    Without covariates (a panel that has neither column, or a caller that passes none) it is the plain model.
    """

    #: the panel columns the backtest and the plan hand to `fit` (forecasting.models.base.LocalForecaster)
    covariates = FUTURE_COLUMNS

    def __init__(self, future_covariates: str = "carried", name: str = "arima_x", **kwargs) -> None:
        super().__init__(future_covariates=check_future_covariates(future_covariates, name), **kwargs)
        self.name = name

    def fit(
        self, y: pd.Series, covariates: pd.DataFrame | None = None, dates: pd.DatetimeIndex | None = None
    ) -> CovariateARIMA:
        """`covariates`: the SKU's promo / price rows indexed by date (any dates; those after `y` ends are read
        only with `future_covariates: known`); `dates`: the horizon's trading days."""
        self.X_future_, self.promo_, self.yearly_ = None, None, None
        past, future = self._regressors(y, covariates, dates)
        if past is None:  # the plain ARIMA (with the promo lift `arima` takes from a calendar: promo_lift)
            return super().fit(y, covariates, dates)
        values = np.asarray(y, dtype=float)
        self.model_ = self.statsforecast_model(len(values)).fit(values, X=past)
        self.X_future_ = future
        return self

    def _regressors(
        self, y: pd.Series, covariates: pd.DataFrame | None, dates: pd.DatetimeIndex | None
    ) -> tuple[np.ndarray | None, np.ndarray | None]:
        """(training X, horizon X) of the regressors that vary over the training window, or (None, None)."""
        learnable = LEARNABLE_COLUMNS[self.future_covariates]
        columns = [c for c in learnable if covariates is not None and c in covariates]
        if not columns or dates is None or len(y) == 0:
            return None, None
        cutoff = y.index[-1]
        past = covariates[columns].reindex(y.index)
        if "price" in past:  # the shelf price carries over days without a known one
            past["price"] = past["price"].ffill().bfill()
        rows = past.iloc[-1:]  # its price is the one carried
        if self.future_covariates == "known":
            rows = pd.concat([rows, covariates.loc[covariates.index > cutoff, columns]])
        rows = rows.rename_axis("date").reset_index().assign(sku="")
        ahead = future_covariates(rows, cutoff, dates, self.future_covariates)
        past_x, future_x = [], []
        if "promo" in past:
            past_x.append(past["promo"].fillna(0.0).to_numpy(dtype=float))
            future_x.append(ahead["promo"].to_numpy(dtype=float))
        if "price" in past:
            ref = float(np.nanmean(past["price"].to_numpy(dtype=float))) if past["price"].notna().any() else 0.0
            if ref > 0:
                past_x.append(past["price"].to_numpy(dtype=float) / ref)
                future_x.append(ahead["price"].to_numpy(dtype=float) / ref)
        keep = _independent(np.column_stack(past_x)) if past_x else []
        if not keep:
            return None, None
        return np.column_stack(past_x)[:, keep], np.nan_to_num(np.column_stack(future_x)[:, keep], nan=1.0)

    def predict(self, horizon: int, num_samples: int, rng: np.random.Generator) -> Forecast:
        if self.X_future_ is None:
            return super().predict(horizon, num_samples, rng)
        mean = np.asarray(self.model_.predict(h=horizon, X=self.X_future_[:horizon])["mean"], dtype=float)
        # Regressors move the mean only: the paths' spread is the ARIMA errors' own impulse response.
        weights = innovation_weights(self.model_.model_, horizon)
        return Forecast(mean=mean, paths=gaussian_paths(mean, weights, num_samples, rng))


def _independent(x: np.ndarray) -> list[int]:
    """Columns of `x`, in order, that add to the rank of [1, kept columns]: none constant or a linear copy."""
    finite = np.isfinite(x).all(axis=1)
    basis = np.ones((int(finite.sum()), 1))
    keep = []
    for j in range(x.shape[1]):
        trial = np.column_stack([basis, x[finite, j]])
        if np.linalg.matrix_rank(trial, tol=1e-8 * max(1.0, float(np.abs(trial).max()))) == trial.shape[1]:
            basis, keep = trial, [*keep, j]
    return keep
