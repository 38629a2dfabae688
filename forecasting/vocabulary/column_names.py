"""Names of quantile columns: forecast tables hold daily quantiles (`p90`), cover records quantiles of sums
over a window (`q90`); one spelling, so every table that is joined or charted finds the other's columns."""

from __future__ import annotations

import re


def quantile_column(q: float) -> str:
    """The forecast-table column of quantile `q`: 'p' + percent (0.05 -> 'p5', 0.025 -> 'p2.5')."""
    return f"p{round(q * 100, 6):g}"


def sum_quantile_column(q: float) -> str:
    """A cover record's column of the window sum's quantile `q`: 'q' + percent (0.95 -> 'q95')."""
    return f"q{round(q * 100, 6):g}"


def sum_quantile_level(column: str) -> float:
    """The level of a cover record's quantile column (sum_quantile_column's inverse: 'q95' -> 0.95)."""
    return float(column[1:]) / 100


def band_columns(columns) -> tuple[str, str] | None:
    """The p10-p90 band when the run has those quantiles, else the widest central interval it has."""
    qs = sorted(float(c[1:]) for c in columns if re.fullmatch(r"p\d+(\.\d+)?", c))
    if 10.0 in qs and 90.0 in qs:
        return "p10", "p90"
    pairs = [(lo, 100 - lo) for lo in qs if lo < 50 and (100 - lo) in qs]
    if not pairs:
        return None
    lo, hi = pairs[0]
    return f"p{lo:g}", f"p{hi:g}"
