"""The HTTP API over the published plan and the warehouse (FastAPI): read-only, JSON or CSV.

Every data endpoint answers from one in-memory plan (forecasting.serving.plans) or, for history, from one
read-only warehouse query with bound parameters (forecasting.serving.history). Nothing a client sends becomes
part of a file path or of SQL text: SKU codes and filters are dictionary keys and bound values.
"""

# No `from __future__ import annotations` here: FastAPI reads the endpoints' annotations at definition time, and
# the page-size limit is a local built from the settings.
import asyncio
import contextlib
import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Literal

from fastapi import FastAPI, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from forecasting.serving import history, pages, render
from forecasting.serving.cache import ResponseCache
from forecasting.serving.pages import TEXT_LIMIT, FastPages
from forecasting.serving.plans import PlanHolder
from forecasting.serving.security import BearerAuth, error, install_error_handlers, secure_openapi
from forecasting.serving.sku_answers import accuracy_parts, forecast_body, no_sku, prerender, sku_all_body, sku_body
from forecasting.serving.sku_paths import SkuPaths, code
from forecasting.serving.snapshot import NotPublished, Snapshot
from forecasting.storage.readonly import WarehouseUnavailable

log = logging.getLogger(__name__)

OPEN_PATHS = frozenset({"/health"})
DOCS_PATHS = frozenset({"/docs", "/docs/oauth2-redirect", "/openapi.json", "/redoc"})

Format = Annotated[
    Literal["json", "csv"] | None,
    Query(description="json or csv; without it, an Accept header of text/csv asks for CSV"),
]
Text = Annotated[str | None, Query(max_length=TEXT_LIMIT)]
Sku = Annotated[
    str,
    Path(
        max_length=3 * 4 * TEXT_LIMIT,  # percent-encoded UTF-8: up to 12 characters per character of a code
        description="the SKU code, percent-encoded (slashes in it as %2F: e.g. urllib.parse.quote(code, safe=''))",
    ),
]


@dataclass(frozen=True)
class ApiSettings:
    publish_dir: str | os.PathLike
    warehouse: str | os.PathLike
    token: str
    text_columns: Sequence[str]
    page_size: int = 100
    max_page_size: int = 1000
    poll_seconds: float = 1.0
    public_docs: bool = False


