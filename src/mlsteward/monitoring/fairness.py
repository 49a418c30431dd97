"""Fairness across the groups of each protected column.

Protected columns (sex and marital status, age, foreign worker in the bundled
data) are not model inputs; the prediction log keeps them beside the inputs
(``input.<column>``) so their groups can be compared. For each protected
column two figures are written:

``fairness.approval_ratio`` (the four-fifths rule)
    Approval rate of each group (share of its applications whose decision is
    ``approve``; where the log holds no decision, ``score < threshold``),
    then the lowest group rate divided by the highest. Below 0.8 the
    four-fifths rule of the US Uniform Guidelines is broken (the default
    alert level); below 0.9 is a warning. If every group's rate is 0 the
    ratio is 1 (all treated alike).
``fairness.tpr_difference`` (equal opportunity)
    Among applicants whose outcome turned out *good* (label 0), the share
    that was approved: the true-positive rate when "approve" is the positive
    decision and "repaid" the positive outcome. The value is the highest
    group rate minus the lowest (0 is equal opportunity); warning above
    0.1, alert above 0.2. Needs outcomes; ``pending`` until enough arrive.

Groups smaller than ``min_group_size`` (default 30 applications, or 30
labelled goods for the TPR) are listed but left out of both figures: their
rates are too noisy to judge. Missing values form their own group,
``"missing"``.

Numeric protected columns are cut into bands: those declared for the column
when its dataset was registered (``bands``, e.g. :data:`AGE_BANDS` for an age:
under 25, 25-34, 35-44, 45-54, 55-64, 65 and over), else the reference's
quintiles (:meth:`~mlsteward.datasets.models.DatasetVersion.bands_of`). A
column's name plays no part. Band labels read ``"<25"``, ``"25-35"`` (25 up
to, not including, 35) and ``">=65"``. A value in a banded column that is not
a number (``"unknown"``) is a group of its own, named by the value.

This module is pure: no database, no web framework.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from mlsteward.monitoring.checks import CheckResult, Threshold

__all__ = [
    "AGE_BANDS",
    "APPROVAL_RATIO",
    "TPR_DIFFERENCE",
    "band_labels",
    "fairness_checks",
    "fix_groups",
    "group_order",
    "group_values",
]

#: The usual age bands: <25, 25-35, 35-45, 45-55, 55-65, >=65 (declare them
#: for an age column when its dataset is registered; never chosen by name).
AGE_BANDS: tuple[float, ...] = (25, 35, 45, 55, 65)
#: Default levels of the four-fifths rule (smaller is worse).
APPROVAL_RATIO = Threshold(0.9, 0.8, "below")
#: Default levels of the equal-opportunity gap (larger is worse).
TPR_DIFFERENCE = Threshold(0.1, 0.2, "above")


def _fmt(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else f"{v:g}"


def band_labels(cuts: Sequence[float]) -> list[str]:
    """Labels of the ``len(cuts) + 1`` bands.

    Example:
        >>> band_labels([25, 35])
        ['<25', '25-35', '>=35']
    """
    if not cuts:
        return ["all"]
    labels = [f"<{_fmt(cuts[0])}"]
    labels += [f"{_fmt(a)}-{_fmt(b)}" for a, b in itertools.pairwise(cuts)]
    labels.append(f">={_fmt(cuts[-1])}")
    return labels


def group_values(values: pd.Series, cuts: Sequence[float] | None = None) -> pd.Series:
    """The group of each value: its band when ``cuts`` are given, else the
    value as a string; ``"missing"`` for missing values. In a banded column a
    value that is not a number is its own group, named by the value.

    Example:
        >>> group_values(pd.Series([19, 30, None, "unknown"]), [25]).tolist()
        ['<25', '>=25', 'missing', 'unknown']
    """
    missing = values.isna().to_numpy()
    as_text = np.asarray(values.astype("string").fillna("missing"), dtype=object)
    if cuts is not None:
        x = pd.to_numeric(values, errors="coerce").to_numpy(dtype=np.float64)
        labels = np.asarray(band_labels(list(cuts)), dtype=object)
        idx = np.searchsorted(np.asarray(cuts, dtype=np.float64), x, side="right")
        banded = labels[np.clip(idx, 0, len(labels) - 1)]
        # NaN (a value that is no number) has no band: it keeps its own name.
        out = np.where(np.isnan(x), as_text, banded)
    else:
        out = as_text
    out = np.where(missing, "missing", out)
    return pd.Series(out, index=values.index, dtype=object)


def group_order(groups: Sequence[str], cuts: Sequence[float] | None) -> list[str]:
    """Groups in reading order: bands low to high, then other values by
    name, then ``"missing"``.

    Example:
        >>> group_order(["missing", ">=25", "n/a", "<25"], [25])
        ['<25', '>=25', 'n/a', 'missing']
    """
    rank = {g: i for i, g in enumerate(band_labels(list(cuts)))} if cuts else {}
    present = set(groups)
    return sorted(
        present,
        key=lambda g: (g == "missing", rank.get(g, len(rank)), str(g)),
    )


def fix_groups(
    fairness: dict[str, Any],
    cols: Mapping[str, Any],
    protected: Sequence[str],
    declared: Mapping[str, list[float] | None],
) -> None:
    """Fix a fairness check's columns and bands once, when its monitor is
    created (in place): the reference's protected columns unless chosen;
    each numeric one cut into the bands declared with the reference, else
    its quintiles (every second decile cut of its profile), unless the
    check gives bands. Never chosen by the column's name."""
    chosen = fairness["protected"]
    if chosen is None:
        chosen = [c for c in protected if c in cols]
    fairness["protected"] = list(chosen)
    bands = dict(fairness["bands"])
    for col in fairness["protected"]:
        entry = cols.get(col)
        if col in bands or entry is None or entry.get("kind") != "numeric":
            continue
        cuts = declared.get(col) or entry.get("cuts", [])[1::2]
        bands[col] = [float(c) for c in cuts]
    fairness["bands"] = bands


