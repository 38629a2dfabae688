"""Top features of a gradient-boosted forecast by SHAP value (shap's TreeExplainer, exact for tree ensembles).

Input: the fitted booster (an `lightgbm.LGBMRegressor`, e.g. `MLForecast.models_["lgb"]`) and the feature rows
it predicted from, with a `sku` column beside the features (mlforecast hands each recursive step's rows to a
`before_predict_callback`). Output: per SKU, the features that moved its forecast most away from the booster's
average prediction, with the signed contribution summed over its rows, in the booster's output units (for the
project's global boosters: the SKU's mean-scaled demand).

The run does not keep its boosters yet, so the API and the report say so instead of showing drivers; this is the
piece they call once a run saves the final booster and its prediction rows.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def shap_values(booster, features: pd.DataFrame) -> np.ndarray:
    """One SHAP value per row and feature; rows' values plus the expected value give the booster's output."""
    import shap  # about a second to import: only when there is a booster to explain

    return np.asarray(shap.TreeExplainer(booster).shap_values(features))


def top_drivers(booster, rows: pd.DataFrame, k: int = 5) -> pd.DataFrame:
    """sku, rank, feature, contribution (summed SHAP value over the SKU's rows), share (of the SKU's total
    absolute contribution): the `k` largest by absolute contribution per SKU."""
    features = rows.drop(columns=["sku"])
    values = pd.DataFrame(shap_values(booster, features), columns=features.columns)
    values["sku"] = rows["sku"].astype(str).to_numpy()
    long = values.groupby("sku").sum().stack().rename("contribution").reset_index()
    long.columns = ["sku", "feature", "contribution"]
    long["size"] = long["contribution"].abs()
    long["share"] = long["size"] / long.groupby("sku")["size"].transform("sum").replace(0, np.nan)
    long = long.sort_values(["sku", "size"], ascending=[True, False], kind="stable")
    long["rank"] = long.groupby("sku").cumcount() + 1
    return long.loc[long["rank"] <= k, ["sku", "rank", "feature", "contribution", "share"]].reset_index(drop=True)


def drivers_sentence(drivers: pd.DataFrame) -> str:
    """'promo +3.1 (62%), lag_7 +0.9 (18%), ...' for one SKU's rows of `top_drivers`."""
    parts = [f"{r.feature} {r.contribution:+.3g} ({r.share:.0%})" for r in drivers.itertuples(index=False)]
    return "Top drivers by SHAP value: " + ", ".join(parts) + "." if parts else "No driver stands out."
