"""The remote client has the embedded client's surface and results."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from tests.conftest import make_user

import mlsteward
from mlsteward.api import create_app
from mlsteward.errors import Forbidden, InvalidInput, NotFound, Unauthenticated
from mlsteward.remote.binding import operations
from mlsteward.remote.client import RemoteClient
from mlsteward.sdk import Client as Embedded


@pytest.fixture
def home(sqlite_client, trained, credit):  # type: ignore[no-untyped-def]
    """A home with a registered model, an admin and a viewer with tokens."""
    model, features = trained
    sqlite_client.register_model("cr", model, credit[[*features, "bad"]].iloc[:200])
    root = make_user(sqlite_client.ctx, "root", "admin")
    viewer = make_user(sqlite_client.ctx, "vic", "viewer")
    return sqlite_client, {"admin": root, "viewer": viewer}


@pytest.fixture(params=["embedded", "remote"])
def pair(request, home) -> Iterator[tuple[object, object]]:  # type: ignore[no-untyped-def]
    """(admin client, viewer client), embedded or over HTTP."""
    local, tokens = home
    if request.param == "embedded":
        yield (
            Embedded(local.ctx.settings, token=tokens["admin"]),
            Embedded(local.ctx.settings, token=tokens["viewer"]),
        )
        return
    http = TestClient(create_app(ctx=local.ctx))
    yield (
        mlsteward.Client("http://testserver", token=tokens["admin"], http=http),
        mlsteward.Client("http://testserver", token=tokens["viewer"], http=http),
    )


def test_mlsteward_client_given_a_url_is_remote() -> None:
    client = mlsteward.Client("http://127.0.0.1:1", token="x")
    assert isinstance(client, RemoteClient)
    assert not isinstance(mlsteward.Client(home="/tmp/unused-home"), RemoteClient)


def test_the_same_calls_give_the_same_results(pair) -> None:
    admin, viewer = pair
    made = admin.deployments.create(name="cr", model="cr/1", threshold=0.4)
    assert made.name == "cr" and made.threshold == 0.4
    assert [d.name for d in viewer.deployments.list()] == ["cr"]
    got = viewer.deployments.get("cr")
    assert type(got).__name__ == "Deployment" and got.champion == "cr/1"
    assert admin.get_deployment("cr").name == "cr"  # flat methods delegate


def test_errors_come_back_as_the_same_domain_errors(pair) -> None:
    admin, viewer = pair
    with pytest.raises(NotFound) as missing:
        admin.deployments.get("nope")
    assert missing.value.field == "deployment"
    with pytest.raises(InvalidInput) as bad:
        admin.deployments.create(name="cr", model="cr/1", threshold=3)
    assert bad.value.field == "threshold"
    with pytest.raises(Forbidden, match="developer"):
        viewer.deployments.create(name="cr2", model="cr/1")


def test_a_wrong_token_is_refused(home) -> None:
    local, _ = home
    http = TestClient(create_app(ctx=local.ctx))
    client = mlsteward.Client("http://testserver", token="mls_a_b", http=http)
    with pytest.raises(Unauthenticated):
        client.deployments.list()


def test_every_operation_is_a_namespace_method_of_the_embedded_client() -> None:
    """A route named for a use case the SDK lacks would be unreachable."""
    for name in operations():
        namespace, method = name.split(".", 1)
        holder = getattr(Embedded, namespace, None)
        assert isinstance(holder, property), f"client.{namespace} missing for {name}"
        import typing

        cls = typing.get_type_hints(holder.fget)["return"]
        assert callable(getattr(cls, method, None)), f"client.{name} missing"


def test_users_tokens_and_jobs_are_the_same_both_ways(pair) -> None:
    admin, viewer = pair
    dan = admin.users.create(name="dan", role="developer")
    assert dan.role == "developer" and admin.users.get("dan") == dan
    assert "dan" in [u.name for u in viewer.users.list()]
    made = admin.tokens.create(user="dan", description="laptop")
    assert made.secret.startswith("mls_") and made.token.user == "dan"
    assert admin.tokens.revoke(made.token.id).active is False
    with pytest.raises(Forbidden, match="admin"):
        viewer.users.create(name="eve", role="admin")
    with pytest.raises(Forbidden, match="admin"):
        viewer.tokens.create(user="dan")
    job = admin.jobs.enqueue(kind="noop", payload={"echo": 1})
    assert admin.jobs.get(job.id).state == "queued"
    assert job.id in [j.id for j in viewer.jobs.list(kind="noop")]
    assert admin.jobs.cancel(job.id, reason="test").state == "cancelled"
    assert admin.users.set_role("dan", role="viewer").role == "viewer"
    assert admin.users.disable("dan").disabled is True


def test_outcomes_load_the_same_both_ways(pair, home, credit, trained) -> None:
    import pandas as pd

    local, tokens = home
    admin, viewer = pair
    admin.deployments.create(name="cr", model="cr/1")
    _, features = trained
    ids = [f"r{i}" for i in range(20)]
    local.login(tokens["admin"])
    rows = credit[[*features, "bad"]].head(20)
    local.score("cr/1", rows, deployment="cr", request_ids=ids)
    labels = pd.DataFrame({"request_id": ids, "label": credit["bad"].head(20)})
    first = admin.outcomes.load(labels)
    assert (first.loaded, first.unchanged) == (20, 0)
    again = admin.outcomes.load(labels)
    assert (again.loaded, again.unchanged) == (0, 20)
    with pytest.raises(InvalidInput, match="request_id"):
        admin.outcomes.load(labels.rename(columns={"request_id": "id"}))
    with pytest.raises(Forbidden):
        viewer.outcomes.load(labels)


def test_shadows_comments_retrainings_and_waits_the_same_both_ways(pair, home) -> None:
    import datetime as dt

    import pandas as pd

    from mlsteward.errors import Conflict
    from mlsteward.serving.tables import shadow_predictions
    from mlsteward.store import utcnow

    local, tokens = home
    admin, viewer = pair
    now = utcnow()
    with local.ctx.store.unit_of_work() as session:
        session.execute(
            shadow_predictions.insert(),
            [
                {
                    "request_id": f"r{i}",
                    "created_at": now + dt.timedelta(seconds=i, microseconds=7),
                    "deployment": "cr",
                    "model_name": "cr",
                    "model_version": 1,
                    "outputs": {"score": 0.1 * i, "decision": "approve"},
                    "latency_ms": 1.5 if i else None,
                }
                for i in range(3)
            ],
        )
    embedded = Embedded(local.ctx.settings, token=tokens["viewer"])
    expected = embedded.deployments.shadow_predictions(deployment="cr")
    got = viewer.deployments.shadow_predictions(deployment="cr")
    pd.testing.assert_frame_equal(got, expected)
    assert len(got) == 3 and got["score"].tolist() == [0.0, 0.1, 0.2]
    # Comments: audit events, kept word for word; a viewer may not add one.
    made = admin.audit.comment(
        object_type="model_version", object_id="cr/1", text="checked [urgent]"
    )
    assert made.details == {"text": "checked [urgent]"}
    assert [e.seq for e in viewer.audit.comments("cr/1")] == [made.seq]
    with pytest.raises(Forbidden, match="developer"):
        viewer.audit.comment(object_type="model_version", object_id="cr/1", text="x")
    with pytest.raises(NotFound):
        viewer.retrainings.get("nope")
    # jobs.wait: a final job comes back at once, an unfinished one times out.
    job = admin.jobs.enqueue(kind="noop")
    with pytest.raises(Conflict, match="still queued"):
        viewer.jobs.wait(job.id, timeout=0.3)
    admin.jobs.cancel(job.id, reason="test")
    assert viewer.jobs.wait(job.id, timeout=5).state == "cancelled"


def test_alert_incidents_are_the_same_both_ways(pair, home) -> None:
    import datetime as dt

    from mlsteward.monitoring.alerts import AlertService
    from mlsteward.monitoring.models import Monitor

    local, _ = home
    admin, viewer = pair
    at = dt.datetime(2025, 8, 1, tzinfo=dt.UTC)
    monitor = Monitor.model_validate(
        {
            **dict.fromkeys(("id", "name", "deployment", "model"), "m"),
            **{"schedule": "1d", "window": {}, "reference": "champion"},
            **{"checks": {}, "routes": [], "description": "", "enabled": True},
            **{"alerting": {"sinks": [], "cooldown_seconds": 0}, "state": {}},
            **{"created_at": at, "created_by": "t", "updated_at": at},
            **{"last_run_at": None, "next_run_at": None},
        }
    )
    rows = [
        {"check": "performance.auc", "column": "*", "status": "warn", "value": 0.7},
        {"check": "drift.psi", "column": "x", "status": "alert", "value": 0.4},
    ]
    with local.ctx.store.unit_of_work() as session:
        AlertService(local.ctx).raise_alerts(
            session,
            monitor=monitor,
            run_id="run1",
            rows=[{**r, "window_label": "2025-07"} for r in rows],
            at=at,
        )
    [incident] = viewer.alerts.incidents(monitor="m")
    assert type(incident).__name__ == "Incident"
    assert [i.check for i in incident.items] == ["drift.psi", "performance.auc"]
    assert incident.summary == (
        "m 2025-07: 1 critical, 1 warning — drift on x, performance.auc 0.7"
    )
    assert admin.alerts.incidents(deployment="nowhere") == []
    with pytest.raises(InvalidInput, match="limit"):
        viewer.alerts.incidents(limit=0)


def test_methods_that_need_the_store_say_what_to_use_remotely(home) -> None:
    from mlsteward.remote.client import ALIASES, LOCAL_ONLY
    from mlsteward.remote.transfers import CUSTOM

    local, tokens = home
    http = TestClient(create_app(ctx=local.ctx))
    remote = mlsteward.Client("http://testserver", token=tokens["admin"], http=http)
    offered = set(operations()) | set(CUSTOM) | set(ALIASES)
    import typing

    for namespace, holder in vars(Embedded).items():
        if not isinstance(holder, property) or namespace.startswith("_"):
            continue
        cls = typing.get_type_hints(holder.fget).get("return")
        for method in (m for m in vars(cls or object) if not m.startswith("_")):
            key = f"{namespace}.{method}"
            if key in LOCAL_ONLY:
                with pytest.raises(AttributeError, match="does not offer it: "):
                    getattr(getattr(remote, namespace), method)
            else:
                assert key in offered, f"client.{key} is neither offered nor local"
                assert callable(getattr(getattr(remote, namespace), method))


def test_a_malformed_request_problem_is_invalid_input() -> None:
    """Both servers answer non-JSON with 400 malformed_request: bad input."""
    import httpx

    from mlsteward.errors import InvalidInput
    from mlsteward.remote.transport import error_of_problem

    body = {
        "type": "https://mlsteward.dev/problems/malformed_request",
        "title": "MalformedRequest",
        "status": 400,
        "detail": "the body is not valid JSON",
        "field": "body",
    }
    error = error_of_problem(httpx.Response(400, json=body))
    assert isinstance(error, InvalidInput) and error.field == "body"
