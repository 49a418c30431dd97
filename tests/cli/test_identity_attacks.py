"""Identity is authenticated, never declared: the attacks of the trust-boundary
review, through the CLI (a real subprocess each), refused."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from tests.conftest import make_user


@pytest.fixture
def home(sqlite_client, credit, trained):  # type: ignore[no-untyped-def]
    model, features = trained
    sqlite_client.register_model("credit-risk", model, credit[features])
    sqlite_client.register_model("credit-risk", model, credit[features])
    sqlite_client.set_alias("credit-risk", "champion", 1)
    sqlite_client.create_deployment("credit-risk", "credit-risk@champion")
    tokens = {
        "root": make_user(sqlite_client.ctx, "root", "admin"),
        "dana": make_user(sqlite_client.ctx, "dana", "developer"),
        "alex": make_user(sqlite_client.ctx, "alex", "approver"),
    }
    return sqlite_client.ctx.settings.resolved_home(), tokens


def _cli(home: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("MLSTEWARD_")}
    return subprocess.run(
        [sys.executable, "-m", "mlsteward", *args],
        env={**base, "MLSTEWARD_HOME": str(home), **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _said(out: subprocess.CompletedProcess[str]) -> str:
    return " ".join(out.stderr.split())


def test_a_declared_actor_changes_nothing_once_users_exist(home) -> None:
    path, _ = home
    out = _cli(
        path,
        "deployments",
        "canary",
        "credit-risk",
        "--model",
        "credit-risk/2",
        "--share",
        "1.0",
        MLSTEWARD_ACTOR="ghost",
    )
    assert out.returncode == 1 and "needs a token" in _said(out)
    out = _cli(
        path, "users", "create", "eve", "--role", "admin", MLSTEWARD_ACTOR="root"
    )
    assert out.returncode == 1 and "needs a token" in _said(out)
    out = _cli(path, "deployments", "show", "credit-risk", MLSTEWARD_ACTOR="ghost")
    assert out.returncode == 0  # reading needs none: the reader holds the database


def test_a_developer_token_runs_no_admin_or_approver_operation(home) -> None:
    path, tokens = home
    dana = {"MLSTEWARD_TOKEN": tokens["dana"]}
    out = _cli(path, "users", "create", "eve", "--role", "admin", **dana)
    assert out.returncode == 1 and "needs the admin role" in _said(out)
    out = _cli(path, "tokens", "create", "alex", **dana)
    assert out.returncode == 1 and "needs the admin role" in _said(out)
    out = _cli(
        path,
        "deployments",
        "promote",
        "credit-risk",
        "--model",
        "credit-risk/2",
        **dana,
    )
    assert out.returncode == 1 and "approver role" in _said(out)
    out = _cli(path, "tokens", "create", "dana", "--json", **dana)
    assert out.returncode == 0 and "mls_" in out.stdout  # one's own token, yes


def test_an_unknown_token_is_refused(home) -> None:
    path, tokens = home
    out = _cli(path, "deployments", "list", MLSTEWARD_TOKEN=tokens["dana"] + "x")
    assert out.returncode == 1 and "not valid" in _said(out)


def test_jobs_and_score_act_as_the_token_user(home, credit, tmp_path) -> None:  # type: ignore[no-untyped-def]
    path, tokens = home
    out = _cli(
        path, "jobs", "enqueue", "noop", "--json", MLSTEWARD_TOKEN=tokens["dana"]
    )
    assert out.returncode == 0, _said(out)
    assert '"created_by": "dana"' in out.stdout or "dana" in out.stdout
    src = tmp_path / "apps.csv"
    credit.head(5).to_csv(src, index=False)
    out = _cli(
        path,
        "score",
        "credit-risk/1",
        str(src),
        str(tmp_path / "o.csv"),
        MLSTEWARD_TOKEN=tokens["dana"],
    )
    assert out.returncode == 0, _said(out)
