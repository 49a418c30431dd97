"""The practical limit for 1-row scoring: raw ASGI + orjson + ONNX Runtime.

No framework, no validation beyond what a correct request needs, no logging:
parse the JSON body with orjson, build one ``[N, 1]`` tensor per graph input,
run the ONNX Runtime session (one thread, sequential) and answer with the
probabilities of label 1. ``bench/serving.py`` serves it with uvicorn (uvloop,
httptools) beside mlsteward and MLflow so that every run measures the same
ceiling on the same machine.

Endpoints:
    GET  /ready    200 once the model is loaded.
    POST /predict  a JSON record or a list of records -> {"scores": [...]}

The model path comes from ``RAW_ONNX_MODEL``. Run it alone with::

    RAW_ONNX_MODEL=bench/out/serving/model.onnx \\
        uvicorn --app-dir bench raw_onnx_app:app --port 8001 \\
        --loop uvloop --http httptools --no-access-log
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from typing import Any

import numpy as np
import onnxruntime as ort
import orjson

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

_DTYPES = {
    "tensor(float)": np.float32,
    "tensor(double)": np.float64,
    "tensor(int64)": np.int64,
    "tensor(string)": object,
}


def _session(path: str) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    return ort.InferenceSession(
        path, sess_options=options, providers=["CPUExecutionProvider"]
    )


SESSION = _session(os.environ["RAW_ONNX_MODEL"])
INPUTS = [(i.name, _DTYPES[i.type]) for i in SESSION.get_inputs()]
OUTPUT = "probabilities"
RUN = SESSION.run
JSON = [(b"content-type", b"application/json")]


async def _respond(send: Send, status: int, body: bytes) -> None:
    await send({"type": "http.response.start", "status": status, "headers": JSON})
    await send({"type": "http.response.body", "body": body})


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    """The ASGI application."""
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    path = scope["path"]
    if path == "/predict" and scope["method"] == "POST":
        body = b""
        more = True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        try:
            data = orjson.loads(body)
            records = data if isinstance(data, list) else [data]
            feed = {
                name: np.array([[r[name]] for r in records], dtype=dtype)
                for name, dtype in INPUTS
            }
            scores = RUN([OUTPUT], feed)[0][:, 1]
        except Exception as exc:  # a bad request, not a crashed server
            await _respond(send, 400, orjson.dumps({"error": str(exc)}))
            return
        await _respond(send, 200, orjson.dumps({"scores": scores.tolist()}))
    elif path == "/ready":
        await _respond(send, 200, b'{"ready":true}')
    else:
        await _respond(send, 404, b'{"error":"not found"}')
