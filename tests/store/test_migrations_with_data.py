"""Migrations from the first schema to the current one, with data in them.

The store is built one revision at a time. Where a table first appears, rows
are written into it as that revision's schema has them (Core inserts on the
tables reflected from the database, never the current table definitions),
and audit events are chained with the hash formula of the first release,
copied here so that a change to it cannot pass unnoticed. At head the
services read everything back: models, datasets, deployments, predictions,
monitor results, alerts, jobs, tokens, and an audit chain that verifies and
takes new events.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from mlsteward.config import Settings
from mlsteward.store import Store

T0 = dt.datetime(2026, 1, 5, 9, 30, 0, 123456, tzinfo=dt.UTC)
GENESIS = "0" * 64
FEATURES = ["duration_in_month", "credit_amount"]
TOKEN_ID = "0123456789abcdef"
TOKEN_SECRET = "a-secret-minted-before-the-upgrade"
ARTIFACT = hashlib.sha256(b"model bytes of the first release").hexdigest()
DATA = hashlib.sha256(b"table bytes of the first release").hexdigest()


def _at(minutes: int) -> dt.datetime:
    return T0 + dt.timedelta(minutes=minutes)


def first_release_hash(event: dict[str, Any]) -> str:
    """The audit hash as revision 0001 computed it (store/audit.py then)."""
    body = dict(event)
    body["at"] = event["at"].astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    text = json.dumps(
        body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class OldWriter:
    """Writes rows into whatever schema the database has now."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.sqlite = store.engine.dialect.name == "sqlite"
        self.events = 0
        self.head = GENESIS

    def put(self, conn: sa.Connection, table: str, **row: Any) -> None:
        reflected = sa.Table(table, sa.MetaData(), autoload_with=conn)
        missing = set(row) - set(reflected.c.keys())
        assert not missing, f"{table} has no columns {missing} at this revision"
        if self.sqlite:  # naive UTC on SQLite, as UTCDateTime stores it
            row = {
                k: v.astimezone(dt.UTC).replace(tzinfo=None)
                if isinstance(v, dt.datetime)
                else v
                for k, v in row.items()
            }
        conn.execute(reflected.insert().values(**row))

    def event(
        self,
        conn: sa.Connection,
        action: str,
        object_type: str,
        object_id: str,
        **d: Any,
    ) -> None:
        """An audit event chained as the first release chained them: the head
        row is made by the first event and moved by every one."""
        seq = self.events + 1
        body = {
            "seq": seq,
            "at": _at(seq),
            "actor": "dana",
            "action": action,
            "object_type": object_type,
            "object_id": object_id,
            "details": d,
            "prev_hash": self.head,
        }
        digest = first_release_hash(body)
        self.put(conn, "audit_events", **body, hash=digest)
        if seq == 1:
            self.put(conn, "audit_head", id=1, seq=seq, hash=digest)
        else:
            conn.execute(
                sa.text("UPDATE audit_head SET seq = :s, hash = :h WHERE id = 1"),
                {"s": seq, "h": digest},
            )
        self.events, self.head = seq, digest


#: A model's inputs as its signature and its deployments' request contract
#: hold them.
INPUTS = [{"name": n, "kind": "numeric", "dtype": "int64"} for n in FEATURES]

#: A monitor's alert sink as monitors and alerts hold it.
SINK = {"id": "log", "type": "log", "min_severity": "warning"}


