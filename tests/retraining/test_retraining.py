"""Policies, gates, promotion modes and approvals, on the simulated credit history."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from tests.conftest import as_user, make_user
from tests.retraining.conftest import champion_with_history

from mlsteward.errors import Conflict, Forbidden, InvalidInput, PolicyViolation
from mlsteward.retraining.approvals import ApprovalService
from mlsteward.retraining.policy import as_policy, load_policy
from mlsteward.retraining.service import RetrainingService
from mlsteward.retraining.specs import Decide

RELAXED = {
    "auc_max_drop": 1.0,
    "ks_min": None,
    "four_fifths_min": None,
    "score_psi_max": None,
}


@pytest.fixture
def home(client):  # type: ignore[no-untyped-def]
    """A champion, three scored and labelled months, and the users of a bank."""
    champion_with_history(client, n_periods=3)
    make_user(client.ctx, "root", "admin")
    for name, role in [("dana", "developer"), ("alex", "approver"), ("vera", "viewer")]:
        make_user(client.ctx, name, role)
    return client


def _set_policy(home, policy) -> None:  # type: ignore[no-untyped-def]
    """Policies are an admin's to set."""
    RetrainingService(as_user(home.ctx, "root")).set_policy(policy)


def _policy(mode: str, **gates: object) -> dict:
    return {
        "model": "credit-risk",
        "data": {"reference": "german-credit-train", "window": "3650d"},
        "gates": {**RELAXED, **gates},
        "promotion": {"mode": mode},
    }


def test_auto_mode_promotes_when_gates_pass(home) -> None:
    svc = RetrainingService(as_user(home.ctx, "dana"))
    _set_policy(home, as_policy(_policy("auto")))
    r = svc.retrain(
        "credit-risk",
        trigger={"kind": "test"},
        now=pd.Timestamp("2026-01-01", tz="UTC").to_pydatetime(),
    )
    assert r.decision == "promoted" and r.holdout.startswith(
        "credit-risk-holdout-2025-09"
    )
    assert home.get_model_version("credit-risk@champion").ref == r.challenger
    champ, chall = r.comparison["champion"], r.comparison["challenger"]
    # Both were evaluated on the same holdout rows.
    assert champ["n"] == chall["n"] == 250
    evaluated = {e.dataset for e in home.list_evaluations(r.challenger)}
    assert r.comparison["holdout"] in evaluated
    # The challenger never saw the holdout month: its training data ends before.
    run = home.get_run(home.get_model_version(r.challenger).run_id)
    train = home.load_dataset(run.inputs[0]["dataset"])
    assert len(train) == len(home.load_dataset("german-credit-train")) + 2 * 250
    # The run lists its own figures, as any run does (`mlsteward runs list`).
    from sklearn.metrics import roc_auc_score

    scores = home.load_model(r.challenger).predict_proba(train)
    assert run.metrics["n_train"] == len(train)
    assert run.metrics["train_auc"] == pytest.approx(
        roc_auc_score(train["bad"], scores), abs=1e-12
    )
    # The run records what the challenger was fitted with, defaults included.
    features = home.get_model_version(r.challenger).signature.feature_names
    assert run.params["trainer"] == "logistic_scorecard"
    assert run.params["features"] == list(features)
    assert {"C", "max_iter", "tol"} <= set(run.params)


def test_a_failed_gate_rejects_in_every_mode(home) -> None:
    svc = RetrainingService(as_user(home.ctx, "dana"))
    _set_policy(home, as_policy(_policy("auto", ks_min=0.99)))
    r = svc.retrain("credit-risk")
    assert r.decision == "rejected" and "ks_min" in r.reason
    gate = next(g for g in r.gates if g["gate"] == "ks_min")
    assert gate["passed"] is False and gate["value"] < 0.99
    assert home.get_model_version(r.challenger).state == "rejected"
    assert home.get_model_version("credit-risk@champion").version == 1


def test_real_gates_are_judged_with_their_figures(home) -> None:
    svc = RetrainingService(as_user(home.ctx, "dana"))
    _set_policy(
        home,
        as_policy(
            {
                "model": "credit-risk",
                "data": {"reference": "german-credit-train", "window": "3650d"},
                "promotion": {"mode": "auto"},
            }
        ),
    )
    r = svc.retrain("credit-risk")
    names = {g["gate"] for g in r.gates}
    assert {"auc_max_drop", "score_psi_max"} <= names
    assert any(n.startswith("four_fifths_min:") for n in names)
    assert (r.decision == "promoted") == all(g["passed"] for g in r.gates)


