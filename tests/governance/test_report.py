"""The model report: every section, the right figures, escaped, offline, PDF."""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
from typing import Any

import pytest
from sklearn.metrics import roc_auc_score

from mlsteward.config import Settings
from mlsteward.datasets.bundled import GERMAN_CREDIT_BANDS, german_credit_roles
from mlsteward.governance.report import pdf as report_pdf
from mlsteward.governance.report.build import (
    GUIDANCE,
    build_report,
    collect_report,
    write_report,
)
from mlsteward.monitoring.drift.stats import column_psi
from mlsteward.registry.service import ModelRegistry
from mlsteward.registry.specs import SetAlias, Transition
from mlsteward.retraining.trainers import logistic_scorecard
from mlsteward.store import audit, utcnow

HOSTILE = "<script>alert('x')</script> scores consumer credit applications"
COMMENT = "Looks fine <b>but</b> check the under-25s & foreign workers"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, credit) -> dict[str, Any]:
    """A small registry: training data, a run, v1 and its child v2, both
    evaluated out of time on data with protected columns; aliases, approvals
    (by a validator, not the developer) and a comment."""
    from mlsteward.sdk import Client

    home = tmp_path_factory.mktemp("report") / "home"
    client = Client(Settings(home=home, actor="dana"))
    roles = german_credit_roles()
    features = [c for c, r in roles.items() if r == "feature"]
    # The bundled file is ordered (its last 400 rows hold no women): split
    # at random so every group appears in both parts.
    train = credit.sample(n=600, random_state=1).sort_index()
    oot = credit.drop(index=train.index)
    dv = client.register_dataset(
        "german-credit-train",
        train,
        roles=roles,
        bands=GERMAN_CREDIT_BANDS,
        description="training period",
    )
    oot_dv = client.register_dataset(
        "german-credit-oot", oot, roles=roles, bands=GERMAN_CREDIT_BANDS
    )
    versions = []
    for c_value, parent in ((1.0, None), (0.3, 1)):
        run = client.start_run(
            "scorecard",
            params={"trainer": "logistic_scorecard", "C": c_value},
            inputs=[dv.ref],
        )
        model = logistic_scorecard(
            train, features=features, target="bad", params={"C": c_value}
        )
        client.log_metrics(run.id, {"cv_auc": 0.75 + c_value / 100})
        mv = client.register_model(
            "credit-risk",
            model,
            train[features],
            run_id=run.id,
            parent_version=parent,
            description=HOSTILE if parent is None else "challenger, stronger penalty",
            tags={"owner": "retail credit risk", "intended_use": "consumer loans"},
        )
        client.end_run(run.id)
        client.evaluate(mv.ref, dv.ref, label="training (in sample)")
        client.evaluate(mv.ref, oot_dv.ref)
        versions.append(mv)
    client.set_alias("credit-risk", "champion", 1)
    validator = client.ctx.as_actor("vera")
    registry = ModelRegistry(validator)
    registry.transition(
        "credit-risk/1", Transition(state="approved", reason="validated out of time")
    )
    registry.transition(
        "credit-risk/2", Transition(state="approved", reason="beats champion on OOT")
    )
    registry.set_alias("credit-risk", SetAlias(alias="champion", version=2))
    with client.ctx.store.unit_of_work() as session:
        audit.record(
            session,
            actor="vera",
            action="comment.added",
            object_type="model_version",
            object_id="credit-risk/2",
            details={"text": COMMENT},
        )
    return {
        "client": client,
        "ctx": client.ctx,
        "home": home,
        "train": dv,
        "oot": oot_dv,
        "features": features,
        "v2_data": collect_report(client.ctx, "credit-risk/2"),
        "v2": build_report(client.ctx, "credit-risk/2"),
        "v1": build_report(client.ctx, "credit-risk/1"),
    }


