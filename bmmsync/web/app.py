"""The dashboard as one ASGI app: pages, their `/api/` twins, downloads, health and metrics.

Each page is declared once (`PAGES`): its path, the query parameters it accepts, the
view-model builder and the template. The HTML route and the `/api/` route call the same
builder, so a page and its JSON cannot disagree. Only GET and HEAD are served; features that
need more (webhooks) mount their own routes through `extra_routes`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from typing import Any, cast
from urllib.parse import quote, urlencode

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp

from bmmsync.bot.review import ReviewFilter, review_csv, review_json, review_markdown
from bmmsync.bot.review import review_records as review_download_records
from bmmsync.config.settings import Config
from bmmsync.errors import StoreError
from bmmsync.reporting import HEADLINE
from bmmsync.web import pages
from bmmsync.web.charts import bar_chart, report_charts
from bmmsync.web.metrics import ServiceMetrics, metrics_registry
from bmmsync.web.openapi import openapi_document
from bmmsync.web.params import BadParameter, Query
from bmmsync.web.security import Access, SecurityHeaders
from bmmsync.web.storehandle import StoreHandle

Builder = Callable[..., dict[str, Any]]

FILTERS = ("source", "project")


@dataclass(frozen=True)
class Page:
    path: str
    title: str
    template: str
    params: tuple[str, ...]
    build: Builder
    nav: bool = True


PAGES: tuple[Page, ...] = (
    Page("/", "Strategy map", "strategy.html.j2", FILTERS, pages.strategy_map),
    Page(
        "/capabilities/{cid}",
        "Capability",
        "capability.html.j2",
        (*FILTERS, "page"),
        pages.capability_page,
        nav=False,
    ),
    Page(
        "/review",
        "Sprint review",
        "review.html.j2",
        (*FILTERS, "reason", "q", "flagged_since", "capability", "sort", "page"),
        pages.review_page,
    ),
    Page("/explain", "Explain", "explain.html.j2", ("key", "source"), pages.explain_page),
    Page("/report", "Report", "report.html.j2", ("days",), pages.report_page),
    Page("/map", "Map (admins)", "map.html.j2", (), pages.map_page),
    Page("/status", "Status", "status.html.j2", (), pages.status_page),
)

DOWNLOADS = {"csv": "text/csv", "md": "text/markdown", "json": "application/json"}


def _jinja() -> Environment:
    env = Environment(
        loader=PackageLoader("bmmsync.web", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["safe_url"] = lambda url: (
        isinstance(url, str) and url.startswith(("https://", "http://"))
    )
    env.globals["query_with"] = _query_with
    env.filters["quote_id"] = _quote_id
    env.filters["percent"] = lambda v: "–" if v is None else f"{v:.0%}"
    env.filters["signed"] = lambda v: "" if v is None else f"{v * 100:+.0f} pts"
    return env


@functools.lru_cache(maxsize=4096)
def _quote_id(value: str) -> str:
    """A map id quoted for a URL path or query value: the strategy map quotes ~1,000 ids per
    request, the same ones each time."""
    return quote(value, safe="")


def _query_with(query: dict[str, str], **changes: Any) -> str:
    """The current query string with some parameters changed (an empty value drops one)."""
    merged = {k: v for k, v in (query | {k: str(v) for k, v in changes.items()}).items() if v}
    return urlencode(merged)


class Dashboard:
    """The app's state: the store handle, the config, templates and metrics."""

    def __init__(
        self, config: Config, store: StoreHandle, clock: Callable[[], datetime] | None = None
    ) -> None:
        self.config = config
        self.store = store
        self.clock = clock or (lambda: datetime.now(UTC))
        self.env = _jinja()
        self.registry, self.service_metrics = metrics_registry(store)
        self.nav = [(p.path, p.title) for p in PAGES if p.nav]

    def context(self) -> pages.Context:
        return pages.Context(
            rules=self.config.mapping.to_rules(),
            page_size=self.config.web.page_size,
            now=self.clock(),
            size=self.config.outcomes.size_rule(),
        )

    def render(self, template: str, status: int = 200, **values: Any) -> HTMLResponse:
        html = self.env.get_template(template).render(nav=self.nav, **values)
        return HTMLResponse(html, status_code=status)

    def _read(self, work: Callable[[Session], Any]) -> Any:
        with self.store.get().session() as session:
            return work(session)

    async def answer(self, request: Request, page: Page, api: bool) -> Response:
        """Build the page's view-model and render it as HTML or JSON; errors as pages too."""
        ctx = self.context()
        args = [request.path_params["cid"]] if "cid" in request.path_params else []
        try:
            query = Query(request.query_params, page.params)
            model = await run_in_threadpool(self._read, lambda s: page.build(s, ctx, *args, query))
        except BadParameter as exc:
            return self.error(api, 400, str(exc), parameter=exc.name)
        except pages.NotFound as exc:
            return self.error(api, 404, str(exc), suggestions=exc.suggestions)
        except pages.EmptyStore as exc:
            if api:
                return JSONResponse({"empty": True, "hint": str(exc)})
            return self.render("empty.html.j2", title=page.title, hint=str(exc))
        except (StoreError, SQLAlchemyError) as exc:
            return self.error(api, 503, _store_down(exc))
        if api:
            return JSONResponse(model)
        extra: dict[str, Any] = {}
        if page.path.startswith("/capabilities/"):
            weeks = [(w["week"], w["items"]) for w in model["velocity"]["weeks"]]
            extra["velocity_chart"] = Markup(  # numbers and escaped dates only
                bar_chart("Traced items closed per week", weeks)
            )
        if page.path == "/report":
            extra["charts"] = {
                key: Markup(svg)
                for key, svg in report_charts(model["trend"]["series"], list(HEADLINE)).items()
            }
        return self.render(
            page.template,
            title=page.title,
            m=model,
            query=dict(request.query_params),
            request_path=request.url.path,
            api_url="/api"
            + request.url.path
            + (f"?{request.url.query}" if request.url.query else ""),
            **extra,
        )

    def error(self, api: bool, status: int, message: str, **details: Any) -> Response:
        if api:
            return JSONResponse({"error": message} | details, status_code=status)
        return self.render(
            "error.html.j2",
            status=status,
            title=f"Error {status}",
            code=status,
            message=message,
            suggestions=details.get("suggestions", []),
            parameter=details.get("parameter"),
        )


