"""Serving rides out an outage of its metadata database.

A real ``mlsteward serve`` process, with tokens required, runs on a
PostgreSQL database of its own; under load the test takes that database
offline (``ALLOW_CONNECTIONS false`` and every session terminated) for longer
than a token's cache lifetime, then brings it back. No request may fail, every
answered record must reach the prediction log after recovery, a token seen
refused stays refused, a token never checked gets a clear 503, and the server
logs one warning when the outage begins and one when it ends, no traceback.
"""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine, make_url
from tests.conftest import DEFAULT_PG, admin_context, make_user, require_or_skip
from tests.serving.servers import FEATURE_EXTRA, Server, wait_for

from mlsteward.config import Settings

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


@pytest.fixture
def own_database() -> Iterator[tuple[Engine, str, str]]:
    """A PostgreSQL database of this test's own: (admin engine, name, URL)."""
    base = os.environ.get("MLSTEWARD_TEST_POSTGRES_URL", DEFAULT_PG)
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text("select 1"))
    except Exception as exc:
        require_or_skip(f"PostgreSQL not reachable at {base} ({type(exc).__name__})")
    name = f"mlsteward_outage_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(base).set(database=name).render_as_string(hide_password=False)
    try:
        yield admin, name, url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true'))
            _terminate(conn, name)
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


def _terminate(conn: Any, name: str) -> None:
    conn.execute(
        text(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = :n AND pid <> pg_backend_pid()"
        ),
        {"n": name},
    )


def _metric(server: Server, line: str) -> float:
    for row in httpx.get(f"{server.url}/metrics", timeout=5).text.splitlines():
        if row.startswith(line + " "):
            return float(row.split()[-1])
    return 0.0


def _load(
    server: Server,
    token: str,
    records: list[dict[str, Any]],
    stop: threading.Event,
    answered: list[str],
    failed: list[str],
) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(timeout=10) as http:
        i = 0
        while not stop.is_set():
            i += 1
            r = http.post(
                f"{server.url}/predict/cr-out", json=records[i % 500], headers=headers
            )
            if r.status_code == 200:
                answered.append(r.json()["request_id"])
            else:
                failed.append(f"{r.status_code} {r.text[:200]}")


def test_a_database_outage_under_load_fails_no_request_and_loses_no_record(
    own_database: tuple[Engine, str, str],
    tmp_path: Path,
    credit: Any,
    trained: Any,
    records: list[dict[str, Any]],
) -> None:
    from mlsteward.identity.service import IdentityService
    from mlsteward.sdk import Client

    admin, name, url = own_database
    home = tmp_path / "home"
    client = Client(Settings(home=home, db_url=url, actor="tester"))
    fitted, features = trained
    client.register_model("credit-risk", fitted, credit[features])
    client.create_deployment("cr-out", "credit-risk/1", log_columns=FEATURE_EXTRA)
    client.login(make_user(client.ctx, "root", "admin"))
    token = make_user(client.ctx, "app", "viewer")
    revoked = make_user(client.ctx, "gone", "viewer")
    never_seen = make_user(client.ctx, "late", "viewer")
    server = Server(
        home, ["serve", "cr-out"], MLSTEWARD_DB_URL=url, MLSTEWARD_AUTH_REQUIRED="true"
    ).start()
    stop = threading.Event()
    answered: list[str] = []
    failed: list[str] = []
    threads = [
        threading.Thread(
            target=_load, args=(server, token, records, stop, answered, failed)
        )
        for _ in range(3)
    ]
    try:
        IdentityService(admin_context(client.ctx)).revoke_token(revoked.split("_")[1])
        bad = {"Authorization": f"Bearer {revoked}"}
        url_predict = f"{server.url}/predict/cr-out"
        assert httpx.post(url_predict, json=records[0], headers=bad).status_code == 401
        for t in threads:
            t.start()
        wait_for(lambda: len(answered) >= 50, what="answers before the outage")

        with admin.connect() as conn:  # the database goes away
            conn.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false'))
            _terminate(conn, name)
        # Past the token cache's lifetime: the server has had to fall back.
        wait_for(
            lambda: _metric(server, "mlsteward_stale_token_checks_total") > 0,
            timeout=60,
            what="a token check answered from the last good one",
        )
        ready = httpx.get(f"{server.url}/v2/health/ready", timeout=5)
        assert ready.status_code == 200
        assert ready.json()["degraded"] == ["database"]
        assert _metric(server, 'mlsteward_degraded{cause="database"}') == 1
        assert httpx.post(url_predict, json=records[0], headers=bad).status_code == 401
        unseen = httpx.post(
            url_predict,
            json=records[0],
            headers={"Authorization": f"Bearer {never_seen}"},
        )
        assert unseen.status_code == 503, unseen.text
        assert unseen.headers["retry-after"] == "5"
        assert "metadata database is unreachable" in unseen.json()["detail"]
        during = len(answered)
        wait_for(lambda: len(answered) >= during + 50, what="answers in the outage")

        with admin.connect() as conn:  # ... and comes back
            conn.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true'))
        wait_for(
            lambda: _metric(server, 'mlsteward_degraded{cause="database"}') == 0,
            timeout=60,
            what="the outage to end",
        )
        stop.set()
        for t in threads:
            t.join()

        def all_logged() -> bool:
            logged = set(client.predictions(deployment="cr-out")["request_id"])
            return set(answered) <= logged

        wait_for(all_logged, timeout=60, what="every answered record logged")
    finally:
        stop.set()
        server.stop()
        client.close()
    assert failed == []
    assert len(answered) == len(set(answered)) >= 100
    out = server.output()
    assert "Traceback" not in out
    assert out.count("outage began") == 1 and out.count("outage ended") == 1


def test_the_control_plane_answers_503_once_warned_in_a_database_outage(
    own_database: tuple[Engine, str, str],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    from fastapi.testclient import TestClient

    from mlsteward.api.app import create_app
    from mlsteward.sdk import Client

    admin, name, url = own_database
    settings = Settings(home=tmp_path / "home", db_url=url, actor="tester")
    client = Client(settings)
    headers = {"Authorization": f"Bearer {make_user(client.ctx, 'root', 'admin')}"}
    api = TestClient(create_app(settings))
    assert api.get("/api/v1/models", headers=headers).status_code == 200
    with admin.connect() as conn:
        conn.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false'))
        _terminate(conn, name)
    caplog.clear()
    for _ in range(3):
        r = api.get("/api/v1/models", headers=headers)
        assert r.status_code == 503, r.text
        assert r.headers["retry-after"] == "5"
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["detail"] == (
            "the metadata database is unreachable; try again shortly"
        )
    began = [rec for rec in caplog.records if "outage began" in rec.getMessage()]
    assert len(began) == 1 and not any(rec.exc_info for rec in caplog.records)
    with admin.connect() as conn:
        conn.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true'))
    assert api.get("/api/v1/models", headers=headers).status_code == 200
    client.close()
