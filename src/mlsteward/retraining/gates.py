"""Promotion gates: challenger against champion on the same holdout.

Each gate is judged from figures computed on the same out-of-time rows for
both models, and its outcome is stored with those figures:

``auc_max_drop``
    challenger AUC >= champion AUC - limit.
``auc_min_gain``
    challenger AUC - champion AUC > limit (a strict win when the limit is 0).
``ks_min``
    challenger KS >= limit.
``four_fifths_min``
    for each protected column of the reference data, the challenger's lowest
    group approval rate divided by its highest is at least the limit (the
    four-fifths rule); groups under 30 rows are left out as too noisy, as in
    monitoring. Groups are those of the model report on the same holdout: a
    numeric protected column is cut into the bands declared for it when the
    data was registered, else its quintiles
    (:meth:`~mlsteward.datasets.models.DatasetVersion.bands_of`); a value
    that is not a number is a group of its own.
``score_psi_max``
    PSI of the challenger's holdout scores against its scores on its own
    training population (reference deciles) is below the limit.

Each gate has one of three outcomes: ``passed``, ``failed`` or
``not_judged`` (the figure could not be computed: a protected column the
holdout does not hold, fewer than two groups of 30 rows). A gate that is not
judged never counts as passed; the policy's ``gates.unjudged`` says what it
does to the decision (``block``, the default, rejects the challenger and
says which gate and why; ``ask_approver`` sends it to an approver, never
promoting it automatically).

Pure: numpy and pandas only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from mlsteward.datasets.profile import compute_profile
from mlsteward.monitoring.drift.stats import column_psi
from mlsteward.monitoring.fairness import group_values

__all__ = [
    "OUTCOMES",
    "GateResult",
    "approval_ratio",
    "gate_outcome",
    "gate_tally",
    "judge_gates",
]

MIN_GROUP = 30
#: What a gate can come to.
OUTCOMES = ("passed", "failed", "not_judged")


@dataclass(frozen=True)
class GateResult:
    """One gate's outcome with the figures it was judged on.

    ``passed`` is true only for the outcome ``passed``; a gate that could
    not be judged has ``outcome="not_judged"`` and ``passed=False``.
    """

    name: str
    passed: bool
    value: float | None
    limit: float
    detail: str
    outcome: str = ""

    def __post_init__(self) -> None:
        if not self.outcome:
            object.__setattr__(self, "outcome", "passed" if self.passed else "failed")
        if self.outcome not in OUTCOMES or self.passed != (self.outcome == "passed"):
            raise ValueError(
                f"gate {self.name}: outcome {self.outcome!r} is not "
                f"consistent with passed={self.passed}"
            )

    @classmethod
    def not_judged(cls, name: str, limit: float, why: str) -> GateResult:
        return cls(name, False, None, limit, f"not judged: {why}", "not_judged")

    def to_dict(self) -> dict[str, Any]:
        return {
            "gate": self.name,
            "outcome": self.outcome,
            "passed": self.passed,
            "value": self.value,
            "limit": self.limit,
            "detail": self.detail,
        }


def gate_tally(gates: Sequence[dict[str, Any]]) -> str:
    """How many stored gates came to each outcome, for a summary line.

    Example:
        >>> gate_tally([{"outcome": "passed"}, {"outcome": "not_judged"}])
        '1/2 passed, 1 not judged'
    """
    outcomes = [gate_outcome(g) for g in gates]
    text = f"{outcomes.count('passed')}/{len(outcomes)} passed"
    for other, words in (("failed", "failed"), ("not_judged", "not judged")):
        if outcomes.count(other):
            text += f", {outcomes.count(other)} {words}"
    return text


def gate_outcome(gate: dict[str, Any]) -> str:
    """The outcome of a stored gate; records written before outcomes were
    stored read ``passed`` or ``failed`` (those could still call an unjudged
    gate passed: its detail says ``not judged``)."""
    if gate.get("outcome"):
        return str(gate["outcome"])
    if "not judged" in str(gate.get("detail", "")):
        return "not_judged"
    return "passed" if gate.get("passed") else "failed"


def approval_ratio(
    groups: pd.Series, scores: np.ndarray, threshold: float
) -> tuple[float | None, dict[str, float]]:
    """Lowest over highest approval rate among groups of at least 30 rows."""
    approved = pd.Series(scores < threshold, index=groups.index)
    rates: dict[str, float] = {}
    for g, idx in groups.groupby(groups, dropna=False).groups.items():
        if len(idx) >= MIN_GROUP:
            rates[str(g)] = float(approved.loc[idx].mean())
    if len(rates) < 2:
        return None, rates
    hi = max(rates.values())
    return (1.0 if hi == 0 else min(rates.values()) / hi), rates


def _auc_gates(
    gates: Any, champion: dict[str, Any], challenger: dict[str, Any]
) -> list[GateResult]:
    """The AUC may fall at most so far; it may have to rise by some margin."""
    out: list[GateResult] = []
    if gates.auc_max_drop is not None:
        floor = champion["auc"] - gates.auc_max_drop
        out.append(
            GateResult(
                "auc_max_drop",
                challenger["auc"] >= floor,
                challenger["auc"],
                gates.auc_max_drop,
                f"challenger AUC {challenger['auc']:.4f} vs champion "
                f"{champion['auc']:.4f} (may fall at most {gates.auc_max_drop})",
            )
        )
    if getattr(gates, "auc_min_gain", None) is not None:
        gain = challenger["auc"] - champion["auc"]
        out.append(
            GateResult(
                "auc_min_gain",
                gain > gates.auc_min_gain,
                gain,
                gates.auc_min_gain,
                f"challenger AUC {challenger['auc']:.4f} minus champion "
                f"{champion['auc']:.4f} = {gain:+.4f} "
                f"(must exceed {gates.auc_min_gain})",
            )
        )
    return out


def _four_fifths(
    gates: Any,
    holdout: pd.DataFrame,
    challenger_scores: np.ndarray,
    protected: list[str],
    threshold: float,
    bands: Mapping[str, Sequence[float] | None],
) -> list[GateResult]:
    """The four-fifths rule per protected column of the holdout."""
    out: list[GateResult] = []
    limit = gates.four_fifths_min
    if limit is None:
        return out
    if not protected:
        why = "the reference data declares no protected column to judge"
        return [GateResult.not_judged("four_fifths_min", limit, why)]
    for col in protected:
        name = f"four_fifths_min:{col}"
        if col not in holdout.columns:
            why = f"the holdout has no column {col!r} (is it logged with the inputs?)"
            out.append(GateResult.not_judged(name, limit, why))
            continue
        cuts = bands.get(col)
        ratio, rates = approval_ratio(
            group_values(holdout[col], cuts), challenger_scores, threshold
        )
        rates_txt = ", ".join(f"{g}: {r:.1%}" for g, r in sorted(rates.items()))
        if ratio is None:
            why = (
                f"fewer than two groups of {MIN_GROUP}+ rows "
                f"({rates_txt or 'none'}) in {len(holdout)} holdout rows"
            )
            out.append(GateResult.not_judged(name, limit, why))
            continue
        out.append(
            GateResult(
                name, ratio >= limit, ratio, limit, f"approval rates {rates_txt}"
            )
        )
    return out


def judge_gates(
    gates: Any,
    *,
    champion: dict[str, Any],
    challenger: dict[str, Any],
    holdout: pd.DataFrame,
    challenger_scores: np.ndarray,
    training_scores: np.ndarray,
    protected: list[str],
    threshold: float,
    bands: Mapping[str, Sequence[float] | None] | None = None,
) -> list[GateResult]:
    """Judge every configured gate (``None`` limits are skipped).

    ``bands`` are the cut points of numeric protected columns
    (:meth:`~mlsteward.datasets.models.DatasetVersion.bands_of` of the
    holdout); a column without cuts is grouped by its values.
    """
    out: list[GateResult] = []
    out += _auc_gates(gates, champion, challenger)
    if gates.ks_min is not None:
        out.append(
            GateResult(
                "ks_min",
                challenger["ks"] >= gates.ks_min,
                challenger["ks"],
                gates.ks_min,
                f"challenger KS {challenger['ks']:.4f} >= {gates.ks_min}",
            )
        )
    out += _four_fifths(
        gates, holdout, challenger_scores, protected, threshold, bands or {}
    )
    if gates.score_psi_max is not None:
        ref = compute_profile(
            pd.DataFrame({"score": training_scores}), {"score": "numeric"}
        )["columns"]["score"]
        psi = column_psi(ref, challenger_scores)
        out.append(
            GateResult(
                "score_psi_max",
                psi < gates.score_psi_max,
                psi,
                gates.score_psi_max,
                f"score PSI {psi:.4f} against the challenger's training population",
            )
        )
    return out
