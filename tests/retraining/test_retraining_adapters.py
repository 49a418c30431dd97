"""Retraining and approvals over REST and from the shell."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from tests.conftest import make_user_token
from tests.retraining.conftest import champion_with_history

from mlsteward.api import create_app

POLICY = {
    "data": {"reference": "german-credit-train", "window": "3650d"},
    "gates": {"auc_max_drop": 1.0, "four_fifths_min": None, "score_psi_max": None},
    "promotion": {"mode": "manual"},
}


@pytest.fixture
def bank(sqlite_client):  # type: ignore[no-untyped-def]
    champion_with_history(sqlite_client, n_periods=2)
    headers = {
        "root": make_user_token(sqlite_client.ctx, "root", "admin"),
        "dana": make_user_token(sqlite_client.ctx, "dana", "developer"),
        "alex": make_user_token(sqlite_client.ctx, "alex", "approver"),
    }
    return sqlite_client, headers


def test_rest_round_trip_with_roles(bank) -> None:
    client, h = bank
    api = TestClient(create_app(ctx=client.ctx))
    r = api.put("/api/v1/policies/credit-risk", json=POLICY, headers=h["dana"])
    assert r.status_code == 403
    r = api.put(
        "/api/v1/policies/credit-risk",
        json={**POLICY, "promotion": {"mode": "sometimes"}},
        headers=h["root"],
    )
    assert r.status_code == 422 and r.json()["field"] == "promotion.mode"
    assert (
        api.put(
            "/api/v1/policies/credit-risk", json=POLICY, headers=h["root"]
        ).status_code
        == 200
    )
    r = api.post("/api/v1/models/credit-risk/retrain", json={}, headers=h["dana"])
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["decision"] == "awaiting_approval"
    req = body["approval_id"]
    pending = api.get("/api/v1/approvals?status=pending", headers=h["alex"]).json()
    assert [a["id"] for a in pending] == [req]
    assert pending[0]["evidence"]["gates"]
    r = api.post(f"/api/v1/approvals/{req}/approve", json={}, headers=h["dana"])
    assert r.status_code == 403
    r = api.post(
        f"/api/v1/approvals/{req}/approve", json={"comment": "fine"}, headers=h["alex"]
    )
    assert r.status_code == 200 and r.json()["decided_by"] == "alex"
    champ = api.get(
        "/api/v1/model-versions/credit-risk@champion", headers=h["dana"]
    ).json()
    assert f"credit-risk/{champ['version']}" == body["challenger"]


def test_cli_policy_check_and_approvals(bank, tmp_path: Path) -> None:
    client, h = bank
    home = client.ctx.settings.resolved_home()
    env = {**os.environ, "MLSTEWARD_HOME": str(home)}
    env.pop("MLSTEWARD_ACTOR", None)
    env.pop("MLSTEWARD_DB_URL", None)

    def run(*args: str, who: str = "dana") -> subprocess.CompletedProcess[str]:
        token = h[who]["Authorization"].split()[1]  # the CLI acts as its token
        return subprocess.run(
            [sys.executable, "-m", "mlsteward", *args],
            env={**env, "MLSTEWARD_TOKEN": token},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    bad = tmp_path / "bad.toml"
    bad.write_text(
        'model = "credit-risk"\n[data]\nreference = "x"\n[gates]\nauc_drop = 1\n'
    )
    out = run("policies", "check", str(bad))
    assert out.returncode == 2 and "gates.auc_drop" in out.stderr
    good = tmp_path / "good.toml"
    good.write_text(
        'model = "credit-risk"\n[data]\nreference = '
        '"german-credit-train"\nwindow = "3650d"\n[gates]\n'
        "auc_max_drop = 1.0\nfour_fifths_min = 0.0\nscore_psi_max = 9.0\n"
        # A month holds too few non-foreign workers to judge that column:
        # not passed, but this policy lets an approver decide.
        'unjudged = "ask_approver"\n'
    )
    assert run("policies", "set", str(good)).returncode == 1  # admins only
    assert run("policies", "set", str(good), who="root").returncode == 0
    out = run("retrain", "credit-risk", "--json")
    assert out.returncode == 0, out.stderr
    listed = run("approvals", "list", "--status", "pending", "--json")
    assert listed.returncode == 0 and "credit-risk/2" in listed.stdout
    import json

    req = json.loads(listed.stdout)[0]["id"]
    self_ok = run("approvals", "approve", req)
    assert self_ok.returncode == 1 and "approver role" in " ".join(
        self_ok.stderr.split()
    )
