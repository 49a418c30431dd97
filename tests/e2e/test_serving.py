"""The serving walk-through of the docs, end to end: CLI commands, a real
``mlsteward serve`` process (fsync mode), curl-style HTTP, rollback."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from tests.serving.servers import HTTP, Server, wait_for
from typer.testing import CliRunner

from mlsteward.cli import app


@pytest.fixture
def home(tmp_path: Path, credit: Any, trained: Any) -> Path:
    from mlsteward.config import Settings
    from mlsteward.sdk import Client

    home = tmp_path / "home"
    c = Client(Settings(home=home, actor="setup", auth_required=False))
    model, features = trained
    c.register_model("credit-risk", model, credit[features].head(50))
    c.register_model("credit-risk", model, credit[features].head(50))
    c.set_alias("credit-risk", "champion", 1)
    c.close()
    return home


def cli(home: Path, *args: str) -> Any:
    env = {"MLSTEWARD_HOME": str(home), "MLSTEWARD_ACTOR": "ops"}
    result = CliRunner().invoke(app, list(args), env=env)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout) if "--json" in args else result.stdout


@pytest.mark.slow
def test_deploy_serve_predict_canary_promote_rollback(
    home: Path, credit: Any, trained: Any
) -> None:
    _, features = trained
    created = cli(
        home, "deployments", "create", "credit-risk",
        "--model", "credit-risk@champion", "--threshold", "0.3",
        "--log-column", "application_id", "--pii", "application_id", "--json",
    )  # fmt: skip
    assert created["champion"] == "credit-risk/1"
    server = Server(home, ["serve", "credit-risk", "--fsync"]).start()
    try:
        url = f"{server.url}/predict/credit-risk"
        record = credit[[*features, "application_id"]].iloc[0].to_dict()
        answer = HTTP.post(url, json=record).json()
        assert answer["version"] == 1
        assert answer["decision"] == ("deny" if answer["score"] >= 0.3 else "approve")

        cli(home, "deployments", "canary", "credit-risk", "--model", "credit-risk/2",
            "--share", "1")  # fmt: skip
        wait_for(lambda: HTTP.post(url, json=record).json()["version"] == 2,
                 what="the canary answering")  # fmt: skip
        cli(home, "deployments", "promote", "credit-risk")
        rolled = cli(home, "deployments", "rollback", "credit-risk", "--json")
        assert rolled["champion_version"] == 1 and rolled["canary_version"] is None
        wait_for(lambda: HTTP.post(url, json=record).json()["version"] == 1,
                 what="the rollback reaching the server")  # fmt: skip

        shown = cli(home, "deployments", "show", "credit-risk", "--json")
        assert [h["action"] for h in shown["history"]] == [
            "created", "canary_set", "promoted", "rolled_back",
        ]  # fmt: skip
        listed = cli(home, "deployments", "list", "--json")
        assert [d["name"] for d in listed] == ["credit-risk"]
    finally:
        server.stop()
    logged = cli(home, "predictions", "list", "--deployment", "credit-risk", "--json")
    assert answer["request_id"] in {p["request_id"] for p in logged}
    assert {p["input.application_id"] for p in logged} == {"[redacted]"}
    assert {p["model_version"] for p in logged} == {1, 2}
    recent = cli(home, "predictions", "list", "--since", "1h", "--json")
    assert len(recent) == len(logged)
    table = cli(home, "deployments", "show", "credit-risk")
    assert "champion  credit-risk/1" in table
