"""``create_app(settings)``: the FastAPI control plane under ``/api/v1``."""

from __future__ import annotations

from importlib import import_module

from fastapi import FastAPI

from mlsteward.api.docs import install_docs
from mlsteward.api.guard import ControlGuard
from mlsteward.api.problems import (
    PROBLEM_RESPONSES,
    DatabaseOutage,
    install_problem_handlers,
)
from mlsteward.config import Settings, get_settings
from mlsteward.context import Context
from mlsteward.results import Result

__all__ = ["ROUTERS", "Health", "create_app"]

# One router per capability, by module name; each module has ``router``.
ROUTERS = (
    "mlsteward.api.registry",
    "mlsteward.api.serving",
    "mlsteward.api.monitoring",
    "mlsteward.api.retraining",
    "mlsteward.api.people",
    "mlsteward.api.governance",
)


class Health(Result):
    """The answer of ``GET /api/v1/health``."""

    status: str
    version: str


def create_app(settings: Settings | None = None, ctx: Context | None = None) -> FastAPI:
    """Build the control-plane app for one mlsteward home.

    Example:
        >>> app = create_app(Settings(home="/tmp/ms-api"))  # doctest: +SKIP
    """
    ctx = ctx or Context.from_settings(settings or get_settings())
    from mlsteward import __version__

    app = FastAPI(
        title="mlsteward",
        version=__version__,
        description="Closed-loop model operations with governance built in.",
        docs_url=None,  # served from the package by install_docs, not a CDN
        redoc_url=None,
    )
    app.state.ctx = ctx
    app.state.auth_required = ctx.settings.auth_required
    outage = DatabaseOutage()  # one warning per episode, from either side
    install_problem_handlers(app, outage)
    install_docs(app)
    # Outermost: a request without a valid token is refused before its body
    # is read, and no body past the limit is read at all.
    app.add_middleware(ControlGuard, ctx=ctx, routes=lambda: app.routes, outage=outage)

    @app.get("/api/v1/health", tags=["health"])
    def health() -> Health:
        return Health(status="ok", version=__version__)

    for name in ROUTERS:
        module = import_module(name)
        app.include_router(module.router, prefix="/api/v1", responses=PROBLEM_RESPONSES)
    # The dashboard: pages under /ui that authenticate by session cookie.
    from mlsteward.web import mount

    mount(app, ctx)
    return app
