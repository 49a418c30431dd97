"""Promotion gates: three outcomes, groups as the model report makes them."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from tests.conftest import as_user, make_user
from tests.retraining.conftest import champion_with_history

from mlsteward.datasets.bundled import GERMAN_CREDIT_BANDS
from mlsteward.errors import InvalidInput
from mlsteward.governance.report.data import ReportSources, groups
from mlsteward.monitoring.fairness import AGE_BANDS, group_values
from mlsteward.registry.evaluation import EvaluationService
from mlsteward.retraining.gates import GateResult, gate_tally, judge_gates
from mlsteward.retraining.policy import as_policy
from mlsteward.retraining.service import RetrainingService
from mlsteward.retraining.steps import _decide

GATES = SimpleNamespace(
    auc_max_drop=None, auc_min_gain=None, ks_min=None, four_fifths_min=0.8,
    score_psi_max=None,
)  # fmt: skip


def _judge(holdout: pd.DataFrame, protected: list[str], **kw: object) -> list:
    scores = np.linspace(0.05, 0.95, len(holdout))
    return judge_gates(
        GATES,
        champion={"auc": 0.7},
        challenger={"auc": 0.7},
        holdout=holdout,
        challenger_scores=scores,
        training_scores=scores,
        protected=protected,
        threshold=0.5,
        **kw,  # type: ignore[arg-type]
    )


def test_a_gate_that_cannot_be_judged_is_not_passed() -> None:
    holdout = pd.DataFrame({"sex": ["f"] * 10 + ["m"] * 90, "x": range(100)})
    gates = {g.name: g for g in _judge(holdout, ["sex", "age"])}
    small = gates["four_fifths_min:sex"]  # 10 women: one judged group only
    assert small.outcome == "not_judged" and small.passed is False
    assert small.value is None and "fewer than two groups" in small.detail
    absent = gates["four_fifths_min:age"]  # not logged: said, not dropped
    assert absent.outcome == "not_judged" and "no column 'age'" in absent.detail
    none = _judge(holdout, [])
    assert [(g.name, g.outcome) for g in none] == [("four_fifths_min", "not_judged")]
    assert (
        gate_tally([g.to_dict() for g in gates.values()]) == "0/2 passed, 2 not judged"
    )
    with pytest.raises(ValueError, match="not consistent"):
        GateResult("x", True, None, 0.8, "", "not_judged")


def test_an_unjudged_gate_blocks_unless_the_policy_asks_an_approver() -> None:
    ok = GateResult("auc_max_drop", True, 0.7, 0.005, "fine")
    unjudged = GateResult.not_judged("four_fifths_min:sex", 0.8, "one group")
    base = {"model": "m", "data": {"reference": "gc"}, "promotion": {"mode": "auto"}}
    decision, reason = _decide([ok, unjudged], as_policy(base))
    assert decision == "rejected"
    assert "four_fifths_min:sex" in reason and "gates.unjudged = 'block'" in reason
    asks = as_policy({**base, "gates": {"unjudged": "ask_approver"}})
    decision, reason = _decide([ok, unjudged], asks)
    assert decision == "awaiting_approval"  # never promoted automatically
    assert "one group" in reason
    assert _decide([ok], asks)[0] == "promoted"
    with pytest.raises(InvalidInput) as info:
        as_policy({**base, "gates": {"unjudged": "pass"}})
    assert info.value.field == "gates.unjudged"


def test_numeric_bands_come_from_the_declaration_not_the_name() -> None:
    ages = pd.Series([22, "unknown", 70, None], dtype=object)
    assert group_values(ages, AGE_BANDS).tolist() == [
        "<25",
        "unknown",
        ">=65",
        "missing",
    ]
    # A column called wage is banded only by what the gate is given.
    holdout = pd.DataFrame({"wage": [20.0] * 50 + [90.0] * 50})
    by_value = _judge(holdout, ["wage"])[0]
    banded = _judge(holdout, ["wage"], bands={"wage": [50.0]})[0]
    assert "20.0" in by_value.detail and "<50" in banded.detail


def test_declared_bands_are_checked_and_kept(client) -> None:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "age": rng.integers(18, 80, 200),
            "wage": rng.normal(3000, 500, 200),
            "mortgage": rng.normal(1e5, 1e4, 200),
            "bad": rng.integers(0, 2, 200),
        }
    )
    roles = {"age": "protected", "wage": "protected", "bad": "target"}
    dv = client.register_dataset("people", frame, roles=roles, bands={"age": AGE_BANDS})
    assert dv.bands_of("age") == list(AGE_BANDS)
    quintiles = dv.bands_of("wage")  # numeric, protected, no bands: quintiles
    assert quintiles is not None and len(quintiles) == 4
    assert quintiles == pytest.approx(
        np.quantile(frame["wage"], [0.2, 0.4, 0.6, 0.8]), rel=0.02
    )
    assert dv.bands_of("mortgage") is None  # a feature: never grouped
    for bad, field in (
        ({"mortgage": [1.0]}, "bands.mortgage"),
        ({"age": [30, 20]}, "bands.age"),
        ({"age": "25"}, "bands.age"),
    ):
        with pytest.raises(InvalidInput) as info:
            client.register_dataset("people2", frame, roles=roles, bands=bad)
        assert info.value.field == field


@pytest.fixture
def retrained(client):  # type: ignore[no-untyped-def]
    """A retraining with the default fairness gate on the credit history,
    whose reference declares the age bands."""
    champion_with_history(client, n_periods=3, bands=GERMAN_CREDIT_BANDS)
    make_user(client.ctx, "root", "admin")
    make_user(client.ctx, "dana", "developer")
    RetrainingService(as_user(client.ctx, "root")).set_policy(
        as_policy(
            {
                "model": "credit-risk",
                "data": {"reference": "german-credit-train", "window": "3650d"},
                "gates": {"auc_max_drop": 1.0, "score_psi_max": None},
                "promotion": {"mode": "auto"},
            }
        )
    )
    return client, RetrainingService(as_user(client.ctx, "dana")).retrain("credit-risk")


def test_gate_and_model_report_agree_on_every_protected_group(retrained) -> None:
    client, r = retrained
    mv = client.get_model_version(r.challenger)
    evals = EvaluationService(client.ctx).list(mv.ref)
    report = {
        g["column"]: g
        for g in groups(ReportSources(client.ctx), mv, evals)
        if g["dataset"] == r.holdout
    }
    gates = {g["gate"].split(":", 1)[1]: g for g in r.gates if ":" in g["gate"]}
    assert set(report) == set(gates) == {
        "personal_status_and_sex", "age_in_years", "foreign_worker",
    }  # fmt: skip
    ages = {row["group"] for row in report["age_in_years"]["groups"]}
    assert ages <= {"<25", "25-35", "35-45", "45-55", "55-65", ">=65", "missing"}
    for column, gate in gates.items():
        ratio = report[column]["approval_ratio"]
        judged = {
            row["group"]: row["approval_rate"]
            for row in report[column]["groups"]
            if not row["small"]
        }
        rates = ", ".join(f"{k}: {v:.1%}" for k, v in sorted(judged.items()))
        assert rates in gate["detail"], column  # the same groups, the same rates
        if ratio is None:
            assert gate["outcome"] == "not_judged" and gate["value"] is None
        else:
            assert gate["value"] == pytest.approx(ratio, abs=1e-12)
            assert gate["outcome"] == ("passed" if ratio >= 0.8 else "failed")
    # Few non-foreign workers in one month: that gate cannot be judged, and
    # by default a gate that is not judged blocks the promotion.
    assert gates["foreign_worker"]["outcome"] == "not_judged"
    assert r.decision == "rejected" and "four_fifths_min:foreign_worker" in r.reason
