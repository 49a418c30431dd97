"""Alerts: de-duplication within a cool-down, a real webhook that fails and
then succeeds (the alert is retried, never lost), the retraining seam."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any

import pytest

from mlsteward.config import Settings
from mlsteward.monitoring.alerting import Alerting
from mlsteward.monitoring.alerts import (
    AlertService,
    register_retraining_trigger,
    unregister_retraining_trigger,
)
from mlsteward.monitoring.models import Monitor
from mlsteward.monitoring.sinks import TRIGGER_TABLE, sink_types

UTC = dt.UTC
T0 = dt.datetime(2025, 7, 31, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _loopback_webhooks_allowed(monkeypatch: pytest.MonkeyPatch) -> None:
    """The webhooks here listen on loopback, an internal address: allowed by
    name, before any settings are read (the refusal is tested in
    tests/monitoring/test_webhook_safety.py)."""
    monkeypatch.setenv("MLSTEWARD_WEBHOOK_ALLOW", "127.0.0.1")


def _monitor(sinks: list[Any], cooldown: int = 86400, name: str = "m") -> Monitor:
    return Monitor(
        id=f"id-{name}",
        name=name,
        deployment="d",
        model="x",
        schedule="1d",
        window={"type": "period", "period": "month", "lookback": 1},
        reference="champion",
        checks={},
        alerting=Alerting.parse({"sinks": sinks, "cooldown_seconds": cooldown}).stored(
            default_cooldown=cooldown
        ),
        routes=["champion"],
        description="",
        enabled=True,
        created_at=T0,
        created_by="t",
        updated_at=T0,
        last_run_at=None,
        next_run_at=None,
    )


def _row(status: str = "alert", value: float = 0.4, window: str = "2025-07") -> dict:
    return {
        "check": "drift.psi",
        "column": "credit_amount",
        "status": status,
        "value": value,
        "window_label": window,
        "details": {"effect": value, "watch_threshold": 0.1, "threshold": 0.25},
    }


def _raise(client: Any, monitor: Monitor, rows: list[dict], at: dt.datetime) -> list:
    svc = AlertService(client.ctx)
    with client.ctx.store.unit_of_work() as session:
        ids = svc.raise_alerts(session, monitor=monitor, run_id="r", rows=rows, at=at)
    return ids


def test_repeats_fold_into_one_alert_within_the_cool_down(client) -> None:
    m = _monitor(["log"], cooldown=86400)
    first = _raise(client, m, [_row()], T0)
    again = _raise(client, m, [_row(value=0.5)], T0 + dt.timedelta(hours=3))
    assert first == again  # folded
    alerts = client.list_alerts(monitor="m")
    assert len(alerts) == 1
    assert (alerts[0].count, alerts[0].value) == (2, 0.5)
    assert alerts[0].last_seen == T0 + dt.timedelta(hours=3)
    # After the cool-down, a new alert; an escalation has its own key.
    _raise(client, m, [_row()], T0 + dt.timedelta(days=2))
    _raise(client, m, [_row(status="warn")], T0 + dt.timedelta(days=2))
    assert len(client.list_alerts(monitor="m")) == 3
    assert {a.severity for a in client.list_alerts(monitor="m")} == {
        "critical",
        "warning",
    }
    # ok rows raise nothing; raising is audited
    assert _raise(client, m, [_row(status="ok")], T0) == []
    raised = [e for e in client.audit_log() if e.action == "alert.raised"]
    assert len(raised) == 3


def test_failing_webhook_keeps_the_alert_pending_until_delivered(
    sqlite_client, hook
) -> None:
    url, handler = hook
    handler.failures = 2
    m = _monitor(["log", f"webhook:{url}"])
    [alert_id] = _raise(sqlite_client, m, [_row()], T0)
    svc = AlertService(sqlite_client.ctx)
    for _ in range(2):
        [a] = svc.deliver_pending()
        assert a.status == "pending"
    assert a.delivered == ["log"]  # the log took it once and is not re-sent
    errors = [x for x in a.sink_attempts if not x["ok"]]
    assert len(errors) == 2 and "HTTP 500" in errors[0]["error"]
    [a] = svc.deliver_pending()
    assert a.status == "sent" and a.sent_at is not None
    assert a.delivered[0] == "log" and a.delivered[1].startswith("webhook:127.0.0.1:")
    assert [x["sink"] for x in a.sink_attempts].count("log") == 1
    assert len(handler.bodies) == 3
    # What a chat webhook accepts, and the audit head for the receiver to keep.
    assert set(handler.bodies[-1]) == {"text", "audit_head"}
    assert "credit_amount" in handler.bodies[-1]["text"]
    kept = handler.bodies[-1]["audit_head"]
    assert kept["seq"] > 0
    assert sqlite_client.verify_audit(expect_head=f"{kept['seq']}:{kept['hash']}").ok
    assert svc.deliver_pending() == []
    assert "s3cret" not in json.dumps(svc.get(alert_id).to_dict())


def test_gives_up_after_max_attempts_but_can_retry(tmp_path, hook) -> None:
    from mlsteward.sdk import Client

    url, handler = hook
    handler.failures = 10
    c = Client(Settings(home=tmp_path / "h", actor="t", alert_max_attempts=2))
    try:
        _raise(
            c,
            _monitor([{"type": "webhook", "url": url, "format": "json"}]),
            [_row()],
            T0,
        )
        c.deliver_alerts()
        [a] = c.deliver_alerts()
        assert a.status == "failed"
        assert c.deliver_alerts() == []  # not retried silently
        handler.failures = 0
        [a] = c.deliver_alerts(retry_failed=True)
        assert a.status == "sent"
        # One digest per incident; the json format carries the incident whole.
        assert handler.bodies[-1]["incident"]["items"][0]["check"] == "drift.psi"
        assert set(handler.bodies[-1]["audit_head"]) == {"seq", "hash"}
    finally:
        c.close()


def test_retraining_seam(sqlite_client) -> None:
    # The built-in trigger is always there: it retrains by the model's policy
    # and lets alerts of monitors it does not know ("m" is not stored) pass.
    assert TRIGGER_TABLE.available() == ["policy"]
    m = _monitor(["retrain"])
    _raise(sqlite_client, m, [_row(status="warn")], T0)  # below min severity
    assert sqlite_client.list_alerts()[0].status == "sent"  # nothing to deliver
    [alert_id] = _raise(sqlite_client, m, [_row()], T0)

    def broken(alert: Any, ctx: Any) -> None:
        raise RuntimeError("retraining service is down")

    register_retraining_trigger(broken)
    try:
        [a] = sqlite_client.deliver_alerts()
    finally:
        unregister_retraining_trigger(broken)
    assert a.status == "pending"
    assert "retraining service is down" in a.sink_attempts[-1]["error"]
    seen: list[str] = []

    def trigger(alert: Any, ctx: Any) -> None:
        seen.append(alert.id)

    register_retraining_trigger(trigger)
    try:
        [a] = sqlite_client.deliver_alerts()
    finally:
        unregister_retraining_trigger(trigger)
    assert a.status == "sent" and seen == [alert_id]
    assert TRIGGER_TABLE.available() == ["policy"]


def test_trigger_and_sink_plugins_come_from_entry_points(
    sqlite_client, install_plugin, caplog
) -> None:
    module = f"alert_plugins_{uuid.uuid4().hex[:8]}"
    source = """
    SENT = []


    class ListSink:
        def __init__(self, spec, ctx):
            self.spec = spec

        def send(self, alert):
            SENT.append(alert.id)
    """
    with caplog.at_level("WARNING", logger="mlsteward.plugins"):
        install_plugin(
            {
                "mlsteward.alert_sinks": {
                    "list": f"{module}:ListSink",
                    "log": f"{module}:ListSink",  # may not replace the built-in
                },
                "mlsteward.retraining_triggers": {
                    # A stale declaration of the built-in itself: no warning.
                    "policy": "mlsteward.retraining.triggers:on_alert",
                    "ghost": "no_such_module_for_mlsteward_tests:on_alert",
                },
            },
            {module: source},
        )
        assert sink_types() == ["list", "log", "retrain", "webhook"]
        assert TRIGGER_TABLE.available() == ["ghost", "policy"]
    assert "'log' is a built-in alert sink" in caplog.text
    assert "'policy'" not in caplog.text
    m = Monitor(
        **{
            **_monitor([]).__dict__,
            "alerting": Alerting.parse({"sinks": ["list", "log", "retrain"]}).stored(
                default_cooldown=60
            ),
        }
    )
    [alert_id] = _raise(sqlite_client, m, [_row()], T0)
    [a] = sqlite_client.deliver_alerts()
    sent = __import__(module).SENT
    assert sent == [alert_id]  # the plug-in sink, and the built-in log sink
    assert a.status == "pending"  # the trigger that cannot be imported waits
    [failed] = [x for x in a.sink_attempts if not x["ok"]]
    assert "'ghost'" in failed["error"] and "cannot be imported" in failed["error"]
