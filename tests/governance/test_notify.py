"""Notifications reach a real local webhook, and a failing one loses nothing."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from mlsteward.errors import InvalidInput
from mlsteward.governance.notify import NotificationService
from mlsteward.governance.specs import AddSink


@pytest.fixture(autouse=True)
def _loopback_webhooks_allowed(monkeypatch: pytest.MonkeyPatch) -> None:
    """The webhooks here listen on loopback, an internal address: allowed by
    name, before any settings are read (the refusal is tested in
    tests/monitoring/test_webhook_safety.py)."""
    monkeypatch.setenv("MLSTEWARD_WEBHOOK_ALLOW", "127.0.0.1")


class Hook:
    def __init__(self) -> None:
        self.received: list[dict] = []
        self.fail_next = 0


@pytest.fixture
def hook() -> Iterator[tuple[str, Hook]]:
    state = Hook()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            if state.fail_next:
                state.fail_next -= 1
                self.send_response(503)
                self.end_headers()
                return
            state.received.append(json.loads(body))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/hook", state
    server.shutdown()
    server.server_close()


def test_events_are_posted_in_order_and_retried(
    sqlite_client, credit, trained, hook
) -> None:
    url, state = hook
    svc = NotificationService(sqlite_client.ctx)
    svc.add_sink(
        AddSink(name="chat", url=url, actions=["model_version.registered", "alias.set"])
    )
    model, features = trained
    sqlite_client.register_model("credit-risk", model, credit[features])
    sqlite_client.set_alias("credit-risk", "champion", 1)
    state.fail_next = 1
    first = svc.deliver()
    assert first["chat"]["sent"] == 0 and "503" in first["chat"]["error"]
    assert svc.get("chat").last_error
    second = svc.deliver()
    assert second["chat"] == {
        "sent": 2,
        "cursor": second["chat"]["cursor"],
        "error": None,
    }
    texts = [m["text"] for m in state.received]
    assert texts[0].endswith("registered credit-risk/1")
    assert "credit-risk@champion" in texts[1]
    assert [m["event"]["action"] for m in state.received] == [
        "model_version.registered",
        "alias.set",
    ]
    # Each message carries the chain's head: the receiver holds a copy that
    # reaches at least the event it was told about, and checks out.
    head = sqlite_client.audit_head()
    for m in state.received:
        kept = m["audit_head"]
        assert m["event"]["seq"] <= kept["seq"] <= head.seq
        assert sqlite_client.verify_audit(
            expect_head=f"{kept['seq']}:{kept['hash']}"
        ).ok
    assert svc.deliver()["chat"]["sent"] == 0  # nothing twice


def test_bad_sinks_are_refused(sqlite_client) -> None:
    svc = NotificationService(sqlite_client.ctx)
    with pytest.raises(InvalidInput, match="http"):
        svc.add_sink(AddSink(name="x", url="file:///etc/passwd"))
    with pytest.raises(InvalidInput, match="not a valid name"):
        svc.add_sink(AddSink.parse(name="bad name", url="http://127.0.0.1:1/"))
