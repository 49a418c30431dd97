"""Domain errors as RFC 9457 problem+json responses: the only place they map
to HTTP statuses."""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
from starlette.exceptions import HTTPException as StarletteHTTPException

from mlsteward.api.problem_types import HTTP_CODES, MALFORMED, problem_type
from mlsteward.errors import (
    Conflict,
    Forbidden,
    IntegrityError,
    InvalidInput,
    MlstewardError,
    NotFound,
    PolicyViolation,
    Unauthenticated,
    Unavailable,
    UnsafeArtifact,
)
from mlsteward.serving.outages import RETRY_AFTER, database_errors
from mlsteward.spec import error_of

__all__ = [
    "DATABASE_OUT",
    "PROBLEM_RESPONSES",
    "STATUS",
    "DatabaseOutage",
    "Problem",
    "install_problem_handlers",
    "problem",
]

STATUS: dict[type[MlstewardError], int] = {
    InvalidInput: 422,
    NotFound: 404,
    Conflict: 409,
    PolicyViolation: 409,
    Forbidden: 403,
    Unauthenticated: 401,
    IntegrityError: 500,
    UnsafeArtifact: 422,
    Unavailable: 503,
}

PROBLEM = "application/problem+json"


class Problem(BaseModel):
    """RFC 9457 problem details, with the offending field where there is one."""

    model_config = ConfigDict(extra="allow")

    type: str
    title: str
    status: int
    detail: str
    field: str | None = None


def _problem_response(description: str) -> dict[str, Any]:
    schema = {"$ref": "#/components/schemas/Problem"}
    return {
        "description": description,
        "model": Problem,
        "content": {PROBLEM: {"schema": schema}},
    }


#: Documented on every control-plane route, so clients and schema checkers
#: know the error shape.
PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: _problem_response("Bad request"),
    401: _problem_response("No token, or one that is not valid"),
    403: _problem_response("The token's role may not do this"),
    404: _problem_response("Not found"),
    409: _problem_response("Conflicts with the current state, or a policy"),
    422: _problem_response("Invalid input; `field` names what"),
    503: _problem_response(
        "The metadata database is unreachable for now; retry after `Retry-After`"
    ),
}

_log = logging.getLogger("mlsteward.api")
#: What a request that needed the unreachable database is told.
DATABASE_OUT = "the metadata database is unreachable; try again shortly"
#: Seconds without a database failure after which the next one is reported
#: as a new outage (one warning per episode, not one per request).
_QUIET = 60.0


def problem(
    status: int, title: str, detail: str, *, code: str, **extra: Any
) -> JSONResponse:
    body = {
        "type": problem_type(code),
        "title": title,
        "status": status,
        "detail": detail,
        **{k: v for k, v in extra.items() if v is not None},
    }
    return JSONResponse(body, status_code=status, media_type=PROBLEM)


def _status_of(exc: MlstewardError) -> int:
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]  # type: ignore[index]
    return 400


class DatabaseOutage:
    """Reports a database outage once per episode: a failure after a quiet
    spell of :data:`_QUIET` seconds begins a new one."""

    def __init__(self) -> None:
        self.last = float("-inf")

    def __call__(self, exc: Exception) -> None:
        now = time.monotonic()
        if now - self.last > _QUIET:
            _log.warning(
                "outage began: the metadata database is unreachable; requests "
                "that need it get 503 (%s: %s)",
                type(exc).__name__,
                str(exc)[:500],
            )
        self.last = now


def _malformed(first: dict[str, Any], body: Any) -> str | None:
    """Why the body is not JSON at all, or ``None`` if it is (or was none)."""
    if first.get("type") == "json_invalid":
        reason = (first.get("ctx") or {}).get("error", "decode error")
        return f"the body is not valid JSON ({reason}); send a JSON object"
    if isinstance(body, bytes | str) and body:
        try:
            json.loads(body)
        except ValueError as exc:
            return f"the body is not valid JSON ({exc}); send a JSON object"
    return None


def install_problem_handlers(
    app: FastAPI, outage: DatabaseOutage | None = None
) -> None:
    @app.exception_handler(MlstewardError)
    async def _domain(_req: Request, exc: MlstewardError) -> JSONResponse:
        status = _status_of(exc)
        response = problem(
            status,
            type(exc).__name__,
            exc.message,
            code=exc.code,
            field=exc.field,
            details=exc.details or None,
        )
        if status == 503:
            response.headers["Retry-After"] = str(RETRY_AFTER)
        return response

    report = outage or DatabaseOutage()

    async def _database(_req: Request, exc: Exception) -> JSONResponse:
        report(exc)
        response = problem(503, "Unavailable", DATABASE_OUT, code="unavailable")
        response.headers["Retry-After"] = str(RETRY_AFTER)
        return response

    for error in database_errors():
        app.add_exception_handler(error, _database)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_req: Request, exc: StarletteHTTPException) -> JSONResponse:
        title = {
            400: "BadRequest",
            404: "NotFound",
            405: "MethodNotAllowed",
            413: "PayloadTooLarge",
        }.get(exc.status_code, "HTTPError")
        response = problem(
            exc.status_code,
            title,
            str(exc.detail),
            code=HTTP_CODES.get(exc.status_code, "http_error"),
            field=getattr(exc, "field", None),
        )
        for key, value in (exc.headers or {}).items():
            response.headers[key] = value
        return response

    @app.exception_handler(RequestValidationError)
    async def _validation(_req: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        first = errors[0] if errors else {}
        malformed = _malformed(first, exc.body)
        if malformed is not None:
            # Not JSON at all: a malformed request (400), as serving says it.
            return problem(
                400, "MalformedRequest", malformed, code=MALFORMED, field="body"
            )
        loc = tuple(first.get("loc", ()))
        if loc[:1] == ("path",):  # a path parameter is named as it is
            loc = loc[1:]
        loc = tuple(p for p in loc if p not in ("body", "query"))
        # The same wording as the SDK and CLI get from a spec (mlsteward.spec).
        error = error_of({**first, "loc": loc}) if first else None
        extra = error.details if error is not None else {}
        return problem(
            422,
            "InvalidInput",
            error.message if error is not None else "request: invalid",
            code="invalid_input",
            field=(error.field or None) if error is not None else None,
            **extra,
            errors=[
                {
                    "field": ".".join(str(p) for p in e.get("loc", ())),
                    "message": e.get("msg"),
                }
                for e in errors
            ],
        )
