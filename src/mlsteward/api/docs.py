"""``/docs``: Swagger UI from files shipped in the package, never a CDN.

FastAPI's default docs page loads Swagger UI's script and styles from a CDN,
so it is blank on a machine without internet access; here they come from
``api/docs_assets/`` (see its README for the version and licence). The
validator badge, which calls an online service, is off.
"""

from __future__ import annotations

from importlib.resources import files

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, Response

from mlsteward.errors import NotFound

__all__ = ["ASSETS", "install_docs"]

#: The files ``/docs/assets/{name}`` serves, and their media types.
ASSETS = {
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
    "favicon-32x32.png": "image/png",
}


def install_docs(app: FastAPI, *, openapi_url: str = "/openapi.json") -> None:
    """Serve ``/docs`` and its assets from the package on ``app`` (whose own
    ``docs_url`` and ``redoc_url`` are off)."""

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=openapi_url,
            title=f"{app.title} API",
            swagger_js_url="/docs/assets/swagger-ui-bundle.js",
            swagger_css_url="/docs/assets/swagger-ui.css",
            swagger_favicon_url="/docs/assets/favicon-32x32.png",
            swagger_ui_parameters={"validatorUrl": None},
        )

    @app.get("/docs/assets/{name}", include_in_schema=False)
    def asset(name: str) -> Response:
        media = ASSETS.get(name)
        if media is None:
            raise NotFound(
                f"no docs asset {name!r}; there are {sorted(ASSETS)}", field="name"
            )
        body = files("mlsteward.api").joinpath("docs_assets", name).read_bytes()
        return Response(
            body, media_type=media, headers={"cache-control": "max-age=86400"}
        )