def _text(html: str) -> str:
    """Visible text, tags removed, whitespace collapsed."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_every_section_is_there_in_order(world) -> None:
    html = world["v2"]
    positions = []
    for section_id, title, _sr, _annex in GUIDANCE:
        match = re.search(rf'<h2 id="{section_id}">\d+\. ', html)
        assert match, section_id
        positions.append(match.start())
        assert title.replace("&", "&amp;") in html
    assert positions == sorted(positions)
    text = _text(html)
    assert "Mapping to SR 11-7 and EU AI Act Annex IV" in text
    assert "Annex IV" in text and "SR 11-7" in text
    assert html.startswith("<!DOCTYPE html>") and html.rstrip().endswith("</html>")


def test_figures_are_the_stored_and_recomputed_ones(world) -> None:
    html, data, client = world["v2"], world["v2_data"], world["client"]
    text = _text(html)
    oot = [
        e
        for e in client.list_evaluations("credit-risk/2")
        if e.label.startswith("german-credit-oot")
    ]
    auc = oot[-1].metrics["auc"]
    assert f"{auc:.3f}" in text
    assert f"{oot[-1].metrics['ks']:.3f}" in text
    # Lineage: both datasets with their sha256, the run and its code version.
    assert world["train"].sha256 in html and world["oot"].sha256 in html
    run = data["lineage"]["run"]
    assert run["params"]["C"] == 0.3 and run["id"] in html
    assert data["lineage"]["training_refs"] == [world["train"].ref]
    assert data["version"]["artifact_sha256"] in html
    # Calibration table: ten bands of the stored evaluation.
    cal = next(e for e in data["evaluations"] if e["dataset"] == world["oot"].ref)
    assert len(cal["calibration"]) == 10 and "<circle" in html
    assert cal["in_sample"] is False


def test_group_figures_match_a_recomputation(world) -> None:
    data, client = world["v2_data"], world["client"]
    frame = client.load_dataset(world["oot"].ref)
    scores = client.load_model("credit-risk/2").predict_proba(frame)
    by_col = {g["column"]: g for g in data["groups"]}
    assert set(by_col) == {"personal_status_and_sex", "age_in_years", "foreign_worker"}
    rows = {r["group"]: r for r in by_col["foreign_worker"]["groups"]}
    mask = (frame["foreign_worker"] == "yes").to_numpy()
    y = frame["bad"].to_numpy()
    assert rows["yes"]["n"] == int(mask.sum())
    assert rows["yes"]["auc"] == pytest.approx(
        roc_auc_score(y[mask], scores[mask]), abs=1e-12
    )
    assert rows["yes"]["approval_rate"] == pytest.approx(
        float((scores[mask] < 0.5).mean())
    )
    ages = {r["group"] for r in by_col["age_in_years"]["groups"]}
    assert {"<25", "25-35", ">=65"} <= ages
    ratio = by_col["personal_status_and_sex"]["approval_ratio"]
    assert ratio is not None and 0 < ratio <= 1
    assert f"{ratio:.3f}" in _text(world["v2"])
    # Protected characteristics are not inputs, so never reasons.
    reasons = {r["feature"] for r in data["explanations"]["reasons"]}
    assert reasons and reasons <= set(world["features"])
    assert data["explanations"]["method"] == "linear" and data["protected_inputs"] == []


def test_stability_is_psi_against_the_training_profile(world) -> None:
    data, client = world["v2_data"], world["client"]
    rows = data["stability"]["rows"]
    assert data["stability"]["reference"] == world["train"].ref
    assert [r["dataset"] for r in rows] == [world["oot"].ref]  # not the training data
    frame = client.load_dataset(world["oot"].ref)
    profile = world["train"].profile["columns"]
    csi = {f["name"]: f["psi"] for f in rows[0]["features"]}
    expected = column_psi(profile["credit_amount"], frame["credit_amount"])
    assert csi["credit_amount"] == pytest.approx(expected, abs=1e-12)
    assert set(csi) == set(world["features"])
    assert rows[0]["score_band"] in ("stable", "watch", "act")


def test_approvals_aliases_comments_and_changes(world) -> None:
    html, data = world["v2"], world["v2_data"]
    text = _text(html)
    approvals = data["events"]["approvals"]
    assert [(a["actor"], a["reason"], a["independent"]) for a in approvals] == [
        ("vera", "beats champion on OOT", True)
    ]
    assert "beats champion on OOT" in text
    assert [a["alias"] for a in data["events"]["alias_moves"]] == ["champion"]
    assert (
        "Looks fine &lt;b&gt;but&lt;/b&gt; check the under-25s &amp; foreign workers"
        in html
    )
    changes = data["changes"]
    assert changes["parent"] == "credit-risk/1"
    assert {p["name"]: (p["before"], p["after"]) for p in changes["params"]} == {
        "C": (1.0, 0.3)
    }
    shared = {s["dataset"] for s in changes["evaluations"]}
    assert shared == {world["train"].ref, world["oot"].ref}
    assert "No gate results recorded for this version." in text
    assert "No monitoring recorded" in text
    assert data["audit"]["ok"] and "verified" in text
    # v1 shows the champion alias moving away to v2, and has no parent.
    v1 = _text(world["v1"])
    assert "moved away" in v1 and "validated out of time" in v1
    assert "No parent version recorded" in v1


def test_everything_is_escaped(world) -> None:
    html = world["v1"]
    assert "<script" not in html
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in html
    assert "<b>but</b>" not in world["v2"]


def test_the_report_loads_nothing_from_anywhere(world) -> None:
    for html in (world["v1"], world["v2"]):
        assert "http://" not in html and "https://" not in html
        assert "<script" not in html and "<link" not in html and "<img" not in html
        assert "@import" not in html and "url(" not in html
        for target in re.findall(r'(?:src|href)\s*=\s*"([^"]*)"', html):
            assert target.startswith("#"), target


def test_gate_results_of_a_retraining_are_shown(world) -> None:
    from mlsteward.retraining.tables import retrainings

    ctx = world["ctx"]
    with ctx.store.unit_of_work() as session:
        session.execute(
            retrainings.insert().values(
                id="r" * 32,
                model_name="credit-risk",
                trigger={"reason": "PSI > 0.25"},
                status="finished",
                champion="credit-risk/1",
                challenger="credit-risk/2",
                holdout=world["oot"].ref,
                gates=[
                    {
                        "gate": "auc_gain",
                        "passed": True,
                        "value": 0.004,
                        "limit": 0.0,
                        "detail": "challenger AUC higher",
                    },
                    {
                        "gate": "approval_ratio",
                        "passed": False,
                        "value": 0.71,
                        "limit": 0.8,
                        "detail": "four-fifths <rule>",
                    },
                ],
                comparison={},
                decision="approved",
                reason="gates passed",
                created_at=utcnow(),
                created_by="scheduler",
                finished_at=utcnow(),
            )
        )
    data = collect_report(ctx, "credit-risk/2")
    runs = data["gate_runs"]["runs"]
    assert [(r["role"], [g["passed"] for g in r["gates"]]) for r in runs] == [
        ("challenger", [True, False])
    ]
    html = build_report(ctx, "credit-risk/2")
    assert "auc_gain" in html and "four-fifths &lt;rule&gt;" in html
    assert "No gate results recorded" not in html


# -- writing, PDF, CLI ---------------------------------------------------------------
def test_write_report_without_a_converter_says_so(world, tmp_path, monkeypatch) -> None:
    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    monkeypatch.setattr(report_pdf, "_weasyprint_available", lambda: False)
    result = write_report(
        world["ctx"], "credit-risk/2", tmp_path / "out" / "r.html", pdf=True
    )
    assert result.html.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert result.pdf is not None and result.pdf.path is None
    assert "no PDF converter found" in result.pdf.message
    assert not (tmp_path / "out" / "r.pdf").exists()


def test_write_report_drives_chromium_headless_offline(
    world, tmp_path, monkeypatch
) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    argv_file = tmp_path / "argv.json"
    fake = bin_dir / "chromium"
    fake.write_text(
        f"#!{sys.executable}\n"
        "import json, sys\n"
        f"json.dump(sys.argv[1:], open({str(argv_file)!r}, 'w'))\n"
        "out = [a for a in sys.argv if a.startswith('--print-to-pdf=')][0]\n"
        "open(out.split('=', 1)[1], 'wb').write(b'%PDF-1.4 fake')\n",
        encoding="utf-8",
    )
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(bin_dir))
    result = write_report(world["ctx"], "credit-risk/2", tmp_path / "r.html", pdf=True)
    assert result.pdf is not None and result.pdf.path == tmp_path / "r.pdf"
    assert result.pdf.converter == f"chromium:{fake}"
    argv = json.loads(argv_file.read_text())
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
    ):
        assert flag in argv
    assert argv[-1] == (tmp_path / "r.html").resolve().as_uri()


@pytest.mark.browser
def test_real_chromium_writes_a_pdf(world, tmp_path) -> None:
    if shutil.which("chromium") is None:
        if os.environ.get("MLSTEWARD_REQUIRE_SERVICES") == "1":
            pytest.fail("required service missing: Debian's chromium")
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    result = write_report(world["ctx"], "credit-risk/2", tmp_path / "r.html", pdf=True)
    assert result.pdf is not None and result.pdf.path is not None, result.pdf
    assert result.pdf.path.read_bytes().startswith(b"%PDF-")


def test_cli_writes_the_report_and_prints_json(world, tmp_path, monkeypatch) -> None:
    from typer.testing import CliRunner

    from mlsteward.cli import app

    monkeypatch.setenv("MLSTEWARD_HOME", str(world["home"]))
    monkeypatch.setenv("MLSTEWARD_ACTOR", "cli")
    monkeypatch.delenv("MLSTEWARD_DB_URL", raising=False)
    out = tmp_path / "cr.html"
    runner = CliRunner()
    done = runner.invoke(
        app, ["report", "credit-risk@champion", "--output", str(out), "--json"]
    )
    assert done.exit_code == 0, done.output
    payload = json.loads(done.stdout)
    assert payload["html"] == str(out) and payload["pdf"] is None
    assert payload["report"]["version"]["ref"] == "credit-risk/2"
    assert out.read_text(encoding="utf-8").count('<h2 id="') == len(GUIDANCE) + 1
    missing = runner.invoke(app, ["report", "credit-risk/9"])
    assert missing.exit_code == 2  # a version that does not exist: bad input
    assert "credit-risk/9" in missing.output


def test_records_are_found_on_every_store(settings, credit) -> None:
    """The audit queries (JSON details searched as text) on SQLite and
    PostgreSQL: approvals of other objects that name the version, comments on
    those approvals, alias moves away from it."""
    from mlsteward.sdk import Client

    client = Client(settings)
    try:
        roles = german_credit_roles()
        features = [c for c, r in roles.items() if r == "feature"]
        frame = credit.iloc[:300]
        dv = client.register_dataset("gc", frame, roles=roles)
        run = client.start_run("train", inputs=[dv.ref])
        model = logistic_scorecard(frame, features=features, target="bad")
        v1 = client.register_model("m_1", model, frame[features], run_id=run.id)
        client.register_model("m_1", model, frame[features], parent_version=1)
        client.set_alias("m_1", "champion", 1)
        client.set_alias("m_1", "champion", 2)
        with client.ctx.store.unit_of_work() as session:
            for action, object_id, details in (
                ("approval.requested", "req1", {"version": v1.ref}),
                ("approval.approved", "req1", {"version": v1.ref, "comment": "ok"}),
                ("comment.added", "req1", {"text": "why now?"}),
                ("approval.requested", "req2", {"version": "m_1/2"}),
                ("comment.added", "req2", {"text": "not about v1"}),
            ):
                audit.record(
                    session,
                    actor="vera",
                    action=action,
                    object_type="approval",
                    object_id=object_id,
                    details=details,
                )
        events = collect_report(client.ctx, v1.ref)["events"]
        assert [(a["action"], a["reason"]) for a in events["approvals"]] == [
            ("approval.requested", None),
            ("approval.approved", "ok"),
        ]
        assert [c["text"] for c in events["comments"]] == ["why now?"]
        assert [a["direction"] for a in events["alias_moves"]] == ["set", "moved away"]
    finally:
        client.close()


def test_the_report_says_which_deployments_serve_a_version(
    sqlite_client, credit, trained
) -> None:
    model, features = trained
    for _ in range(2):
        sqlite_client.register_model("cr", model, credit[features])
    sqlite_client.set_alias("cr", "champion", 1)
    sqlite_client.create_deployment("cr", "cr@champion")
    sqlite_client.add_shadow("cr", "cr/2")
    data = collect_report(sqlite_client.ctx, "cr/2")
    [row] = data["serving"]["deployments"]
    assert row["deployment"] == "cr" and row["routes"] == ["shadow"]
    assert row["how"] == "deployment.shadow_added by tester"
    assert data["serving"]["governed"] is False
    text = _text(build_report(sqlite_client.ctx, "cr/1"))
    assert "Where it serves" in text and "champion" in text
    assert "not governed" in text
