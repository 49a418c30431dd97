"""The public plug-in checkers: every built-in passes, a broken plug-in fails.

Each suite is parametrized over its seam's table, so a new built-in without a
case (sinks, job kinds) fails ``test_every_..._has_a_case``; flavors are
checked in ``test_flavors.py`` with the same :data:`FLAVOR_CHECKS`.
"""

from __future__ import annotations

import contextlib
import pickle
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import numpy as np
import pandas as pd
import pytest

from mlsteward.context import Context
from mlsteward.errors import InvalidInput
from mlsteward.flavors import Flavor
from mlsteward.jobs.handlers import HANDLER_TABLE, HANDLERS
from mlsteward.monitoring.sinks import SINK_TABLE, SINKS
from mlsteward.plugin_checks import (
    check_flavor,
    check_job_handler,
    check_sink,
    check_trainer,
    sample_frame,
)
from mlsteward.retraining.trainers import TRAINER_TABLE, TRAINERS, logistic_scorecard

# -- trainers ---------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(TRAINERS))
def test_every_built_in_trainer_passes(name: str) -> None:
    check_trainer(TRAINER_TABLE.get(name))


def _constant(frame: pd.DataFrame, *, features: Any, target: str, params=None):  # type: ignore[no-untyped-def]
    class Constant:
        def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
            return np.full((len(X), 2), 0.5)

    return Constant()


def _mutating(frame: pd.DataFrame, *, features: Any, target: str, params=None):  # type: ignore[no-untyped-def]
    frame["y"] = 1 - frame["y"]
    return logistic_scorecard(frame, features=features, target=target)


def _key_error(frame: pd.DataFrame, *, features: Any, target: str, params=None):  # type: ignore[no-untyped-def]
    frame[list(features)]  # a KeyError, not a named field, for a missing one
    return logistic_scorecard(frame, features=features, target=target)


@pytest.mark.parametrize(
    ("trainer", "message"),
    [
        (_constant, "a flavor can save the model"),
        (_mutating, "the training frame is left unchanged"),
        (_key_error, "a feature missing from the frame is InvalidInput"),
    ],
)
def test_a_broken_trainer_fails_with_the_rule_it_broke(
    trainer: Callable[..., Any], message: str
) -> None:
    with pytest.raises(AssertionError, match=message) as info:
        check_trainer(trainer, sample_frame())
    assert trainer.__name__ in str(info.value)


# -- alert sinks --------------------------------------------------------------------


