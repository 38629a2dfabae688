"""Demand forecasting for e-commerce: raw sales to backtested probabilistic forecasts and inventory plans.

Library code takes plain arguments and DataFrames; only `forecasting.pipeline` reads Hydra configs.
"""

__version__ = "0.1.0"
