"""``mlsteward doctor`` with ``MLSTEWARD_URL`` set: what can be checked from
here over HTTP. The stores, workers and clocks are the server's; the last
finding says to run the doctor there."""

from __future__ import annotations

import re

import httpx

from mlsteward import __version__
from mlsteward.config import Settings
from mlsteward.ops.models import Finding

__all__ = ["remote_checks"]


def remote_checks(
    settings: Settings, *, http: httpx.Client | None = None, timeout: float = 5.0
) -> list[Finding]:
    """Check the server at ``settings.url`` and the token sent to it.

    Args:
        settings: ``url`` and ``token``.
        http: The client to send with (tests pass one bound to an app).
        timeout: Seconds a request may take.
    """
    assert settings.url
    url = settings.url.rstrip("/")
    own = http is None
    http = http or httpx.Client(base_url=url, timeout=timeout)
    try:
        server = _server(http, url)
        tokens = (
            _token(http, settings.token)
            if server.status != "fail"
            else Finding(
                check="tokens",
                status="skip",
                message="not checked: the server did not answer",
            )
        )
    finally:
        if own:
            http.close()
    rest = Finding(
        check="server-side",
        status="skip",
        message="the database, artifact store, workers, Dask and clocks are "
        "the server's: run `mlsteward doctor` where the server runs",
    )
    return [server, tokens, rest]


def _server(http: httpx.Client, url: str) -> Finding:
    try:
        answer = http.get("/api/v1/health")
        answer.raise_for_status()
        version = str(answer.json().get("version", "?"))
    except (httpx.HTTPError, ValueError) as exc:
        return Finding(
            check="server",
            status="fail",
            message=f"the server at {url} does not answer its health check: "
            f"{_words(exc)}",
            fix="check MLSTEWARD_URL, and that `mlsteward server` runs there "
            "and this machine may reach it",
        )
    if version != __version__:
        return Finding(
            check="server",
            status="warn",
            message=f"the server at {url} answers, running mlsteward {version}; "
            f"this one is {__version__}",
            fix=f"install mlsteward {version} here, as the server runs",
        )
    return Finding(
        check="server",
        status="ok",
        message=f"the server at {url} answers (mlsteward {version})",
    )


def _words(exc: BaseException) -> str:
    return re.sub(r"\s+", " ", str(exc)).strip() or type(exc).__name__


def _token(http: httpx.Client, token: str | None) -> Finding:
    if not token:
        return Finding(
            check="tokens",
            status="warn",
            message="MLSTEWARD_TOKEN is not set: the server refuses every "
            "request without one (unless it runs with MLSTEWARD_AUTH_REQUIRED off)",
            fix="ask an admin for a token (`mlsteward tokens create YOUR_NAME`) "
            "and set MLSTEWARD_TOKEN to it",
        )
    headers = {"Authorization": f"Bearer {token}"}
    try:
        answer = http.get("/api/v1/tokens", headers=headers)
    except httpx.HTTPError as exc:
        return Finding(
            check="tokens",
            status="fail",
            message=f"the token check did not complete: {_words(exc)}",
            fix="run `mlsteward doctor` again; check the server's logs",
        )
    if answer.status_code in (401, 403):
        return Finding(
            check="tokens",
            status="fail",
            message="the server does not accept MLSTEWARD_TOKEN (unknown, "
            "revoked or expired, or its user is disabled)",
            fix="ask an admin for a new token (`mlsteward tokens create "
            "YOUR_NAME`) and set MLSTEWARD_TOKEN to it",
        )
    if answer.status_code != 200:
        return Finding(
            check="tokens",
            status="fail",
            message=f"the server answered the token check with HTTP "
            f"{answer.status_code}",
            fix="check the server's logs",
        )
    return _whose(http, headers, token, answer.json())


def _whose(
    http: httpx.Client, headers: dict[str, str], token: str, listed: object
) -> Finding:
    """Name the token's user and role from the token list and user record."""
    parts = token.split("_", 2)
    token_id = parts[1] if len(parts) == 3 else None
    rows = listed if isinstance(listed, list) else []
    user = next(
        (
            r.get("user")
            for r in rows
            if isinstance(r, dict) and r.get("id") == token_id
        ),
        None,
    )
    role = None
    if user:
        answer = http.get(f"/api/v1/users/{user}", headers=headers)
        if answer.status_code == 200:
            role = answer.json().get("role")
    who = f" as {user}" + (f" (role {role})" if role else "") if user else ""
    return Finding(
        check="tokens",
        status="ok",
        message=f"the server accepts MLSTEWARD_TOKEN{who}",
    )
