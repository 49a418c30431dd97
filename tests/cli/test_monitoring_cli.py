"""``mlsteward monitors|alerts|outcomes`` as a user runs them: a real
subprocess, JSON out, exit codes (0 ok, 1 failed, 2 bad input)."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest


def run(home: Path, *args: str, code: int = 0) -> subprocess.CompletedProcess[str]:
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
    assert proc.returncode == code, proc.stdout + proc.stderr
    return proc


@pytest.fixture
def home(tmp_path: Path, credit, trained) -> tuple[Path, list[str], list[int]]:
    from mlsteward.config import Settings
    from mlsteward.datasets.bundled import GERMAN_CREDIT_PROTECTED, german_credit_roles
    from mlsteward.sdk import Client

    home = tmp_path / "home"
    client = Client(Settings(home=home, actor="setup"))
    model, features = trained
    train = credit.iloc[:700]
    dv = client.register_dataset("gc", train, roles=german_credit_roles())
    run_ = client.start_run("train", inputs=[dv.ref])
    client.register_model("credit-risk", model, train[features], run_id=run_.id)
    client.end_run(run_.id)
    client.set_alias("credit-risk", "champion", 1)
    month = credit.iloc[700:900].reset_index(drop=True)
    start = dt.datetime(2025, 7, 1, tzinfo=dt.UTC)
    ids = [f"{i:05d}" for i in range(len(month))]  # leading zeros on purpose
    client.score(
        "credit-risk@champion",
        month,
        deployment="credit-risk",
        request_ids=ids,
        timestamps=[start + dt.timedelta(hours=3 * i) for i in range(len(month))],
        log_columns=list(GERMAN_CREDIT_PROTECTED),
    )
    client.close()
    return home, ids, month["bad"].tolist()


def test_outcomes_monitors_results_alerts(home, tmp_path: Path) -> None:
    home_, ids, labels = home
    bad = tmp_path / "bad.csv"
    pd.DataFrame({"request_id": [*ids[:3], "ghost"], "label": [0, 1, 0, 1]}).to_csv(
        bad, index=False
    )
    proc = run(home_, "outcomes", "load", str(bad), code=2)
    assert "not in the prediction log" in proc.stderr
    good = tmp_path / "good.csv"
    pd.DataFrame({"request_id": ids, "label": labels}).to_csv(good, index=False)
    loaded = json.loads(run(home_, "outcomes", "load", str(good), "--json").stdout)
    assert loaded == {"loaded": len(ids), "unchanged": 0}  # nothing half-loaded before

    created = json.loads(
        run(
            home_,
            "monitors", "create", "cr", "--deployment", "credit-risk",
            "--check", "drift", "--check", "performance", "--check", "estimated",
            "--method", "credit_amount=psi,wasserstein",
            "--set", "performance.min_labelled_share=0.5",
            "--sink", "log", "--cooldown", "2d", "--json",
        ).stdout
    )  # fmt: skip
    assert created["checks"]["drift"]["methods"]["credit_amount"] == [
        "psi",
        "wasserstein",
    ]
    assert created["checks"]["performance"]["min_labelled_share"] == 0.5
    assert created["alerting"]["cooldown_seconds"] == 172800

    out = json.loads(
        run(
            home_, "monitors", "run", "cr",
            "--start", "2025-07-01T00:00:00Z", "--end", "2025-08-01T00:00:00Z",
            "--json",
        ).stdout
    )  # fmt: skip
    assert [w["label"] for w in out["windows"]] == ["2025-07"]
    auc = next(r for r in out["results"] if r["check"] == "performance.auc")
    est = next(r for r in out["results"] if r["check"] == "estimated.auc")
    assert est["details"]["realised_auc"] == pytest.approx(auc["value"])


def test_the_other_commands_in_process(home, tmp_path: Path, monkeypatch) -> None:
    """The remaining commands through Typer's runner (same code, one process)."""
    from typer.testing import CliRunner

    from mlsteward.cli import app

    home_, ids, _ = home
    monkeypatch.setenv("MLSTEWARD_HOME", str(home_))
    monkeypatch.delenv("MLSTEWARD_DB_URL", raising=False)
    cli = CliRunner()

    def invoke(*args: str, code: int = 0):  # type: ignore[no-untyped-def]
        result = cli.invoke(app, list(args))
        assert result.exit_code == code, result.output
        return result

    wrong = tmp_path / "wrong.csv"
    pd.DataFrame({"request_id": ids[:2], "label": [0, 7]}).to_csv(wrong, index=False)
    invoke("outcomes", "load", str(wrong), code=2)
    invoke("monitors", "create", "x", "-d", "credit-risk", "--window", "last:0", code=2)
    invoke("monitors", "create", "cr", "-d", "credit-risk", "--schedule", "0 6 * * *")
    assert "cr" in invoke("monitors", "list").output
    assert "psi" in invoke("monitors", "show", "cr").output
    shown = json.loads(invoke("monitors", "show", "cr", "--json").output)
    assert shown["schedule"] == "0 6 * * *"
    ran = invoke("monitors", "run", "cr", "--at", "2025-08-15T00:00:00Z").output
    assert "AUC (estimated, CBPE)" in ran and "concept shift" in ran
    assert "2025-07" in invoke("monitors", "results", "cr", "--check", "drift").output
    rows = json.loads(
        invoke("monitors", "results", "cr", "--check", "quality", "--json").output
    )
    assert {r["check"].split(".")[0] for r in rows} == {"quality"}
    # A name the monitor never computed is a typo: refused, with what exists.
    typo = invoke("monitors", "results", "cr", "--check", "drift.pis", code=2)
    assert "no check 'drift.pis'" in typo.output and "drift.psi" in typo.output
    typo = invoke("monitors", "results", "cr", "--column", "agee", code=2)
    assert "no column 'agee'" in typo.output and "age_in_years" in typo.output
    nope = invoke("predictions", "list", "--deployment", "nope", code=2)
    assert "'nope' not found" in nope.output and "credit-risk" in nope.output
    none = invoke("predictions", "list", "--deployment", "credit-risk", "--since", "1h")
    assert "no predictions logged for credit-risk since 1h" in none.output
    raised = json.loads(invoke("alerts", "list", "--json").output)
    assert isinstance(raised, list)
    grouped = json.loads(invoke("alerts", "incidents", "--json").output)
    assert sorted(i["alert_id"] for g in grouped for i in g["items"]) == sorted(
        a["id"] for a in raised
    )
    shown = invoke("alerts", "incidents").output
    assert all(g["summary"].split(":")[0] in shown for g in grouped)
    assert "limit" in invoke("alerts", "incidents", "--limit", "0", code=2).output
    invoke("monitors", "run-due")
    invoke("alerts", "list")
    invoke("alerts", "deliver")
    invoke("monitors", "delete", "cr")
    invoke("monitors", "show", "cr", code=2)  # not found: bad input
