"""Optuna tuning through Hydra sweeps: search spaces with model constraints, resumable studies, best config.

This is glue between Hydra's Optuna sweeper and the pipeline, so (like `pipeline.py`) it knows about Hydra;
nothing else under `forecasting/` does.
"""
