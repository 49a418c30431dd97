"""Who is looking at a page: the session cookie, and the CSRF token of forms.

A person signs in with an API token (``POST /ui/sign-in``); the token is
exchanged for a session (:class:`~mlsteward.identity.sessions.SessionService`)
whose secret travels only in an HTTP-only, SameSite cookie. Every page reads
the session again and acts through a context of its principal, built as the
API's ``deps.py`` builds one (``ctx.as_principal``), so the services check
the same roles for a page as for a REST call.

Every form carries a CSRF token: the session's own once signed in; before
(the sign-in form) and on a store without auth, a random value also set in
a SameSite cookie (double submit). A form whose token does not match is
refused with 403 before anything runs.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from urllib.parse import parse_qsl

from fastapi import Request

from mlsteward.context import Context
from mlsteward.errors import Unauthenticated
from mlsteward.identity.access import Principal
from mlsteward.identity.sessions import SessionService

__all__ = [
    "CSRF_COOKIE",
    "PREFIX",
    "SESSION_COOKIE",
    "BadCsrf",
    "Page",
    "SignInRequired",
    "base_context",
    "check_csrf",
    "current_page",
    "double_submit",
    "read_form",
    "safe_next",
]

SESSION_COOKIE = "mlsteward_session"
CSRF_COOKIE = "mlsteward_csrf"
#: Where the pages live; cookies are scoped to it.
PREFIX = "/ui"


class SignInRequired(Exception):
    """No live session: the page answers with the sign-in form."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class BadCsrf(Exception):
    """A form's CSRF token is missing or wrong."""


@dataclass
class Page:
    """One request to a page: the acting context and what the page may show.

    ``principal`` is ``None`` on a store without auth (one person's machine),
    where the app's declared actor acts, as on the API.
    """

    request: Request
    ctx: Context
    principal: Principal | None
    csrf: str
    #: A fresh double-submit CSRF cookie to set on the answer, if any.
    new_csrf_cookie: str | None = None

    @property
    def user(self) -> str:
        return self.principal.user if self.principal else self.ctx.actor

    @property
    def role(self) -> str:
        return self.principal.role if self.principal else "admin"

    def can(self, role: str) -> bool:
        """Whether to show what needs ``role``; the service decides anyway."""
        return self.principal is None or self.principal.can(role)


def base_context(request: Request) -> Context:
    ctx: Context = request.app.state.ctx
    return ctx


def _auth_required(request: Request) -> bool:
    return bool(request.app.state.ctx.settings.auth_required)


def double_submit(request: Request) -> tuple[str, str | None]:
    """The double-submit CSRF value, and a new cookie value if there was none."""
    value = request.cookies.get(CSRF_COOKIE, "")
    if len(value) >= 32:
        return value, None
    value = secrets.token_urlsafe(32)
    return value, value


def current_page(request: Request) -> Page:
    """The page's acting context, or :class:`SignInRequired`."""
    ctx = base_context(request)
    if not _auth_required(request):
        csrf, new = double_submit(request)
        return Page(request, ctx, None, csrf, new)
    try:
        live = SessionService(ctx).read(request.cookies.get(SESSION_COOKIE))
    except Unauthenticated as exc:
        raise SignInRequired(exc.message) from None
    return Page(request, ctx.as_principal(live.principal), live.principal, live.csrf)


async def check_csrf(request: Request, expected: str) -> dict[str, str]:
    """The submitted form, once its ``csrf`` field matches ``expected``.

    Raises:
        BadCsrf: The token is missing or wrong, or the form came from
            another origin.
    """
    origin = request.headers.get("origin")
    if origin and origin != "null":
        host = request.headers.get("host", "")
        if origin.split("://", 1)[-1] != host:
            raise BadCsrf(f"the form came from {origin}, not from this server")
    values = await read_form(request)
    sent = values.get("csrf", "")
    if not sent or not expected or not hmac.compare_digest(sent, expected):
        raise BadCsrf("the form's CSRF token is missing or out of date")
    return values


#: The largest form a page accepts (a comment is at most 10,000 characters).
MAX_FORM_BYTES = 64 * 1024


async def read_form(request: Request) -> dict[str, str]:
    """A URL-encoded form's fields (the last value of a repeated one).

    Pages post only small URL-encoded forms, so they are parsed here rather
    than through a multipart parser the server would otherwise need.
    """
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/x-www-form-urlencoded":
        raise BadCsrf("the form must be sent URL-encoded from a dashboard page")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            raise BadCsrf(f"the form is over {MAX_FORM_BYTES} bytes")
    pairs = parse_qsl(body.decode("utf-8", errors="replace"), keep_blank_values=True)
    return dict(pairs)


def safe_next(target: str | None) -> str:
    """A redirect target inside the dashboard (never another site)."""
    if (
        target
        and target.startswith(PREFIX + "/")
        and not target.startswith("//")
        and "\\" not in target
    ):
        return target
    return PREFIX + "/"
