"""Drift statistics: PSI against a reference profile, and two-sample tests.

PSI (Population Stability Index) is computed on the **reference's own bins**
(quantile cuts stored in the dataset profile, see
:mod:`mlsteward.datasets.profile`), never on bins re-derived from both
samples, so its value does not grow with the size of the current window and
can be read against the credit bands (< 0.1 stable, 0.1-0.25 watch,
> 0.25 act).

Conventions:

* **Empty bins (eps rule).** Both distributions are turned into proportions
  (count / total), then every proportion is floored at ``eps`` (default
  ``1e-4``): ``p = max(count / total, eps)``. The floored proportions are
  **not renormalised**. Consequences: PSI is finite and ``>= 0``; a bin that
  is empty on both sides contributes exactly 0, so adding such bins changes
  nothing; proportions below ``eps`` count as ``eps``.
* **Missing values** form their own bin, compared like any other bin. The
  bin is always added; since a bin empty on both sides contributes 0, this is
  the same as adding it only when either side has missing values.
* **Unseen categories.** Categories of the current sample that the reference
  never saw are pooled into one extra "unseen" bin (empty in the reference).
* The two-sample tests (:func:`ks_statistic`, :func:`chi_square`,
  :func:`jensen_shannon`, :func:`wasserstein_normalised`) are thin wrappers
  around scipy that validate input and drop missing values. Empty input
  raises :class:`~mlsteward.errors.InvalidInput`; they never return NaN.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Literal, NamedTuple

import numpy as np
from scipy import stats as _st
from scipy.spatial import distance as _distance

from mlsteward.datasets.profile import (
    CATEGORICAL,
    NUMERIC,
    bin_counts,
    category_counts,
    count_missing,
    to_float_array,
)
from mlsteward.errors import InvalidInput

__all__ = [
    "DEFAULT_EPS",
    "PSI_ACT",
    "PSI_WATCH",
    "StatResult",
    "chi_square",
    "column_psi",
    "jensen_shannon",
    "ks_statistic",
    "psi",
    "psi_band",
    "psi_categorical",
    "psi_numeric",
    "wasserstein_normalised",
]

#: Floor for bin proportions in :func:`psi`.
DEFAULT_EPS = 1e-4
#: PSI at or above this is "watch" (credit convention).
PSI_WATCH = 0.1
#: PSI above this is "act".
PSI_ACT = 0.25

Band = Literal["stable", "watch", "act"]


class StatResult(NamedTuple):
    """A test statistic and its p-value."""

    statistic: float
    pvalue: float


# -- PSI -------------------------------------------------------------------------
def psi(expected_counts: Any, actual_counts: Any, eps: float = DEFAULT_EPS) -> float:
    """Population Stability Index of two binned distributions.

    ``PSI = sum_i (a_i - e_i) * ln(a_i / e_i)`` where ``e_i`` and ``a_i`` are
    the bin proportions of the expected (reference) and actual (current)
    counts, each floored at ``eps`` and not renormalised.

    Args:
        expected_counts: Reference counts per bin (non-negative, finite; may
            be weighted, i.e. non-integer).
        actual_counts: Current counts over the same bins.
        eps: Floor for proportions, ``0 < eps < 1``.

    Returns:
        PSI as a finite float ``>= 0``.

    Raises:
        InvalidInput: Lengths differ, no bins, a negative or non-finite
            count, a total of zero, or a bad ``eps``.

    Example:
        >>> round(psi([50, 50], [60, 40]), 6)  # (.6-.5)ln(.6/.5)+(.4-.5)ln(.4/.5)
        0.040547
    """
    if isinstance(eps, bool) or not isinstance(eps, (int, float)):
        raise InvalidInput(f"eps must be a number, got {eps!r}", field="eps")
    if not 0.0 < eps < 1.0:
        raise InvalidInput(f"eps must be in (0, 1), got {eps!r}", field="eps")
    e = _counts(expected_counts, "expected_counts")
    a = _counts(actual_counts, "actual_counts")
    if e.size != a.size:
        raise InvalidInput(
            f"actual_counts has {a.size} bins, expected_counts {e.size}; they "
            "must count the same bins",
            field="actual_counts",
        )
    pe = np.maximum(e / e.sum(), eps)
    pa = np.maximum(a / a.sum(), eps)
    return float(np.sum((pa - pe) * np.log(pa / pe)))


def psi_numeric(
    profile_col: Mapping[str, Any], values: Any, eps: float = DEFAULT_EPS
) -> float:
    """PSI of a numeric sample against a numeric profile column.

    Bins are the reference's quantile bins (``cuts``), plus a missing bin.

    Args:
        profile_col: ``profile["columns"][name]`` of kind ``"numeric"``.
        values: The current sample (list, array, Series); missing allowed.
        eps: See :func:`psi`.

    Raises:
        InvalidInput: Not a numeric profile column, the reference has no
            rows, or the current sample is empty or not numeric.

    Example:
        >>> col = {"kind": "numeric", "cuts": [1.0], "counts": [50, 50], "missing": 0}
        >>> round(psi_numeric(col, [0.0] * 60 + [2.0] * 40), 6)
        0.040547
    """
    ref = _ref_counts(profile_col, NUMERIC, "counts", "cuts")
    if len(ref) != len(profile_col["cuts"]) + 1:
        raise InvalidInput(
            "profile column has inconsistent cuts and counts", field="profile"
        )
    n = _sample_size(values)
    cur = bin_counts(profile_col, values)
    cur_missing = n - int(cur.sum())
    return psi(
        np.append(ref, _ref_missing(profile_col)),
        np.append(cur, cur_missing),
        eps,
    )


def psi_categorical(
    profile_col: Mapping[str, Any], values: Any, eps: float = DEFAULT_EPS
) -> float:
    """PSI of a categorical sample against a categorical profile column.

    Bins: the reference's categories, one "unseen" bin for categories the
    reference never saw, and a missing bin.

    Args:
        profile_col: ``profile["columns"][name]`` of kind ``"categorical"``.
        values: The current sample (list, array, Series); missing allowed.
        eps: See :func:`psi`.

    Raises:
        InvalidInput: Not a categorical profile column, the reference has no
            rows, or the current sample is empty.

    Example:
        >>> col = {"kind": "categorical", "categories": {"own": 50, "rent": 50},
        ...        "missing": 0}
        >>> round(psi_categorical(col, ["own"] * 60 + ["rent"] * 40), 6)
        0.040547
    """
    _ref_counts(profile_col, CATEGORICAL, "categories")
    ref = np.asarray(list(profile_col["categories"].values()), dtype=np.float64)
    n = _sample_size(values)
    cur, unseen = category_counts(profile_col, values)
    cur_missing = count_missing(values)
    if int(cur.sum()) + unseen + cur_missing != n:  # pragma: no cover - guard
        raise InvalidInput("could not count values", field="values")
    return psi(
        np.concatenate([ref, [0.0, _ref_missing(profile_col)]]),
        np.concatenate([cur, [unseen, cur_missing]]),
        eps,
    )


def column_psi(
    profile_col: Mapping[str, Any], values: Any, eps: float = DEFAULT_EPS
) -> float:
    """PSI (CSI, per characteristic) dispatching on the profile column's kind.

    Example:
        >>> col = {"kind": "categorical", "categories": {"a": 1}, "missing": 0}
        >>> column_psi(col, ["a", "a"])
        0.0
    """
    kind = profile_col.get("kind") if isinstance(profile_col, Mapping) else None
    if kind == NUMERIC:
        return psi_numeric(profile_col, values, eps)
    if kind == CATEGORICAL:
        return psi_categorical(profile_col, values, eps)
    raise InvalidInput(
        f"profile column kind must be 'numeric' or 'categorical', got {kind!r}",
        field="profile",
    )


def psi_band(value: float) -> Band:
    """Credit reading of a PSI value.

    ``< 0.1`` is ``"stable"``, ``0.1 <= psi <= 0.25`` is ``"watch"``,
    ``> 0.25`` is ``"act"``.

    Raises:
        InvalidInput: ``value`` is not a finite number ``>= 0``.

    Example:
        >>> psi_band(0.05), psi_band(0.1), psi_band(0.25), psi_band(0.3)
        ('stable', 'watch', 'watch', 'act')
    """
    if isinstance(value, bool) or not isinstance(value, (int, float, np.number)):
        raise InvalidInput(f"psi must be a number, got {value!r}", field="psi")
    v = float(value)
    if not math.isfinite(v) or v < 0:
        raise InvalidInput(f"psi must be finite and >= 0, got {v!r}", field="psi")
    if v < PSI_WATCH:
        return "stable"
    if v <= PSI_ACT:
        return "watch"
    return "act"


# -- two-sample tests -----------------------------------------------------------
def ks_statistic(ref_values: Any, cur_values: Any) -> StatResult:
    """Two-sample Kolmogorov-Smirnov test (``scipy.stats.ks_2samp``, two-sided,
    ``method="auto"``) after dropping missing values. ``+-inf`` are kept.

    Raises:
        InvalidInput: A sample has no non-missing value.

    Example:
        >>> ks_statistic([1, 2, 3, 4], [3, 4, 5, 6]).statistic
        0.5
    """
    ref = _sample(ref_values, "ref_values")
    cur = _sample(cur_values, "cur_values")
    res = _st.ks_2samp(ref, cur, alternative="two-sided", method="auto")
    return StatResult(float(res.statistic), float(res.pvalue))


def chi_square(ref_counts: Any, cur_counts: Any) -> StatResult:
    """Chi-square test of homogeneity on the 2xK table ``[ref_counts, cur_counts]``.

    Same as ``scipy.stats.chi2_contingency(table, correction=False)`` (no
    Yates correction, also for K = 2). Categories empty in both samples are
    dropped first (scipy refuses zero expected frequencies); if fewer than two
    categories remain, both samples sit in one category and the result is
    statistic 0.0, p-value 1.0.

    Raises:
        InvalidInput: Lengths differ, a negative or non-finite count, or a
            sample total of zero.

    Example:
        >>> r = chi_square([50, 50], [60, 40])
        >>> round(r.statistic, 4), round(r.pvalue, 4)
        (2.0202, 0.1552)
    """
    ref = _counts(ref_counts, "ref_counts")
    cur = _counts(cur_counts, "cur_counts")
    if ref.size != cur.size:
        raise InvalidInput(
            f"cur_counts has {cur.size} categories, ref_counts {ref.size}",
            field="cur_counts",
        )
    keep = (ref + cur) > 0
    if int(keep.sum()) < 2:
        return StatResult(0.0, 1.0)
    res = _st.chi2_contingency(np.vstack([ref[keep], cur[keep]]), correction=False)
    return StatResult(float(res.statistic), float(res.pvalue))


def jensen_shannon(p_counts: Any, q_counts: Any) -> float:
    """Jensen-Shannon **distance** (square root of the divergence), base 2.

    Same as ``scipy.spatial.distance.jensenshannon(p, q, base=2)``; counts are
    normalised to proportions. Lies in ``[0, 1]``. Where scipy's rounding
    would take the square root of a tiny negative number (near-identical
    inputs), 0.0 is returned instead of NaN.

    Raises:
        InvalidInput: Lengths differ, a negative or non-finite count, or a
            total of zero.

    Example:
        >>> jensen_shannon([1, 0], [0, 1]), jensen_shannon([2, 2], [5, 5])
        (1.0, 0.0)
    """
    p = _counts(p_counts, "p_counts")
    q = _counts(q_counts, "q_counts")
    if p.size != q.size:
        raise InvalidInput(
            f"q_counts has {q.size} bins, p_counts {p.size}", field="q_counts"
        )
    value = float(_distance.jensenshannon(p, q, base=2))
    return value if math.isfinite(value) else 0.0


def wasserstein_normalised(ref_values: Any, cur_values: Any) -> float:
    """Wasserstein-1 distance divided by the reference's standard deviation.

    ``scipy.stats.wasserstein_distance(ref, cur) / np.std(ref)`` with the
    population standard deviation (``ddof=0``), as Evidently normalises it,
    so a value of 0.1 means "shifted by a tenth of a reference std". Missing
    values are dropped.

    Raises:
        InvalidInput: A sample has no non-missing value, holds infinities,
            or the reference is constant (std 0: the ratio is undefined; use
            PSI or chi-square for such columns).

    Example:
        >>> wasserstein_normalised([0.0, 2.0], [1.0, 3.0])
        1.0
    """
    ref = _sample(ref_values, "ref_values")
    cur = _sample(cur_values, "cur_values")
    for arr, field in ((ref, "ref_values"), (cur, "cur_values")):
        if not np.isfinite(arr).all():
            raise InvalidInput(f"{field} must be finite numbers", field=field)
    std = float(np.std(ref))
    if std == 0.0:
        raise InvalidInput(
            "ref_values is constant (standard deviation 0); the normalised "
            "Wasserstein distance is undefined",
            field="ref_values",
        )
    return float(_st.wasserstein_distance(ref, cur)) / std


# -- internals ------------------------------------------------------------------
def _counts(values: Any, field: str) -> np.ndarray:
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"{field} must be numbers: {exc}", field=field) from exc
    if arr.ndim != 1 or arr.size == 0:
        raise InvalidInput(
            f"{field} must be a non-empty 1-D list of counts, got shape {arr.shape}",
            field=field,
        )
    if not np.isfinite(arr).all() or (arr < 0).any():
        raise InvalidInput(f"{field} must be finite, non-negative counts", field=field)
    if arr.sum() <= 0:
        raise InvalidInput(f"{field} must not all be zero", field=field)
    return arr


def _sample(values: Any, field: str) -> np.ndarray:
    x = to_float_array(values, field)
    x = x[~np.isnan(x)]
    if x.size == 0:
        raise InvalidInput(
            f"{field} has no non-missing values; a drift test needs data",
            field=field,
        )
    return x


def _sample_size(values: Any) -> int:
    n = len(values) if hasattr(values, "__len__") else np.asarray(values).size
    if n == 0:
        raise InvalidInput(
            "values is empty; a drift statistic needs at least one row",
            field="values",
        )
    return int(n)


def _ref_counts(
    profile_col: Mapping[str, Any], kind: str, key: str, *others: str
) -> np.ndarray:
    if not isinstance(profile_col, Mapping) or profile_col.get("kind") != kind:
        got = profile_col.get("kind") if isinstance(profile_col, Mapping) else None
        raise InvalidInput(
            f"profile column must be of kind {kind!r}, got {got!r}", field="profile"
        )
    for k in (key, *others):
        if k not in profile_col:
            raise InvalidInput(f"profile column lacks {k!r}", field="profile")
    raw = profile_col[key]
    counts = np.asarray(
        list(raw.values()) if isinstance(raw, Mapping) else raw, dtype=np.float64
    )
    if counts.sum() + _ref_missing(profile_col) <= 0:
        raise InvalidInput(
            "the reference profile has no rows; PSI needs a reference",
            field="profile",
        )
    return counts


def _ref_missing(profile_col: Mapping[str, Any]) -> float:
    value = profile_col.get("missing", 0) or 0
    return float(value)
