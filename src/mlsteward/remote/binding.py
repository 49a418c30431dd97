"""The REST operations the remote client calls, read from the app's routes.

Each control-plane route names its use case (``api.deps.Op``); that name is
the route's ``operationId`` and the remote client's method
(``client.models.set_alias`` calls the route of use case
``models.set_alias``). Arguments go where the route takes them (path, query
or body) by name; the answer is parsed back into the route's response model,
the very type the embedded client returns.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from importlib import import_module
from typing import Any

from pydantic import BaseModel, TypeAdapter

from mlsteward.api.app import ROUTERS
from mlsteward.api.deps import use_case_of
from mlsteward.errors import InvalidInput

__all__ = ["Operation", "operations"]


@dataclass(frozen=True)
class Operation:
    """One route: how to call a use case over HTTP."""

    name: str
    method: str
    path: str  # under /api/v1, with {params}
    path_params: tuple[str, ...]
    query_params: tuple[str, ...]
    body_param: str | None
    body_model: Any
    body_embed: bool
    response: Any
    status_code: int | None

    def split(self, arguments: dict[str, Any]) -> tuple[str, dict[str, Any], Any]:
        """The URL path, query and JSON body for ``arguments`` by name."""
        args = dict(arguments)
        values = {}
        for p in self.path_params:
            if args.get(p) is None:
                raise InvalidInput(f"{p} is required", field=p)
            values[p] = _quote(str(args.pop(p)))
        path = "/api/v1" + self.path.format(**values)
        query = {q: _plain(args.pop(q)) for q in self.query_params if q in args}
        body: Any = None
        if self.body_param is not None:
            given = args.pop(self.body_param, None)
            if isinstance(given, BaseModel):
                body = given.model_dump(mode="json", exclude_unset=True)
            elif given is not None:
                body = _plain(given)
            else:  # the body's fields passed one by one
                body = {k: _plain(v) for k, v in args.items()}
                args = {}
        if args:
            unknown = sorted(args)
            raise InvalidInput(
                f"unknown argument {unknown[0]!r} for {self.name}",
                field=unknown[0],
            )
        return path, query, body

    def parse(self, payload: Any) -> Any:
        if self.response is None:
            return payload
        return _adapter(self.response).validate_python(payload)


@functools.cache
def _adapter(tp: Any) -> TypeAdapter[Any]:
    return TypeAdapter(tp)


def _quote(value: str) -> str:
    from urllib.parse import quote

    return quote(value, safe="")


def _plain(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


@functools.cache
def operations() -> dict[str, Operation]:
    """Every named control-plane operation, by use-case name."""
    found: dict[str, Operation] = {}
    for module_name in ROUTERS:
        router = import_module(module_name).router
        for route in router.routes:
            name = use_case_of(route)
            if name is None:
                continue
            dep = route.dependant
            body = dep.body_params[0] if dep.body_params else None
            found[name] = Operation(
                name=name,
                method=sorted(route.methods - {"HEAD", "OPTIONS"})[0],
                # ``{ref:path}`` holds a ref with slashes; the converter is
                # the server's business, the client fills ``{ref}``.
                path=re.sub(r"\{(\w+):\w+\}", r"{\1}", route.path),
                path_params=tuple(p.name for p in dep.path_params),
                query_params=tuple(p.alias for p in dep.query_params),
                body_param=body.name if body is not None else None,
                body_model=body.field_info.annotation if body is not None else None,
                body_embed=bool(getattr(body, "embed", False)) if body else False,
                response=route.response_model,
                status_code=route.status_code,
            )
    return found
