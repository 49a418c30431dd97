"""The control plane remembers a checked token for a few seconds
(``MLSTEWARD_API_AUTH_CACHE_SECONDS``), and never past a change that counts.

- A revoke, a disabled user or a role change made through the server takes
  effect on the very next request, cache or not.
- A revoke made elsewhere (another process writing the database) stops every
  change at once: the service re-checks the token row in the change's own
  transaction. Reads may go on for at most the cache's seconds; with the
  cache off, not at all.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select, update
from tests.conftest import make_user

from mlsteward.api import create_app
from mlsteward.config import Settings
from mlsteward.identity.tables import tokens
from mlsteward.registry.tables import runs
from mlsteward.sdk import Client
from mlsteward.store import utcnow


def _setup(tmp_path: Path, seconds: float) -> tuple[Client, TestClient, Any, Any]:
    client = Client(Settings(home=tmp_path, actor="t", api_auth_cache_seconds=seconds))
    admin = {"Authorization": f"Bearer {make_user(client.ctx, 'root', 'admin')}"}
    dev = {"Authorization": f"Bearer {make_user(client.ctx, 'dev', 'developer')}"}
    return client, TestClient(create_app(ctx=client.ctx)), admin, dev


def _token_id(headers: dict[str, str]) -> str:
    return headers["Authorization"].split()[1].split("_")[1]


def _revoke_behind_the_servers_back(client: Client, token_id: str) -> None:
    with client.ctx.store.unit_of_work() as session:
        session.execute(
            update(tokens).where(tokens.c.id == token_id).values(revoked_at=utcnow())
        )


def _runs(client: Client) -> int:
    with client.ctx.store.read() as session:
        return int(session.execute(select(func.count()).select_from(runs)).scalar())


def test_changes_through_the_server_count_at_once(tmp_path: Path) -> None:
    client, http, admin, dev = _setup(tmp_path, seconds=300)
    try:
        assert (
            http.post("/api/v1/runs", json={"name": "a"}, headers=dev).status_code
            == 201
        )
        http.put("/api/v1/users/dev/role", json={"role": "viewer"}, headers=admin)
        refused = http.post("/api/v1/runs", json={"name": "b"}, headers=dev)
        assert refused.status_code == 403, refused.text
        assert "viewer" in refused.json()["detail"]
        revoke = f"/api/v1/tokens/{_token_id(dev)}/revoke"
        assert http.post(revoke, headers=admin).status_code == 200
        assert http.get("/api/v1/runs", headers=dev).status_code == 401
    finally:
        client.close()


def test_a_revoke_elsewhere_stops_every_change_at_once(tmp_path: Path) -> None:
    client, http, _admin, dev = _setup(tmp_path, seconds=300)
    try:
        assert http.get("/api/v1/runs", headers=dev).status_code == 200  # cached
        before = _runs(client)
        _revoke_behind_the_servers_back(client, _token_id(dev))
        refused = http.post("/api/v1/runs", json={"name": "late"}, headers=dev)
        assert refused.status_code in (401, 403), refused.text
        assert refused.json()["field"] == "token"
        assert _runs(client) == before
    finally:
        client.close()


def test_with_the_cache_off_a_revoke_elsewhere_stops_reads_too(tmp_path: Path) -> None:
    client, http, _admin, dev = _setup(tmp_path, seconds=0)
    try:
        assert http.get("/api/v1/runs", headers=dev).status_code == 200
        _revoke_behind_the_servers_back(client, _token_id(dev))
        assert http.get("/api/v1/runs", headers=dev).status_code == 401
    finally:
        client.close()