def _approved(window: pd.DataFrame, threshold: float) -> np.ndarray:
    if "decision" in window.columns and window["decision"].notna().all():
        return (window["decision"].astype(str) == "approve").to_numpy()
    return (window["score"].to_numpy(dtype=np.float64) < threshold).astype(bool)


def _judge(
    rates: dict[str, float], threshold: Threshold, kind: str
) -> tuple[float | None, str | None, str | None]:
    if len(rates) < 2:
        return None, None, None
    best = max(rates, key=lambda g: rates[g])
    worst = min(rates, key=lambda g: rates[g])
    if kind == "ratio":
        value = rates[worst] / rates[best] if rates[best] > 0 else 1.0
    else:
        value = rates[best] - rates[worst]
    return value, best, worst


def _group_table(
    groups: pd.Series,
    cuts: Sequence[float] | None,
    approved: np.ndarray,
    labels: np.ndarray,
    min_group_size: int,
) -> tuple[list[dict[str, Any]], dict[str, float], dict[str, float]]:
    """Per group: size, approval rate and TPR; the judged rates and TPRs."""
    table: list[dict[str, Any]] = []
    rates: dict[str, float] = {}
    tprs: dict[str, float] = {}
    for g in group_order(list(groups.unique()), cuts):
        mask = (groups == g).to_numpy()
        size = int(mask.sum())
        good = mask & (labels == 0)
        n_good = int(good.sum())
        rate = float(approved[mask].mean())
        tpr = float(approved[good].mean()) if n_good else None
        table.append(
            {
                "group": str(g),
                "n": size,
                "approval_rate": rate,
                "n_good": n_good,
                "tpr": tpr,
                "judged": size >= min_group_size,
            }
        )
        if size >= min_group_size:
            rates[str(g)] = rate
        if n_good >= min_group_size and tpr is not None:
            tprs[str(g)] = tpr
    return table, rates, tprs


