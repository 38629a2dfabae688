"""Every model config fits and predicts on tiny data; forecasts are probabilistic and sane."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hydra.utils import instantiate
from omegaconf import OmegaConf

from forecasting.models.base import LocalForecaster
from forecasting.models.intermittent import Croston
from forecasting.models.local_fit import fit_predict
from forecasting.models.naive import SeasonalNaive
from forecasting.vocabulary.column_names import quantile_column

GLOBAL_KINDS = ("NeuralForecaster", "LightGBMForecaster", "LevelBooster", "ensemble.Ensemble")


def _composed_text(path: Path) -> str:
    """The YAML's text with the texts of the model YAMLs its Hydra defaults compose (lightgbm_direct: lightgbm)."""
    bases = [str(d).split("@")[0] for d in OmegaConf.load(path).get("defaults", []) if str(d) != "_self_"]
    return path.read_text() + "".join((path.parent / f"{base}.yaml").read_text() for base in bases)


MODEL_CONFIGS = [
    p
    for p in sorted((Path(__file__).parents[1] / "conf" / "model").glob("*.yaml"))
    # Global models and ensembles have their own tests (test_neural.py, test_global_models.py, test_level_boosting.py).
    if not any(kind in _composed_text(p) for kind in GLOBAL_KINDS)
]
QUANTILES = [0.05, 0.1, 0.5, 0.9, 0.95]


def series(n=90, seed=1, zero_share=0.5):
    rng = np.random.default_rng(seed)
    y = rng.poisson(4, n) * (rng.random(n) > zero_share)
    return pd.Series(y.astype(float), index=pd.date_range("2024-01-01", periods=n, freq="D"))


@pytest.mark.parametrize("config", MODEL_CONFIGS, ids=lambda p: p.stem)
def test_each_model_config_fits_and_predicts(config):
    ((name, cfg),) = OmegaConf.load(config).items()
    model = instantiate(cfg).with_season(6)
    assert isinstance(model, LocalForecaster)
    f = model.fit(series()).predict(14, 100, np.random.default_rng(0))
    assert f.mean.shape == (14,) and f.paths.shape == (100, 14)
    assert (f.paths >= 0).all() and (f.mean >= 0).all()
    # A probabilistic forecast: the paths spread, and their centre is near the point forecast.
    assert f.paths.std() > 0
    assert abs(f.paths.mean() - f.mean.mean()) < 1.5 * max(f.mean.mean(), 0.5)


def test_seasonal_naive_repeats_last_season_and_widens():
    y = pd.Series([1, 2, 3, 4, 5, 6] * 10, dtype=float)
    noisy = y + np.random.default_rng(1).integers(-1, 2, 60)
    m = SeasonalNaive(season_length=6).fit(noisy)
    f = m.predict(12, 2000, np.random.default_rng(0))
    assert f.mean.tolist() == noisy.iloc[-6:].tolist() * 2
    spread = f.paths.std(axis=0)
    assert spread[6:].mean() > spread[:6].mean()  # two seasons ahead is less certain than one


def test_croston_sba_by_hand():
    # Demands 4 then 6 after a gap of 2: size 4 + .1*(6-4) = 4.2; interval 1 + .1*(2-1) = 1.1
    y = pd.Series([4.0, 0.0, 6.0])
    m = Croston(variant="sba", alpha=0.1, beta=0.1).fit(y)
    assert m.rate_ == pytest.approx((1 - 0.05) * 4.2 / 1.1)
    f = m.predict(5, 20000, np.random.default_rng(0))
    assert f.paths.mean() == pytest.approx(m.rate_, rel=0.05)
    # Days sell as often as the recent sales did: 2 sales in the 3 days since the first.
    assert (f.paths >= 0).all() and (f.paths == 0).mean() == pytest.approx(1 - 2 / 3, abs=0.01)


def test_croston_tsb_decays_after_last_sale():
    quiet = Croston(variant="tsb").fit(pd.Series([5.0] * 10 + [0.0] * 30)).rate_
    busy = Croston(variant="tsb").fit(pd.Series([5.0] * 40)).rate_
    assert quiet < 0.25 * busy


class Exploding(LocalForecaster):
    def fit(self, y):
        raise np.linalg.LinAlgError("singular matrix")

    def predict(self, horizon, num_samples, rng):  # pragma: no cover - never reached
        raise AssertionError


def test_failed_fit_falls_back_to_seasonal_naive_and_is_recorded():
    y = series()
    dates = pd.date_range(y.index[-1] + pd.Timedelta(days=1), periods=7)
    res = fit_predict(
        "s1", y, dates, {"bad": Exploding()}, SeasonalNaive(season_length=6), QUANTILES, 50, seed=0
    )
    assert res.rows["fallback"].all() and len(res.rows) == 7
    assert res.failures == [{"sku": "s1", "model": "bad", "error": "LinAlgError: singular matrix"}]
    assert res.rows["mean"].tolist() == (y.iloc[-6:].tolist() + y.iloc[-6:].tolist())[:7]


def test_quantiles_are_non_decreasing_and_seeded():
    y = series()
    dates = pd.date_range("2025-01-01", periods=10)
    models = {"naive": SeasonalNaive(season_length=6), "sba": Croston()}
    a = fit_predict("s1", y, dates, models, SeasonalNaive(season_length=6), QUANTILES, 200, seed=7).rows
    b = fit_predict("s1", y, dates, models, SeasonalNaive(season_length=6), QUANTILES, 200, seed=7).rows
    pd.testing.assert_frame_equal(a, b)
    q = a[[quantile_column(x) for x in QUANTILES]].to_numpy()
    assert (np.diff(q, axis=1) >= 0).all()


def test_a_diverged_forecast_falls_back_and_says_why():
    from forecasting.models.base import Forecast
    from forecasting.models.local_fit import safe_forecast

    class Exploding(SeasonalNaive):
        def predict(self, horizon, num_samples, rng):
            return Forecast(mean=np.full(horizon, 1e10), paths=np.full((num_samples, horizon), 1e10))

    y = series()
    forecast, error = safe_forecast("S", y, 14, Exploding(season_length=6), SeasonalNaive(season_length=6), 50, 0)
    assert error.startswith("FloatingPointError: the forecast diverged")
    assert forecast.mean.max() <= y.max()  # the fallback's forecast stands in


def test_sample_quantiles_match_numpy_on_every_axis():
    # Forecast tables take quantiles of sample paths with sample_quantiles; they must be numpy's linear quantiles.
    from forecasting.models.base import sample_quantiles

    rng = np.random.default_rng(3)
    levels = [0.05, 0.1, 0.5, 0.9, 0.95]
    paths = rng.gamma(0.5, 4.0, size=(7, 200, 30))
    paths[0, :, 0] = 0.0  # ties, as intermittent paths have
    np.testing.assert_allclose(sample_quantiles(paths, levels, axis=1), np.quantile(paths, levels, axis=1))
    np.testing.assert_allclose(sample_quantiles(paths[2], levels, axis=0), np.quantile(paths[2], levels, axis=0))
