"""The CLI as a user runs it: a real subprocess, JSON out, exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest


def run(home: Path, *args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MLSTEWARD_HOME": str(home), "MLSTEWARD_ACTOR": "cli-user"}
    env.pop("MLSTEWARD_DB_URL", None)
    proc = subprocess.run(
        [sys.executable, "-m", "mlsteward", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    if ok:
        assert proc.returncode == 0, proc.stderr
    return proc


@pytest.fixture
def home(tmp_path: Path, credit, trained) -> Path:
    from mlsteward.config import Settings
    from mlsteward.datasets.bundled import german_credit_roles
    from mlsteward.sdk import Client

    home = tmp_path / "home"
    client = Client(Settings(home=home, actor="setup"))
    dv = client.register_dataset("gc", credit, roles=german_credit_roles())
    run_ = client.start_run("train", inputs=[dv.ref])
    model, features = trained
    client.log_metrics(run_.id, {"auc": 0.8})
    client.end_run(run_.id)
    client.register_model("credit-risk", model, credit[features], run_id=run_.id)
    client.set_alias("credit-risk", "champion", 1)
    client.evaluate("credit-risk/1", dv.ref)
    client.close()
    return home


def test_lists_and_shows_as_json(home: Path) -> None:
    models = json.loads(run(home, "models", "list", "--json").stdout)
    assert [(m["name"], m["latest_version"], m["aliases"]) for m in models] == [
        ("credit-risk", 1, {"champion": 1})
    ]
    shown = json.loads(run(home, "models", "show", "credit-risk", "--json").stdout)
    assert shown["versions"][0]["evaluations"][0]["dataset"] == "gc/1"
    actions = [e["action"] for e in shown["history"]]
    assert actions[:2] == ["model_version.registered", "alias.set"]
    one = json.loads(
        run(home, "models", "show", "credit-risk@champion", "--json").stdout
    )
    assert one["ref"] == "credit-risk/1" and one["aliases"] == ["champion"]
    datasets = json.loads(run(home, "datasets", "list", "--json").stdout)
    assert [d["ref"] for d in datasets] == ["gc/1"]
    ds = json.loads(run(home, "datasets", "show", "gc/1", "--json").stdout)
    assert ds["profile"]["columns"]["credit_amount"]["kind"] == "numeric"
    runs = json.loads(run(home, "runs", "list", "--json").stdout)
    assert runs[0]["metrics"] == {"auc": 0.8}
    assert runs[0]["inputs"] == [{"dataset": "gc/1", "context": "training"}]


def test_tables_for_people(home: Path) -> None:
    out = run(home, "models", "show", "credit-risk").stdout
    assert "credit-risk" in out and "champion" in out and "AUC" in out
    assert "credit_amount" in run(home, "datasets", "show", "gc").stdout


def test_exit_codes(home: Path) -> None:
    missing = run(home, "models", "show", "nope", ok=False)
    # A name that does not exist is bad input (README: 2), listing what does.
    assert missing.returncode == 2 and "not found" in missing.stderr
    assert "credit-risk" in missing.stderr
    bad = run(home, "models", "show", "credit-risk/x", ok=False)
    assert bad.returncode == 2 and "positive integer" in bad.stderr
    usage = run(home, "models", "frobnicate", ok=False)
    assert usage.returncode == 2


def test_register_dataset_from_the_shell(home: Path, credit, tmp_path: Path) -> None:
    path = tmp_path / "gc.csv"
    credit.iloc[:100].to_csv(path, index=False)
    out = json.loads(
        run(
            home,
            "datasets",
            "register",
            "small",
            str(path),
            "--role",
            "bad=target",
            "--json",
        ).stdout
    )
    assert out["ref"] == "small/1" and out["n_rows"] == 100
    bad = run(
        home, "datasets", "register", "small", str(path), "--role", "bad", ok=False
    )
    assert bad.returncode == 2 and "COLUMN=ROLE" in bad.stderr
    banded = [*("--role", "age_in_years=protected", "--role", "bad=target")]
    out = json.loads(
        run(
            home,
            *("datasets", "register", "banded", str(path), *banded),
            *("--bands", "age_in_years=25,35,45,55,65", "--json"),
        ).stdout
    )
    age = next(c for c in out["columns"] if c["name"] == "age_in_years")
    assert age["bands"] == [25.0, 35.0, 45.0, 55.0, 65.0]
    wrong = run(
        home,
        *("datasets", "register", "banded", str(path), *banded),
        *("--bands", "duration_in_month=12"),
        ok=False,
    )
    assert wrong.returncode == 2 and "numeric protected" in wrong.stderr


def test_db_upgrade_on_an_empty_database(tmp_path: Path) -> None:
    out = json.loads(run(tmp_path / "fresh", "db", "upgrade", "--json").stdout)
    assert out["from"] is None and out["to"] is not None
    again = json.loads(run(tmp_path / "fresh", "db", "current", "--json").stdout)
    assert again == {"current": out["to"], "head": out["to"]}
