"""Per-SKU answers: JSON assembled from pieces rendered when the plan loaded, and all of them put in the answer
cache before the plan is served (the per-SKU endpoints are the ones a system calls for every SKU)."""

from __future__ import annotations

from fastapi.responses import Response

from forecasting.serving import render
from forecasting.serving.cache import MAX_BYTES
from forecasting.serving.security import error
from forecasting.serving.sku_paths import canonical
from forecasting.serving.snapshot import Snapshot


def sku_body(snap: Snapshot, sku: str, *parts: tuple[bytes, bytes]) -> bytes:
    """{"run_id": ..., "sku": ..., <name>: <rendered JSON>, ...} from pieces rendered when the plan loaded."""
    out = [b"{", snap.header, b',"sku":', render.dumps(sku)]
    for name, body in parts:
        out += [b',"', name, b'":', body]
    out.append(b"}")
    return b"".join(out)


def sku_all_body(snap: Snapshot, sku: str) -> bytes:
    row = snap.row_of.get(sku)
    parts = [
        (b"plan", snap.plan_json[row] if row is not None else b"null"),
        (b"forecast", snap.forecast_json.get(sku) or b"[]"),
        *accuracy_parts(snap, sku),
    ]
    why = snap.extras.get("why_json", {}).get(sku)
    if why is not None:
        parts.append((b"why", why))
    return sku_body(snap, sku, *parts)


def forecast_body(snap: Snapshot, sku: str, days: bytes) -> bytes:
    return sku_body(snap, sku, (b"forecast", days))


def prerender(snap: Snapshot) -> None:
    """Every per-SKU JSON answer (the hot ones: a system asks them for every SKU after each publication) put in
    the answer cache before the plan is served, so the first request of each is as fast as the next."""
    used = 0
    why = snap.extras.get("why_json", {})
    for sku in snap.row_of.keys() | snap.forecast_json.keys():
        # The answers the endpoints give, for exactly the SKUs they answer 200 for.
        # Keyed as the cache looks them up: the canonical path of (SKU, part) (forecasting.serving.sku_paths).
        bodies = {
            canonical(sku): sku_all_body(snap, sku),
            canonical(sku, "accuracy"): sku_body(snap, sku, *accuracy_parts(snap, sku)),
        }
        if sku in snap.forecast_json:
            bodies[canonical(sku, "forecast")] = forecast_body(snap, sku, snap.forecast_json[sku])
        if sku in snap.row_of:
            bodies[canonical(sku, "plan")] = sku_body(snap, sku, (b"plan", snap.plan_json[snap.row_of[sku]]))
        if sku in why:
            bodies[canonical(sku, "why")] = sku_body(snap, sku, (b"why", why[sku]))
        for path, body in bodies.items():
            response = render.json_response(body, snap.run_id)
            used += len(response.body)
            if used > MAX_BYTES // 2:  # a plan too large to hold twice: the rest is rendered when asked
                snap.extras["cached_bytes"] = used
                return
            start = {"type": "http.response.start", "status": 200, "headers": response.raw_headers}
            snap.responses[(path, b"", False)] = (start, {"type": "http.response.body", "body": response.body})
    snap.extras["cached_bytes"] = used


def accuracy_parts(snap: Snapshot, sku: str) -> list[tuple[bytes, bytes]]:
    return [(b"accuracy", snap.accuracy_json.get(sku, b"[]"))]


def no_sku(snap: Snapshot, sku: str) -> Response:
    # The code is not repeated back: it may be a script or a formula meant for whoever displays the error.
    return error(404, f"no such SKU in run {snap.run_id}; /plan lists the SKUs of this plan.")
