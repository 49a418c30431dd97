"""`mlsteward demo` end to end, as a user runs it, twice in the same home."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

pytestmark = pytest.mark.slow


def _demo(home: Path) -> dict:
    env = {**os.environ, "MLSTEWARD_HOME": str(home)}
    env.pop("MLSTEWARD_DB_URL", None)
    proc = subprocess.run(
        [sys.executable, "-m", "mlsteward", "demo", "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_demo_closes_the_loop_and_can_run_again(tmp_path: Path) -> None:
    from mlsteward.config import Settings
    from mlsteward.sdk import Client

    home = tmp_path / "home"
    first = _demo(home)
    assert first["audit_ok"] is True
    report_html = Path(first["report"]).read_text()
    assert first["champion_end"] in report_html
    assert len(first["periods"]) == 6
    # Each month's alerts make one incident, summed up in one line.
    for p in first["periods"]:
        got = p["incident"]
        assert got["critical"] + got["warnings"] == p["alerts"] > 0
        assert got["summary"].startswith(f"credit-risk {p['period']}: ")
    assert sum(p["incident"]["repeated"] for p in first["periods"]) > 0
    # The shift is real: the first champion loses accuracy on later months.
    by_first = [
        p for p in first["periods"] if p["scored_by"] == first["champion_start"]
    ]
    assert by_first and min(p["auc"] for p in by_first) < first["baseline_auc"] - 0.05
    # Every retraining compared both models on the same holdout, and a
    # promotion happened only where every gate passed (a win included).
    assert first["decisions"], "the drift policy should have triggered a retraining"
    for d in first["decisions"]:
        assert d["promoted"] == all(g["passed"] for g in d["gates"])
        gain = next(g for g in d["gates"] if g["gate"] == "auc_min_gain")
        assert gain["passed"] == (d["challenger_auc"] > d["champion_auc"])
    promoted = [d for d in first["decisions"] if d["promoted"]]
    expected_end = promoted[-1]["challenger"] if promoted else first["champion_start"]
    assert first["champion_end"] == expected_end

    client = Client(Settings(home=home))
    # The figures in the report are the ones the logged data gives.
    window = client.labelled_window(deployment="credit-risk")
    assert len(window) == 6 * 250 and window["label"].notna().all()
    month = window[window["request_id"].str.contains("-2025-08-")]
    assert roc_auc_score(month["label"], month["score"]) == pytest.approx(
        first["periods"][1]["auc"], abs=1e-12
    )
    assert set(np.unique(month["decision"])) <= {"approve", "deny"}
    # Protected attributes are logged beside the inputs, not used by the model.
    assert "input.age_in_years" in window.columns
    champion = client.get_model_version("credit-risk@champion")
    assert champion.ref == first["champion_end"]
    assert "age_in_years" not in champion.signature.feature_names
    versions = client.list_versions("credit-risk")
    assert len(versions) == 1 + len(first["decisions"])
    for d in first["decisions"]:
        chall = client.get_model_version(d["challenger"])
        assert chall.state == ("approved" if d["promoted"] else "rejected")
        assert chall.run_id is not None
        run = client.get_run(chall.run_id)
        assert run.inputs[0]["dataset"].startswith("credit-risk-retrain/")
        evaluated_on = {e.dataset for e in client.list_evaluations(d["challenger"])}
        assert d["holdout"] in evaluated_on
    # A second person approved each promotion; the developer asked.
    events = client.audit_log()
    approvals = [e for e in events if e.action == "approval.approved"]
    assert len(approvals) == len(promoted)
    assert all(e.actor == "alex" for e in approvals)
    asked = [e for e in events if e.action == "approval.requested"]
    assert all(e.actor == "dana" for e in asked)
    client.close()

    # Repeatable: same seeds, same figures; new versions beside the old.
    second = _demo(home)
    assert [p["auc"] for p in second["periods"]] == [p["auc"] for p in first["periods"]]
    assert second["audit_ok"] is True
    client = Client(Settings(home=home))
    assert len(client.list_versions("credit-risk")) == 2 * len(versions)
    second_log = client.labelled_window(deployment="credit-risk-2")
    assert len(second_log) == 6 * 250
    assert [d.ref for d in client.list_datasets("german-credit-train")] == [
        "german-credit-train/1"
    ]
    client.close()


def test_a_second_demo_in_the_same_home_is_refused(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from mlsteward.demo import demo_lock

    home = tmp_path / "home"
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLSTEWARD_")}
    with demo_lock(home):  # a demo running here
        out = subprocess.run(
            [sys.executable, "-m", "mlsteward", "demo", "--home", str(home)],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    said = " ".join(out.stderr.split())
    assert out.returncode == 1, out.stderr
    assert "another mlsteward demo is running" in said and str(os.getpid()) in said
    assert not (home / "tokens").exists()  # it touched nothing


def test_the_demo_refuses_a_home_where_its_model_is_deployed(
    tmp_path: Path,
    credit,
    trained,  # type: ignore[no-untyped-def]
) -> None:
    from mlsteward.config import Settings
    from mlsteward.sdk import Client

    home = tmp_path / "home"
    client = Client(Settings(home=home, actor="tester"))
    fitted, features = trained
    client.register_model("credit-risk", fitted, credit[features])
    client.set_alias("credit-risk", "champion", 1)
    client.create_deployment("live-credit", "credit-risk@champion")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLSTEWARD_")}
    out = subprocess.run(
        [sys.executable, "-m", "mlsteward", "demo", "--home", str(home)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    said = " ".join(out.stderr.split())
    assert out.returncode == 1, out.stderr
    assert "deployment(s) live-credit serve model 'credit-risk'" in said
    assert "another home (--home)" in said
    client.login((home / "tokens" / "admin").read_text().strip())
    # Nothing trained, nothing moved.
    assert [v.version for v in client.list_versions("credit-risk")] == [1]
    assert client.get_deployment("live-credit").champion_version == 1
    client.close()
