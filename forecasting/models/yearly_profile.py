"""A SKU's yearly season, for per-SKU models of daily and weekly tables with two years of history.

ETS and ARIMA on a daily table carry a weekly season (7 trading days); a yearly one (a grocery item's spring peak,
a garden line's summer) they only follow as a level that moves, one smoothing lag behind: on the falling side of
a season they forecast the weeks before, and a plan from them overstocks (on the rising side, the reverse). On a
weekly table their season is 52 weeks, one state per week of the year learnt from two or three values each: noise
where the year is smooth. So, per SKU:

1. a smooth yearly profile is estimated from the history: a Poisson regression (quasi-likelihood: the scale
   from the Pearson residuals, so overdispersed demand does not pass for evidence) of demand on a linear trend
   and K pairs of sine and cosine terms of the day of the year (the trend is there so a growing SKU's growth is
   not read as a season). K is the one of HARMONICS with the lowest QAIC (Burnham and Anderson: the
   quasi-likelihood over the largest model's scale, plus twice the parameters): two for a smooth year, more for
   a season with a holiday peak a few weeks wide;
2. the harmonics are shrunk toward no season by their own evidence, the positive-part James-Stein factor
   max(0, 1 - p / W) with W their Wald statistic and p their number: a profile the data hardly supports is
   mostly taken out, one it clearly supports is kept nearly whole;
3. the model is fitted on the demand divided by the profile (on a weekly table without its 52-week season), and
   its paths are multiplied by the profile on the horizon's dates.

Only from MIN_SPAN_DAYS of history on: a year and a quarter, so every day of the year is seen once and a quarter
of them twice (the trend term and the shrinkage keep a level that moved once from passing for a season). With
two cycles required (700 days, the eleventh session) a table of two years had its champion chosen and its
calibration fitted on validation windows of 1.5-1.9 years without the profile, then planned and replayed with it:
a model nobody had judged (a grocery-shaped table filled 98% for a 95% target). Measured (benchmarks/README.md,
"yearly_profile.py"): with 449-539 days of history ETS's error of a 30-day sum fell from 23.7% to 20.7% of demand
on generated daily data with a yearly season and from 32.1% to 30.8% on an item-store shape, and its RMSSE rose
0.14% where there is no yearly season; with two years and more the gains were alike (27% to 21%, 22% to 20%); on
a weekly store-department shape, ETS's RMSSE over 13 weeks fell from 0.91 to 0.82 with 76-115 weeks of history.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from forecasting.models.base import Forecast

HARMONICS = (2, 4, 8)  # sine-cosine pairs tried: a smooth year; a sharper peak; a holiday season weeks wide
MIN_SPAN_DAYS = 450  # calendar days of history: a year and a quarter
MIN_SELLING_DAYS = 60  # days with a sale: fewer say nothing about a season
PROFILE_BOUNDS = (0.2, 5.0)  # a profile beyond these on some day is a fit that ran away, not a season
# A run of zero days less likely than this at the SKU's share of selling days is a gap in supply (out of stock,
# delisted for a while), not a season: the regression leaves its days out.
GAP_CHANCE = 1e-3


@dataclass(frozen=True)
class YearlyProfile:
    """One SKU's yearly profile: exp(harmonics . coef), divided by `norm` (its mean over the fitted history)."""

    coef: np.ndarray
    norm: float
    shrink: float
    harmonics: int

    def at(self, dates) -> np.ndarray:
        """The profile (1: an average day of the fitted history) on `dates`."""
        value = np.exp(_harmonics(pd.DatetimeIndex(dates), self.harmonics) @ self.coef) / self.norm
        return np.clip(value, *PROFILE_BOUNDS)

    def deseasonalised(self, y: pd.Series) -> pd.Series:
        """The history `y` divided by its days' profile: what the model is fitted on."""
        return y / self.at(y.index)

    def seasonal(self, forecast: Forecast, dates) -> Forecast:
        """The deseasonalised forecast for `dates` with the profile put back."""
        factor = self.at(dates)
        return Forecast(mean=forecast.mean * factor, paths=forecast.paths * factor[None, :])


def _harmonics(dates: pd.DatetimeIndex, pairs: int) -> np.ndarray:
    angle = 2.0 * np.pi * (dates.dayofyear.to_numpy() - 1) / 365.25
    return np.column_stack([f(k * angle) for k in range(1, pairs + 1) for f in (np.sin, np.cos)])


