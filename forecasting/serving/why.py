"""`why` for every SKU of a served plan, rendered once when the plan loads (forecasting.explain builds it)."""

from __future__ import annotations

import os
from collections.abc import Callable

from forecasting.explain import explain_skus
from forecasting.serving.render import dumps
from forecasting.serving.snapshot import Snapshot


def explainer(warehouse: str | os.PathLike) -> Callable[[Snapshot], None]:
    def enrich(snap: Snapshot) -> None:
        why = explain_skus(snap.plan, snap.forecast, snap.run_dir, warehouse, snap.run_id, snap.data_cutoff)
        snap.extras["why_json"] = {sku: dumps(body) for sku, body in why.items()}

    return enrich
