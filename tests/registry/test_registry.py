"""Registry: runs, versions, aliases, lifecycle, signatures, safe loading."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mlsteward.datasets.bundled import german_credit_roles
from mlsteward.errors import Conflict, IntegrityError, InvalidInput, NotFound


def _register(client, credit, trained, **kw):
    model, features = trained
    return client.register_model("credit-risk", model, credit[features], **kw)


def test_runs_record_params_metrics_inputs_and_environment(client, credit) -> None:
    dv = client.register_dataset("gc", credit, roles=german_credit_roles())
    run = client.start_run(
        "train", params={"C": 1.0, "features": ["a"]}, inputs=[dv.ref]
    )
    assert run.status == "running"
    client.log_metrics(run.id, {"auc": 0.7}, step=0)
    client.log_metrics(run.id, {"auc": 0.8}, step=1)
    done = client.end_run(run.id)
    assert done.status == "finished" and done.ended_at is not None
    assert done.metrics == {"auc": 0.8}
    assert done.params == {"C": 1.0, "features": ["a"]}
    assert done.inputs == [{"dataset": "gc/1", "context": "training"}]
    assert "scikit-learn" in done.environment and "python" in done.environment
    with pytest.raises(Conflict, match="finished"):
        client.log_metrics(run.id, {"auc": 0.9})
    with pytest.raises(InvalidInput, match="finite") as info:
        client.log_metrics(client.start_run("x").id, {"auc": float("nan")})
    assert info.value.field == "metrics.auc"
    with pytest.raises(NotFound):
        client.start_run("y", inputs=["missing/1"])
    assert [r.name for r in client.list_runs()][:2] == ["x", "train"]


def test_versions_aliases_and_lineage(client, credit, trained) -> None:
    run = client.start_run("train")
    v1 = _register(client, credit, trained, run_id=run.id)
    v2 = _register(client, credit, trained, parent_version=1)
    assert (v1.ref, v2.ref) == ("credit-risk/1", "credit-risk/2")
    assert v1.run_id == run.id and v2.parent_version == 1
    assert v1.flavor == "sklearn" and v1.state == "registered"
    assert client.set_alias("credit-risk", "champion", 1).aliases == ["champion"]
    assert client.get_model_version("credit-risk@champion").version == 1
    client.set_alias("credit-risk", "champion", 2)  # alias moves
    assert client.get_model_version("credit-risk@champion").version == 2
    assert client.get_model_version("credit-risk/1").aliases == []
    assert client.get_model("credit-risk").aliases == {"champion": 2}
    assert client.get_model_version("credit-risk").version == 2  # latest
    moves = [e for e in client.audit_log() if e.action == "alias.set"]
    assert [e.details["previous_version"] for e in moves] == [None, 1]
    with pytest.raises(NotFound, match="its aliases: \\['champion'\\]"):
        client.get_model_version("credit-risk@challenger")
    with pytest.raises(NotFound):
        client.set_alias("credit-risk", "champion", 9)
    with pytest.raises(InvalidInput, match="look like versions"):
        client.set_alias("credit-risk", "3", 1)


def test_lifecycle_transitions_are_checked(client, credit, trained) -> None:
    v = _register(client, credit, trained)
    approved = client.transition(v.ref, "approved", reason="gates passed")
    assert approved.state == "approved"
    with pytest.raises(Conflict, match="can move to \\['archived'\\]"):
        client.transition(v.ref, "rejected")
    with pytest.raises(InvalidInput, match="not one of"):
        client.transition(v.ref, "production")
    assert client.transition(v.ref, "archived").state == "archived"


def test_signature_is_inferred_and_enforced(sqlite_client, credit, trained) -> None:
    model, features = trained
    v = _register(sqlite_client, credit, trained)
    assert v.signature.feature_names == features
    kinds = {c["name"]: c["kind"] for c in v.signature.inputs}
    assert kinds["credit_amount"] == "numeric" and kinds["purpose"] == "categorical"
    loaded = sqlite_client.load_model(v.ref)
    rows = credit.iloc[700:]
    np.testing.assert_allclose(
        loaded.predict_proba(rows),
        model.predict_proba(rows[features])[:, 1],
        rtol=0,
        atol=0,
    )
    with pytest.raises(InvalidInput, match="missing input column") as info:
        loaded.predict_proba(rows.drop(columns=["purpose"]))
    assert info.value.field == "purpose"
    bad = rows.copy()
    bad["credit_amount"] = bad["credit_amount"].astype(float)
    bad.loc[bad.index[0], "credit_amount"] = np.inf
    with pytest.raises(InvalidInput, match="infinity") as info:
        loaded.predict_proba(bad)
    assert info.value.field == "credit_amount"
    bad = rows.copy().astype({"duration_in_month": object})
    bad.loc[bad.index[0], "duration_in_month"] = "twelve"
    with pytest.raises(InvalidInput, match="must be numeric") as info:
        loaded.predict_proba(bad)
    assert info.value.field == "duration_in_month"


def test_registration_needs_a_signature_source(sqlite_client, trained) -> None:
    with pytest.raises(InvalidInput, match="training_data"):
        sqlite_client.register_model("m", trained[0])
    assert sqlite_client.list_models() == []


def test_tampered_model_artifact_is_refused(sqlite_client, credit, trained) -> None:
    v = _register(sqlite_client, credit, trained)
    path = Path(sqlite_client.ctx.artifacts.path_for(v.artifact_sha256))
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(IntegrityError, match="tampered"):
        sqlite_client.load_model(v.ref)


def test_evaluation_agrees_with_scikit_learn(client, credit, trained) -> None:
    from sklearn.metrics import brier_score_loss, log_loss, roc_auc_score, roc_curve

    model, features = trained
    _register(client, credit, trained)
    dv = client.register_dataset(
        "gc-oot", credit.iloc[700:], roles=german_credit_roles()
    )
    ev = client.evaluate("credit-risk/1", dv.ref)
    y = credit["bad"].iloc[700:].to_numpy()
    p = model.predict_proba(credit.iloc[700:][features])[:, 1]
    fpr, tpr, _ = roc_curve(y, p)
    m = ev.metrics
    assert m["auc"] == pytest.approx(roc_auc_score(y, p), abs=1e-12)
    assert m["gini"] == pytest.approx(2 * roc_auc_score(y, p) - 1, abs=1e-12)
    assert m["ks"] == pytest.approx(np.max(tpr - fpr), abs=1e-12)
    assert m["brier"] == pytest.approx(brier_score_loss(y, p), abs=1e-12)
    assert m["log_loss"] == pytest.approx(log_loss(y, p), abs=1e-9)
    assert sum(b["n"] for b in m["calibration"]) == 300
    assert ev.dataset == "gc-oot/1"
    assert [e.id for e in client.list_evaluations("credit-risk/1")] == [ev.id]
    with pytest.raises(InvalidInput, match="target"):
        client.evaluate("credit-risk/1", credit.drop(columns=["bad"]), target="bad")
    wrong = credit.iloc[700:].copy()
    wrong["bad"] = wrong["bad"] * 2
    with pytest.raises(InvalidInput, match="0/1 labels"):
        client.evaluate("credit-risk/1", wrong, target="bad")