def create_app(settings: ApiSettings, enrich: Callable[[Snapshot], None] | None = None) -> FastAPI:
    def prepare(snap: Snapshot) -> None:
        if enrich is not None:
            try:
                enrich(snap)
            except Exception:  # noqa: BLE001 - the plan is served without its explanations rather than not at all
                log.exception("explaining run %s failed; serving its plan without `why`", snap.run_id)
        prerender(snap)

    holder = PlanHolder(settings.publish_dir, settings.text_columns, prepare)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        await asyncio.to_thread(holder.refresh)  # listening only once the plan is in memory
        watcher = asyncio.create_task(holder.watch(settings.poll_seconds))
        yield
        watcher.cancel()

    app = FastAPI(
        title="forecasting API",
        version="1",
        description="Forecasts, inventory plans and their history, as the scheduled reforecast published them.",
        lifespan=lifespan,
    )
    app.state.holder = holder
    open_paths = OPEN_PATHS | (DOCS_PATHS if settings.public_docs else frozenset())
    # Starlette runs the middleware added last first: the token is checked before a cached answer is sent.
    # Plainly valid list queries are answered before FastAPI's parameter handling (forecasting.serving.pages).
    app.add_middleware(FastPages, holder=holder, page_size=settings.page_size, max_page_size=settings.max_page_size)
    app.add_middleware(ResponseCache, holder=holder)
    app.add_middleware(SkuPaths)  # before the cache: it keys on the canonical path
    app.add_middleware(BearerAuth, token=settings.token, open_paths=open_paths)
    install_error_handlers(app)
    secure_openapi(app, OPEN_PATHS)
    Limit = Annotated[int | None, Query(ge=1, le=settings.max_page_size, description="rows per page")]
    Offset = Annotated[int, Query(ge=0, le=pages.MAX_OFFSET, description="rows to skip")]

    def plan_now() -> Snapshot:
        return holder.current()

    @app.get("/health", tags=["service"], summary="Whether the service is up and holds a plan (no token needed)")
    async def health() -> Response:
        ready = holder.snapshot is not None
        return render.json_response(render.dumps({"status": "ok" if ready else "waiting", "plan_loaded": ready}))

    @app.get("/latest", tags=["plan"], summary="The run served now and its data cut-off")
    async def latest() -> Response:
        snap = plan_now()
        models = sorted(snap.plan["model"].unique().tolist()) if "model" in snap.plan else []
        body = {**snap.info, "skus": len(snap.plan), "orders": len(snap.order_rows)}
        body.update({"exceptions": len(snap.exception_rows), "models": models})
        return render.json_response(render.dumps(body), snap.run_id)

    @app.get("/skus/{sku:path}/forecast", tags=["sku"], summary="One SKU's forecast: mean and quantiles by day")
    async def sku_forecast(request: Request, sku: Sku, format: Format = None) -> Response:
        snap, sku = plan_now(), code(sku)
        days = snap.forecast_json.get(sku)
        if days is None:
            return no_sku(snap, sku)
        if render.wants_csv(request, format):
            start, end = snap.forecast_span[sku]
            return render.csv_response(snap.forecast.iloc[start:end], f"forecast-{snap.run_id}", snap.run_id)
        return render.json_response(forecast_body(snap, sku, days), snap.run_id)

    @app.get("/skus/{sku:path}/plan", tags=["sku"], summary="One SKU's plan row: order, order-by date, exceptions")
    async def sku_plan(request: Request, sku: Sku, format: Format = None) -> Response:
        snap, sku = plan_now(), code(sku)
        row = snap.row_of.get(sku)
        if row is None:
            return no_sku(snap, sku)
        if render.wants_csv(request, format):
            return render.csv_response(snap.plan.iloc[[row]], f"plan-{snap.run_id}", snap.run_id)
        return render.json_response(sku_body(snap, sku, (b"plan", snap.plan_json[row])), snap.run_id)

    @app.get("/skus/{sku:path}/accuracy", tags=["sku"], summary="One SKU's backtest accuracy, per model")
    async def sku_accuracy(request: Request, sku: Sku, format: Format = None) -> Response:
        snap, sku = plan_now(), code(sku)
        if sku not in snap.row_of and sku not in snap.forecast_json:
            return no_sku(snap, sku)
        if render.wants_csv(request, format):
            rows = snap.accuracy[snap.accuracy["sku"] == sku] if "sku" in snap.accuracy else snap.accuracy
            return render.csv_response(rows, f"accuracy-{snap.run_id}", snap.run_id)
        return render.json_response(sku_body(snap, sku, *accuracy_parts(snap, sku)), snap.run_id)

    @app.get(
        "/skus/{sku:path}/why", tags=["sku"], summary="Why: the forecast's components, what moved since the last plan"
    )
    async def sku_why(sku: Sku) -> Response:
        snap, sku = plan_now(), code(sku)
        why = snap.extras.get("why_json", {}).get(sku)
        if why is None and sku not in snap.row_of:
            return no_sku(snap, sku)
        if why is None:
            return error(503, "the explanations of this plan could not be built; the server's log says why.")
        return render.json_response(sku_body(snap, sku, (b"why", why)), snap.run_id)

    @app.get("/skus/{sku:path}", tags=["sku"], summary="One SKU: plan row, forecast and backtest accuracy")
    async def sku_all(sku: Sku, format: Format = None) -> Response:
        snap, sku = plan_now(), code(sku)
        row = snap.row_of.get(sku)
        days = snap.forecast_json.get(sku)
        if row is None and days is None:
            return no_sku(snap, sku)
        if format == "csv":
            return error(406, "this endpoint answers in JSON; CSV is at /skus/{sku}/forecast, /plan and /accuracy.")
        return render.json_response(sku_all_body(snap, sku), snap.run_id)

    def listed(request: Request, query: pages.Query) -> Response:
        snap = plan_now()
        return pages.answer(snap, query, render.wants_csv(request, query.fmt), settings.page_size)

    @app.get("/plan", tags=["plan"], summary="Plan rows by SKU, filtered and paginated")
    async def plan(
        request: Request,
        segment: Text = None,
        abc: Text = None,
        demand_class: Text = None,
        model: Text = None,
        exception: Annotated[str | None, Query(max_length=TEXT_LIMIT, description="one exception code")] = None,
        limit: Limit = None,
        offset: Offset = 0,
        format: Format = None,
    ) -> Response:
        values = {"segment": segment, "abc": abc, "demand_class": demand_class, "model": model, "exception": exception}
        return listed(request, pages.Query("/plan", values, limit, offset, format))

    @app.get("/orders", tags=["plan"], summary="Orders to place, by order-by date, filtered and paginated")
    async def orders(
        request: Request,
        segment: Text = None,
        abc: Text = None,
        model: Text = None,
        exception: Text = None,
        order_by_until: Annotated[date | None, Query(description="only orders due by this day")] = None,
        limit: Limit = None,
        offset: Offset = 0,
        format: Format = None,
    ) -> Response:
        values = {"segment": segment, "abc": abc, "model": model, "exception": exception}
        return listed(request, pages.Query("/orders", values, limit, offset, format, order_by_until))

    @app.get("/exceptions", tags=["plan"], summary="SKUs with exceptions, filtered by code, paginated")
    async def exceptions(
        request: Request,
        code: Text = None,
        segment: Text = None,
        model: Text = None,
        limit: Limit = None,
        offset: Offset = 0,
        format: Format = None,
    ) -> Response:
        values = {"exception": code, "segment": segment, "model": model}
        return listed(request, pages.Query("/exceptions", values, limit, offset, format))

    @app.get("/leaderboard", tags=["plan"], summary="Models ranked on the served run's backtest test windows")
    async def leaderboard(request: Request, format: Format = None) -> Response:
        snap = plan_now()
        if render.wants_csv(request, format):
            return render.csv_response(snap.leaderboard, f"leaderboard-{snap.run_id}", snap.run_id)
        body = b"{" + snap.header + b',"models":' + render.frame_json(snap.leaderboard) + b"}"
        return render.json_response(body, snap.run_id)

    @app.get("/runs", tags=["history"], summary="Runs of the warehouse, newest first, paginated")
    async def runs(
        request: Request,
        status: Annotated[Literal["complete", "failed", "running"] | None, Query()] = None,
        limit: Limit = None,
        offset: Offset = 0,
        format: Format = None,
    ) -> Response:
        size = limit or settings.page_size
        total, rows = await run_in_threadpool(history.runs, settings.warehouse, status, size, offset)
        if render.wants_csv(request, format):
            return render.csv_response(rows, "runs")
        head = render.dumps({"total": total, "offset": offset, "limit": size})[:-1]
        return render.json_response(head + b',"items":' + render.frame_json(rows) + b"}")

    @app.get("/runs/{run_id}", tags=["history"], summary="One run: record, leaderboard, champions, accuracy")
    async def run(run_id: Annotated[str, Path(max_length=TEXT_LIMIT)], format: Format = None) -> Response:
        if format == "csv":
            return error(406, "this endpoint answers in JSON; CSV is at /runs and the published files.")
        found = await run_in_threadpool(history.run, settings.warehouse, run_id)
        if found is None:
            return error(404, "no run with this id in the warehouse; /runs lists them.")
        body = {k: v if isinstance(v, dict) else v.to_dict(orient="records") for k, v in found.items()}
        return render.json_response(render.dumps(body), run_id)

    @app.exception_handler(NotPublished)
    async def not_published(request: Request, exc: NotPublished) -> Response:
        return error(
            503, "no plan has been published yet; the scheduled reforecast publishes one.", {"retry-after": "60"}
        )

    @app.exception_handler(WarehouseUnavailable)
    async def no_history(request: Request, exc: WarehouseUnavailable) -> Response:
        return error(503, str(exc), {"retry-after": "60"})

    return app
