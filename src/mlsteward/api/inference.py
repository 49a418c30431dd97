"""The inference server: a lean ASGI app in front of the serving runtime.

Routes:

- ``POST /predict/{deployment}``: JSON records (one object or a list);
  answers score, decision at the deployment's threshold, the version that
  answered, the route and a request id per record. ``?explain=true`` adds
  the principal reasons towards denial, also stored with the record.
- The Open Inference Protocol v2 REST API: ``GET /v2``,
  ``GET /v2/health/live``, ``GET /v2/health/ready``,
  ``GET /v2/models/{name}[/versions/{v}]``,
  ``GET /v2/models/{name}[/versions/{v}]/ready``,
  ``POST /v2/models/{name}[/versions/{v}]/infer``; a v2 "model" is a
  deployment.
- MLflow's scoring server: ``POST /invocations`` (the one deployment
  served) and ``POST /invocations/{deployment}`` take MLflow's request
  formats (``dataframe_split``, ``dataframe_records``, ``instances``,
  ``inputs``; ``/predict`` takes them too) and answer
  ``{"predictions": [...]}`` with the rows ``/predict`` gives;
  ``GET /ping`` and ``GET /health`` answer 200 like MLflow's.
- ``GET /metrics``: Prometheus text format.

No web framework on this path: routing is a split of the path, bodies are
decoded by msgspec against a type compiled from the deployment's contract,
answers are encoded by orjson. Domain errors become HTTP statuses here and
only here: problem+json for ``/predict``, ``{"error": ...}`` for v2.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qs

import orjson
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from mlsteward.api import v2
from mlsteward.api.inference_auth import InferenceAuth
from mlsteward.api.problem_types import problem_type
from mlsteward.config import Settings, get_settings
from mlsteward.context import Context
from mlsteward.errors import (
    Forbidden,
    InvalidInput,
    MlstewardError,
    NotFound,
    Unavailable,
)
from mlsteward.serving.mlflow_requests import (
    decode_mlflow,
    mlflow_format,
    parse_mlflow,
)
from mlsteward.serving.outages import RETRY_AFTER, database_errors
from mlsteward.serving.runtime import LiveDeployment, Scored, ServingRuntime
from mlsteward.serving.schema import Batch, MalformedRequest, RequestTooLarge

__all__ = ["InferenceApp", "create_inference_app"]

_log = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

_JSON = b"application/json"
_PROBLEM = b"application/problem+json"
_DATABASE_OUT = "the metadata database is unreachable; try again shortly (Retry-After)"


def _status(exc: MlstewardError) -> int:
    if isinstance(exc, RequestTooLarge):
        return 413
    if isinstance(exc, MalformedRequest):
        return 400
    if isinstance(exc, InvalidInput):
        return 422
    if isinstance(exc, NotFound):
        return 404
    if isinstance(exc, Forbidden):
        return 401 if exc.code == "unauthenticated" else 403
    if isinstance(exc, Unavailable):
        return 503
    return 500


class InferenceApp:
    """ASGI app serving deployments through a :class:`ServingRuntime`.

    Args:
        ctx: Stores and settings.
        names: Deployments to serve (``None``: all of them).
    """

    def __init__(self, ctx: Context, names: list[str] | None = None) -> None:
        self.ctx = ctx
        self.runtime = ServingRuntime(ctx, names)
        self.auth = InferenceAuth(ctx, self.runtime.outages)
        self.max_body = ctx.settings.serving_max_body_bytes
        self.max_rows = ctx.settings.serving_max_rows
        self._database_errors = database_errors()

    # -- ASGI --------------------------------------------------------------
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            await self._http(scope, receive, send)
        elif kind == "lifespan":
            await self._lifespan(receive, send)

    async def startup(self) -> None:
        from mlsteward.serving.runtime import limit_threads

        limit_threads()
        await self.runtime.start()
        # Everything loaded so far lives as the process: keep it out
        # of the collector's full passes, which otherwise show up as
        # p99 latency spikes of tens of milliseconds.
        gc.collect()
        gc.freeze()

    async def shutdown(self) -> None:
        await self.runtime.stop()

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self.startup()
                except Exception as exc:
                    if isinstance(exc, MlstewardError):
                        text = exc.message  # the user's error: no traceback
                    else:
                        _log.exception("serving failed to start")
                        text = str(exc)
                    await send({"type": "lifespan.startup.failed", "message": text})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.shutdown()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope["path"]
        method: str = scope["method"]
        parts = [p for p in path.split("/") if p]
        if parts[:1] == ["predict"] and len(parts) == 2:
            if method != "POST":
                return await _respond(send, 405, {"error": "use POST"}, allow="POST")
            return await self._predict(scope, receive, send, parts[1])
        if parts[:1] == ["invocations"] and len(parts) <= 2:
            if method != "POST":
                return await _respond(send, 405, {"error": "use POST"}, allow="POST")
            return await self._invocations(scope, receive, send, parts[1:])
        if parts[:1] == ["v2"]:
            return await self._v2(scope, receive, send, parts[1:], method)
        if parts in (["ping"], ["health"]) and method == "GET":
            # MLflow's scoring server's readiness probes, for its clients.
            return await _send(send, 200, b"\n", _JSON)
        if parts == ["openapi.json"] and method == "GET":
            from mlsteward.api.inference_openapi import inference_openapi

            return await _respond(
                send, 200, inference_openapi(sorted(self.runtime.live))
            )
        if parts == ["metrics"] and method == "GET":
            body = generate_latest(self.runtime.metrics.registry)
            return await _send(send, 200, body, CONTENT_TYPE_LATEST.encode())
        return await _respond(send, 404, {"error": f"no route {method} {path}"})

    # -- /predict ----------------------------------------------------------
    async def _predict(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        name: str,
        endpoint: str = "predict",
    ) -> None:
        m = self.runtime.metrics
        headers = _headers(scope)
        try:
            await self.auth.check(headers.get("authorization"), name)
            live = self.runtime.deployment(name)
            body = await self._body(headers, receive)
            started = time.perf_counter()
            raw_query = scope.get("query_string", b"")
            explain = bool(raw_query) and _explain_asked(raw_query)
            batch = _decode(live, body, mlflow_only=endpoint == "invocations")
            if batch.n > self.max_rows:
                raise RequestTooLarge(
                    f"{batch.n} records in one request; the limit is "
                    f"{self.max_rows} (MLSTEWARD_SERVING_MAX_ROWS)",
                    field="records",
                )
            scored = await self.runtime.predict(
                live,
                batch,
                key=headers.get("x-routing-key"),
                started=started,
                explain=explain,
            )
        except Exception as exc:
            return await self._problem(send, name, endpoint, exc)
        rows = _rows(scored)
        out: Any = rows[0] if batch.single else {"predictions": rows}
        m.ok(name, endpoint).inc()
        await _send(send, 200, orjson.dumps(out), _JSON)

    async def _invocations(
        self, scope: Scope, receive: Receive, send: Send, parts: list[str]
    ) -> None:
        """MLflow's ``POST /invocations``: the one deployment served, or
        ``/invocations/{deployment}`` when there are several."""
        if parts:
            return await self._predict(scope, receive, send, parts[0], "invocations")
        served = sorted(self.runtime.live)
        if len(served) != 1:
            detail = (
                f"this server serves {len(served)} deployments ({served}); "
                "POST /invocations/{deployment} to choose one"
            )
            exc = NotFound(detail, field="deployment")
            return await self._problem(send, "-", "invocations", exc)
        return await self._predict(scope, receive, send, served[0], "invocations")

    async def _problem(
        self, send: Send, name: str, endpoint: str, exc: Exception
    ) -> None:
        status, reason, message, field = self._classify(exc)
        m = self.runtime.metrics
        m.requests.labels(name, endpoint, str(status)).inc()
        m.errors.labels(name, reason).inc()
        body: dict[str, Any] = {
            "type": problem_type(reason),
            "title": type(exc).__name__,
            "status": status,
            "detail": message,
        }
        if field is not None:
            body["field"] = field
        if status == 503:
            return await _send(
                send, 503, orjson.dumps(body), _PROBLEM, **_retry_after(exc)
            )
        await _send(send, status, orjson.dumps(body), _PROBLEM)

    def _classify(self, exc: Exception) -> tuple[int, str, str, str | None]:
        if isinstance(exc, _NotImplemented):
            return 501, "not_implemented", str(exc), "explain"
        if isinstance(exc, MlstewardError):
            status = _status(exc)
            if status == 500:
                _log.error("serving error: %s", exc.message)
            return status, exc.code, exc.message, exc.field
        if isinstance(exc, self._database_errors):
            # An outage, not a bug: one warning per episode, a clear 503.
            self.runtime.outages.failed("database", exc)
            return 503, "unavailable", _DATABASE_OUT, None
        _log.exception("unexpected serving error")
        return 500, "internal", f"internal error ({type(exc).__name__})", None

    async def _body(self, headers: dict[str, str], receive: Receive) -> bytes:
        declared = headers.get("content-length")
        if (
            declared is not None
            and declared.isdigit()
            and int(declared) > self.max_body
        ):
            raise RequestTooLarge(
                f"the body is {declared} bytes; the limit is {self.max_body} "
                "(MLSTEWARD_SERVING_MAX_BODY_BYTES); send fewer records per request",
                field="body",
            )
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                raise RequestTooLarge(
                    f"the body is over the limit of {self.max_body} bytes "
                    "(MLSTEWARD_SERVING_MAX_BODY_BYTES); send fewer records per "
                    "request",
                    field="body",
                )
            chunks.append(chunk)
            if not message.get("more_body", False):
                return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    # -- Open Inference Protocol v2 ------------------------------------------
    async def _v2(
        self, scope: Scope, receive: Receive, send: Send, parts: list[str], method: str
    ) -> None:
        from mlsteward import __version__

        rt = self.runtime
        if not parts:
            if method != "GET":
                return await _respond(send, 405, {"error": "use GET"}, allow="GET")
            meta = {"name": "mlsteward", "version": __version__, "extensions": []}
            return await _respond(send, 200, meta)
        if method == "GET" and parts[0] == "health" and len(parts) == 2:
            return await self._health(send, parts[1])
        if parts[0] != "models" or len(parts) < 2:
            return await _respond(send, 404, {"error": f"no route {method} /v2/..."})
        name, rest = parts[1], parts[2:]
        version: str | None = None
        if rest[:1] == ["versions"] and len(rest) >= 2:
            version, rest = rest[1], rest[2:]
        action = rest[0] if rest else None
        if len(rest) > 1 or action not in (None, "ready", "infer"):
            return await _respond(send, 404, {"error": f"no route {method} /v2/..."})
        expected = "POST" if action == "infer" else "GET"
        if method != expected:
            return await _respond(
                send, 405, {"error": f"use {expected}"}, allow=expected
            )
        if action == "ready":
            return await self._model_ready(send, name, version)
        try:
            headers = _headers(scope)
            # Who asks comes first: an unknown caller learns nothing of what
            # is served (a not-found message names the served deployments).
            await self.auth.check(headers.get("authorization"), name)
            live = rt.deployment(name)
            pinned = _version(version)
            if pinned is not None:
                live.pinned(pinned)
            if action is None:
                return await _respond(send, 200, _metadata(live, pinned))
            await self._infer(receive, send, live, pinned, headers)
        except Exception as exc:
            status, reason, message, _ = self._classify(exc)
            if status in (400, 422):
                status = 400  # the protocol's status for a bad request
            rt.metrics.requests.labels(name, "v2", str(status)).inc()
            rt.metrics.errors.labels(name, reason).inc()
            extra = _retry_after(exc) if status == 503 else {}
            await _respond(send, status, {"error": message}, **extra)

    async def _health(self, send: Send, which: str) -> None:
        """``/v2/health/live`` and ``/v2/health/ready``. Degraded by a
        database outage, the server still serves: ready, and it names what
        is out. Unable to journal, it is not ready; each probe then tries a
        new journal segment, so it is ready again once space returns."""
        if which == "live":
            return await _respond(send, 200, {"live": True})
        if which != "ready":
            return await _respond(send, 404, {"error": "no route GET /v2/..."})
        rt = self.runtime
        ready = rt.ready
        if ready and "journal" in rt.outages.open:
            ready = await asyncio.to_thread(rt.journal_writable)
        degraded = rt.outages.degraded
        body: dict[str, Any] = {"live": True, "ready": ready}
        if degraded:
            body["degraded"] = degraded
        await _respond(send, 200 if ready else 503, body)

    async def _model_ready(self, send: Send, name: str, version: str | None) -> None:
        """``GET /v2/models/{name}[/versions/{v}]/ready``, open without a token
        so orchestrators can probe one model, as ``/v2/health/ready`` is: it
        answers for the model asked about and says nothing of any other (not
        which deployments or versions are served)."""
        live = self.runtime.live.get(name)
        ready = live is not None
        if live is not None and version is not None:
            try:
                live.pinned(int(_version(version) or 0))
            except MlstewardError:
                ready = False
        if ready:
            return await _respond(send, 200, {"name": name, "ready": True})
        what = name if version is None else f"{name} version {version[:20]}"
        await _respond(send, 404, {"error": f"model {what[:200]!r} is not ready here"})

    async def _infer(
        self,
        receive: Receive,
        send: Send,
        live: LiveDeployment,
        pinned: int | None,
        headers: dict[str, str],
    ) -> None:
        body = await self._body(headers, receive)
        started = time.perf_counter()
        request = v2.parse_infer_request(
            body, headers.get("inference-header-content-length")
        )
        schema = live.schema
        columns, extra = v2.columns_for(request, schema.specs)
        batch = schema.from_columns(columns, extra)
        if batch.n > self.max_rows:
            raise RequestTooLarge(
                f"{batch.n} rows in one request; the limit is {self.max_rows}",
                field="inputs",
            )
        if pinned is None:
            # One version answers a whole v2 request: the response has one
            # model_version.
            key = headers.get("x-routing-key") or (
                batch.keys[0] if batch.keys else None
            )
            pinned = live.choose(key)[0]
        scored = await self.runtime.predict(
            live, batch, version=pinned, started=started
        )
        values = {
            "score": scored.scores.tolist(),
            "decision": scored.decisions,
            "request_id": scored.request_ids,
        }
        flagged = sum(1 for f in scored.flags if f)
        body_out = v2.response_body(
            model_name=live.name,
            model_version=str(pinned),
            request_id=request.id or scored.request_ids[0],
            outputs=request.outputs,
            values=values,
            parameters={"unseen_category_rows": flagged} if flagged else None,
        )
        self.runtime.metrics.ok(live.name, "v2").inc()
        await _send(send, 200, body_out, _JSON)


class _NotImplemented(Exception):
    """A feature this server does not offer yet (501)."""


def _retry_after(exc: Exception) -> dict[str, str]:
    seconds = getattr(exc, "details", {}).get("retry_after", RETRY_AFTER)
    return {"retry-after": str(int(seconds))}


def _decode(live: LiveDeployment, body: bytes, *, mlflow_only: bool) -> Batch:
    """A request's batch: MLflow's formats on ``/invocations``; on
    ``/predict``, native records, or MLflow's formats when the native decoder
    refused the body and its top-level keys name one (so native requests
    never pay for the check)."""
    if mlflow_only:
        return decode_mlflow(live.schema, parse_mlflow(body))
    try:
        return live.schema.decode(body)
    except InvalidInput:
        data = _json_or_none(body)
        if mlflow_format(data, live.schema) is None:
            raise
    return decode_mlflow(live.schema, data)


def _json_or_none(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        return None


def _explain_asked(query: bytes) -> bool:
    """Whether the query string asks for reason codes (``explain=true``)."""
    values = parse_qs(query.decode("latin-1")).get("explain", ["false"])
    return values[-1].lower() in ("1", "true", "yes")


def _version(text: str | None) -> int | None:
    if text is None:
        return None
    # ASCII digits, bounded: '²' passes str.isdigit() and int() refuses it.
    if not (text.isascii() and text.isdigit() and len(text) <= 10):
        raise NotFound(
            f"model version {text[:20]!r} is not a version number", field="version"
        )
    return int(text)


def _metadata(live: LiveDeployment, version: int | None) -> dict[str, Any]:
    config = live.config
    served = [config.champion_version]
    if config.canary_version is not None:
        served.append(config.canary_version)
    model = live.models[version if version is not None else config.champion_version]
    specs = {s.name: s for s in live.schema.specs}
    inputs = [
        {"name": n, "datatype": v2.datatype_of(specs[n]), "shape": [-1]}
        for n in model.version.signature.feature_names
    ]
    return {
        "name": live.name,
        "versions": [str(v) for v in served],
        "platform": f"mlsteward_{model.version.flavor}",
        "inputs": inputs,
        "outputs": [
            {"name": k, "datatype": t, "shape": [-1]} for k, t in v2.OUTPUTS.items()
        ],
    }


def _rows(scored: Scored) -> list[dict[str, Any]]:
    scores = scored.scores.tolist()
    rows = []
    for i, rid in enumerate(scored.request_ids):
        row: dict[str, Any] = {
            "request_id": rid,
            "score": scores[i],
            "decision": scored.decisions[i],
            "model": scored.model,
            "version": scored.versions[i],
            "route": scored.routes[i],
        }
        if scored.flags[i]:
            row["flags"] = scored.flags[i]
        if scored.reasons is not None:
            row["reasons"] = scored.reasons[i]
        rows.append(row)
    return rows


def _headers(scope: Scope) -> dict[str, str]:
    return {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}


async def _send(
    send: Send, status: int, body: bytes, content_type: bytes, **extra: str
) -> None:
    headers = [
        (b"content-type", content_type),
        (b"content-length", str(len(body)).encode()),
    ]
    headers.extend((k.encode(), v.encode()) for k, v in extra.items())
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _respond(send: Send, status: int, payload: Any, **extra: str) -> None:
    await _send(send, status, orjson.dumps(payload), _JSON, **extra)


def create_inference_app(
    settings: Settings | None = None,
    ctx: Context | None = None,
    names: list[str] | None = None,
) -> InferenceApp:
    """The inference server for ``names`` (default: every deployment).

    Example:
        >>> app = create_inference_app(names=["credit-risk"])  # doctest: +SKIP
        >>> uvicorn.run(app, port=8080)  # doctest: +SKIP
    """
    ctx = ctx or Context.from_settings(settings or get_settings())
    return InferenceApp(ctx, names)
