"""One spec per write operation is the single point of validation: the same
bad input gives the same field-named error through the spec the service
takes, the SDK, REST (a 422 problem naming the field), the CLI (exit 2) and a
policy file, and nothing is written."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import spec_error as _error

from mlsteward.monitoring.specs import CreateMonitor, RunMonitor
from mlsteward.retraining.policy import parse_policy
from mlsteward.serving.specs import CreateDeployment

# (bad fields, the field the error names, a phrase of the message)
BAD_MONITORS: list[tuple[dict[str, Any], str, str]] = [
    ({"wnidow": "last:5"}, "wnidow", "unknown key 'wnidow'"),
    ({"window": "last:zero"}, "window.n", "positive number of predictions"),
    ({"window": "fortnight:2"}, "window", "'last:N', 'range:7d' or 'period:month'"),
    ({"window": {"type": "period", "period": "year"}}, "window.period", "'month'"),
    ({"window": {"type": "last_n", "n": 5, "x": 1}}, "window.x", "unknown key 'x'"),
    ({"checks": ["drfit"]}, "checks", "choose from ['drift'"),
    (
        {"alerting": {"sinks": ["pager"]}},
        "alerting.sinks.0.type",
        "'log', 'retrain', 'webhook'",
    ),
    (
        {"alerting": ["log", {"type": "webhook", "format": "teams"}]},
        "alerting.sinks.1.format",
        "'slack', 'discord', 'json'",
    ),
    (
        {"alerting": ["webhook:ftp://hooks.example/secret"]},
        "alerting.sinks.0.url",
        "http(s) URL",
    ),
    (
        {"checks": {"performance": {"auc_drop": {"warn": 0.2, "alert": 0.1}}}},
        "checks.performance.auc_drop",
        "must not be above the alert level",
    ),
    ({"checks": {"drift": {"alpha": 1.5}}}, "checks.drift.alpha", "must be < 1"),
    (
        {"checks": {"drift": {"thresholds": {"psi": [0.3, 0.1]}}}},
        "checks.drift.thresholds.psi",
        "0 <= watch <= drift",
    ),
    (
        {"checks": {"estimated": {"calibration": "beta"}}},
        "checks.estimated.calibration",
        "['none', 'platt', 'isotonic_cv']",
    ),
    (
        {"checks": {"quality": {"thresholds": {"missing_rate": {"warn": "x"}}}}},
        "checks.quality.thresholds.missing_rate.warn",
        "valid number",
    ),
    ({"schedule": "0 25 * * *"}, "schedule", "hour"),
]
BAD_DEPLOYMENTS: list[tuple[dict[str, Any], str, str]] = [
    ({"threshhold": 0.4}, "threshhold", "unknown key 'threshhold'"),
    ({"threshold": 1.5}, "threshold", "between 0 and 1"),
    ({"unseen_policy": "ignore"}, "unseen_policy", "reject"),
    ({"model": "credit-risk/zero"}, "model", "positive integer"),
]
BASE_MONITOR = {"name": "m", "deployment": "credit-risk"}
BASE_DEPLOYMENT = {"name": "d", "model": "credit-risk/1"}


@pytest.mark.parametrize(("bad", "field", "phrase"), BAD_MONITORS)
def test_create_monitor_same_error_everywhere(
    sqlite_client, api, cli, tmp_path: Path, bad, field, phrase
) -> None:  # type: ignore[no-untyped-def]
    body = {**BASE_MONITOR, **bad}
    spec_err = _error(lambda: CreateMonitor.parse(body))
    assert (spec_err.field, phrase in spec_err.message) == (field, True)

    sdk_err = _error(lambda: sqlite_client.monitors.create(**body))
    flat_err = _error(lambda: sqlite_client.create_monitor(**body))
    assert sdk_err.field == flat_err.field == field
    assert sdk_err.message == flat_err.message == spec_err.message

    r = api.post("/api/v1/monitors", json=body)
    assert r.status_code == 422, r.text
    problem = r.json()
    assert problem["field"] == field and phrase in problem["detail"], problem

    config = tmp_path / "monitor.json"
    config.write_text(json.dumps(bad))
    out = cli("monitors", "create", "m", "-d", "credit-risk", "--config", str(config))
    assert out.exit_code == 2, out.output
    assert phrase.split("'")[0].strip() in " ".join(out.output.split())

    policy_err = _error(
        lambda: parse_policy(
            {
                "model": "credit-risk",
                "data": {"reference": "gc/1"},
                "monitors": [{"name": "m", **bad}],
            }
        )
    )
    assert policy_err.field == f"monitors.0.{field}"

    assert sqlite_client.monitors.list() == []  # nothing written anywhere


def test_run_monitor_start_without_end_everywhere(sqlite_client, api, cli) -> None:  # type: ignore[no-untyped-def]
    start = "2025-07-01T00:00:00Z"
    assert _error(lambda: RunMonitor.parse(start=start)).field == "end"
    assert _error(lambda: RunMonitor.parse(end=start)).field == "start"
    sdk_err = _error(lambda: sqlite_client.monitors.run("m", start=start))
    assert sdk_err.field == "end" and "both start and end" in sdk_err.message
    # The spec refuses before the service looks the monitor up.
    flat_err = _error(lambda: sqlite_client.run_monitor("m", window=(start, None)))
    assert flat_err.field == "end"

    r = api.post("/api/v1/monitors/m/run", json={"start": start})
    assert r.status_code == 422, r.text
    assert r.json()["field"] == "end"
    assert "both start and end" in r.json()["detail"]

    out = cli("monitors", "run", "m", "--start", start)
    assert out.exit_code == 2, out.output
    assert "both start and end" in out.output

    from mlsteward.monitoring.jobs import run_job

    job_err = _error(
        lambda: run_job(sqlite_client.ctx, {"monitor": "m", "start": start}, print)
    )
    assert job_err.field == "end"


@pytest.mark.parametrize(("bad", "field", "phrase"), BAD_DEPLOYMENTS)
def test_create_deployment_same_error_everywhere(
    sqlite_client, api, cli, bad, field, phrase
) -> None:  # type: ignore[no-untyped-def]
    body = {**BASE_DEPLOYMENT, **bad}
    spec_err = _error(lambda: CreateDeployment.parse(body))
    assert spec_err.field == field and phrase in spec_err.message

    sdk_err = _error(lambda: sqlite_client.deployments.create(**body))
    flat_err = _error(lambda: sqlite_client.create_deployment(**body))
    assert sdk_err.field == flat_err.field == field
    assert sdk_err.message == spec_err.message

    r = api.post("/api/v1/deployments", json=body)
    assert r.status_code == 422, r.text
    assert r.json()["field"] == field and phrase in r.json()["detail"]

    options = {
        "threshold": ["--threshold", str(body.get("threshold"))],
        "unseen_policy": ["--unseen", str(body.get("unseen_policy"))],
        "model": [],
    }
    if field in options:  # the CLI has no way to pass an unknown key
        out = cli(
            "deployments", "create", "d", "--model", body["model"], *options[field]
        )
        assert out.exit_code == 2, out.output
        assert phrase in " ".join(out.output.split())
    assert sqlite_client.deployments.list() == []


def test_specs_refuse_unknown_keys_by_name_and_list_the_allowed() -> None:
    err = _error(lambda: CreateDeployment.parse(BASE_DEPLOYMENT, modle="x"))
    assert err.details["allowed"] == sorted(CreateDeployment.model_fields)
    err = _error(
        lambda: CreateMonitor.parse(BASE_MONITOR, window={"type": "range", "n": 3})
    )
    assert err.field == "window.n" and err.details["allowed"] == ["type", "seconds"]


def test_window_shorthand_and_object_give_the_same_canonical_form() -> None:
    def canonical(window: Any) -> dict[str, Any]:
        return CreateMonitor.parse(BASE_MONITOR, window=window).window.canonical()

    assert canonical("last:500") == canonical({"type": "last_n", "n": "500"})
    assert canonical("range:7d") == {"type": "range", "seconds": 604800}
    assert canonical("month") == canonical(None) == canonical("period:month")
    assert canonical(None) == {"type": "period", "period": "month", "lookback": 1}
    assert canonical({"type": "period", "period": "WEEK", "lookback": 0}) == {
        "type": "period",
        "period": "week",
        "lookback": 0,
    }


def test_canary_and_update_specs_everywhere(sqlite_client, api) -> None:  # type: ignore[no-untyped-def]
    from mlsteward.serving.specs import SetCanary, UpdateDeployment

    assert _error(lambda: SetCanary.parse(model="m/2", share=1.5)).field == "share"
    sdk_err = _error(lambda: sqlite_client.deployments.set_canary("d", "m/2", 1.5))
    assert sdk_err.field == "share" and "from 0 to 1" in sdk_err.message
    r = api.put("/api/v1/deployments/d/canary", json={"model": "m/2", "share": 1.5})
    assert (r.status_code, r.json()["field"]) == (422, "share")
    assert "from 0 to 1" in r.json()["detail"]

    assert _error(lambda: UpdateDeployment.parse(treshold=0.2)).field == "treshold"
    r = api.patch("/api/v1/deployments/d", json={"unseen_policy": "skip"})
    assert (r.status_code, r.json()["field"]) == (422, "unseen_policy")
    sdk_err = _error(
        lambda: sqlite_client.deployments.update("d", unseen_policy="skip")
    )
    assert sdk_err.field == "unseen_policy"


def test_rest_problems_carry_the_nested_field_and_the_allowed(api) -> None:  # type: ignore[no-untyped-def]
    bad = {"estimated": {"calibration": "beta"}}
    r = api.post("/api/v1/monitors", json={**BASE_MONITOR, "checks": bad})
    problem = r.json()
    assert (r.status_code, problem["field"]) == (422, "checks.estimated.calibration")
    assert problem["allowed"] == ["none", "platt", "isotonic_cv"]
    r = api.post(
        "/api/v1/monitors",
        json={**BASE_MONITOR, "checks": {"drift": {"methods": {"age": ["psy"]}}}},
    )
    assert r.json()["field"] == "checks.drift.methods.age"
    assert "jensen_shannon" in r.json()["allowed"]


def test_openapi_describes_the_checks_and_the_sinks(api) -> None:  # type: ignore[no-untyped-def]
    schemas = api.get("/openapi.json").json()["components"]["schemas"]
    drift = schemas["DriftCheck"]["properties"]
    assert {"columns", "methods", "score_methods", "thresholds", "alpha"} <= set(drift)
    [create] = [k for k in schemas if k.startswith("CreateMonitor")][:1]
    checks = schemas[create]["properties"]["checks"]
    name = checks["$ref"].rsplit("/", 1)[-1]
    assert name.startswith("Checks")
    [as_object] = [s for s in schemas[name]["anyOf"] if "properties" in s]
    assert set(as_object["properties"]) == {
        "drift", "quality", "performance", "estimated", "fairness",
    }  # fmt: skip
    assert schemas["EstimatedCheck"]["properties"]["calibration"]["enum"] == [
        "none",
        "platt",
        "isotonic_cv",
    ]
    hook = schemas["WebhookSinkSpec-Input"]["properties"]
    assert hook["format"]["enum"] == ["slack", "discord", "json"]
    assert "PluginSinkSpec-Input" in schemas  # third-party sink types are accepted too


def test_plugin_sinks_are_checked_by_the_plugin(install_plugin) -> None:  # type: ignore[no-untyped-def]
    import uuid

    from mlsteward.monitoring.alerting import Alerting, PluginSinkSpec

    module = f"pager_{uuid.uuid4().hex[:8]}"
    source = """
    class PagerSink:
        def __init__(self, spec, ctx):
            self.spec = spec

        def send(self, alert):
            pass

        @staticmethod
        def check_spec(spec):
            if not str(spec.get("routing_key", "")).startswith("R"):
                raise ValueError("routing_key must start with R")
    """
    install_plugin(
        {"mlsteward.alert_sinks": {"pager": f"{module}:PagerSink"}}, {module: source}
    )
    good = Alerting.parse(sinks=[{"type": "pager", "routing_key": "R1"}])
    assert isinstance(good.sinks[0], PluginSinkSpec)
    assert good.stored(default_cooldown=0)["sinks"] == [
        {"type": "pager", "min_severity": "warning", "routing_key": "R1", "id": "pager"}
    ]
    err = _error(
        lambda: CreateMonitor.parse(
            BASE_MONITOR, alerting=["log", {"type": "pager", "routing_key": "X"}]
        )
    )
    assert err.field == "alerting.sinks.1"
    assert "routing_key must start with R" in err.message