def at_0001(conn: sa.Connection, w: OldWriter) -> None:
    columns = [
        {"name": n, "dtype": "int64", "role": "feature", "kind": "numeric"}
        for n in FEATURES
    ] + [{"name": "bad", "dtype": "int64", "role": "target", "kind": "numeric"}]
    w.put(
        conn,
        "dataset_versions",
        name="gc",
        version=1,
        sha256=DATA,
        n_rows=3,
        n_columns=3,
        columns=columns,
        profile={"n_rows": 3, "columns": {}},
        created_at=_at(1),
        created_by="dana",
        description="first",
        tags={},
    )
    w.event(conn, "dataset_version.registered", "dataset_version", "gc/1", sha256=DATA)
    w.put(
        conn,
        "runs",
        id="r" * 32,
        name="scorecard",
        status="finished",
        started_at=_at(2),
        ended_at=_at(3),
        created_by="dana",
        params={"C": 1.0},
        tags={},
        git_sha=None,
        environment={"python": "3.11"},
    )
    w.put(
        conn,
        "run_inputs",
        run_id="r" * 32,
        dataset_name="gc",
        dataset_version=1,
        context="training",
    )
    w.put(
        conn, "run_metrics", run_id="r" * 32, key="auc", value=0.78, step=0, at=_at(3)
    )
    w.put(
        conn,
        "registered_models",
        name="credit-risk",
        description="scorecard",
        created_at=_at(4),
        created_by="dana",
        updated_at=_at(4),
        tags={},
    )
    signature = {
        "inputs": INPUTS,
        "output": {"kind": "probability", "classes": [0, 1]},
    }
    w.put(
        conn,
        "model_versions",
        name="credit-risk",
        version=1,
        state="registered",
        flavor="sklearn",
        artifact_sha256=ARTIFACT,
        artifact_size=123,
        signature=signature,
        run_id="r" * 32,
        parent_version=None,
        description="v1",
        tags={"owner": "risk"},
        created_at=_at(4),
        created_by="dana",
        state_changed_at=_at(4),
    )
    w.event(
        conn,
        "model_version.registered",
        "model_version",
        "credit-risk/1",
        sha256=ARTIFACT,
    )
    w.put(
        conn,
        "model_aliases",
        name="credit-risk",
        alias="champion",
        version=1,
        updated_at=_at(5),
        updated_by="dana",
    )
    w.event(conn, "alias.set", "model", "credit-risk", alias="champion", version=1)
    w.put(
        conn,
        "evaluations",
        id="e" * 32,
        model_name="credit-risk",
        model_version=1,
        dataset_name="gc",
        dataset_version=1,
        label="oot",
        threshold=0.5,
        metrics={"auc": 0.77},
        created_at=_at(6),
        created_by="dana",
    )
    for i in range(3):
        w.put(
            conn,
            "predictions",
            request_id=f"req-{i}",
            created_at=_at(10 + i),
            deployment="credit",
            model_name="credit-risk",
            model_version=1,
            route="champion",
            inputs={"duration_in_month": 12 + i},
            outputs={"score": 0.1 * (i + 1), "decision": "approve"},
            latency_ms=1.5,
        )
    w.put(
        conn,
        "outcomes",
        request_id="req-0",
        label=1,
        observed_at=_at(20),
        loaded_at=_at(21),
        loaded_by="dana",
    )


def at_0002(conn: sa.Connection, w: OldWriter) -> None:
    w.put(
        conn,
        "deployments",
        name="credit",
        model_name="credit-risk",
        champion_version=1,
        canary_version=None,
        canary_share=0.0,
        sticky_field=None,
        shadow_versions=[],
        threshold=0.5,
        unseen_policy="error",
        inputs=INPUTS,
        log_columns=[],
        pii_columns=[],
        previous_champions=[],
        revision=1,
        created_at=_at(30),
        created_by="dana",
        updated_at=_at(30),
        updated_by="dana",
    )
    w.put(
        conn,
        "deployment_changes",
        deployment="credit",
        revision=1,
        at=_at(30),
        actor="dana",
        action="created",
        details={"champion": 1},
    )
    w.event(conn, "deployment.created", "deployment", "credit", champion=1)
    w.put(
        conn,
        "predictions",
        request_id="req-3",
        created_at=_at(31),
        deployment="credit",
        model_name="credit-risk",
        model_version=1,
        route="champion",
        inputs={"duration_in_month": 30},
        outputs={"score": 0.9, "decision": "deny"},
        latency_ms=2.0,
        flags={"unseen": ["purpose"]},
    )


