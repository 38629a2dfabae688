"""Count sample paths around a global model's mean forecasts (LightGBM, the level booster).

Probabilistic output, and why it is shaped this way: plans take quantiles of SUMS over lead times from sample
paths, so the paths must carry the right correlation across days, not only the right daily quantiles.
Independent daily quantile boosters would make lead-time sums far too narrow. Instead the booster gives the mean
(LightGBM's Tweedie objective suits counts with many zeros), and each path is

    y_t = Poisson(mean_t x L x G_t),  L ~ Gamma(mean 1, var v_level) per path,  G_t ~ Gamma(mean 1, var v_day)

L is the forecast's level uncertainty, shared by every day of a path (it widens sums as much as real level
errors do); G_t makes the daily counts over-dispersed (a negative binomial given L). Both variances are fitted
by moments, per demand class, on a held-out window: the booster is first trained on the data up to `val_days`
before the cutoff and forecasts that window, then retrained on everything up to the cutoff.
"""

from __future__ import annotations

from abc import abstractmethod

import numpy as np
import pandas as pd

from forecasting.models.base import Forecast, GlobalForecaster


class CountPaths(GlobalForecaster):
    """A global model whose `predict_means` gives the means (SKU x horizon) and whose `dispersion_`
    (`fit_dispersion`, per demand class) the variances of its count paths: `predict_lazy` and `predict` from them."""

    @abstractmethod
    def predict_means(
        self, panel: pd.DataFrame, segments: pd.DataFrame | None, cutoff: pd.Timestamp, horizon: int
    ) -> pd.DataFrame:
        """Mean forecasts (SKU x horizon) from `cutoff`, which may be later than the training cutoff."""

    def predict_lazy(
        self, panel: pd.DataFrame, segments: pd.DataFrame | None, cutoff: pd.Timestamp, horizon: int
    ) -> dict[str, PathRecipe]:
        """Per SKU, what it takes to draw paths later (the mean and two variances: a few numbers, not paths)."""
        means = self.predict_means(panel, segments, cutoff, horizon)
        classes = _classes(segments, means.index)
        disp = self.dispersion_
        out = {}
        for sku, row in zip(means.index, means.to_numpy(), strict=True):
            v = disp.loc[classes.get(sku)] if classes.get(sku) in disp.index else disp.loc["all"]
            out[str(sku)] = PathRecipe(row, float(v["v_day"]), float(v["v_level"]))
        return out

    def predict(
        self,
        panel: pd.DataFrame,
        segments: pd.DataFrame | None,
        cutoff: pd.Timestamp,
        horizon: int,
        num_samples: int,
    ) -> dict[str, Forecast]:
        recipes = self.predict_lazy(panel, segments, cutoff, horizon)
        rng = np.random.default_rng([self.context.seed, int(pd.Timestamp(cutoff).value // 86_400_000_000_000)])
        return {sku: r(horizon, num_samples, rng) for sku, r in recipes.items()}


class PathRecipe:
    """A SKU's mean forecast and the two variances of `sample_paths`; called like a model's predict."""

    __slots__ = ("mean", "v_day", "v_level")

    def __init__(self, mean: np.ndarray, v_day: float, v_level: float) -> None:
        self.mean, self.v_day, self.v_level = np.asarray(mean, dtype=float), v_day, v_level

    def __call__(self, horizon: int, num_samples: int, rng: np.random.Generator) -> Forecast:
        mean = self.mean[:horizon]
        return Forecast(mean=mean, paths=sample_paths(mean, self.v_day, self.v_level, num_samples, rng))


def sample_paths(
    mean: np.ndarray, v_day: float, v_level: float, num_samples: int, rng: np.random.Generator
) -> np.ndarray:
    """Count paths around `mean` with a per-path level factor and over-dispersed days (see the module doc)."""
    mean = np.asarray(mean, dtype=float)
    level = rng.gamma(1 / v_level, v_level, size=(num_samples, 1)) if v_level > 1e-9 else np.ones((num_samples, 1))
    day = rng.gamma(1 / v_day, v_day, size=(num_samples, mean.size)) if v_day > 1e-9 else 1.0
    return rng.poisson(mean[None, :] * level * day).astype(float)


def fit_dispersion(means: pd.DataFrame, actual: pd.DataFrame, segments: pd.DataFrame | None) -> pd.DataFrame:
    """Method-of-moments variances per demand class (and `all`), from a held-out window.

    With mu the mean and S, M a SKU's actual and forecast sums over the window, the model of the module doc has
    E[(y - mu)^2] = mu + c mu^2 with c = (1 + v_day)(1 + v_level) - 1, and
    E[(S - M)^2 - M - c sum(mu^2)] = v_level (M^2 - sum(mu^2)). Pooled sums keep the estimates stable for the
    many SKUs that sell a few units; both are floored at small positive values.
    """
    skus = means.index.intersection(actual.index)
    mu = means.loc[skus].to_numpy(dtype=float)
    y = actual.loc[skus].to_numpy(dtype=float)[:, : mu.shape[1]]
    mu = mu[:, : y.shape[1]]
    ok = np.isfinite(y).all(axis=1)
    classes = _classes(segments, skus)
    group = np.array([classes.get(s, "all") for s in skus], dtype=object)
    rows = {}
    for name in ["all", *sorted(set(group[ok]) - {"all"})]:
        sel = ok & ((group == name) if name != "all" else True)
        if sel.sum() < 5 and name != "all":
            continue
        m, a = mu[sel], y[sel]
        sq = (m**2).sum()
        c = max(0.0, float(((a - m) ** 2 - m).sum() / sq)) if sq > 0 else 0.0
        big_m, big_s = m.sum(axis=1), a.sum(axis=1)
        denom = float((big_m**2 - (m**2).sum(axis=1)).sum())
        num = float(((big_s - big_m) ** 2 - big_m - c * (m**2).sum(axis=1)).sum())
        v_level = float(np.clip(num / denom, 0.01, 4.0)) if denom > 0 else 0.1
        v_day = float(np.clip((1 + c) / (1 + v_level) - 1, 0.01, 50.0))
        rows[name] = {"v_day": v_day, "v_level": v_level, "skus": int(sel.sum())}
    return pd.DataFrame.from_dict(rows, orient="index")


def held_out_dispersion(
    means: pd.DataFrame, panel: pd.DataFrame, segments: pd.DataFrame | None, held_cut: pd.Timestamp, cutoff
) -> pd.DataFrame:
    """`fit_dispersion` of a model's means (SKU x the held-out periods, in order) for the periods after `held_cut`
    up to `cutoff`, against the panel's demand there."""
    actual = panel[(panel["date"] > held_cut) & (panel["date"] <= cutoff)]
    actual = actual.assign(sku=actual["sku"].astype(str)).pivot(index="sku", columns="date", values="demand")
    return fit_dispersion(means, actual, segments)


def _classes(segments: pd.DataFrame | None, skus) -> dict:
    if segments is None or "demand_class" not in segments:
        return {}
    return segments.assign(sku=segments["sku"].astype(str)).set_index("sku")["demand_class"].to_dict()
