"""A fingerprint of the prepared demand panel: what the scheduled reforecast planned from.

The data's last date and the config do not identify the data: another catalogue, or restated history, can end on
the same day under the same `data.path`. The fingerprint hashes every value a plan is computed from (SKU, date,
demand and the covariates), row by row, so any such change gives another fingerprint. `filled` is left out: it
says whether a zero came from a row of the file or from a missing one, which changes no forecast.
"""

from __future__ import annotations

import hashlib

import pandas as pd

# Panel columns that are bookkeeping, not data a forecast reads.
NOT_DATA = ("filled",)


def panel_fingerprint(panel: pd.DataFrame) -> str:
    """16 hex digits of SHA-256 over the panel's data columns (names, then each row's hash, in panel order).

    pandas hashes the columns vectorised (about a second for 20 million rows), cheap next to the backtest.
    """
    columns = sorted(c for c in panel.columns if c not in NOT_DATA)
    digest = hashlib.sha256(",".join(columns).encode())
    frame = panel[columns].astype({"sku": str}) if "sku" in columns else panel[columns]
    digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return digest.hexdigest()[:16]
