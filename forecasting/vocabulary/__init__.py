"""The shared table vocabulary: the ground floor every floor of the package may import.

What a forecast, backtest or cover table's columns are called (`p90`, `q95`), how demand over a window of calendar
days is taken from sample paths, where an actual falls among them, and how text columns travel as codes. It
imports nothing else of the package, so `models/`, `backtest/`, `planning/` and `reports/` agree on it without
importing each other.
"""
