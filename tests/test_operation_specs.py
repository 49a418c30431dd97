"""The specs of retraining, identity, jobs and comments: a bad field is
refused naming it through the spec the service takes, the SDK namespace and
its flat method, REST (where a route exists) and the CLI; namespaces give
what the flat methods give; old policy vocabulary still loads."""

from __future__ import annotations

from typing import Any

import pytest
from tests.conftest import spec_error as _error

from mlsteward.governance.specs import Comment
from mlsteward.identity.service import IdentityService
from mlsteward.identity.specs import CreateToken, CreateUser, SetRole
from mlsteward.jobs.service import JobService
from mlsteward.jobs.specs import CancelJob, EnqueueJob, ScoreBatch
from mlsteward.retraining.policy import parse_policy
from mlsteward.retraining.specs import Decide, RequestApproval, Retrain

# (spec, bad fields, the field named, a phrase of the message)
BAD: list[tuple[Any, dict[str, Any], str, str]] = [
    (Retrain, {"deployment": "Bad Name!"}, "deployment", "deployment"),
    (Retrain, {"reasn": "x"}, "reasn", "unknown key 'reasn'"),
    (RequestApproval, {"ref": "credit-risk/zero"}, "ref", "positive integer"),
    (Decide, {"coment": "x"}, "coment", "unknown key 'coment'"),
    (CreateUser, {"name": "vera", "role": "boss"}, "role", "'approver'"),
    (SetRole, {"role": "root"}, "role", "'admin'"),
    (CreateToken, {"user": "vera", "scope": "all"}, "scope", "deployment:<name>"),
    (CreateToken, {"user": "vera", "expires_in_days": 0}, "expires_in_days", "1"),
    (EnqueueJob, {"kind": "retrian"}, "kind", "retrian"),
    (EnqueueJob, {"kind": "noop", "payload": [1]}, "payload", "JSON object"),
    (EnqueueJob, {"kind": "noop", "max_attempts": 0}, "max_attempts", "1 to 100"),
    (CancelJob, {"why": "x"}, "why", "unknown key 'why'"),
    (
        ScoreBatch,
        {"model": "cr", "input": "a.csv", "output": "b.csv", "engine": "spark"},
        "engine",
        "'spark'",
    ),
    (
        ScoreBatch,
        {"model": "cr", "input": "a.csv", "output": "b.csv", "chunk_size": 0},
        "chunk_size",
        "chunk_size",
    ),
    (
        Comment,
        {"object_type": "planet", "object_id": "x", "text": "hi"},
        "object_type",
        "'model_version'",
    ),
    (
        Comment,
        {"object_type": "alert", "object_id": "x", "text": " "},
        "text",
        "needs text",
    ),
]


@pytest.mark.parametrize(("spec", "bad", "field", "phrase"), BAD)
def test_each_spec_names_the_bad_field(spec, bad, field, phrase) -> None:  # type: ignore[no-untyped-def]
    err = _error(lambda: spec.parse(bad))
    assert err.field == field and phrase in err.message, err.message


def test_sdk_namespaces_and_flat_methods_refuse_by_field(sqlite_client) -> None:  # type: ignore[no-untyped-def]
    c = sqlite_client
    cases = [
        (lambda: c.users.create(name="vera", role="boss"), "role"),
        (lambda: c.create_user("vera", "boss"), "role"),
        (lambda: c.tokens.create(user="vera", scope="all"), "scope"),
        (lambda: c.create_token("vera", scope="all"), "scope"),
        (lambda: c.users.set_role("vera", role="root"), "role"),
        (lambda: c.jobs.enqueue(kind="noop", max_attempts=0), "max_attempts"),
        (lambda: c.enqueue_job("noop", max_attempts=0), "max_attempts"),
        (lambda: c.jobs.cancel("x", why="x"), "why"),
        (lambda: c.retrainings.run("cr", deployment="Bad Name!"), "deployment"),
        (lambda: c.retrain("cr", deployment="Bad Name!"), "deployment"),
        (lambda: c.approvals.request(ref="cr/zero"), "ref"),
        (lambda: c.request_approval("cr/zero"), "ref"),
        (lambda: c.approvals.approve("x", coment="x"), "coment"),
        (
            lambda: c.audit.comment(object_type="planet", object_id="x", text="t"),
            "object_type",
        ),
        (lambda: c.comment("planet", "x", "t"), "object_type"),
        (
            lambda: c.jobs.score_file(
                model="cr", input="a.csv", output="b.csv", engine="spark"
            ),
            "engine",
        ),
        (lambda: c.score_file("cr", "a.csv", "b.csv", engine="spark"), "engine"),
    ]
    for call, field in cases:
        assert _error(call).field == field
    assert c.users.list() == [] and c.jobs.list() == []  # nothing written


