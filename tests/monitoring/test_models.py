"""The JSON of monitoring results keeps its shape: sink URLs masked, no NaN,
times as ``isoformat()``, and the same shape through FastAPI as through
``to_dict()``."""

from __future__ import annotations

import datetime as dt
import json
import math

from fastapi import FastAPI
from fastapi.testclient import TestClient

from mlsteward.monitoring.alerting import Alerting
from mlsteward.monitoring.models import Alert, Monitor, MonitorRun, Window

T0 = dt.datetime(2025, 7, 31, tzinfo=dt.UTC)
SECRET = "https://hooks.example.com/services/T0/B0/secret"


def _monitor() -> Monitor:
    return Monitor(
        id="id-m",
        name="m",
        deployment="d",
        model="x",
        schedule="1d",
        window={"type": "period", "period": "month", "lookback": 1},
        reference="champion",
        checks={},
        alerting=Alerting.parse({"sinks": [{"type": "webhook", "url": SECRET}]}).stored(
            default_cooldown=60
        ),
        routes=["champion"],
        description="",
        enabled=True,
        created_at=T0,
        created_by="t",
        updated_at=T0,
        last_run_at=None,
        next_run_at=None,
        state={"reference_at_creation": "x/1", "private": 1},
    )


def _run() -> MonitorRun:
    row = {
        "monitor": "m",
        "run_id": "r",
        "check": "drift.psi",
        "column": "age",
        "window_start": T0,
        "window_end": T0 + dt.timedelta(days=1),
        "window_label": "2025-07-31",
        "value": math.nan,
        "status": "ok",
        "details": {"psi": math.inf},
        "computed_at": T0,
    }
    alert = Alert(
        id="a", monitor="m", check="drift.psi", column="age", severity="warning",
        status="open", dedupe_key="k", message="m", value=math.inf,
        window_label="2025-07-31", run_id="r", first_seen=T0, last_seen=T0,
        count=1, sinks=[], delivered=[], sink_attempts=[], attempts=0,
        created_at=T0, sent_at=None,
    )  # fmt: skip
    window = Window(start=T0, end=T0 + dt.timedelta(days=1), label="2025-07-31")
    return MonitorRun(
        run_id="r", monitor="m", at=T0, windows=[window], results=[row], alerts=[alert]
    )


def test_monitor_json_masks_sink_urls_but_keeps_them_for_delivery() -> None:
    m = _monitor()
    shown = m.to_dict()
    assert shown["alerting"]["sinks"][0]["url"] == "https://hooks.example.com/…"
    assert SECRET not in json.dumps(shown)
    assert m.alerting["sinks"][0]["url"] == SECRET  # delivery still has it
    assert shown["reference_at_creation"] == "x/1"
    assert "state" not in shown
    assert shown["created_at"] == T0.isoformat()  # +00:00, not Z


def test_run_json_has_no_nan_and_iso_times() -> None:
    out = _run().to_dict()
    assert out["results"][0]["value"] is None
    assert out["results"][0]["details"] == {"psi": None}
    assert out["results"][0]["window_start"] == T0.isoformat()
    assert out["alerts"][0]["value"] is None
    assert out["windows"][0]["start"] == T0.isoformat()
    assert _run().get("drift.psi", "age") is not None  # rows stay dicts in Python


def test_a_route_answers_the_same_json_as_to_dict() -> None:
    app = FastAPI()

    @app.get("/monitor")
    def monitor() -> Monitor:
        return _monitor()

    @app.get("/run")
    def run() -> MonitorRun:
        return _run()

    http = TestClient(app)
    assert http.get("/monitor").json() == _monitor().to_dict()
    assert http.get("/run").json() == _run().to_dict()
    schema = app.openapi()["components"]["schemas"]
    assert "url" not in json.dumps(schema["Monitor"]["properties"]["alerting"])
    assert "window_start" in schema["ResultRow"]["properties"]
