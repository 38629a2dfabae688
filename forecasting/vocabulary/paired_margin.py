"""How clearly one candidate beats another on the same windows: the mean of their paired loss differences in
standard errors of that mean. One definition for the leaderboard's champion row and the plan's champion choice,
which both keep the overall best model unless a segment's own winner is clearly better on its own windows."""

from __future__ import annotations

import numpy as np

#: A segment's own winner replaces the overall best model only this many standard errors ahead of it: three models
#: within 1% of each other swap places from fold to fold, and choosing by such margins cost 2% RMSSE on the
#: bundled data.
MIN_MARGIN_SE = 2.0
#: A challenger better on every window alike is infinitely many standard errors ahead: tables cap it here (JSON and
#: CSV have no infinity).
MAX_MARGIN_SE = 99.0


def paired_margin(differences: np.ndarray) -> float:
    """mean / standard error of `differences` (loss of the overall model minus loss of the challenger, one per
    window both were scored on): inf where the challenger is better on every window alike, 0 with fewer than two."""
    d = np.asarray(differences, dtype=float)
    d = d[np.isfinite(d)]
    if len(d) < 2:
        return 0.0
    se = d.std(ddof=1) / np.sqrt(len(d))
    if se > 0:
        return float(d.mean() / se)
    return float(np.inf) if d.mean() > 0 else 0.0
