"""The paginated lists of the served plan (`/plan`, `/orders`, `/exceptions`) and a fast path for them.

A filtered page is cheap to answer from the plan in memory (a few boolean ANDs over masks built when the plan
loaded, then rows rendered once per plan joined), about 0.1 ms; FastAPI's parameter handling around it cost
twice to three times that, and a page asked for the first time (a new filter, offset or page size) cannot come
from the answer cache. At 100 concurrent clients on two cores that set the p99 (77.5 ms, benchmarks/README.md).
So `FastPages` answers a list query whose every parameter is plainly valid (known names, each once, numbers in
range, text within the limit) itself, with the same functions the endpoints call; anything else, an error
included, goes on to FastAPI, which stays the reference for validation, its error sentences and the OpenAPI
document. Both answer the same query with the same bytes (tests/test_serve.py checks).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from urllib.parse import unquote

import numpy as np
import pandas as pd
from fastapi.responses import Response

from forecasting.serving import render
from forecasting.serving.plans import PlanHolder
from forecasting.serving.snapshot import Snapshot

TEXT_LIMIT = 200  # characters of a SKU code or filter value: longer is no code of any plan
MAX_OFFSET = 10**9
MAX_SELECTED_BYTES = 32 << 20  # row arrays of filter combinations kept per plan
#: per list, its filters as the endpoint names them -> the plan's filter (Snapshot.masks) they select on
FILTERS = {
    "/plan": {"segment": "segment", "abc": "abc", "demand_class": "demand_class", "model": "model",
              "exception": "exception"},
    "/orders": {"segment": "segment", "abc": "abc", "model": "model", "exception": "exception"},
    "/exceptions": {"code": "exception", "segment": "segment", "model": "model"},
}  # fmt: skip
NAMES = {"/plan": "plan", "/orders": "orders", "/exceptions": "exceptions"}
COUNT = re.compile(r"[0-9]{1,10}")
DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


@dataclass(frozen=True)
class Query:
    """One list query, validated: filter values by the plan's filter names, the page, and the format."""

    path: str
    filters: dict
    limit: int | None = None
    offset: int = 0
    fmt: str | None = None
    order_by_until: date | None = None


def selected(snap: Snapshot, query: Query) -> np.ndarray:
    """The plan rows a list query selects, in the list's order; kept per plan for each filter combination (a
    plan has few: segments x codes), so the next page of the same selection is a slice."""
    key = (query.path, tuple(query.filters.items()), query.order_by_until)
    kept = snap.extras.setdefault("selections", {})
    rows = kept.get(key)
    if rows is None:
        rows = _select(snap, query)
        used = snap.extras.get("selected_bytes", 0) + rows.nbytes
        if used <= MAX_SELECTED_BYTES:  # bounded whatever combinations clients ask for
            kept[key] = rows
            snap.extras["selected_bytes"] = used
    return rows


def _select(snap: Snapshot, query: Query) -> np.ndarray:
    base = {"/plan": None, "/orders": snap.order_rows, "/exceptions": snap.exception_rows}[query.path]
    keep = np.ones(len(snap.plan), dtype=bool)
    for name, value in query.filters.items():
        if value is not None:
            mask = snap.masks.get((name, value))
            if mask is None:
                return np.empty(0, dtype=np.int64)  # a value no row has: an empty page, not an error
            keep = keep & mask
    rows = np.flatnonzero(keep) if base is None else base[keep[base]]
    if query.order_by_until is not None:
        due = snap.order_by[rows]
        rows = rows[~pd.isna(due) & (due <= np.datetime64(query.order_by_until, "ns"))]
    return rows


def answer(snap: Snapshot, query: Query, csv: bool, page_size: int) -> Response:
    """The page of the list query: JSON (total, offset, limit, next_offset, items) or CSV of its rows."""
    if csv:
        chosen = page_rows(snap, query, page_size)[0]
        name = f"{NAMES[query.path]}-{snap.run_id}"
        return render.csv_response(snap.plan.iloc[chosen], name, snap.run_id)
    return render.json_response(json_page(snap, query, page_size), snap.run_id)