def at_0003(conn: sa.Connection, w: OldWriter) -> None:
    w.put(
        conn,
        "monitors",
        id="m" * 32,
        name="credit-drift",
        deployment="credit",
        model="credit-risk",
        schedule="1d",
        window={"size": "7d"},
        reference="gc/1",
        checks={"drift": {"columns": FEATURES}},
        alerting={"sinks": [SINK]},
        routes=["champion"],
        description="",
        enabled=True,
        created_at=_at(40),
        created_by="dana",
        updated_at=_at(40),
        last_run_at=_at(41),
        next_run_at=_at(41 + 1440),
        state={},
    )
    w.event(conn, "monitor.created", "monitor", "credit-drift")
    for i, value in enumerate((0.05, 0.31)):
        w.put(
            conn,
            "monitor_results",
            monitor_id="m" * 32,
            monitor="credit-drift",
            run_id="x" * 32,
            check="drift",
            column=FEATURES[i],
            window_start=_at(0),
            window_end=_at(40),
            window_label="w1",
            value=value,
            status="ok" if value < 0.2 else "alert",
            details={"method": "psi"},
            computed_at=_at(41),
        )
    w.put(
        conn,
        "alerts",
        id="a" * 32,
        monitor_id="m" * 32,
        monitor="credit-drift",
        check="drift",
        column=FEATURES[1],
        severity="warning",
        status="pending",
        dedupe_key="credit-drift:drift:credit_amount",
        message="PSI 0.31",
        value=0.31,
        window_label="w1",
        run_id="x" * 32,
        first_seen=_at(41),
        last_seen=_at(41),
        count=1,
        sinks=[SINK],
        delivered=[],
        sink_attempts=[],
        attempts=0,
        claimed_until=None,
        created_at=_at(41),
        sent_at=None,
    )


def at_0004(conn: sa.Connection, w: OldWriter) -> None:
    w.put(
        conn,
        "users",
        name="dana",
        role="admin",
        disabled=False,
        created_at=_at(50),
        created_by="dana",
    )
    w.event(conn, "user.created", "user", "dana", role="admin")
    w.put(
        conn,
        "api_tokens",
        id=TOKEN_ID,
        user_name="dana",
        secret_hash=hashlib.sha256(TOKEN_SECRET.encode()).hexdigest(),
        scope="user",
        description="laptop",
        created_at=_at(51),
        expires_at=None,
        revoked_at=None,
    )
    w.event(conn, "token.created", "token", TOKEN_ID, user="dana", scope="user")


def at_0005(conn: sa.Connection, w: OldWriter) -> None:
    w.put(
        conn,
        "jobs",
        id="j" * 32,
        kind="monitor_run",
        payload={"monitor": "credit-drift"},
        state="succeeded",
        attempts=1,
        max_attempts=3,
        run_after=_at(60),
        idempotency_key=None,
        claimed_by="worker-1",
        claimed_at=_at(60),
        heartbeat_at=_at(60),
        lease_expires_at=None,
        result={"results": 2},
        error=None,
        created_at=_at(60),
        created_by="dana",
        updated_at=_at(61),
        finished_at=_at(61),
    )
    w.put(
        conn,
        "job_logs",
        job_id="j" * 32,
        attempt=1,
        at=_at(60),
        level="info",
        message="ran credit-drift",
    )


def at_0006(conn: sa.Connection, w: OldWriter) -> None:
    gates = [{"name": "auc_not_worse", "passed": False, "value": -0.02}]
    w.put(
        conn,
        "retrainings",
        id="t" * 32,
        model_name="credit-risk",
        trigger={"kind": "manual"},
        status="finished",
        champion="credit-risk/1",
        challenger=None,
        holdout="gc/1",
        gates=gates,
        comparison={"auc": -0.02},
        decision="kept_champion",
        reason="a gate failed",
        created_at=_at(65),
        created_by="dana",
        finished_at=_at(66),
    )
    w.event(conn, "retraining.finished", "retraining", "t" * 32)
    w.put(
        conn,
        "approval_requests",
        id="p" * 32,
        model_name="credit-risk",
        version=1,
        action="approve",
        status="approved",
        retraining_id=None,
        champion_version=None,
        evidence={"gates": []},
        requested_by="dana",
        requested_at=_at(67),
        decided_by="vic",
        decided_at=_at(68),
        comment="ok",
    )


def at_0007(conn: sa.Connection, w: OldWriter) -> None:
    w.put(
        conn,
        "notification_sinks",
        name="chat",
        url="https://chat.example/hook",
        actions=["model_version.*"],
        cursor=0,
        created_at=_at(70),
        created_by="dana",
        last_error=None,
        last_attempt_at=None,
    )
    w.event(conn, "notification_sink.created", "notification_sink", "chat")


#: Rows written where their tables first appear; revisions that only add
#: columns or indexes migrate the rows written before them.
STEPS: list[tuple[str, Callable[[sa.Connection, OldWriter], None] | None]] = [
    ("0001", at_0001),
    ("0002", at_0002),
    ("0003", at_0003),
    ("0004", at_0004),
    ("0005", at_0005),
    ("0006", at_0006),
    ("0007", at_0007),
]


