"""Any statsforecast model as a per-SKU forecaster: a class name and its keyword arguments from conf/model/*.yaml.

statsforecast (Nixtla) fits ETS, ARIMA, Theta and the Croston family in compiled code, many times faster than
statsmodels, and gives point forecasts with, for some models, marginal Gaussian intervals. The plan needs
sample paths (quantiles of sums over lead times come from paths), so `paths` picks how they are made:

- `gaussian` (ETS, ARIMA): a linear Gaussian innovations model, as these models are. Each day's variance is the
  model's own h-step forecast variance, and one innovation moves every later day by the model's impulse
  response: for ARIMA its psi weights from the fitted state space (they can be negative, so they cannot be
  read off the variances); for additive ETS the psi weights from its smoothing constants (alpha + beta_j +
  gamma on seasonal lags); for other models the square roots of their intervals' variance increments. Exact
  for these models, and a single matrix product for all paths, where statsforecast's `simulate` loops in
  Python per path (18 ms for 200 ETS paths, more than the fit).
- `simulate` (AutoTheta, AutoCES): the model's own `simulate`, for models whose intervals are themselves
  simulated and too noisy to read an impulse response from.
- `intermittent` (Croston, SBA, TSB, ADIDA, IMAPA: point forecasts only): compound-Bernoulli paths around the
  model's forecast (see `paths.intermittent_paths`); conformal intervals would give per-day symmetric bands,
  not paths, and refit the model for every calibration window.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable

import numpy as np
import pandas as pd
import statsforecast.models as sf_models
from scipy.stats import norm

from forecasting.errors import InputError
from forecasting.models.base import Forecast, LocalForecaster
from forecasting.models.covariates import check_future_covariates
from forecasting.models.paths import gaussian_paths, intermittent_paths, rate_dispersion, recent_frequency
from forecasting.models.promo_lift import promo_lift
from forecasting.models.statsforecast_arima import ARIMA
from forecasting.models.yearly_profile import MIN_SPAN_DAYS, yearly_profile

#: statsforecast classes this project extends, found by the same names (ARIMA: its optimiser tolerance exposed)
EXTENDED = {"ARIMA": ARIMA}

# A weekly table's season (forecasting.data.frequency.SEASON): replaced by the yearly profile.
WEEKS_A_YEAR = 52

# The interval whose half-width gives each day's standard deviation (any level gives the same for a Gaussian).
LEVEL = 80
Z_LEVEL = float(norm.ppf(0.5 + LEVEL / 200))


class StatsForecastModel(LocalForecaster):
    """`statsforecast.models.<model_class>(**params)`, with the calendar's season for models that take one.

    `min_history` is the SKU history (trading days) below which the baseline stands in; `size_window` is how
    many recent non-zero days the intermittent paths draw sizes and occurrence from. Given a promo calendar
    (`future_covariates` known and a promo column), the model is fitted on the SKU's baseline demand and its
    paths carry the SKU's promotion lift on the calendar's periods (forecasting/models/promo_lift.py). On a daily
    or weekly table with MIN_SPAN_DAYS of history (15 months), `yearly_season` fits the model on demand divided
    by the SKU's yearly profile and puts the profile back on the horizon's dates (forecasting/models/
    yearly_profile.py); `yearly_min_days` moves where it starts (benchmarks/yearly_profile.py measures spans).
    """

    #: `fit` takes the horizon's dates (forecasting.models.local_fit.safe_forecast): the yearly profile's days.
    reads_dates = True

    @property
    def covariates(self) -> tuple[str, ...]:
        """The promo rows `fit` reads (forecasting.models.base.LocalForecaster): only with a calendar known ahead,
        so that under `carried` the per-SKU work carries no column nothing reads. Price is no input here."""
        return ("promo",) if self.future_covariates == "known" else ()

    def __init__(
        self,
        model_class: str,
        paths: str = "gaussian",
        season_length: int | None = None,
        min_history: int = 28,
        size_window: int = 50,
        future_covariates: str = "carried",
        yearly_season: bool = True,
        yearly_min_days: int = MIN_SPAN_DAYS,
        **params,
    ) -> None:
        super().__init__(season_length)
        self.future_covariates = check_future_covariates(future_covariates, model_class)
        self.yearly_season = bool(yearly_season)
        self.yearly_min_days = int(yearly_min_days)
        self.model_class = model_class
        self.paths = paths
        self.min_history = min_history
        self.size_window = size_window
        self.params = params
        # Checked here so a typo in a YAML stops the run before any fit, not as a fallback on every SKU.
        _statsforecast_class(model_class)
        if paths not in PATH_MAKERS:
            raise InputError(f"model paths '{paths}' is unknown; use one of {', '.join(PATH_MAKERS)}.")

    def statsforecast_model(self, n_obs: int | None = None, seasonal: bool = True):
        """The unfitted statsforecast model this forecaster fits (benchmarks run the same object in statsforecast).

        A history of `n_obs` periods shorter than two seasons gets no season (a yearly season of 52 weeks or 12
        months cannot be estimated from one year, and seasonal fits on it diverge), nor does one fitted without
        (`seasonal` false: a weekly table's year is the yearly profile's)."""
        cls = _statsforecast_class(self.model_class)
        kwargs = dict(self.params)
        if _takes_season(cls):
            season = int(self.season_length or 1) if seasonal else 1
            kwargs["season_length"] = season if n_obs is None or n_obs >= 2 * season else 1
            spec = kwargs.get("model")
            if kwargs["season_length"] == 1 and isinstance(spec, str) and len(spec) == 3:
                kwargs["model"] = spec[:2] + "N"  # an ETS spec such as ANA: no seasonal component without a season
        return cls(**kwargs)

    def fit(
        self, y: pd.Series, covariates: pd.DataFrame | None = None, dates: pd.DatetimeIndex | None = None
    ) -> StatsForecastModel:
        """Fit on `y`; `covariates` (the SKU's promo rows by date) and `dates` (the horizon's periods) where the
        panel has a promo column: the fit is then on the baseline demand (promo_lift), and on a daily or weekly
        table with 15 months of history, on that demand divided by its yearly profile (yearly_profile)."""
        season = int(self.season_length or 1)
        daily = season <= 7
        # A weekly table's year: the yearly profile where the history shows one, never 52 seasonal states.
        weekly_year = season == WEEKS_A_YEAR and self.yearly_season
        self.promo_ = promo_lift(y, covariates, dates, self.future_covariates, daily)
        if self.promo_ is not None:
            y = self.promo_.baseline(y)
        self.yearly_ = (
            yearly_profile(y, self.yearly_min_days) if (daily or weekly_year) and self.yearly_season else None
        )
        if self.yearly_ is not None:
            self.last_, self.dates_, self.step_ = y.index[-1], dates, _step_days(y.index)
            y = self.yearly_.deseasonalised(y)
        values = np.asarray(y, dtype=float)
        self.model_ = self.statsforecast_model(len(values), seasonal=not weekly_year).fit(values)
        if self.paths == "intermittent":  # what the compound-Bernoulli paths draw from
            self.sizes_ = values[np.flatnonzero(values > 0)[-self.size_window :]]
            self.prob_ = float(recent_frequency(values[None], self.size_window)[0])
            self.rate_cv2_ = rate_dispersion(values)
        return self

    def predict(self, horizon: int, num_samples: int, rng: np.random.Generator) -> Forecast:
        forecast = PATH_MAKERS[self.paths](self, horizon, num_samples, rng)
        yearly = getattr(self, "yearly_", None)
        if yearly is not None:
            forecast = yearly.seasonal(forecast, horizon_dates(self.last_, self.dates_, horizon, self.step_))
        promo = getattr(self, "promo_", None)
        return promo.lifted(forecast) if promo is not None else forecast


def horizon_dates(
    last: pd.Timestamp, dates: pd.DatetimeIndex | None, horizon: int, step_days: int = 1
) -> pd.DatetimeIndex:
    """The `horizon` dates after `last` a forecast covers: the given `dates` (the calendar's trading days or
    periods), continued every `step_days` where they run out or were not given (a caller without a calendar: a
    smooth yearly profile hardly tells a day from a trading day)."""
    given = pd.DatetimeIndex([] if dates is None else dates)
    given = given[given > last][:horizon]
    start = given[-1] if len(given) else last
    more = pd.date_range(start, periods=horizon - len(given) + 1, freq=f"{max(int(step_days), 1)}D")[1:]
    return given.append(more)


def _step_days(index: pd.DatetimeIndex) -> int:
    """Days between a history's periods: 1 on a daily table (closed days aside), 7 on a weekly one."""
    return int(pd.Series(index).diff().dt.days.median()) if len(index) > 1 else 1


