"""Answers kept per plan: a repeated request is sent from memory, before routing and parameter validation.

A plan never changes once published, so an answer about it stays right until the next plan is served. The
cache lives in the served Snapshot object: a new plan starts with an empty one, and no answer about one run can
be sent while another is served. FastAPI's per-request parameter handling costs more than the lookup it
guards (about 100 us of the ~250 a page took on one core), which decides p99 at 100 concurrent clients.

Only successful GET answers about the plan are kept; history (the warehouse) and errors never are. The key is
the path, the raw query string and whether the client asked for CSV, all that an answer depends on once the
bearer token (checked before this) is right.
"""

from __future__ import annotations

from forecasting.serving.plans import PlanHolder
from forecasting.serving.render import accepts_csv

MAX_BODY = 1 << 20  # larger answers (a CSV of the whole plan) are rendered each time
MAX_BYTES = 256 << 20  # per plan: every SKU's answers of a 10,000-SKU plan; then new answers are not kept
CACHED_PREFIXES = ("/skus/", "/plan", "/orders", "/exceptions", "/leaderboard", "/latest")


class ResponseCache:
    def __init__(self, app, holder: PlanHolder) -> None:
        self.app = app
        self.holder = holder

    async def __call__(self, scope, receive, send) -> None:
        snap = self.holder.snapshot
        if scope["type"] != "http" or scope["method"] != "GET" or snap is None:
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        if not path.startswith(CACHED_PREFIXES):
            await self.app(scope, receive, send)
            return
        accept = next((v for k, v in scope["headers"] if k == b"accept"), b"")
        key = (path, scope["query_string"], accepts_csv(accept.decode("latin-1")))
        cache = snap.responses
        hit = cache.get(key)
        if hit is not None:
            await send(hit[0])
            await send(hit[1])
            return
        sent: list[dict] = []

        async def keep(message) -> None:
            sent.append(message)
            await send(message)

        await self.app(scope, receive, keep)
        if (
            len(sent) == 2
            and sent[0].get("status") == 200
            and not sent[1].get("more_body")
            and self.holder.snapshot is snap  # answered from this plan, not one swapped in meanwhile
        ):
            size = len(sent[1].get("body", b""))
            # A bound on bytes, not entries: distinct pages of 1,000 rows could otherwise fill the memory.
            if size <= MAX_BODY and snap.extras.get("cached_bytes", 0) + size <= MAX_BYTES:
                cache[key] = (sent[0], sent[1])
                snap.extras["cached_bytes"] = snap.extras.get("cached_bytes", 0) + size
