"""The HTTP API (`python run.py task=serve`): the published plan and the warehouse's history, read-only."""

from forecasting.serving.app import ApiSettings, create_app

__all__ = ["ApiSettings", "create_app"]
