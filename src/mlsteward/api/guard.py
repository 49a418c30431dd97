"""The control plane's door: who is asking, then how much they may send.

FastAPI reads and parses a request's body before it resolves the route's
dependencies, so authentication in a dependency comes too late: a large body
without a token would be read (and held in memory) before its 401, and
malformed JSON would get a 400 instead. :class:`ControlGuard` is ASGI
middleware in front of every control-plane route that

1. authenticates the bearer token before a byte of the body is read; a
   request without a valid token is answered 401 at once (the body is never
   received); the principal is handed on in the request's state, so the
   route's role dependency does not look the token up again (and a token
   checked in the last ``MLSTEWARD_API_AUTH_CACHE_SECONDS`` is not looked up
   at all: ``api/principals.py``);
2. limits the body (``MLSTEWARD_API_MAX_BODY_BYTES``): a declared
   ``Content-Length`` over the limit is refused before reading, and the
   bytes actually received are counted as they stream in, since a chunked
   body declares no length.

Both answers are problem+json naming the field (``token``, ``body``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any

import orjson
from fastapi import HTTPException

from mlsteward.api.principals import PrincipalCache
from mlsteward.api.problem_types import TOO_LARGE, problem_type
from mlsteward.api.problems import DATABASE_OUT, DatabaseOutage
from mlsteward.context import Context
from mlsteward.errors import MlstewardError
from mlsteward.identity.service import IdentityService
from mlsteward.serving.outages import RETRY_AFTER, database_errors

__all__ = ["OPEN_PATHS", "PRINCIPAL_KEY", "BodyTooLarge", "ControlGuard"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

#: Paths answered without a token: health, the API's own description, and
#: the dashboard (``/`` leads to it), whose pages authenticate by session
#: cookie and whose forms carry CSRF tokens (``web/session.py``).
OPEN_PATHS = frozenset(
    {"/api/v1/health", "/openapi.json", "/docs", "/", "/ui", "/favicon.ico"}
)
_OPEN_PREFIXES = ("/docs/assets/", "/ui/")

#: Where the authenticated principal travels in the ASGI scope's state.
PRINCIPAL_KEY = "mlsteward_principal"


class BodyTooLarge(HTTPException):
    """Raised from ``receive`` once the streamed body passes the limit.

    An :class:`~fastapi.HTTPException`, because FastAPI turns any other error
    met while reading a body into a 400; this one it lets through to the
    problem handlers (``api/problems.py``), which answer 413.
    """

    field = "body"


def _problem(status: int, title: str, detail: str, field: str, code: str) -> bytes:
    return orjson.dumps(
        {
            "type": problem_type(code),
            "title": title,
            "status": status,
            "detail": detail,
            "field": field,
        }
    )


async def _answer(send: Send, status: int, body: bytes, **headers: str) -> None:
    raw = [
        (b"content-type", b"application/problem+json"),
        (b"content-length", str(len(body)).encode()),
        *((k.replace("_", "-").encode(), v.encode()) for k, v in headers.items()),
    ]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


class ControlGuard:
    """Authenticate, then limit the body, before the control plane runs.

    Args:
        app: The control-plane ASGI app.
        ctx: Its context (the token store, the settings).
    """

    def __init__(
        self,
        app: ASGIApp,
        ctx: Context,
        routes: Callable[[], Iterable[Any]] | None = None,
        outage: DatabaseOutage | None = None,
    ) -> None:
        self.app = app
        self.outage = outage or DatabaseOutage()
        self._database_errors = database_errors()
        self.ctx = ctx
        self._routes = routes
        self._flat: list[Any] | None = None
        self.auth_required = ctx.settings.auth_required
        self.max_body = ctx.settings.api_max_body_bytes
        self._principals = PrincipalCache(ctx.settings.api_auth_cache_seconds)

        self._detail = (
            f"the body is over the limit of {self.max_body} bytes "
            "(MLSTEWARD_API_MAX_BODY_BYTES); send less per request"
        )

    def _too_large(self, declared: int | None = None) -> bytes:
        detail = self._detail
        if declared is not None:
            rest = detail.removeprefix("the body is ")
            detail = f"the body declares {declared} bytes; {rest}"
        return _problem(413, "PayloadTooLarge", detail, "body", TOO_LARGE)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        path: str = scope["path"]
        if self.auth_required and not (
            path in OPEN_PATHS or path.startswith(_OPEN_PREFIXES)
        ):
            try:
                principal = await self._authenticate(_bearer(scope))
            except MlstewardError as exc:
                body = _problem(401, type(exc).__name__, exc.message, "token", exc.code)
                return await _answer(send, 401, body, www_authenticate="Bearer")
            except self._database_errors as exc:
                self.outage(exc)
                body = _problem(
                    503, "Unavailable", DATABASE_OUT, "token", "unavailable"
                )
                return await _answer(send, 503, body, retry_after=str(RETRY_AFTER))
            scope.setdefault("state", {})[PRINCIPAL_KEY] = principal
            refusal = self._role_refusal(scope, principal)
            if refusal is not None:
                return await _answer(send, 403, refusal)
        declared = _content_length(scope)
        if declared is not None and declared > self.max_body:
            body = self._too_large(declared)
            return await _answer(send, 413, body, connection="close")
        await self._limited(scope, receive, send)

    async def _authenticate(self, token: str | None) -> Any:
        """The token's principal: from the cache, else looked up in a worker
        thread (never on the event loop, which inference shares)."""
        principal = self._principals.get(token)
        if principal is not None:
            return principal
        generation = self._principals.generation()
        principal = await asyncio.to_thread(
            IdentityService(self.ctx).authenticate, token
        )
        if token:
            self._principals.put(token, principal, generation)
        return principal

    def _role_refusal(self, scope: Scope, principal: Any) -> bytes | None:
        """A 403 body if the route's use case needs more than the caller's
        role, found before a byte of the body is read; else ``None``. The
        service checks again: this only spares reading what it would refuse."""
        from starlette.routing import Match

        from mlsteward.api.deps import use_case_of
        from mlsteward.identity.access import USE_CASES

        for route in self._all_routes():
            match, _ = route.matches(scope)
            if match is not Match.FULL:
                continue
            name = use_case_of(route)
            case = USE_CASES.get(name) if name else None
            if case is None or principal.can(case.role):
                return None
            detail = principal.refusal(case.role, f"run {case.name}")
            return _problem(403, "Forbidden", detail, "token", "forbidden")
        return None

    def _all_routes(self) -> list[Any]:
        if self._flat is None:
            flat: list[Any] = []
            stack = list(self._routes() if self._routes is not None else [])
            while stack:
                route = stack.pop(0)
                if hasattr(route, "effective_candidates"):
                    stack[:0] = list(route.effective_candidates())
                    continue
                flat.append(route)
            self._flat = flat
        return self._flat

    async def _limited(self, scope: Scope, receive: Receive, send: Send) -> None:
        received = 0
        started = False

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body:
                    raise BodyTooLarge(413, detail=self._detail)
            return message

        async def tracked(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted, tracked)
        except BodyTooLarge:
            if started:
                raise
            body = self._too_large()
            await _answer(send, 413, body, connection="close")


def _bearer(scope: Scope) -> str | None:
    for key, value in scope["headers"]:
        if key == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            return token.strip() or None if scheme.lower() == "bearer" else None
    return None


def _content_length(scope: Scope) -> int | None:
    for key, value in scope["headers"]:
        if key == b"content-length":
            text = value.decode("latin-1").strip()
            return int(text) if text.isascii() and text.isdigit() else None
    return None
