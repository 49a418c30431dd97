"""One CLI grammar: every command takes --json, help reads as plain text, the
same flag means the same thing everywhere, and the new verbs go through the
services' rules."""

from __future__ import annotations

import json
from typing import Any

import pytest
import typer.main
from typer.testing import CliRunner

from mlsteward.cli import app

# Long-running servers print nothing to format; everything else answers JSON.
_NO_JSON = {("serve",), ("server",)}


def _commands() -> list[tuple[tuple[str, ...], Any]]:
    root = typer.main.get_command(app)
    ctx = root.make_context("mlsteward", [], resilient_parsing=True)
    found: list[tuple[tuple[str, ...], Any]] = []

    def walk(cmd: Any, path: tuple[str, ...]) -> None:
        if hasattr(cmd, "list_commands"):
            for name in cmd.list_commands(ctx):
                sub = cmd.get_command(ctx, name)
                assert sub is not None
                if not sub.hidden:
                    walk(sub, (*path, name))
        else:
            found.append((path, cmd))

    walk(root, ())
    return found


def _help(path: tuple[str, ...]) -> str:
    out = CliRunner().invoke(app, [*path, "--help"], terminal_width=100)
    assert out.exit_code == 0, out.output
    return out.output


def test_every_command_takes_json_and_help_is_plain() -> None:
    commands = _commands()
    assert len(commands) > 60
    missing = [
        " ".join(p)
        for p, cmd in commands
        if p not in _NO_JSON and not any("--json" in o.opts for o in cmd.params)
    ]
    assert missing == []
    for path, _ in commands:
        text = _help(path)
        assert "<bool>" not in text, path
        assert "``" not in text, path


def test_a_reason_is_reason_or_m_everywhere() -> None:
    for path, cmd in _commands():
        for param in cmd.params:
            if param.name in ("reason", "comment") or "--reason" in param.opts:
                assert set(param.opts) >= {"--reason", "-m"}, path


def test_version_flag() -> None:
    from mlsteward import __version__

    out = CliRunner().invoke(app, ["--version"])
    assert out.exit_code == 0 and out.output.strip() == __version__
    out = CliRunner().invoke(app, ["version", "--json"])
    assert json.loads(out.output) == {"version": __version__}


@pytest.fixture
def governed(sqlite_client, credit, trained):  # type: ignore[no-untyped-def]
    from tests.conftest import as_user, make_user

    from mlsteward.registry.service import ModelRegistry

    model, features = trained
    for _ in range(2):
        sqlite_client.register_model("credit-risk", model, credit[features])
    sqlite_client.register_model("other", model, credit[features])
    make_user(sqlite_client.ctx, "root", "admin")
    ModelRegistry(as_user(sqlite_client.ctx, "root")).govern("credit-risk")
    return sqlite_client


def test_alias_and_archive_go_through_the_rules(governed, cli, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from tests.conftest import make_user

    token = make_user(governed.ctx, "dana", "developer")
    monkeypatch.setenv("MLSTEWARD_TOKEN", token)
    refused: Any = cli("models", "alias", "set", "credit-risk", "champion", "1")
    assert refused.exit_code == 1 and "governed" in refused.output
    done: Any = cli("models", "alias", "set", "other", "champion", "1", "--json")
    assert done.exit_code == 0, done.output
    assert json.loads(done.output)["aliases"] == ["champion"]
    old: Any = cli("models", "set-alias", "other", "stable", "1")  # hidden alias
    assert old.exit_code == 0, old.output
    gone: Any = cli("models", "alias", "delete", "other", "stable", "--json")
    assert json.loads(gone.output)["deleted"] is True
    archived: Any = cli(
        "models", "archive", "credit-risk/2", "-m", "superseded", "--json"
    )
    assert archived.exit_code == 0, archived.output
    assert json.loads(archived.output)["state"] == "archived"
    again: Any = cli("models", "archive", "credit-risk/2")
    assert again.exit_code == 1 and "archived" in again.output
