"""Response bodies: JSON (NaN as null, dates as ISO text) and CSV safe to open in a spreadsheet.

CSV text cells go through the run files' formula guard (forecasting.storage.formula_guard): a SKU code or
description such as `=HYPERLINK(...)` arrives in a planner's Excel as text, never as a formula, and
`forecasting.storage.read_csv` reads it back as it was.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from datetime import date, datetime

import numpy as np
import pandas as pd
from fastapi import Request
from fastapi.responses import Response

from forecasting.storage.formula_guard import neutralise_frame

JSON = "application/json"
CSV = "text/csv; charset=utf-8"
# Every answer is about one plan or the warehouse now: a cache in between must not keep a replaced plan.
BASE_HEADERS = {"cache-control": "no-store", "x-content-type-options": "nosniff"}


def plain(value):
    """A value json.dumps writes: numpy scalars as Python numbers, NaN/NaT as null, dates as ISO text."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or value is pd.NaT or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, float) and math.isinf(value):
        return None
    if isinstance(value, pd.Timestamp | datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return value


def dumps(obj) -> bytes:
    return json.dumps(plain(obj), separators=(",", ":")).encode()


def frame_json(frame: pd.DataFrame) -> bytes:
    if frame is None or frame.empty:
        return b"[]"
    return frame.to_json(orient="records", date_format="iso", double_precision=10).encode()


def csv_bytes(frame: pd.DataFrame) -> bytes:
    buffer = io.StringIO()
    neutralise_frame(frame).to_csv(buffer, index=False, quoting=csv.QUOTE_NONNUMERIC)
    return buffer.getvalue().encode()


def wants_csv(request: Request, fmt: str | None) -> bool:
    """`?format=csv`, or an Accept header that asks for CSV and not for JSON (`?format` wins)."""
    if fmt:
        return fmt == "csv"
    return accepts_csv(request.headers.get("accept", ""))


def accepts_csv(accept: str) -> bool:
    """An Accept header asks for CSV when it names text/csv and not JSON (the answer cache keys on this too)."""
    return "text/csv" in accept and JSON not in accept


def json_response(body: bytes, run_id: str | None = None, status: int = 200) -> Response:
    headers = dict(BASE_HEADERS)
    if run_id:
        headers["x-run-id"] = run_id
    return Response(body, status_code=status, media_type=JSON, headers=headers)


def json_headers(length: int, run_id: str | None = None) -> list[tuple[bytes, bytes]]:
    """The headers of `json_response` as ASGI pairs, for an answer sent without building a Response (~20 us)."""
    headers = [(b"content-length", str(length).encode()), (b"content-type", JSON.encode())]
    headers += [(k.encode(), v.encode()) for k, v in BASE_HEADERS.items()]
    if run_id:
        headers.append((b"x-run-id", run_id.encode("latin-1")))
    return headers


def csv_response(frame: pd.DataFrame, name: str, run_id: str | None = None) -> Response:
    headers = dict(BASE_HEADERS)
    # Only safe characters reach the header: the name is built from run ids and fixed words, but say so here.
    headers["content-disposition"] = f'attachment; filename="{re.sub(r"[^A-Za-z0-9._-]", "_", name)}.csv"'
    if run_id:
        headers["x-run-id"] = run_id
    return Response(csv_bytes(frame), media_type=CSV, headers=headers)


def error_body(status: int, sentence: str) -> bytes:
    return dumps({"status": status, "error": sentence})
