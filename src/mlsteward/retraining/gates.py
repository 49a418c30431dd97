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
    for each protected column, the challenger's lowest group approval rate
    divided by its highest is at least the limit (the four-fifths rule);
    groups under 30 rows are left out as too noisy, as in monitoring.
``score_psi_max``
    PSI of the challenger's holdout scores against its scores on its own
    training population (reference deciles) is below the limit.

Pure: numpy and pandas only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from mlsteward.datasets.profile import compute_profile
from mlsteward.monitoring.drift.stats import column_psi
from mlsteward.monitoring.fairness import group_values

__all__ = ["GateResult", "approval_ratio", "judge_gates"]

MIN_GROUP = 30


@dataclass(frozen=True)
class GateResult:
    name: str
    passed: bool
    value: float | None
    limit: float
    detail: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "gate": self.name,
            "passed": self.passed,
            "value": self.value,
            "limit": self.limit,
            "detail": self.detail,
        }


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
) -> list[GateResult]:
    """The four-fifths rule per protected column of the holdout."""
    out: list[GateResult] = []
    if gates.four_fifths_min is None:
        return out
    for col in protected:
        if col not in holdout.columns:
            continue
        ratio, rates = approval_ratio(
            group_values(holdout[col]), challenger_scores, threshold
        )
        rates_txt = ", ".join(f"{g}: {r:.1%}" for g, r in sorted(rates.items()))
        if ratio is None:
            out.append(
                GateResult(
                    f"four_fifths_min:{col}",
                    True,
                    None,
                    gates.four_fifths_min,
                    f"fewer than two groups of {MIN_GROUP}+ rows ({rates_txt}); "
                    "not judged",
                )
            )
            continue
        out.append(
            GateResult(
                f"four_fifths_min:{col}",
                ratio >= gates.four_fifths_min,
                ratio,
                gates.four_fifths_min,
                f"approval rates {rates_txt}",
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
) -> list[GateResult]:
    """Judge every configured gate (``None`` limits are skipped)."""
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
    out += _four_fifths(gates, holdout, challenger_scores, protected, threshold)
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