def _judged(
    col: str,
    table: list[dict[str, Any]],
    rates: dict[str, float],
    tprs: dict[str, float],
    common: dict[str, Any],
    approval_ratio: Threshold,
    tpr_difference: Threshold,
    *,
    unlabelled: bool,
) -> list[CheckResult]:
    """The four-fifths ratio and the TPR difference of one protected column."""
    out: list[CheckResult] = []
    ratio, best, worst = _judge(rates, approval_ratio, "ratio")
    for row in table:
        row["ratio_to_highest"] = (
            row["approval_rate"] / rates[best]
            if best is not None and rates[best] > 0
            else None
        )
    out.append(
        CheckResult(
            "fairness.approval_ratio",
            col,
            ratio,
            approval_ratio.status(ratio) if ratio is not None else "no_data",
            {
                **common,
                "highest": best,
                "lowest": worst,
                "rule": "lowest group approval rate / highest (four-fifths rule)",
                "threshold": approval_ratio.to_dict(),
            },
        )
    )
    diff, best_t, worst_t = _judge(tprs, tpr_difference, "difference")
    out.append(
        CheckResult(
            "fairness.tpr_difference",
            col,
            diff,
            tpr_difference.status(diff)
            if diff is not None
            else ("pending" if unlabelled else "no_data"),
            {
                **common,
                "highest": best_t,
                "lowest": worst_t,
                "rule": "approval rate among good outcomes (label 0): "
                "highest group minus lowest (equal opportunity)",
                "threshold": tpr_difference.to_dict(),
            },
        )
    )
    return out


def fairness_checks(
    window: pd.DataFrame,
    protected: Sequence[str],
    *,
    bands: Mapping[str, Sequence[float] | None] | None = None,
    min_group_size: int = 30,
    approval_ratio: Threshold = APPROVAL_RATIO,
    tpr_difference: Threshold = TPR_DIFFERENCE,
    threshold: float = 0.5,
) -> list[CheckResult]:
    """Fairness results of one window.

    Args:
        window: Predictions with ``input.<column>`` for each protected
            column, ``decision`` (or ``score``) and ``label`` (NaN where no
            outcome yet).
        protected: Protected column names (without ``input.``).
        bands: Cut points per numeric protected column (``None`` or absent:
            the values themselves are the groups).
        min_group_size: Smallest group that is judged.
        approval_ratio: Levels for the four-fifths ratio (direction below).
        tpr_difference: Levels for the TPR gap (direction above).
        threshold: Decision threshold where the log has no ``decision``.

    Example:
        >>> w = pd.DataFrame({"input.sex": ["f"] * 4 + ["m"] * 4,
        ...                   "decision": ["approve", "deny"] * 2 + ["approve"] * 4,
        ...                   "score": [0.2] * 8, "label": [0.0] * 8})
        >>> [(r.check, r.value) for r in fairness_checks(w, ["sex"], min_group_size=1)]
        [('fairness.approval_ratio', 0.5), ('fairness.tpr_difference', 0.5)]
    """
    bands = dict(bands or {})
    out: list[CheckResult] = []
    n = len(window)
    approved = _approved(window, threshold) if n else np.zeros(0, dtype=bool)
    labels = (
        pd.to_numeric(window["label"], errors="coerce").to_numpy(dtype=np.float64)
        if n and "label" in window.columns
        else np.full(n, np.nan)
    )
    for col in protected:
        key = f"input.{col}"
        if key not in window.columns:
            reason = f"column {col!r} is not logged beside the inputs"
            for check in ("approval_ratio", "tpr_difference"):
                out.append(
                    CheckResult(
                        f"fairness.{check}", col, None, "no_data", {"reason": reason}
                    )
                )
            continue
        cuts = bands.get(col)
        table, rates, tprs = _group_table(
            group_values(window[key], cuts), cuts, approved, labels, min_group_size
        )
        out += _judged(
            col,
            table,
            rates,
            tprs,
            {
                "groups": table,
                "bands": list(cuts) if cuts is not None else None,
                "min_group_size": min_group_size,
            },
            approval_ratio,
            tpr_difference,
            unlabelled=bool(np.isnan(labels).any()),
        )
    return out
