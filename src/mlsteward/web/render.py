"""Rendering pages: one Jinja environment, escaping on, a CSP on every answer."""

from __future__ import annotations

import datetime as dt
import json
import math
from functools import cache
from typing import Any
from urllib.parse import urlencode

from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from mlsteward.web.session import CSRF_COOKIE, PREFIX, Page

__all__ = ["CSP", "NAV", "render", "set_csrf_cookie"]

#: Everything a page loads comes from this server; no inline script runs.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; "
    "img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; "
    "base-uri 'none'"
)

#: The navigation: (path, label).
NAV = (
    ("/", "Overview"),
    ("/models", "Models"),
    ("/monitoring", "Monitoring"),
    ("/runs", "Runs"),
    ("/approvals", "Approvals"),
    ("/audit", "Audit"),
    ("/jobs", "Jobs"),
)


def _num(value: Any, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    if isinstance(value, int | float):
        return f"{value:.{digits}f}"
    return str(value)


def _pct(value: Any, digits: int = 0) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    return f"{100 * float(value):.{digits}f}%"


def _when(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value)
        except ValueError:
            return value
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return str(value)


def _data(value: Any) -> Markup:
    """JSON for a ``<script type="application/json">`` block: ``<`` escaped
    so no value can close the element."""
    text = json.dumps(value, default=str, allow_nan=False, separators=(",", ":"))
    return Markup(text.replace("<", "\\u003c").replace(">", "\\u003e"))


def _query(page: Page, **changes: Any) -> str:
    """The current URL's query with ``changes`` (None drops a key)."""
    params = dict(page.request.query_params)
    for key, value in changes.items():
        if value is None:
            params.pop(key, None)
        else:
            params[key] = str(value)
    return "?" + urlencode(params) if params else "?"


@cache
def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("mlsteward.web", "templates"),
        autoescape=select_autoescape(default=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(num=_num, pct=_pct, when=_when, data=_data)
    env.globals.update(nav=NAV, prefix=PREFIX, query=_query)
    return env


def render(page: Page, template: str, code: int = 200, **values: Any) -> HTMLResponse:
    """``template`` rendered for ``page``'s viewer, with the security headers."""
    html = environment().get_template(template).render(page=page, **values)
    response = HTMLResponse(html, status_code=code)
    secure_headers(response)
    set_csrf_cookie(page, response)
    return response


def secure_headers(response: Any) -> None:
    response.headers["content-security-policy"] = CSP
    response.headers["x-content-type-options"] = "nosniff"
    response.headers["referrer-policy"] = "same-origin"
    response.headers["cache-control"] = "no-store"


def set_csrf_cookie(page: Page, response: Any) -> None:
    if page.new_csrf_cookie:
        response.set_cookie(
            CSRF_COOKIE,
            page.new_csrf_cookie,
            httponly=True,
            samesite="strict",
            path=PREFIX,
            secure=page.request.url.scheme == "https",
        )
