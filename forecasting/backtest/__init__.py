"""Rolling-origin backtests of forecasters, their metrics and the leaderboard."""