def test_services_take_the_spec_and_refuse_through_it(sqlite_client) -> None:  # type: ignore[no-untyped-def]
    ctx = sqlite_client.ctx
    err = _error(
        lambda: IdentityService(ctx).create_user(CreateUser.parse(name="v", role="x"))
    )
    assert err.field == "role"
    job = JobService(ctx).enqueue(EnqueueJob(kind="noop", payload={"a": 1}))
    assert (job.kind, job.payload) == ("noop", {"a": 1})
    done = JobService(ctx).cancel(job.id, CancelJob(reason="not needed"))
    assert done.state == "cancelled" and "not needed" in (done.error or "")


def test_rest_bodies_are_the_specs(sqlite_client, api) -> None:  # type: ignore[no-untyped-def]
    r = api.post("/api/v1/models/credit-risk/retrain", json={"deployment": "Bad!"})
    assert (r.status_code, r.json()["field"]) == (422, "deployment"), r.text
    r = api.post("/api/v1/models/credit-risk/retrain", json={"reasn": "x"})
    assert (r.status_code, r.json()["field"]) == (422, "reasn"), r.text
    r = api.post("/api/v1/approvals/abc/approve", json={"coment": "x"})
    assert (r.status_code, r.json()["field"]) == (422, "coment"), r.text
    r = api.post("/api/v1/approvals/abc/reject", json={"comment": " "})
    assert r.status_code in (404, 422)  # no such request, or no comment
    schema = api.get("/openapi.json").json()["components"]["schemas"]
    assert {"Retrain", "Decide"} <= set(schema)


def test_cli_commands_build_the_specs(cli) -> None:  # type: ignore[no-untyped-def]
    out = cli("users", "create", "vera", "--role", "boss")
    assert out.exit_code == 2 and "'approver'" in out.output, out.output
    out = cli("jobs", "enqueue", "noop", "--max-attempts", "0")
    assert out.exit_code == 2 and "max_attempts" in out.output, out.output
    out = cli("retrain", "credit-risk", "--deployment", "Bad Name!")
    assert out.exit_code == 2, out.output
    out = cli("approvals", "request", "credit-risk/zero")
    assert out.exit_code == 2 and "positive integer" in out.output, out.output
    out = cli("score", "cr", "a.csv", "b.csv", "--engine", "spark")
    assert out.exit_code == 2 and "'spark'" in out.output, out.output
    out = cli("comments", "add", "planet:x", "-m", "hi")
    assert out.exit_code == 2 and "object_type" in " ".join(out.output.split())


def test_namespaces_give_what_the_flat_methods_give(sqlite_client) -> None:  # type: ignore[no-untyped-def]
    c = sqlite_client
    root = c.users.create(name="root", role="admin")
    assert c.users.get("root") == root and c.users.list() == [root]
    secret = c.create_token("root")  # the bootstrap admin's first token
    assert secret.startswith("mls_")
    c.login(secret)  # a store with users: the rest needs the token
    created = c.tokens.create(CreateToken(user="root", description="ci"))
    assert [t.id for t in c.tokens.list("root")][-1] == created.token.id
    assert c.tokens.revoke(created.token.id).active is False
    assert c.users.set_role("root", role="admin").role == "admin"

    job = c.jobs.enqueue(kind="noop", idempotency_key="same")
    assert c.enqueue_job("noop", idempotency_key="same").id == job.id
    assert c.get_job(job.id) == c.jobs.get(job.id)
    assert c.list_jobs() == c.jobs.list()
    assert [j.id for j in c.jobs.run_pending()] == [job.id]

    assert c.audit_log(object_id=job.id) == c.audit.log(object_id=job.id)
    assert c.verify_audit() == c.audit.verify()
    assert c.retrainings.list() == c.list_retrainings() == []
    assert c.approvals.list() == c.list_approvals() == []


def test_estimated_performance_is_a_deprecated_name_of_estimated() -> None:
    old = parse_policy(
        {
            "model": "cr",
            "data": {"reference": "gc/1"},
            "triggers": {"checks": ["drift", "estimated_performance"]},
            "promotion": {"canary_rollback_checks": ["estimated_performance"]},
        }
    )
    assert old.triggers.checks == ["drift", "estimated"]
    assert old.promotion.canary_rollback_checks == ["estimated"]
    assert old.to_dict()["triggers"]["checks"] == ["drift", "estimated"]
    err = _error(
        lambda: parse_policy(
            {
                "model": "cr",
                "data": {"reference": "gc/1"},
                "triggers": {"checks": ["x"]},
            }
        )
    )
    assert err.field == "triggers.checks.0" and "'estimated'" in err.message
