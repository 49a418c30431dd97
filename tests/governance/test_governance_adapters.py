"""Reports, reason codes, lineage and the audit trail through the SDK and REST."""

from __future__ import annotations

import datetime as dt

import pytest
from fastapi.testclient import TestClient

from mlsteward.api import create_app
from mlsteward.datasets.bundled import german_credit_roles
from mlsteward.errors import IntegrityError, InvalidInput
from mlsteward.store import utcnow


def test_sdk_and_rest(sqlite_client, credit, trained, admin_headers, tmp_path) -> None:
    model, features = trained
    dv = sqlite_client.register_dataset(
        "gc", credit.iloc[:700], roles=german_credit_roles()
    )
    run = sqlite_client.start_run("train", inputs=[dv.ref])
    sqlite_client.register_model("credit-risk", model, credit[features], run_id=run.id)
    sqlite_client.end_run(run.id)
    sqlite_client.evaluate("credit-risk/1", credit.iloc[700:], target="bad")

    reasons = sqlite_client.explain("credit-risk/1", credit.iloc[700:705])
    assert len(reasons) == 5
    for row in reasons:
        assert all(r["feature"] in features for r in row)
        contributions = [r["contribution"] for r in row]
        assert contributions == sorted(contributions, reverse=True)
        assert all(c > 0 for c in contributions)

    out = sqlite_client.write_report("credit-risk/1", tmp_path / "r.html")
    assert out.html.exists() and "credit-risk" in out.html.read_text()
    assert sqlite_client.lineage("credit-risk/1").datasets[0].ref == "gc/1"

    api = TestClient(create_app(ctx=sqlite_client.ctx), headers=admin_headers)
    r = api.get("/api/v1/models/credit-risk/versions/1/report")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert dv.sha256 in r.text
    assert (
        api.get("/api/v1/models/credit-risk/versions/1/lineage").json()["run"]["id"]
        == run.id
    )
    assert api.get("/api/v1/audit/verify").json()["ok"] is True
    events = api.get("/api/v1/audit", params={"object_id": "credit-risk/1"}).json()
    assert events[0]["action"] == "model_version.registered"
    assert api.get("/api/v1/models/credit-risk/versions/9/report").status_code == 404


def test_audit_log_has_one_set_of_filters_in_sdk_and_rest(
    sqlite_client, credit, admin_headers
) -> None:
    c = sqlite_client
    before = utcnow()
    c.register_dataset("a", credit.iloc[:50])
    c.register_dataset("b", credit.iloc[50:100])
    c.comment("dataset_version", "a/1", "checked the sample")
    after = utcnow()
    api = TestClient(create_app(ctx=c.ctx), headers=admin_headers)

    filters = {
        "object_type": "dataset_version",
        "action": "dataset.",
        "since": before,
        "until": after,
    }
    sdk = [e.to_dict() for e in c.audit_log(**filters)]
    assert [(e["action"], e["object_id"]) for e in sdk] == [
        ("dataset.registered", "a/1"),
        ("dataset.registered", "b/1"),
    ]
    params = {
        k: v.isoformat() if isinstance(v, dt.datetime) else v
        for k, v in filters.items()
    }
    assert api.get("/api/v1/audit", params=params).json() == sdk

    comments = c.audit_log(object_type="dataset_version", action="comment.")
    assert [e.object_id for e in comments] == ["a/1"]
    assert c.audit_log(object_type="dataset_version", until=before) == []
    assert [
        e.object_id for e in c.audit_log(object_type="dataset_version", limit=1)
    ] == ["a/1"]

    naive = api.get("/api/v1/audit", params={"since": "2025-07-01T00:00:00"})
    assert naive.status_code == 422 and naive.json()["field"] == "since"
    with pytest.raises(InvalidInput) as bad:
        c.audit_log(limit=0)
    assert bad.value.field == "limit"


def test_audit_head_and_expect_head_in_sdk_and_rest(
    sqlite_client, credit, admin_headers
) -> None:
    c = sqlite_client
    c.register_dataset("a", credit.iloc[:50])
    c.comment("dataset_version", "a/1", "first")
    c.comment("dataset_version", "a/1", "second")
    api = TestClient(create_app(ctx=c.ctx), headers=admin_headers)

    head = c.audit_head()
    assert api.get("/api/v1/audit/head").json() == head.to_dict()
    kept = str(head)
    ok = api.get("/api/v1/audit/verify", params={"expect_head": kept}).json()
    assert ok["ok"] is True and ok["expected_head"] == head.to_dict()
    assert ok["head"] == head.to_dict() and ok["keyed"] is False
    assert c.verify_audit(expect_head=kept).ok

    # Cut the newest event and move the head row back with it.
    from sqlalchemy import delete, select, update

    from mlsteward.store.audit import audit_events, audit_head

    with c.ctx.store.engine.begin() as conn:
        conn.execute(delete(audit_events).where(audit_events.c.seq == head.seq))
        prev = conn.execute(
            select(audit_events.c.hash).where(audit_events.c.seq == head.seq - 1)
        ).scalar_one()
        conn.execute(update(audit_head).values(seq=head.seq - 1, hash=prev))
    assert api.get("/api/v1/audit/verify").json()["ok"] is True  # the limit
    cut = api.get("/api/v1/audit/verify", params={"expect_head": kept})
    assert cut.status_code == 200
    body = cut.json()
    assert body["ok"] is False and body["problems"][0]["seq"] == head.seq
    assert "no longer reaches" in body["problems"][0]["problem"]
    assert c.verify_audit(expect_head=head) == c.verify_audit(expect_head=kept)

    bad = api.get("/api/v1/audit/verify", params={"expect_head": "latest"})
    assert bad.status_code == 422 and bad.json()["field"] == "expect_head"
    with pytest.raises(InvalidInput) as exc:
        c.verify_audit(expect_head="latest")
    assert exc.value.field == "expect_head"

    # Without the head row, verify fails and a change is a domain error,
    # not the database's unique-key crash.
    with c.ctx.store.engine.begin() as conn:
        conn.execute(delete(audit_head))
    missing = api.get("/api/v1/audit/verify").json()
    assert missing["ok"] is False
    assert any("head row is missing" in p["problem"] for p in missing["problems"])
    with pytest.raises(IntegrityError, match="head row is missing"):
        c.comment("dataset_version", "a/1", "third")
