"""Webhooks stay off the server's own network, and their secrets stay hidden.

Refused when a sink is configured (the error names the field) and again at
delivery, after the host name is resolved, before any connection: a real
loopback listener counts the connections it gets. Private and link-local
addresses (10.x, 169.254.x) are refused before any traffic leaves.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from mlsteward.errors import InvalidInput
from mlsteward.governance.specs import AddSink
from mlsteward.monitoring.alerting import Alerting
from mlsteward.monitoring.sinks import UnsafeWebhook, check_webhook_url, post_webhook

INTERNAL = [
    "http://127.0.0.1:9/hook",
    "http://10.1.2.3/hook",
    "http://172.16.0.1/hook",
    "http://192.168.1.1/hook",
    "http://169.254.169.254/latest/meta-data",
    "http://[::1]/hook",
    "http://[::ffff:127.0.0.1]/hook",
    "http://[fe80::1]/hook",
    "http://0.0.0.0/hook",
    "http://localhost/hook",
    "http://api.localhost/hook",
]


class Listener:
    """A loopback socket that accepts connections, counts them, never answers."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.accepted: list[socket.socket] = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted.append(conn)

    def close(self) -> None:
        self.sock.close()
        for conn in self.accepted:
            conn.close()
        self.thread.join(timeout=5)


@pytest.fixture
def silent() -> Iterator[Listener]:
    listener = Listener()
    yield listener
    listener.close()


@pytest.mark.parametrize("url", INTERNAL)
def test_internal_targets_are_refused_when_configured(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MLSTEWARD_WEBHOOK_ALLOW", raising=False)
    with pytest.raises(InvalidInput, match="MLSTEWARD_WEBHOOK_ALLOW") as info:
        Alerting.parse({"sinks": [{"type": "webhook", "url": url}]})
    assert info.value.field == "alerting.sinks.0.url"
    assert "meta-data" not in str(info.value) and "/hook" not in str(info.value)


def test_the_allow_list_names_hosts_and_networks(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    allow = "127.0.0.1, 10.0.0.0/8, chat.internal"
    for url in ("http://127.0.0.1:9/h", "http://10.9.9.9/h", "https://chat.internal/h"):
        assert check_webhook_url(url, "url", allow=allow) == url
    for url in ("http://192.168.1.1/h", "http://127.0.0.2/h"):
        with pytest.raises(UnsafeWebhook):
            check_webhook_url(url, "url", allow=allow)
    monkeypatch.setenv("MLSTEWARD_WEBHOOK_ALLOW", "192.168.0.0/16")
    sinks = Alerting.parse({"sinks": ["webhook:http://192.168.1.1/h"]}).sinks
    assert sinks[0].id == "webhook:192.168.1.1"
    for bad in ("ftp://example.com/h", "http:///h", "http://u:pw@example.com/h"):
        with pytest.raises(InvalidInput) as info:
            check_webhook_url(bad, "url", allow="")
        assert info.value.field == "url" and "pw" not in str(info.value)


def test_delivery_checks_again_after_resolving(silent: Listener) -> None:
    # A name (not an address) that resolves to loopback passes the
    # configuration check, and is refused once resolved: nothing connects.
    for host in ("127.1", "2130706433"):
        url = f"http://{host}:{silent.port}/hooks/s3cret"
        assert check_webhook_url(url, "url", allow="") == url
        with pytest.raises(UnsafeWebhook, match="resolves to internal") as info:
            post_webhook(url, {"text": "x"}, timeout=1, allow="")
        assert "s3cret" not in str(info.value)
    # Private and link-local addresses: refused before any traffic.
    for url in ("http://10.1.2.3/hook", "http://169.254.169.254/latest"):
        with pytest.raises(UnsafeWebhook):
            post_webhook(url, {"text": "x"}, timeout=1, allow="")
    assert silent.accepted == []
    # Allowed, it connects; a sink that never answers fails within the
    # timeout, and the error does not carry the URL's secret.
    url = f"http://127.0.0.1:{silent.port}/hooks/s3cret"
    with pytest.raises(RuntimeError, match="ReadTimeout") as err:
        post_webhook(url, {"text": "x"}, timeout=0.3, allow="127.0.0.0/8")
    assert "s3cret" not in str(err.value)
    assert len(silent.accepted) == 1


def test_notification_sinks_are_checked_and_masked(sqlite_client: Any) -> None:
    from mlsteward.governance.notify import NotificationService

    svc = NotificationService(sqlite_client.ctx)
    with pytest.raises(UnsafeWebhook) as info:
        svc.add_sink(AddSink(name="lan", url="http://10.0.0.5/hook"))
    assert info.value.field == "url"
    with pytest.raises(InvalidInput, match="not a valid name"):
        svc.add_sink(AddSink.parse(name="champion\n", url="https://chat.example/hook"))
    sink = svc.add_sink(
        AddSink(name="chat", url="https://chat.example/services/T0/s3cret")
    )
    assert "s3cret" not in str(sink.to_dict())
    [event] = [e for e in sqlite_client.audit_log() if e.action == "sink.added"]
    assert event.details["url"] == "https://chat.example/…"
