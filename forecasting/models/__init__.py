"""Forecasters. Per-SKU ("local") models share `LocalForecaster`; each is built from `conf/model/*.yaml`."""

from forecasting.models.base import Forecast, LocalForecaster

__all__ = ["Forecast", "LocalForecaster"]
