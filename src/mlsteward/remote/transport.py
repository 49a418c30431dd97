"""HTTP transport of the remote client: one ``httpx.Client``, a bearer token,
problem+json answers turned back into the domain errors they came from."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import httpx

from mlsteward import errors
from mlsteward.errors import MlstewardError

__all__ = ["Transport", "error_of_problem"]

#: Every domain error by its ``code``, so a 409 from the server is the same
#: ``Conflict`` the embedded client raises.
_ERRORS: dict[str, type[MlstewardError]] = {
    cls.code: cls
    for cls in vars(errors).values()
    if isinstance(cls, type) and issubclass(cls, MlstewardError)
}


def error_of_problem(response: httpx.Response) -> MlstewardError:
    """The domain error a problem+json answer stands for.

    Example:
        >>> r = httpx.Response(404, json={"type": "https://mlsteward.dev/problems/not_found",
        ...     "title": "NotFound", "status": 404, "detail": "no such model",
        ...     "field": "name"})
        >>> e = error_of_problem(r); type(e).__name__, e.field
        ('NotFound', 'name')
    """
    try:
        body = response.json()
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    code = str(body.get("type", "")).rsplit("/", 1)[-1]
    cls = _ERRORS.get(code)
    detail = str(body.get("detail") or response.text or response.reason_phrase)
    if cls is None:
        cls = {
            400: errors.InvalidInput,  # malformed_request: the body is not JSON
            401: errors.Unauthenticated,
            403: errors.Forbidden,
            404: errors.NotFound,
            409: errors.Conflict,
            413: errors.InvalidInput,
            422: errors.InvalidInput,
        }.get(response.status_code, MlstewardError)
    raw = body.get("details")
    details: dict[str, Any] = dict(raw) if isinstance(raw, dict) else {}
    if "allowed" in body and "allowed" not in details:
        details = {**details, "allowed": body["allowed"]}
    return cls(detail, field=body.get("field"), status=response.status_code, **details)


class Transport:
    """Requests to one mlsteward server.

    Args:
        url: The server's base URL (``http://host:8000``).
        token: The bearer token sent with every request.
        http: An ``httpx.Client`` to use (tests pass FastAPI's TestClient).
        timeout: Seconds per request.
    """

    def __init__(
        self,
        url: str,
        token: str | None,
        *,
        http: httpx.Client | None = None,
        timeout: float = 60.0,
    ) -> None:
        self.url = url.rstrip("/")
        self.token = token
        self._http = http or httpx.Client(base_url=self.url, timeout=timeout)
        self._owned = http is None

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        content: bytes | Iterator[bytes] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """One request; a 4xx/5xx answer raises its domain error."""
        query = {k: v for k, v in (params or {}).items() if v is not None}
        try:
            response = self._http.request(
                method,
                self._url(path),
                params=query,
                json=json,
                content=content,
                headers={**self.headers(), **(headers or {})},
            )
        except httpx.HTTPError as exc:
            raise MlstewardError(
                f"could not reach the mlsteward server at {self.url}: {exc}",
                field="url",
            ) from exc
        if response.status_code >= 400:
            raise error_of_problem(response)
        return response

    def stream(self, path: str, *, params: Mapping[str, Any] | None = None) -> Any:
        """A streamed GET (``with transport.stream(...) as r``)."""
        return self._http.stream(
            "GET", self._url(path), params=dict(params or {}), headers=self.headers()
        )

    def _url(self, path: str) -> str:
        # Relative to the httpx client's base URL (ours, or a TestClient's).
        return path

    def close(self) -> None:
        if self._owned:
            self._http.close()
