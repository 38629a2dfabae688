"""Why a SKU's forecast and plan are what they are: the forecast's components, and what moved since the last plan."""

from forecasting.explain.components import components_sentence, forecast_components
from forecasting.explain.moved import what_moved
from forecasting.explain.per_sku import explain_skus

__all__ = ["components_sentence", "explain_skus", "forecast_components", "what_moved"]
