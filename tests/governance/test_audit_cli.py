"""Audit, lineage, comments and users from the shell, as an auditor runs them."""

from __future__ import annotations

import datetime as dt
import functools
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest


def run(
    home: Path,
    *args: str,
    token: str | None = None,
    code: int = 0,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    extra = env or {}
    env = {**os.environ, "MLSTEWARD_HOME": str(home), "MLSTEWARD_ACTOR": "local"}
    env.pop("MLSTEWARD_DB_URL", None)
    env.pop("MLSTEWARD_TOKEN", None)
    env.pop("MLSTEWARD_AUDIT_KEY", None)
    env.update(extra)
    if token:
        env["MLSTEWARD_TOKEN"] = token
    proc = subprocess.run(
        [sys.executable, "-m", "mlsteward", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert proc.returncode == code, (proc.stdout, proc.stderr)
    return proc


@pytest.fixture
def home(tmp_path: Path, credit, trained) -> Path:
    from mlsteward.config import Settings
    from mlsteward.datasets.bundled import german_credit_roles
    from mlsteward.sdk import Client

    home = tmp_path / "home"
    c = Client(Settings(home=home, actor="dana"))
    dv = c.register_dataset("gc", credit, roles=german_credit_roles())
    r = c.start_run("train", inputs=[dv.ref])
    model, features = trained
    c.register_model("credit-risk", model, credit[features], run_id=r.id)
    c.end_run(r.id)
    c.register_model("credit-risk", model, credit[features], parent_version=1)
    c.set_alias("credit-risk", "champion", 2)
    c.evaluate("credit-risk/2", dv.ref)
    c.close()
    return home


def test_users_and_tokens_from_the_cli(home: Path) -> None:
    out = json.loads(
        run(home, "users", "create", "root", "--role", "admin", "--json").stdout
    )
    assert out["role"] == "admin" and out["token"].startswith("mls_")
    tok = out["token"]
    # Now users exist: a second user needs an admin's token.
    denied = run(home, "users", "create", "ann", "--role", "developer", code=1)
    assert "MLSTEWARD_TOKEN" in denied.stderr
    denied = run(home, "tokens", "create", "root", code=1)
    run(home, "users", "create", "ann", "--role", "developer", token=tok)
    ann_tok = json.loads(
        run(home, "tokens", "create", "ann", "--json", token=tok).stdout
    )["token"]
    denied = run(
        home, "users", "create", "bob", "--role", "admin", token=ann_tok, code=1
    )
    assert "needs the admin role" in denied.stderr
    listed = json.loads(run(home, "tokens", "list", "--json").stdout)
    assert {t["user"] for t in listed} == {"root", "ann"}
    assert all("token" not in t and "secret" not in str(t) for t in listed)
    bad = run(home, "users", "list", token="mls_nope_nope", code=1)
    assert "not valid" in bad.stderr


def test_audit_verify_finds_tampering_and_says_where(home: Path) -> None:
    ok = json.loads(run(home, "audit", "verify", "--json").stdout)
    assert ok["ok"] is True and ok["events"] > 5
    db = sqlite3.connect(home / "mlsteward.db")
    db.execute("UPDATE audit_events SET actor = 'mallory' WHERE seq = 3")
    db.commit()
    broken = run(home, "audit", "verify", "--json", code=1)
    report = json.loads(broken.stdout)
    assert report["ok"] is False and report["problems"][0]["seq"] == 3
    db.execute("UPDATE audit_events SET actor = 'dana' WHERE seq = 3")
    db.execute("DELETE FROM audit_events WHERE seq = 5")
    db.commit()
    human = run(home, "audit", "verify", code=1).stdout
    assert "BROKEN" in human and "event 6" in human
    db.close()


def test_audit_log_filters(home: Path) -> None:
    events = json.loads(
        run(home, "audit", "log", "--object", "credit-risk/2", "--json").stdout
    )
    assert [e["action"] for e in events] == [
        "model_version.registered",
        "alias.set",
        "model_version.evaluated",
    ]
    assert (
        json.loads(run(home, "audit", "log", "--actor", "nobody", "--json").stdout)
        == []
    )
    datasets = json.loads(
        run(home, "audit", "log", "--object-type", "dataset_version", "--json").stdout
    )
    assert [(e["action"], e["object_id"]) for e in datasets] == [
        ("dataset.registered", "gc/1")
    ]
    later = json.loads(
        run(home, "audit", "log", "--since", "2999-01-01", "--json").stdout
    )
    assert later == []
    bad = run(home, "audit", "log", "--since", "yesterday", code=2)
    assert "ISO-8601" in bad.stderr


def test_lineage_and_comments(home: Path) -> None:
    run(home, "comments", "add", "credit-risk/2", "-m", "Why is age not an input?")
    lin = json.loads(run(home, "lineage", "credit-risk/2", "--json").stdout)
    assert lin["parents"] == ["credit-risk/1"]
    assert lin["evaluations"][0]["dataset"] == "gc/1"
    assert "comment.added" in [e["action"] for e in lin["events"]]
    lin1 = json.loads(run(home, "lineage", "credit-risk/1", "--json").stdout)
    assert lin1["datasets"][0]["ref"] == "gc/1"
    assert lin1["run"]["name"] == "train"
    tree = run(home, "lineage", "credit-risk/1").stdout
    assert "dataset gc/1" in tree
    comments = json.loads(
        run(home, "comments", "list", "credit-risk/2", "--json").stdout
    )
    assert comments[0]["details"]["text"] == "Why is age not an input?"
    run(home, "comments", "add", "credit-risk/2", "-m", "   ", code=2)


def test_retention_keeps_at_least_six_months(home: Path) -> None:
    refused = run(home, "retention", "apply", "--days", "30", code=2)
    assert "183" in refused.stderr
    out = json.loads(
        run(home, "retention", "apply", "--days", "400", "--dry-run", "--json").stdout
    )
    assert out["would_delete"] == 0


def test_audit_head_and_expect_head_catch_a_cut_tail(home: Path) -> None:
    line = run(home, "audit", "head").stdout.strip()
    seq, _, digest = line.partition(":")
    assert int(seq) > 5 and len(digest) == 64
    assert json.loads(run(home, "audit", "head", "--json").stdout) == {
        "seq": int(seq),
        "hash": digest,
    }
    ok = run(home, "audit", "verify", "--expect-head", line).stdout
    assert "expected head" in ok and f"head {line}" in ok

    # Cut the last two events and move the head row back with them.
    db = sqlite3.connect(home / "mlsteward.db")
    db.execute("DELETE FROM audit_events WHERE seq > ?", (int(seq) - 2,))
    db.execute(
        "UPDATE audit_head SET seq = seq - 2, hash = "
        "(SELECT hash FROM audit_events WHERE seq = ?)",
        (int(seq) - 2,),
    )
    db.commit()
    run(home, "audit", "verify")  # the database alone cannot tell
    broken = run(home, "audit", "verify", "--expect-head", line, code=1).stdout
    assert "BROKEN" in broken and f"event {seq}" in broken
    assert "no longer reaches" in broken
    report = json.loads(
        run(home, "audit", "verify", "--expect-head", line, "--json", code=1).stdout
    )
    assert report["ok"] is False and report["expected_head"]["seq"] == int(seq)

    # Without the head row, verify fails on its own, and a change is refused
    # with a clear message rather than a database traceback.
    db.execute("DELETE FROM audit_head")
    db.commit()
    db.close()
    missing = run(home, "audit", "verify", code=1).stdout
    assert "head row is missing" in missing
    refused = run(home, "comments", "add", "credit-risk/2", "-m", "hello", code=1)
    assert "head row is missing" in refused.stderr
    assert "Traceback" not in refused.stderr

    bad = run(home, "audit", "verify", "--expect-head", "7", code=2)
    assert "SEQ:HASH" in bad.stderr


def test_audit_key_catches_a_rewrite_with_recomputed_hashes(home: Path) -> None:
    from mlsteward.store.audit import GENESIS, event_hash

    key = {"MLSTEWARD_AUDIT_KEY": "a-secret-of-some-length"}
    run_keyed = functools.partial(run, env=key)
    run_keyed(home, "comments", "add", "credit-risk/2", "-m", "keyed one")
    run_keyed(home, "comments", "add", "credit-risk/2", "-m", "keyed two")
    assert "HMACs" in run_keyed(home, "audit", "verify").stdout

    # Someone with the database but not the key edits the first comment and
    # recomputes every hash after it, and the head row.
    db = sqlite3.connect(home / "mlsteward.db")
    rows = db.execute(
        "SELECT seq, at, actor, action, object_type, object_id, details, hash "
        "FROM audit_events ORDER BY seq"
    ).fetchall()
    first = next(r[0] for r in rows if "keyed one" in r[6])
    prev = GENESIS
    for seq, at, actor, action, otype, oid, details, digest in rows:
        if seq >= first:
            d = json.loads(details)
            if seq == first:
                d["text"] = "nothing to see"
            digest = event_hash(
                seq=seq,
                at=dt.datetime.fromisoformat(at).replace(tzinfo=dt.UTC),
                actor=actor,
                action=action,
                object_type=otype,
                object_id=oid,
                details=d,
                prev_hash=prev,
            )
            db.execute(
                "UPDATE audit_events SET details = ?, prev_hash = ?, hash = ? "
                "WHERE seq = ?",
                (json.dumps(d), prev, digest, seq),
            )
        prev = digest
    db.execute("UPDATE audit_head SET seq = ?, hash = ?", (rows[-1][0], prev))
    db.commit()
    db.close()
    run(home, "audit", "verify")  # documented limit: no key, no kept head
    broken = run_keyed(home, "audit", "verify", code=1).stdout
    assert f"event {first}: HMAC does not match" in broken
    assert "a-secret" not in broken