def test_data_of_every_revision_reads_back_at_head(db_url: str, tmp_path: Path) -> None:
    from mlsteward.sdk import Client

    store = Store(db_url, auto_upgrade=False)
    writer = OldWriter(store)
    for revision, fill in STEPS:
        assert store.upgrade(revision) == revision
        if fill is not None:
            with store.engine.begin() as conn:
                fill(conn, writer)
    assert store.upgrade() == store.head_revision()
    if writer.sqlite:  # enforcement, off while migrating, is back on
        with store.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    store.dispose()

    client = Client(Settings(home=tmp_path / "home", db_url=db_url, actor="dana"))
    try:
        principal = client.login(f"mls_{TOKEN_ID}_{TOKEN_SECRET}")
        assert (principal.user, principal.role) == ("dana", "admin")
        _check_registry(client)
        _check_serving_and_monitoring(client)
        [retraining] = client.list_retrainings("credit-risk")
        assert (retraining.decision, retraining.gates[0]["passed"]) == (
            "kept_champion",
            False,
        )
        [approval] = client.list_approvals(model="credit-risk")
        assert (approval.ref, approval.status, approval.decided_by) == (
            "credit-risk/1",
            "approved",
            "vic",
        )
        report = client.verify_audit()
        assert report.ok, report.problems
        assert report.events == writer.events
        client.comment("model_version", "credit-risk/1", "read back after the upgrade")
        report = client.verify_audit()
        assert report.ok and report.events == writer.events + 1, report.problems
    finally:
        client.close()


def _check_registry(client: Any) -> None:
    [model] = client.list_models()
    assert (model.name, model.latest_version, model.aliases) == (
        "credit-risk",
        1,
        {"champion": 1},
    )
    mv = client.get_model_version("credit-risk@champion")
    assert (mv.version, mv.artifact_sha256, mv.state) == (1, ARTIFACT, "registered")
    assert mv.signature.feature_names == FEATURES
    assert mv.tags == {"owner": "risk"}
    [dv] = client.list_datasets()
    assert (dv.ref, dv.sha256, dv.target) == ("gc/1", DATA, "bad")
    assert dv.columns_with_role("feature") == FEATURES
    run = client.get_run("r" * 32)
    assert run.metrics == {"auc": 0.78}
    assert [i["dataset"] for i in run.inputs] == ["gc/1"]


def _check_serving_and_monitoring(client: Any) -> None:
    dep = client.get_deployment("credit", with_history=True)
    assert (dep.model_name, dep.champion_version, dep.inputs) == (
        "credit-risk",
        1,
        INPUTS,
    )
    assert [c.action for c in dep.history] == ["created"]
    logged = client.predictions(deployment="credit")
    assert sorted(logged["request_id"]) == ["req-0", "req-1", "req-2", "req-3"]
    results = client.monitor_results("credit-drift")
    assert sorted(results["value"].round(2)) == [0.05, 0.31]
    [alert] = client.list_alerts()
    assert (alert.monitor, alert.status, alert.value) == (
        "credit-drift",
        "pending",
        0.31,
    )
    job = client.get_job("j" * 32)
    assert (job.kind, job.state, job.result) == (
        "monitor_run",
        "succeeded",
        {"results": 2},
    )


def test_sqlite_upgrade_refuses_to_commit_rows_whose_keys_point_nowhere(
    tmp_path: Path,
) -> None:
    """Foreign keys are off while SQLite migrates; the check before commit
    stops a migration that would leave a row pointing nowhere."""
    import sqlite3

    import pytest

    from mlsteward.errors import IntegrityError

    path = tmp_path / "old.db"
    store = Store(f"sqlite:///{path}", auto_upgrade=False)
    assert store.upgrade("0009") == "0009"
    store.dispose()
    raw = sqlite3.connect(path)  # foreign keys off: SQLite's default
    raw.execute(
        "INSERT INTO model_versions (name, version, state, flavor, artifact_sha256,"
        " artifact_size, signature, description, tags, created_at, created_by,"
        " state_changed_at) VALUES ('ghost', 1, 'registered', 'sklearn', :sha, 1,"
        " '{}', '', '{}', '2026-01-05 09:30:00', 'dana', '2026-01-05 09:30:00')",
        {"sha": ARTIFACT},
    )
    raw.commit()
    raw.close()
    store = Store(f"sqlite:///{path}", auto_upgrade=False)
    with pytest.raises(IntegrityError, match="model_versions"):
        store.upgrade()
    assert store.current_revision() == "0009"  # nothing was changed
    store.dispose()