def yearly_profile(y: pd.Series, min_span: int = MIN_SPAN_DAYS) -> YearlyProfile | None:
    """The SKU's YearlyProfile from its daily history `y` (indexed by date), or None where the history spans
    under `min_span` calendar days, sells too seldom, or shows no season at all (shrunk to nothing)."""
    if not isinstance(y.index, pd.DatetimeIndex) or len(y) < 2:
        return None
    span = (y.index[-1] - y.index[0]).days
    values = np.clip(np.nan_to_num(y.to_numpy(dtype=float)), 0.0, None)
    if span < min_span or np.count_nonzero(values) < MIN_SELLING_DAYS:
        return None
    trend = ((y.index - y.index[0]).days.to_numpy() / span)[:, None]
    base = np.hstack([np.ones((len(y), 1)), trend])
    # Every candidate's terms are the first 2K columns of the largest's: the history's harmonics, computed once.
    seasonal = _harmonics(y.index, max(HARMONICS))
    # Three months out of stock in one year of a 15-month history would otherwise come back as a trough every
    # year after (and with one year seen, the shrinkage cannot tell it from a season: it is very significant).
    kept = ~supply_gaps(values)
    fits = {}
    try:
        with np.errstate(all="ignore"):
            for pairs in HARMONICS:
                design = np.hstack([base, seasonal[:, : 2 * pairs]])
                fits[pairs] = poisson_regression(design[kept], values[kept])
        # One scale for every candidate (QAIC): the largest model's Pearson dispersion, at least 1.
        largest = fits[max(HARMONICS)]
        scale = max(largest.pearson_chi2 / max(int(kept.sum()) - len(largest.params), 1), 1.0)
        qaic = {k: -2.0 * f.loglik / scale + 2.0 * (len(f.params) + 1) for k, f in fits.items()}
        pairs = min(qaic, key=lambda k: (qaic[k], k))
        coef = fits[pairs].params[2:]
        cov = fits[pairs].cov[2:, 2:] * scale
        wald = float(coef @ np.linalg.solve(cov, coef))
    except np.linalg.LinAlgError:
        return None
    if not np.isfinite(wald) or wald <= len(coef):
        return None
    shrink = 1.0 - len(coef) / wald
    coef = shrink * coef
    norm = float(np.exp(seasonal[:, : 2 * pairs] @ coef).mean())
    return YearlyProfile(coef=coef, norm=norm, shrink=shrink, harmonics=pairs)


def supply_gaps(values: np.ndarray) -> np.ndarray:
    """The days inside runs of zeros that the SKU's share of selling days makes less likely than GAP_CHANCE (a
    run of L zeros: (1 - share)^L): a smooth seller's week without a sale, an intermittent one's season without."""
    share = np.count_nonzero(values) / max(len(values), 1)
    gaps = np.zeros(len(values), dtype=bool)
    if share <= 0.0 or share >= 1.0:
        return gaps
    longest = np.log(GAP_CHANCE) / np.log1p(-share)
    bounds = np.flatnonzero(np.diff(np.r_[0, (values == 0).astype(np.int8), 0]))
    for start, end in zip(bounds[::2], bounds[1::2], strict=True):  # a start and an end per run
        if end - start > longest:
            gaps[start:end] = True
    return gaps


@dataclass(frozen=True)
class PoissonFit:
    """A Poisson regression's coefficients, their covariance (scale 1), log-likelihood (up to a constant of the
    data) and Pearson chi-square."""

    params: np.ndarray
    cov: np.ndarray
    loglik: float
    pearson_chi2: float


def poisson_regression(design: np.ndarray, y: np.ndarray, max_iter: int = 50, tol: float = 1e-8) -> PoissonFit:
    """Poisson regression with a log link by iteratively reweighted least squares, as statsmodels' GLM fits it
    (tests check the two agree). Written out because it runs three times in every per-SKU fit of a long daily
    history: statsmodels' GLM took 2.5 ms a fit for 728 days, about half of what an ETS fit costs, where these
    few matrix products take a tenth of that."""
    mu = np.maximum((y + y.mean()) / 2.0, 1e-3)
    eta = np.log(mu)
    for _ in range(max_iter):
        working = eta + (y - mu) / mu
        weighted = design.T * mu
        params = np.linalg.solve(weighted @ design, weighted @ working)
        new = np.clip(design @ params, -30.0, 30.0)
        done = np.max(np.abs(new - eta)) < tol
        eta, mu = new, np.exp(new)
        if done:
            break
    information = (design.T * mu) @ design
    loglik = float(np.sum(y * eta - mu))
    return PoissonFit(params, np.linalg.inv(information), loglik, float(np.sum((y - mu) ** 2 / mu)))
