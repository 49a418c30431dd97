"""The dashboard app: pages under ``/ui``, mounted by the control plane."""

from __future__ import annotations

import time
from importlib import import_module
from importlib.resources import files
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from mlsteward.context import Context
from mlsteward.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    MlstewardError,
    NotFound,
    PolicyViolation,
)
from mlsteward.web.render import environment, secure_headers
from mlsteward.web.session import PREFIX, BadCsrf, SignInRequired

__all__ = ["PAGES", "create_web_app"]

#: One module per page family, each with ``router``.
PAGES = (
    "mlsteward.web.signin",
    "mlsteward.web.overview",
    "mlsteward.web.approvals",
    "mlsteward.web.monitoring",
    "mlsteward.web.models",
    "mlsteward.web.records",
)


def _status_of(exc: MlstewardError) -> int:
    if isinstance(exc, Forbidden):
        return 403
    if isinstance(exc, NotFound):
        return 404
    if isinstance(exc, Conflict | PolicyViolation):
        return 409
    if isinstance(exc, InvalidInput):
        return 400
    return 400


def error_page(status: int, title: str, detail: str) -> HTMLResponse:
    html = (
        environment()
        .get_template("error.html")
        .render(page=None, status=status, title=title, detail=detail)
    )
    response = HTMLResponse(html, status_code=status)
    secure_headers(response)
    return response


def _install_handlers(app: FastAPI) -> None:
    @app.exception_handler(SignInRequired)
    async def sign_in(request: Request, exc: SignInRequired) -> Response:
        target = request.url.path + (
            f"?{request.url.query}" if request.url.query else ""
        )
        location = f"{PREFIX}/sign-in?next={quote(target, safe='')}"
        return RedirectResponse(location, status_code=303)

    @app.exception_handler(BadCsrf)
    async def bad_csrf(request: Request, exc: BadCsrf) -> Response:
        return error_page(403, "Refused", f"{exc}; reload the page and try again")

    @app.exception_handler(MlstewardError)
    async def refused(request: Request, exc: MlstewardError) -> Response:
        status = _status_of(exc)
        titles = {403: "Not allowed", 404: "Not found", 409: "Conflict"}
        return error_page(status, titles.get(status, "Bad request"), exc.message)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        parts = []
        for err in exc.errors():
            where = ".".join(str(p) for p in err.get("loc", ())[1:]) or "request"
            parts.append(f"{where}: {err.get('msg', 'invalid')}")
        return error_page(400, "Bad request", "; ".join(parts))


def create_web_app(ctx: Context) -> FastAPI:
    """The dashboard's pages, static files and Chart.js, for one home."""
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    app.state.ctx = ctx
    app.state.serving_metrics = None
    app.state.started = time.monotonic()
    _install_handlers(app)
    static = files("mlsteward.web").joinpath("static")
    chartjs = files("mlsteward").joinpath("assets", "chartjs")
    app.mount("/static", StaticFiles(directory=str(static)), name="static")
    app.mount("/chartjs", StaticFiles(directory=str(chartjs)), name="chartjs")
    for name in PAGES:
        app.include_router(import_module(name).router)
    return app


def mount(parent: FastAPI, ctx: Context) -> FastAPI:
    """Mount the dashboard on ``parent`` at ``/ui``; ``/`` leads there."""
    web = create_web_app(ctx)
    parent.mount(PREFIX, web)
    parent.state.web = web

    @parent.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse(f"{PREFIX}/", status_code=307)

    @parent.get("/favicon.ico", include_in_schema=False)
    def favicon() -> Response:
        return Response(status_code=204)

    return web
