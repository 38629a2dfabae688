"""Bearer-token check and the API's errors: JSON with a status and one sentence, never a traceback.

The token check is plain ASGI middleware rather than a FastAPI dependency: it runs before routing, so an
unknown path is 401 too (no probing which endpoints exist), and it costs a header scan instead of a
dependency resolution on every request of a hot endpoint.
"""

from __future__ import annotations

import hmac

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from forecasting.serving.render import BASE_HEADERS, JSON, error_body

#: what the router's own errors say instead of "Not Found"
SENTENCES = {
    404: "no such endpoint; the endpoints are listed in the OpenAPI document at /openapi.json.",
    405: "this endpoint answers GET only.",
}


class BearerAuth:
    """Refuse every request without `Authorization: Bearer <token>`, except on `open_paths`."""

    def __init__(self, app, token: str, open_paths: frozenset[str]) -> None:
        self.app = app
        self.expected = token.encode()
        self.open_paths = open_paths

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or scope["path"] in self.open_paths:
            await self.app(scope, receive, send)
            return
        given = b""
        for name, value in scope["headers"]:
            if name == b"authorization":
                scheme, _, credentials = value.partition(b" ")
                if scheme.lower() == b"bearer":
                    given = credentials.strip()
                break
        # Constant time, so the token cannot be guessed from how long a refusal takes.
        if given and hmac.compare_digest(given, self.expected):
            await self.app(scope, receive, send)
            return
        body = error_body(401, "a bearer token is required: send the header 'Authorization: Bearer <token>'.")
        headers = [(b"content-type", JSON.encode()), (b"www-authenticate", b"Bearer")]
        headers += [(k.encode(), v.encode()) for k, v in BASE_HEADERS.items()]
        headers.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": 401, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def error(status: int, sentence: str, headers: dict | None = None) -> Response:
    return Response(error_body(status, sentence), status_code=status, media_type=JSON, headers=headers)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        detail = exc.detail if isinstance(exc.detail, str) and exc.detail.endswith(".") else None
        return error(exc.status_code, detail or SENTENCES.get(exc.status_code, "the request was refused."), exc.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        # Only where and what: pydantic's message, never the value sent (it may be hostile or a secret).
        first = (exc.errors() or [{}])[0]
        where = " ".join(str(p) for p in first.get("loc", ()) if p not in ("query", "path"))
        message = str(first.get("msg", "is not valid")).rstrip(".")
        return error(422, f"parameter {where or 'value'}: {message[:1].lower()}{message[1:]}.")

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        # Starlette re-raises it after this answer is sent, and uvicorn logs the traceback to the run's log.
        return error(500, "the server met an unexpected error; the server's log has the details.")


def secure_openapi(app: FastAPI, open_paths: frozenset[str]) -> None:
    """The OpenAPI document declares the bearer scheme for every operation but the open ones."""

    def schema() -> dict:
        if app.openapi_schema:
            return app.openapi_schema
        doc = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
        doc.setdefault("components", {})["securitySchemes"] = {"bearer": {"type": "http", "scheme": "bearer"}}
        doc["security"] = [{"bearer": []}]
        for path, operations in doc.get("paths", {}).items():
            if path in open_paths:
                for operation in operations.values():
                    operation["security"] = []
        app.openapi_schema = doc
        return doc

    app.openapi = schema
