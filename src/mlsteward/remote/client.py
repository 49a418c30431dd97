"""``mlsteward.Client("http://host:8000", token=...)``: the same surface over HTTP.

The remote client has the embedded client's namespaces (``client.models``,
``client.monitors``, ...) with the same methods, arguments and result types.
Each method is bound, by its use-case name, to the control-plane route that
runs the same service method on the server (:mod:`mlsteward.remote.binding`);
the signature is the embedded method's, so a call that works in a notebook
works against a server. The server checks the token's permissions; the
laptop holds no database or artifact-store credentials.
"""

from __future__ import annotations

import functools
import inspect
import typing
from typing import Any

import httpx
from pydantic import BaseModel

from mlsteward.errors import InvalidInput
from mlsteward.remote.binding import Operation, operations
from mlsteward.remote.transfers import custom_method
from mlsteward.remote.transport import Transport
from mlsteward.results import frame_of

__all__ = ["RemoteClient", "RemoteNamespace", "bind_call"]


def bind_call(
    op: Operation,
    signature: inspect.Signature,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> dict[str, Any]:
    """The route's arguments by name, from a call shaped as the embedded method.

    A pydantic spec argument becomes the body; loose keyword fields are the
    spec's fields (merged over a given spec, as the embedded client does).
    """
    bound = signature.bind(None, *args, **kwargs)
    out: dict[str, Any] = {}
    spec: BaseModel | None = None
    loose: dict[str, Any] = {}
    for name, value in list(bound.arguments.items())[1:]:
        kind = signature.parameters[name].kind
        if kind is inspect.Parameter.VAR_KEYWORD:
            loose.update(value)
        elif isinstance(value, BaseModel) and op.body_param is not None:
            spec = value
        elif value is not None or name in op.path_params:
            out[name] = value
    if op.body_param is not None:
        body: dict[str, Any] = (
            spec.model_dump(mode="json", exclude_unset=True) if spec else {}
        )
        for name in op.path_params:  # a path the spec names (a policy's model)
            if out.get(name) is None and name in body:
                out[name] = body.pop(name)
        for name in list(out):
            if name not in op.path_params and name not in op.query_params:
                body[name] = out.pop(name)
        body.update(loose)
        for name in op.path_params:  # a spec field the route takes in its URL
            if name not in out and name in body:
                out[name] = body.pop(name)
        out[op.body_param] = body
    elif loose:
        out.update(loose)
    return out


_WORKER = (
    "a worker runs jobs where the store is (`mlsteward worker` on the "
    "server's machine); queue work with client.jobs.enqueue"
)

#: SDK methods that only make sense beside the store, with what to do
#: against a server instead.
LOCAL_ONLY: dict[str, str] = {
    "jobs.run_pending": _WORKER,
    "jobs.start_worker": _WORKER,
    "jobs.stop_worker": _WORKER,
    "jobs.score_file": (
        "the process that scores reads the file; against a server, queue "
        "client.jobs.enqueue(kind='batch_score', payload={...}) with paths "
        "the workers can read"
    ),
    "monitors.run_due": (
        "workers queue the monitors that fall due (`mlsteward worker`); run "
        "one now with client.monitors.run(name)"
    ),
    "alerts.deliver_pending": (
        "workers deliver alerts (`alert_deliver` jobs), so no request waits "
        "on a sink; client.alerts.list shows their state"
    ),
    "outcomes.labelled_window": (
        "it joins the log and outcomes in process for a monitor run; read "
        "the figures with client.monitors.results"
    ),
}

#: SDK methods offered under another use case's route.
ALIASES: dict[str, str] = {"retrainings.run": "retrainings.retrain"}


class RemoteNamespace:
    """A namespace of the remote client: ``client.monitors`` over HTTP.

    Args:
        transport: Where requests go.
        name: The namespace (``monitors``).
        embedded: The embedded namespace class whose methods it mirrors.
    """

    def __init__(self, transport: Transport, name: str, embedded: type) -> None:
        self._transport = transport
        self._name = name
        self._embedded = embedded

    def __dir__(self) -> list[str]:
        return [m for m in dir(self._embedded) if not m.startswith("_")]

    def __getattr__(self, method: str) -> Any:
        if method.startswith("_"):
            raise AttributeError(method)
        fn = getattr(self._embedded, method, None)
        if fn is None:
            raise AttributeError(f"client.{self._name} has no method {method!r}")
        custom = custom_method(f"{self._name}.{method}")
        if custom is not None:
            bound = functools.partial(custom, self._transport)
            functools.update_wrapper(bound, fn)
            return bound
        key = f"{self._name}.{method}"
        if key in LOCAL_ONLY:
            raise AttributeError(
                f"client.{key} runs in the process that holds the store, so a "
                f"remote client does not offer it: {LOCAL_ONLY[key]}"
            )
        op = operations().get(ALIASES.get(key, key))
        if op is None:
            raise AttributeError(f"client.{key} is not offered over HTTP yet")
        signature = inspect.signature(fn)
        returns = signature.return_annotation

        def call(*args: Any, **kwargs: Any) -> Any:
            try:
                arguments = bind_call(op, signature, args, kwargs)
            except TypeError as exc:
                raise InvalidInput(str(exc), field=method) from exc
            path, query, body = op.split(arguments)
            response = self._transport.request(op.method, path, params=query, json=body)
            if response.status_code == 204 or not response.content:
                return None
            parsed = narrowed(op.parse(response.json()), fn)
            return _as_returned(parsed, returns)

        call.__name__ = method
        call.__doc__ = fn.__doc__
        return call


def _as_returned(value: Any, annotation: Any) -> Any:
    """Shape a parsed answer as the embedded method returns it (a DataFrame
    where the embedded method gives one)."""
    text = (
        annotation
        if isinstance(annotation, str)
        else getattr(annotation, "__name__", "")
    )
    if "DataFrame" in str(text):
        rows = value if isinstance(value, list) else value.get("rows", value)
        dicts = [_dict(r) for r in rows]
        return frame_of(dicts, list(dicts[0]) if dicts else [])
    return value


def narrowed(value: Any, fn: Any) -> Any:
    """``value`` as the type ``fn`` returns, where the route answered a richer
    subtype (a dataset version with its profile in the JSON is returned as
    the :class:`DatasetVersion` the embedded client gives)."""
    try:
        returns = typing.get_type_hints(fn).get("return")
    except (NameError, TypeError):
        return value
    return _narrow(value, returns)


def _narrow(value: Any, tp: Any) -> Any:
    if typing.get_origin(tp) is list and isinstance(value, list):
        args = typing.get_args(tp)
        return [_narrow(v, args[0]) for v in value] if args else value
    if (
        isinstance(tp, type)
        and issubclass(tp, BaseModel)
        and isinstance(value, tp)
        and type(value) is not tp
    ):
        return tp.model_validate(dict(value))
    return value


def _dict(row: Any) -> Any:
    return row.model_dump() if isinstance(row, BaseModel) else row


class RemoteClient:
    """The client of a mlsteward server: ``client.models``, ``client.monitors``
    and the rest, over HTTP, with the embedded client's methods and results.

    Args:
        url: The server (``http://host:8000``).
        token: A bearer token (default ``MLSTEWARD_TOKEN``).
        http: An ``httpx.Client`` to send through (tests pass a TestClient).

    Example:
        >>> client = RemoteClient("http://ms:8000", token="mls_...")  # doctest: +SKIP
        >>> client.deployments.list()  # doctest: +SKIP
    """

    def __init__(
        self, url: str, token: str | None = None, *, http: httpx.Client | None = None
    ) -> None:
        if token is None:
            from mlsteward.config import get_settings

            token = get_settings().token
        self.transport = Transport(url, token, http=http)
        self._namespaces: dict[str, RemoteNamespace] = {}

    def __repr__(self) -> str:
        return f"RemoteClient({self.transport.url!r})"

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        from mlsteward.sdk.client import Client

        attr = inspect.getattr_static(Client, name, None)
        if isinstance(attr, property) and attr.fget is not None:
            if name not in self._namespaces:
                hints = typing.get_type_hints(attr.fget)
                self._namespaces[name] = RemoteNamespace(
                    self.transport, name, hints["return"]
                )
            return self._namespaces[name]
        if callable(attr):
            # A flat method of the embedded client: it delegates to a
            # namespace, which here is remote.
            return functools.partial(attr, self)
        raise AttributeError(f"the client has no {name!r}")

    @property
    def ctx(self) -> Any:
        raise AttributeError(
            "a remote client has no local store; this method is not offered "
            "over HTTP yet"
        )

    def login(self, token: str) -> None:
        """Send ``token`` from now on."""
        self.transport.token = token

    def close(self) -> None:
        self.transport.close()

    def __enter__(self) -> RemoteClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _embedded() -> type:
    from mlsteward.sdk.client import Client as Embedded

    return Embedded


class Client(_embedded()):  # type: ignore[misc]
    """``mlsteward.Client``: the embedded client, or a remote one given a URL.

    ``Client("http://host:8000", token=...)``, ``Client(url=...)`` or
    ``MLSTEWARD_URL`` in the environment give a :class:`RemoteClient`;
    anything else the embedded client (:class:`mlsteward.sdk.Client`).

    Example:
        >>> import mlsteward
        >>> mlsteward.Client("http://ms:8000", token="mls_...")  # doctest: +SKIP
        RemoteClient('http://ms:8000')
    """

    def __new__(cls, settings: Any = None, *args: Any, **kwargs: Any) -> Any:
        url = settings if isinstance(settings, str) else kwargs.get("url")
        if url is None and settings is None:
            from mlsteward.config import get_settings

            overrides = {k: v for k, v in kwargs.items() if k not in ("actor", "token")}
            url = get_settings(**overrides).url
        if url:
            return RemoteClient(url, kwargs.get("token"), http=kwargs.get("http"))
        return super().__new__(cls)