def _statsforecast_class(name: str) -> type:
    cls = EXTENDED.get(str(name)) or getattr(sf_models, str(name), None)
    if not (inspect.isclass(cls) and issubclass(cls, sf_models._TS)):
        raise InputError(
            f"model_class '{name}' is not a statsforecast model; use a class of statsforecast.models such as "
            "AutoETS, AutoARIMA, ARIMA, AutoTheta, CrostonSBA, TSB, ADIDA or IMAPA."
        )
    return cls


@functools.cache
def _takes_season(cls: type) -> bool:
    # Cached: inspect.signature on every fit cost 0.5 ms, a tenth of an ETS fit.
    return "season_length" in inspect.signature(cls).parameters


def innovation_weights(fitted: dict | None, horizon: int) -> np.ndarray | None:
    """psi_j x sigma for j = 0..h-1 (how one innovation moves the forecast j days later) where the fitted model's
    own parameters give them: ARIMA from its state space, additive-error ETS from its smoothing constants. None
    for other models: their impulse response is read off their intervals (`interval_weights`)."""
    if not isinstance(fitted, dict):
        return None
    space = fitted.get("model")
    if isinstance(space, dict) and {"T", "Z", "V"} <= set(space):
        # ARIMA in state-space form: state_t = T state_t-1 + R eps_t, y_t = Z state_t, with V = R R'.
        state = space["V"][:, 0] / np.sqrt(space["V"][0, 0])
        psi = np.empty(horizon)
        for j in range(horizon):
            psi[j] = space["Z"] @ state
            state = space["T"] @ state
        return psi * np.sqrt(fitted["sigma2"])
    return additive_ets_weights(fitted, horizon)