@pytest.fixture
def webhook_url() -> Iterator[str]:
    """A real loopback webhook that answers 200."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/hook"
    server.shutdown()
    server.server_close()


SINK_SPECS: dict[str, Callable[[str], dict[str, Any]]] = {
    "log": lambda url: {"type": "log", "id": "log"},
    "webhook": lambda url: {"type": "webhook", "id": "webhook", "url": url},
    # The built-in policy trigger lets an alert of an unknown monitor pass.
    "retrain": lambda url: {"type": "retrain", "id": "retrain"},
}


def test_every_sink_has_a_case() -> None:
    assert set(SINK_SPECS) == set(SINKS)


@pytest.mark.parametrize("name", sorted(SINKS))
def test_every_built_in_sink_passes(
    name: str, sqlite_client: Any, webhook_url: str
) -> None:
    ctx = sqlite_client.ctx
    # The loopback webhook is an internal address: allowed here by name.
    settings = ctx.settings.model_copy(update={"webhook_allow": "127.0.0.1"})
    ctx = Context(ctx.store, ctx.artifacts, ctx.actor, settings)
    check_sink(SINK_TABLE.get(name), ctx=ctx, spec=SINK_SPECS[name](webhook_url))


class _ReturnsFalse:
    def __init__(self, spec: Any, ctx: Any) -> None:
        pass

    def send(self, alert: Any) -> bool:
        return False  # "failed", silently: the alert would be lost


class _EatsSpec:
    def __init__(self, spec: dict[str, Any], ctx: Any) -> None:
        self.url = spec.pop("url", None)

    def send(self, alert: Any) -> None:
        pass


class _NoSend:
    def __init__(self, spec: Any, ctx: Any) -> None:
        pass


@pytest.mark.parametrize(
    ("factory", "message"),
    [
        (_ReturnsFalse, "send returns None and raises on failure"),
        (_EatsSpec, "the factory leaves the spec unchanged"),
        (_NoSend, r"the sink has send\(alert\)"),
    ],
)
def test_a_broken_sink_fails_with_the_rule_it_broke(
    factory: Any, message: str, sqlite_client: Any
) -> None:
    with pytest.raises(AssertionError, match=message) as info:
        check_sink(factory, ctx=sqlite_client.ctx, spec={"type": "x", "url": "u"})
    assert factory.__qualname__ in str(info.value)


# -- job handlers -------------------------------------------------------------------

#: For each built-in kind: a payload it runs on its own (or None where a run
#: needs a registered model or monitor, tested in tests/jobs and
#: tests/retraining), and a payload it must refuse as InvalidInput (None: it
#: accepts any payload).
HANDLER_CASES: dict[str, tuple[dict[str, Any] | None, dict[str, Any] | None]] = {
    "noop": ({"echo": "hi"}, None),
    "sleep": ({"seconds": 0.05}, {"seconds": -1}),
    "batch_score": (None, {}),
    "monitor_run": (None, {}),
    "alert_deliver": ({}, {"retry_failed": "yes"}),
    "retrain": (None, {}),
}


def test_every_job_kind_has_a_case() -> None:
    assert set(HANDLER_CASES) == set(HANDLERS)


@pytest.mark.parametrize("kind", sorted(HANDLERS))
def test_every_built_in_job_handler_passes(kind: str, sqlite_client: Any) -> None:
    payload, invalid = HANDLER_CASES[kind]
    check_job_handler(
        HANDLER_TABLE.get(kind),
        ctx=sqlite_client.ctx,
        payload=payload,
        invalid_payload=invalid,
    )


def _swallows(ctx: Any, payload: dict[str, Any], log: Any) -> dict[str, Any]:
    with contextlib.suppress(Exception):  # keeps running after a cancel
        log.check()
    return {}


def _not_json(ctx: Any, payload: dict[str, Any], log: Any) -> dict[str, Any]:
    return {"when": object()}


def _key_error_job(ctx: Any, payload: dict[str, Any], log: Any) -> dict[str, Any]:
    return {"model": payload["model"]}


@pytest.mark.parametrize(
    ("handler", "message"),
    [
        (_swallows, r"JobInterrupted from log.check\(\) propagates"),
        (_not_json, "the result is JSON-serialisable"),
        (_key_error_job, "an invalid payload is InvalidInput"),
    ],
)
def test_a_broken_job_handler_fails_with_the_rule_it_broke(
    handler: Any, message: str, sqlite_client: Any
) -> None:
    payload = None if handler is _key_error_job else {}
    with pytest.raises(AssertionError, match=message) as info:
        check_job_handler(
            handler, ctx=sqlite_client.ctx, payload=payload, invalid_payload={}
        )
    assert handler.__name__ in str(info.value)


# -- flavors (the built-ins pass in test_flavors.py) --------------------------------


class _PickleFlavor(Flavor):
    """Saves with pickle: loads anything, so garbage is not refused by name."""

    name = "pickled"
    extension = ".pkl"

    def can_save(self, model: object) -> bool:
        return hasattr(model, "predict_proba")

    def save(self, model: object) -> bytes:
        if not self.can_save(model):
            raise InvalidInput("not a classifier", field="model")
        return pickle.dumps(model)

    def load(self, data: bytes) -> object:
        return pickle.loads(data)  # the mistake the contract catches

    def predict_proba(self, model: object, X: pd.DataFrame) -> np.ndarray:
        if X.empty:
            return np.empty(0)
        missing = set(model.feature_names_in_) - set(X.columns)  # type: ignore[attr-defined]
        if missing:
            raise InvalidInput(f"missing columns {sorted(missing)}", field="X")
        return np.asarray(model.predict_proba(X)[:, 1], dtype=np.float64)  # type: ignore[attr-defined]


class _TwoColumnFlavor(_PickleFlavor):
    name = "two-columns"

    def predict_proba(self, model: object, X: pd.DataFrame) -> np.ndarray:
        if X.empty:
            return np.empty((0, 2))
        return np.asarray(model.predict_proba(X), dtype=np.float64)  # type: ignore[attr-defined]


class _CrashingFlavor(_PickleFlavor):
    name = "crashing"

    def predict_proba(self, model: object, X: pd.DataFrame) -> np.ndarray:
        if "amount" not in X.columns:
            raise KeyError("amount")  # not a named field
        return super().predict_proba(model, X)


@pytest.mark.parametrize(
    ("flavor", "message"),
    [
        (_PickleFlavor(), "loading empty raises MlstewardError"),
        (_TwoColumnFlavor(), r"predict_proba has shape \(50,\)"),
        (_CrashingFlavor(), r"a missing column .amount. is InvalidInput; got KeyError"),
    ],
)
def test_a_broken_flavor_fails_with_the_rule_it_broke(
    flavor: Flavor, message: str
) -> None:
    frame = sample_frame()
    X = frame.drop(columns="y")
    model = logistic_scorecard(frame, features=list(X.columns), target="y")
    with pytest.raises(AssertionError, match=message) as info:
        check_flavor(flavor, model, X.iloc[:50])
    assert repr(flavor.name) in str(info.value)