def test_manual_mode_needs_a_second_person_with_the_right_role(home) -> None:
    dana = as_user(home.ctx, "dana")
    svc = RetrainingService(dana)
    _set_policy(home, as_policy(_policy("manual")))
    r = svc.retrain("credit-risk")
    assert r.decision == "awaiting_approval" and r.approval_id
    req = ApprovalService(dana).get(r.approval_id)
    assert req.evidence["comparison"]["challenger"]["ref"] == r.challenger
    assert req.evidence["lineage"]["parent"] == "credit-risk/1"
    assert home.get_model_version("credit-risk@champion").version == 1
    with pytest.raises(Forbidden, match="approver role"):
        ApprovalService(dana).approve(r.approval_id)
    with pytest.raises(Forbidden, match="approver role"):
        ApprovalService(as_user(home.ctx, "vera")).approve(r.approval_id)
    # A name anyone can type proves nothing: deciding needs a token.
    with pytest.raises(Forbidden, match="authenticated"):
        ApprovalService(home.ctx.as_actor("alex")).approve(r.approval_id)
    with pytest.raises(InvalidInput, match="comment"):
        ApprovalService(as_user(home.ctx, "alex")).reject(r.approval_id)
    done = ApprovalService(as_user(home.ctx, "alex")).approve(
        r.approval_id, Decide(comment="ok")
    )
    assert done.status == "approved" and done.decided_by == "alex"
    assert home.get_model_version("credit-risk@champion").ref == r.challenger
    with pytest.raises(Conflict, match="not pending"):
        ApprovalService(as_user(home.ctx, "alex")).approve(r.approval_id)
    actions = [e.action for e in home.audit_log()]
    assert "approval.requested" in actions and "approval.approved" in actions


def test_stale_request_cannot_be_approved(home) -> None:
    dana = as_user(home.ctx, "dana")
    svc = RetrainingService(dana)
    _set_policy(home, as_policy(_policy("manual")))
    first = svc.retrain("credit-risk")
    second = svc.retrain("credit-risk")
    alex = ApprovalService(as_user(home.ctx, "alex"))
    alex.approve(second.approval_id, Decide(comment="newer one"))
    with pytest.raises(Conflict, match="stale"):
        alex.approve(first.approval_id)
    assert alex.get(first.approval_id).status == "stale"
    assert home.get_model_version("credit-risk@champion").ref == second.challenger


def test_rejection_keeps_the_champion(home) -> None:
    svc = RetrainingService(as_user(home.ctx, "dana"))
    _set_policy(home, as_policy(_policy("manual")))
    r = svc.retrain("credit-risk")
    ApprovalService(as_user(home.ctx, "alex")).reject(
        r.approval_id, Decide(comment="not convinced")
    )
    assert home.get_model_version(r.challenger).state == "rejected"
    assert home.get_model_version("credit-risk@champion").version == 1


def test_not_enough_labels_is_a_policy_violation(home) -> None:
    svc = RetrainingService(as_user(home.ctx, "dana"))
    _set_policy(
        home,
        as_policy(
            {
                **_policy("auto"),
                "data": {
                    "reference": "german-credit-train",
                    "window": "3650d",
                    "min_holdout_rows": 5000,
                },
            }
        ),
    )
    with pytest.raises(PolicyViolation, match="needs"):
        svc.retrain("credit-risk")


def test_policy_files_are_validated(tmp_path: Path) -> None:
    good = tmp_path / "p.toml"
    good.write_text(
        'model = "credit-risk"\n[data]\nreference = "gc"\n'
        '[promotion]\nmode = "shadow"\n'
    )
    assert load_policy(good).promotion.mode == "shadow"
    bad = tmp_path / "p.yaml"
    bad.write_text(
        "model: credit-risk\ndata: {reference: gc}\npromotion: {mode: yolo}\n"
    )
    with pytest.raises(InvalidInput, match="must be one of") as info:
        load_policy(bad)
    assert info.value.field == "promotion.mode"
    typo = tmp_path / "t.toml"
    typo.write_text('model = "m"\n[data]\nreference = "gc"\n[gates]\nauc_drop = 0.1\n')
    with pytest.raises(InvalidInput, match="allowed here") as info:
        load_policy(typo)
    assert info.value.field == "gates.auc_drop"
    assert "auc_max_drop" in info.value.details["allowed"]
    trainer = tmp_path / "r.toml"
    trainer.write_text('model = "m"\n[data]\nreference = "gc"\n[trainer]\nname = "x"\n')
    with pytest.raises(InvalidInput, match="'x' is not an available trainer") as info:
        load_policy(trainer)
    assert info.value.field == "trainer.name"
    assert "logistic_scorecard" in info.value.details["allowed"]
    assert "mlsteward.trainers" in info.value.message  # how to register one