def page_rows(snap: Snapshot, query: Query, page_size: int) -> tuple[np.ndarray, int, int]:
    """The page's plan rows, the total the query selects and the page size."""
    rows = selected(snap, query)
    size = query.limit or page_size
    return rows[query.offset : query.offset + size], len(rows), size


def json_page(snap: Snapshot, query: Query, page_size: int) -> bytes:
    chosen, total, size = page_rows(snap, query, page_size)
    offset = query.offset
    nxt = str(offset + size) if offset + size < total else "null"
    head = f',"total":{total},"offset":{offset},"limit":{size},"next_offset":{nxt},"items":['.encode()
    return b"{" + snap.header + head + b",".join([snap.plan_json[i] for i in chosen]) + b"]}"


def parse(path: str, query_string: bytes, max_page_size: int) -> Query | None:
    """The query when every parameter is plainly valid, else None (FastAPI then validates and answers)."""
    filters = FILTERS.get(path)
    if filters is None:
        return None
    pairs = _pairs(query_string)
    if pairs is None:
        return None
    given = dict(pairs)
    if len(given) != len(pairs):
        return None  # a name given twice: FastAPI's rule (the last one) decides
    values: dict = {f: None for f in filters.values()}
    out: dict = {}
    for key, value in given.items():
        if not value:
            return None
        if key in filters and len(value) <= TEXT_LIMIT:
            values[filters[key]] = value
        elif key == "limit" and COUNT.fullmatch(value) and 1 <= int(value) <= max_page_size:
            out["limit"] = int(value)
        elif key == "offset" and COUNT.fullmatch(value) and int(value) <= MAX_OFFSET:
            out["offset"] = int(value)
        elif key == "format" and value in ("json", "csv"):
            out["fmt"] = value
        elif key == "order_by_until" and path == "/orders" and DAY.fullmatch(value):
            try:
                out["order_by_until"] = date.fromisoformat(value)
            except ValueError:
                return None
        else:
            return None
    return Query(path=path, filters=values, **out)


def _pairs(query_string: bytes) -> list[tuple[str, str]] | None:
    """name=value pairs as Starlette reads them (latin-1 bytes, "+" as a space, percent-escapes as UTF-8), in a
    quarter of parse_qsl's time; None for anything but plain name=value pairs."""
    if not query_string:
        return []
    out = []
    for part in query_string.decode("latin-1").split("&"):
        name, eq, value = part.partition("=")
        if not eq:
            return None
        if "%" in part or "+" in part:
            name, value = unquote(name.replace("+", " ")), unquote(value.replace("+", " "))
        out.append((name, value))
    return out


class FastPages:
    """ASGI middleware: answers plainly valid list queries about the served plan before FastAPI's routing."""

    def __init__(self, app, holder: PlanHolder, page_size: int, max_page_size: int) -> None:
        self.app = app
        self.holder = holder
        self.page_size = page_size
        self.max_page_size = max_page_size

    async def __call__(self, scope, receive, send) -> None:
        snap = self.holder.snapshot
        query = None
        if scope["type"] == "http" and scope["method"] == "GET" and snap is not None:
            query = parse(scope["path"], scope["query_string"], self.max_page_size)
        if query is None:
            await self.app(scope, receive, send)
            return
        if query.fmt:
            csv = query.fmt == "csv"
        else:
            accept = next((v for k, v in scope["headers"] if k == b"accept"), b"")
            csv = render.accepts_csv(accept.decode("latin-1"))
        if csv:
            await answer(snap, query, csv, self.page_size)(scope, receive, send)
            return
        # The JSON page as two ASGI messages: a Response object's header handling is a fifth of the answer's time.
        body = json_page(snap, query, self.page_size)
        headers = render.json_headers(len(body), snap.run_id)
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})
