"""Which SKU and which part of it a `/skus/...` path asks for, read from the path as the client sent it.

The server decodes %2F to "/" before routing, so `/skus/X%2Fforecast` (the SKU "X/forecast") and
`/skus/X/forecast` (SKU X's forecast) would reach the router, and the answer cache, as the same path. Here the
raw path decides: only a literal "/" separates the code from a part's name (forecast, plan, accuracy, why); a
code's own slashes travel as %2F. So every code is addressable, whatever it ends in, by percent-encoding it
(`urllib.parse.quote(code, safe="")`), and a code with an unencoded slash still works as before unless it ends
in a part's name. The path is then rewritten to one canonical form per (SKU, part), `/skus/<quoted code>/<part>`,
which the router matches and the answer cache keys on; the endpoints unquote the code (`code`).
"""

from __future__ import annotations

from urllib.parse import quote, unquote, unquote_to_bytes

PREFIX = "/skus/"
PARTS = ("forecast", "plan", "accuracy", "why")


def canonical(sku: str, part: str = "") -> str:
    """The path the router sees for one SKU's `part` ("" for the whole answer)."""
    return PREFIX + quote(sku, safe="") + (f"/{part}" if part else "")


def code(quoted: str) -> str:
    """The SKU code from the router's path parameter (what `canonical` quoted)."""
    return unquote(quoted, errors="replace")


def resolve(raw_path: bytes) -> tuple[str, str] | None:
    """(sku, part) of a raw `/skus/...` path, or None for any other path."""
    if not raw_path.startswith(PREFIX.encode()):
        return None
    rest = raw_path[len(PREFIX) :]
    head, slash, last = rest.rpartition(b"/")
    if slash and last.decode("latin-1") in PARTS:
        return _decoded(head), last.decode()
    return _decoded(rest), ""


def _decoded(raw: bytes) -> str:
    # Percent-escapes and any raw bytes alike are UTF-8; what is not becomes U+FFFD, a code no plan has (404).
    return unquote_to_bytes(raw).decode("utf-8", errors="replace")


class SkuPaths:
    """ASGI middleware: rewrites `/skus/...` paths to their canonical form before the cache and the router."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(PREFIX):
            # Without raw_path (a server that does not send it) the decoded path is the best there is.
            found = resolve(scope.get("raw_path") or scope["path"].encode())
            if found is not None:
                scope = {**scope, "path": canonical(*found)}
        await self.app(scope, receive, send)
