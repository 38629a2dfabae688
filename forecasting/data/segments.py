"""Per-SKU segments: ABC by revenue (or volume) and the Syntetos-Boylan demand class.

Syntetos, Boylan & Croston (2005): ADI is the average interval between non-zero demands (periods over
non-zero periods), CV2 the squared coefficient of variation of the non-zero sizes; cut-offs 1.32 and 0.49.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

DEMAND_CLASSES = ("smooth", "erratic", "intermittent", "lumpy")


def abc_classes(value: pd.Series, a_share: float = 0.8, b_share: float = 0.95) -> pd.Series:
    """A for the SKUs that make up the first `a_share` of total value, B up to `b_share`, C the rest."""
    ordered = value.sort_values(ascending=False, kind="stable")
    total = ordered.sum()
    before = (ordered.cumsum() - ordered) / total if total > 0 else pd.Series(0.0, index=ordered.index)
    labels = np.where(before < a_share, "A", np.where(before < b_share, "B", "C"))
    return pd.Series(labels, index=ordered.index).reindex(value.index)


def adi_cv2(demand: np.ndarray) -> tuple[float, float]:
    """ADI and CV2 of one series on the trading-day axis (ADI is inf when it never sold)."""
    demand = np.asarray(demand, dtype=float)
    sizes = demand[demand > 0]
    if len(sizes) == 0:
        return float("inf"), float("nan")
    adi = len(demand) / len(sizes)
    cv2 = float((sizes.std(ddof=1) / sizes.mean()) ** 2) if len(sizes) > 1 else 0.0
    return float(adi), cv2


def demand_class(adi: float, cv2: float, adi_cut: float = 1.32, cv2_cut: float = 0.49) -> str:
    if not np.isfinite(adi):
        return "lumpy"
    if adi < adi_cut:
        return "smooth" if cv2 < cv2_cut else "erratic"
    return "intermittent" if cv2 < cv2_cut else "lumpy"


def segment_skus(
    panel: pd.DataFrame,
    a_share: float = 0.8,
    b_share: float = 0.95,
    adi_cut: float = 1.32,
    cv2_cut: float = 0.49,
) -> pd.DataFrame:
    """One row per SKU: value (revenue, or units without price), abc, adi, cv2, demand_class, segment."""
    by_sku = panel.groupby("sku", observed=True, sort=True)
    value_col = "revenue" if "revenue" in panel else "demand"
    out = pd.DataFrame({"value": by_sku[value_col].sum(), "units": by_sku["demand"].sum()})
    out["value_basis"] = value_col
    stats = by_sku["demand"].apply(lambda s: adi_cv2(s.to_numpy()))
    out["adi"] = [s[0] for s in stats]
    out["cv2"] = [s[1] for s in stats]
    out["abc"] = abc_classes(out["value"], a_share, b_share)
    out["demand_class"] = [demand_class(a, c, adi_cut, cv2_cut) for a, c in zip(out["adi"], out["cv2"], strict=True)]
    out["segment"] = out["abc"] + "-" + out["demand_class"]
    return out.reset_index()
