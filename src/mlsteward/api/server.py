"""``mlsteward server``: the control plane and every deployment in one process.

Requests are dispatched by path prefix: ``/predict/...``, MLflow's
``/invocations[/...]`` and ``/ping``, ``/v2...`` and ``/metrics`` go to the
lean inference app, everything else to the FastAPI
control plane. Both apps' startup and shutdown run.
"""

from __future__ import annotations

import asyncio
from collections.abc import MutableMapping
from typing import Any

from mlsteward.api.app import create_app
from mlsteward.api.inference import InferenceApp, Receive, Scope, Send
from mlsteward.context import Context

__all__ = ["ServerApp", "create_server_app"]


class _Lifespan:
    """Drive one ASGI app's lifespan protocol from the outside."""

    def __init__(self, app: Any, scope: Scope) -> None:
        self.app = app
        self.scope = scope
        self.inbox: asyncio.Queue[MutableMapping[str, Any]] = asyncio.Queue()
        self.outbox: asyncio.Queue[MutableMapping[str, Any]] = asyncio.Queue()
        self.task: asyncio.Task[Any] | None = None

    async def _run(self) -> None:
        try:
            await self.app(self.scope, self.inbox.get, self.outbox.put)
        except Exception as exc:  # an app without lifespan support
            await self.outbox.put({"type": "lifespan.unsupported", "message": str(exc)})

    async def step(self, message: str) -> MutableMapping[str, Any]:
        if self.task is None:
            self.task = asyncio.get_running_loop().create_task(self._run())
        await self.inbox.put({"type": message})
        return await self.outbox.get()


class ServerApp:
    """Dispatch by path between the control plane and the inference app."""

    def __init__(self, ctx: Context) -> None:
        self.control = create_app(ctx=ctx)
        self.inference = InferenceApp(ctx)
        # The dashboard's overview reads this process's live serving metrics.
        self.control.state.web.state.serving_metrics = self.inference.runtime.metrics

    @staticmethod
    def _is_inference(path: str) -> bool:
        return (
            path.startswith("/predict/")
            or path == "/invocations"
            or path.startswith("/invocations/")
            or path in ("/ping", "/health")
            or path == "/v2"
            or path.startswith("/v2/")
            or path == "/metrics"
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(scope, receive, send)
        elif scope["type"] == "http" and self._is_inference(scope["path"]):
            await self.inference(scope, receive, send)
        else:
            await self.control(scope, receive, send)

    async def _lifespan(self, scope: Scope, receive: Receive, send: Send) -> None:
        control = _Lifespan(self.control, scope)
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                answer = await control.step("lifespan.startup")
                if answer["type"] == "lifespan.startup.failed":
                    await send(answer)
                    return
                try:
                    await self.inference.startup()
                except Exception as exc:
                    text = getattr(exc, "message", str(exc))
                    await send({"type": "lifespan.startup.failed", "message": text})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.inference.shutdown()
                await control.step("lifespan.shutdown")
                await send({"type": "lifespan.shutdown.complete"})
                return


def create_server_app(ctx: Context) -> ServerApp:
    """The control plane plus every deployment, for one mlsteward home."""
    return ServerApp(ctx)