def additive_ets_weights(fitted: dict, horizon: int) -> np.ndarray | None:
    """psi weights x sigma of an ETS model with additive error, additive or no (damped) trend and additive or no
    season (Hyndman et al. 2008, class 1): psi_0 = 1, psi_j = alpha + beta (phi + ... + phi^j) + gamma [m | j].
    Reading them from statsforecast's intervals cost more than the forecast (a scipy distribution is built on
    every call), and its seasonal variance term counts the whole horizon's seasons at every day."""
    components = str(fitted.get("components", ""))
    if len(components) != 4 or components[0] != "A" or "M" in components[1:3] or "par" not in fitted:
        return None
    alpha, beta, gamma, phi = np.nan_to_num(np.asarray(fitted["par"][:4], dtype=float))
    j = np.arange(1, horizon, dtype=float)
    psi = np.full(horizon - 1, alpha) if horizon > 1 else np.zeros(0)
    if components[1] == "A":
        psi += beta * (np.cumsum(phi**j) if components[3] == "D" else j)
    if components[2] == "A":
        psi += gamma * (j % max(int(fitted.get("m", 1)), 1) == 0)
    # Signs as the variance increments give them (an estimate can put psi_j below 0; its square is the same).
    return np.abs(np.concatenate([[1.0], psi])) * np.sqrt(float(fitted["sigma2"]))


def interval_weights(sd: np.ndarray) -> np.ndarray:
    """psi_j x sigma from each day's forecast standard deviation: the square roots of the variance increments
    (right for models whose psi weights are never negative)."""
    variance = np.asarray(sd, dtype=float) ** 2
    return np.sqrt(np.clip(np.diff(variance, prepend=0.0), 0.0, None))


def _gaussian(model: StatsForecastModel, horizon: int, num_samples: int, rng: np.random.Generator) -> Forecast:
    weights = innovation_weights(getattr(model.model_, "model_", None), horizon)
    if weights is not None:
        mean = np.asarray(model.model_.predict(h=horizon)["mean"], dtype=float)
    else:
        out = model.model_.predict(h=horizon, level=[LEVEL])
        mean = np.asarray(out["mean"], dtype=float)
        weights = interval_weights((np.asarray(out[f"hi-{LEVEL}"], dtype=float) - mean) / Z_LEVEL)
    return Forecast(mean=mean, paths=gaussian_paths(mean, weights, num_samples, rng))


def _simulate(model: StatsForecastModel, horizon: int, num_samples: int, rng: np.random.Generator) -> Forecast:
    mean = model.model_.predict(h=horizon)["mean"]
    seed = int(rng.integers(2**31 - 1))
    return Forecast(mean=mean, paths=model.model_.simulate(h=horizon, n_paths=num_samples, seed=seed))


def _intermittent(model: StatsForecastModel, horizon: int, num_samples: int, rng: np.random.Generator) -> Forecast:
    mean = np.asarray(model.model_.predict(h=horizon)["mean"], dtype=float)
    paths = intermittent_paths(mean, model.prob_, model.sizes_, num_samples, rng, model.rate_cv2_)
    return Forecast(mean=mean, paths=paths)


PATH_MAKERS: dict[str, Callable[[StatsForecastModel, int, int, np.random.Generator], Forecast]] = {
    "gaussian": _gaussian,
    "simulate": _simulate,
    "intermittent": _intermittent,
}
