"""Data quality of a window against the reference profile.

Figures, per monitored column unless said otherwise (defaults in
:data:`DEFAULTS`; "share" is of the window's rows or non-missing values):

``quality.missing_rate``
    Missing rate in the window minus the reference's (an *increase*; a
    column that got better is negative and fine). Warning above 0.05,
    alert above 0.10.
``quality.out_of_range`` (numeric columns)
    Share of non-missing values below the reference minimum or above its
    maximum. Warning above 0.01, alert above 0.05.
``quality.unseen_categories`` (categorical columns)
    Share of non-missing values whose category the reference never saw;
    the details list the most frequent of them. Warning above 0.01, alert
    above 0.05.
``quality.schema`` (one row, column ``*``)
    Number of columns that break the reference schema: absent from the log,
    or numeric in the reference but holding non-numbers in the window. Any
    violation is an alert. Columns the log has but the reference does not
    are listed in the details, not counted.
``quality.volume`` (one row, column ``*``)
    Predictions per day in the window (rows divided by the window's
    length). Judged by its relative change against the median of up to six
    earlier windows of the same monitor: warning beyond 30 %, alert beyond
    50 %, in either direction. The first window has no baseline and is
    ``ok``.

This module is pure: no database, no web framework.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from mlsteward.datasets.profile import CATEGORICAL, NUMERIC, category_key
from mlsteward.monitoring.checks import CheckResult, Threshold

__all__ = ["DEFAULTS", "quality_checks", "volume_check"]

#: Default levels (larger is worse for every quality figure).
DEFAULTS: dict[str, Threshold] = {
    "missing_rate": Threshold(0.05, 0.10),
    "out_of_range": Threshold(0.01, 0.05),
    "unseen_categories": Threshold(0.01, 0.05),
    "schema": Threshold(None, 0.0),
    "volume": Threshold(0.3, 0.5),
}

_EXAMPLES = 10


def _numeric(values: pd.Series) -> tuple[np.ndarray, int, Any]:
    """Values as floats (NaN for missing or non-numbers), the number of
    non-numbers and one of them."""
    converted = pd.to_numeric(values, errors="coerce")
    bad = converted.isna().to_numpy() & values.notna().to_numpy()
    example = values[bad].iloc[0] if bad.any() else None
    return (
        converted.to_numpy(dtype=np.float64, na_value=np.nan),
        int(bad.sum()),
        example,
    )


def _missing_rate(
    col: str, values: pd.Series, ref: Mapping[str, Any], level: Threshold
) -> CheckResult:
    """The change of the missing rate against the reference's."""
    ref_missing = float(ref.get("missing_rate") or 0.0)
    cur_missing = float(values.isna().mean()) if len(values) else None
    change = cur_missing - ref_missing if cur_missing is not None else None
    return CheckResult(
        "quality.missing_rate",
        col,
        change,
        level.status(change),
        {
            "current": cur_missing,
            "reference": ref_missing,
            "threshold": level.to_dict(),
        },
    )


def _out_of_range(
    col: str,
    values: pd.Series,
    ref: Mapping[str, Any],
    levels: Mapping[str, Threshold],
    type_errors: dict[str, dict[str, Any]],
) -> CheckResult:
    """The share of numbers outside the reference's range; values that are
    not numbers are noted in ``type_errors`` for the schema check."""
    x, n_bad, example = _numeric(values)
    if n_bad:
        type_errors[col] = {
            "share": n_bad / len(values),
            "example": str(example),
            "expected": "numbers",
        }
    x = x[~np.isnan(x)]
    lo, hi = ref.get("min"), ref.get("max")
    if x.size and lo is not None and hi is not None:
        below, above = int((x < lo).sum()), int((x > hi).sum())
        share: float | None = (below + above) / x.size
    else:
        below = above = 0
        share = None
    return CheckResult(
        "quality.out_of_range",
        col,
        share,
        levels["out_of_range"].status(share),
        {
            "reference_min": lo,
            "reference_max": hi,
            "current_min": float(x.min()) if x.size else None,
            "current_max": float(x.max()) if x.size else None,
            "n_below": below,
            "n_above": above,
            "threshold": levels["out_of_range"].to_dict(),
        },
    )