def _store_down(exc: Exception) -> str:
    first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return f"the store is not reachable: {first}"


def create_app(
    config: Config,
    store: StoreHandle,
    *,
    extra_routes: Sequence[BaseRoute] = (),
    open_prefixes: Sequence[str] = (),
    clock: Callable[[], datetime] | None = None,
) -> Starlette:
    """The dashboard app. `extra_routes` (e.g. POST /hooks/*) are mounted as given and left
    out of the dashboard's auth (list their prefixes in `open_prefixes`); they authenticate
    requests themselves."""
    board = Dashboard(config, store, clock)

    def page_route(page: Page, api: bool) -> Route:
        async def endpoint(request: Request) -> Response:
            return await board.answer(request, page, api)

        path = "/api" + page.path if api else page.path
        return Route(
            path, endpoint, methods=["GET", "HEAD"], name=("api" if api else "page") + page.path
        )

    async def livez(request: Request) -> Response:
        return PlainTextResponse("ok\n")

    async def readyz(request: Request) -> Response:
        problem = await run_in_threadpool(store.ready)
        if problem is None:
            return PlainTextResponse("ready\n")
        return PlainTextResponse(f"not ready: {problem}\n", status_code=503)

    async def metrics(request: Request) -> Response:
        body = await run_in_threadpool(generate_latest, board.registry)
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    async def openapi(request: Request) -> Response:
        return JSONResponse(openapi_document())

    async def download(request: Request) -> Response:
        kind = request.path_params["kind"]
        if kind not in DOWNLOADS:
            return board.error(False, 404, f"no download .{kind}: use .csv, .md or .json")
        try:
            query = Query(request.query_params, (*FILTERS, "reason"))
            only = ReviewFilter(
                source=query.text("source"),
                project=query.text("project"),
                reason=query.choice("reason", pages.TICKET_REASONS),
            )
        except BadParameter as exc:
            return board.error(False, 400, str(exc), parameter=exc.name)
        now = board.clock()
        rules = config.mapping.to_rules()
        try:
            records = await run_in_threadpool(
                board._read, lambda s: review_download_records(s, rules, now, only)
            )
        except (StoreError, SQLAlchemyError) as exc:
            return board.error(False, 503, _store_down(exc))
        text = {"csv": review_csv, "json": review_json}.get(kind)
        body = text(records) if text else review_markdown(records, now) + "\n"
        name = f"bmmsync-review-{now:%Y-%m-%d}.{kind}"
        return Response(
            body,
            media_type=DOWNLOADS[kind],
            headers={"content-disposition": f'attachment; filename="{name}"'},
        )

    routes: list[BaseRoute] = [
        Route("/livez", livez, methods=["GET", "HEAD"]),
        Route("/readyz", readyz, methods=["GET", "HEAD"]),
        Route("/metrics", metrics, methods=["GET", "HEAD"]),
        Route("/api/openapi.json", openapi, methods=["GET", "HEAD"]),
        Route("/review/download.{kind}", download, methods=["GET", "HEAD"]),
        *(page_route(p, api) for p in PAGES for api in (False, True)),
        Mount(
            "/static",
            StaticFiles(directory=str(resources.files("bmmsync.web") / "static")),
            name="static",
        ),
        *extra_routes,
    ]

    async def not_found(request: Request, exc: Exception) -> Response:
        api = request.url.path.startswith("/api/")
        return board.error(
            api,
            404,
            f"no page at {request.url.path}",
            suggestions=[{"label": title, "href": path} for path, title in board.nav],
        )

    async def not_allowed(request: Request, exc: Exception) -> Response:
        return PlainTextResponse(
            "only GET and HEAD are served\n", status_code=405, headers={"allow": "GET, HEAD"}
        )

    async def crashed(request: Request, exc: Exception) -> Response:
        return board.error(request.url.path.startswith("/api/"), 500, "internal error")

    app = Starlette(
        routes=routes,
        exception_handlers={404: not_found, 405: not_allowed, 500: crashed},
    )
    app.state.dashboard = board
    app.add_middleware(Access, web=config.web, open_prefixes=tuple(open_prefixes))
    app.add_middleware(SecurityHeaders)
    return app


def service_metrics(app: ASGIApp) -> ServiceMetrics:
    """The run-time instruments `bmmsync run` feeds after each run (`app` from `create_app`)."""
    board: Dashboard = cast(Starlette, app).state.dashboard
    return board.service_metrics