def _unseen(
    col: str, values: pd.Series, ref: Mapping[str, Any], level: Threshold
) -> CheckResult:
    """The share of present values that are categories the reference lacks."""
    present = int(values.notna().sum())
    known = set(ref.get("categories") or {})
    keys = values.dropna().map(category_key)
    unseen = keys[~keys.isin(known)]
    share = len(unseen) / present if present else None
    top = unseen.value_counts().head(_EXAMPLES)
    return CheckResult(
        "quality.unseen_categories",
        col,
        share,
        level.status(share),
        {
            "n_unseen": len(unseen),
            "examples": {str(k): int(v) for k, v in top.items()},
            "threshold": level.to_dict(),
        },
    )


def quality_checks(
    reference: Mapping[str, Mapping[str, Any]],
    current: pd.DataFrame,
    columns: Sequence[str],
    thresholds: Mapping[str, Threshold] | None = None,
) -> list[CheckResult]:
    """Missing-rate, range, unseen-category and schema results of a window.

    Args:
        reference: ``profile["columns"]`` of the reference dataset version.
        current: The window, one column per monitored column (unprefixed).
        columns: Monitored columns (each must be in ``reference``).
        thresholds: Levels by figure name; :data:`DEFAULTS` fill the rest.

    Example:
        >>> ref = {"x": {"kind": "numeric", "min": 0.0, "max": 10.0,
        ...              "missing_rate": 0.0}}
        >>> cur = pd.DataFrame({"x": [1.0, 20.0, None, 5.0]})
        >>> [(r.check, round(r.value, 3)) for r in quality_checks(ref, cur, ["x"])][:2]
        [('quality.missing_rate', 0.25), ('quality.out_of_range', 0.333)]
    """
    levels = {**DEFAULTS, **dict(thresholds or {})}
    out: list[CheckResult] = []
    n = len(current)
    absent: list[str] = []
    type_errors: dict[str, dict[str, Any]] = {}
    for col in columns:
        ref = reference[col]
        if col not in current.columns:
            absent.append(col)
            continue
        values = current[col]
        out.append(_missing_rate(col, values, ref, levels["missing_rate"]))
        if ref.get("kind") == NUMERIC:
            out.append(_out_of_range(col, values, ref, levels, type_errors))
        elif ref.get("kind") == CATEGORICAL:
            out.append(_unseen(col, values, ref, levels["unseen_categories"]))
    extra = sorted(
        c[len("input.") :] if c.startswith("input.") else c
        for c in current.columns
        if c not in reference and c not in columns
    )
    violations = len(absent) + len(type_errors)
    out.append(
        CheckResult(
            "quality.schema",
            "*",
            float(violations) if n else None,
            levels["schema"].status(float(violations)) if n else "no_data",
            {
                "absent_columns": absent,
                "type_violations": type_errors,
                "columns_not_in_reference": extra,
                "threshold": levels["schema"].to_dict(),
            },
        )
    )
    return out


def volume_check(
    n: int,
    days: float,
    baseline_rates: Sequence[float],
    threshold: Threshold | None = None,
) -> CheckResult:
    """Predictions per day of a window, judged against earlier windows.

    Args:
        n: Rows in the window.
        days: Length of the window in days (> 0).
        baseline_rates: Rows per day of earlier windows (newest first); the
            median of up to six is the baseline.
        threshold: Levels on the absolute relative change.

    Example:
        >>> r = volume_check(40, 1.0, [100.0, 90.0, 110.0])
        >>> r.value, r.status, r.details["change"]
        (40.0, 'alert', -0.6)
    """
    level = threshold or DEFAULTS["volume"]
    rate = n / days if days > 0 else float(n)
    previous = [float(r) for r in baseline_rates[:6] if r is not None]
    details: dict[str, Any] = {"n": n, "days": days}
    if not previous:
        details["baseline"] = None
        details["reason"] = "no earlier window to compare with"
        return CheckResult("quality.volume", "*", rate, "ok", details)
    base = statistics.median(previous)
    change = (rate - base) / base if base > 0 else (0.0 if rate == 0 else 1.0)
    details.update(
        baseline=base,
        change=change,
        baseline_windows=len(previous),
        threshold=level.to_dict(),
    )
    return CheckResult("quality.volume", "*", rate, level.status(abs(change)), details)
