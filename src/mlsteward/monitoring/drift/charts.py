"""What a drift report draws: per column, reference and window counts over
the bins its statistics used.

A numeric column keeps the reference's quantile bins (the PSI and chi-square
bins, plus the missing bin); a categorical column keeps its
:data:`TOP_CATEGORIES` most frequent categories (by reference share plus
window share), folds the rest into one "other" bar, then the window's values
in categories the reference never saw and the missing values. The counts
come from :func:`~mlsteward.monitoring.drift.rows.binned`, the very arrays
the statistics were computed on, so a chart never disagrees with its row.

Everything here is aggregated: a chart holds at most ``TOP_CATEGORIES + 3``
bars whatever the window's size, and never a row of data.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from mlsteward.datasets.profile import NUMERIC, cardinality
from mlsteward.monitoring.drift.engines import ColumnPlan, ColumnState
from mlsteward.monitoring.drift.rows import binned, top_categories

__all__ = ["TOP_CATEGORIES", "ColumnChart", "column_chart"]

#: Categories drawn one bar each; the rest share an "other" bar.
TOP_CATEGORIES = 20
MISSING = "(missing)"
UNSEEN = "(not in reference)"
RARE_OR_NEW = "(rare or new)"


@dataclass(frozen=True)
class ColumnChart:
    """Reference and window counts of one column over the same bars.

    Attributes:
        column: The column.
        kind: ``"numeric"`` or ``"categorical"``.
        labels: One label per bar: a bin as ``"a – b"`` (closed on the left),
            a category, ``"other (k categories)"``, ``"(not in reference)"``
            or ``"(missing)"``.
        reference: Reference rows per bar.
        current: Window rows per bar.
        cuts: A numeric column's interior bin edges (the profile's cuts).
        folded: Categories folded into the "other" bar.
    """

    column: str
    kind: str
    labels: list[str]
    reference: list[int]
    current: list[int]
    cuts: list[float] | None = None
    folded: int = 0


def column_chart(plan: ColumnPlan, state: ColumnState) -> ColumnChart:
    """The chart of one column from its plan and the window's counts."""
    ref, cur = binned(plan, state)
    if plan.kind == NUMERIC:
        cuts = [float(c) for c in plan.profile_col["cuts"]]
        k = len(cuts) + 1
        labels = _bin_labels(cuts, plan.profile_col.get("min"))
        r_counts, c_counts = _ints(ref[:k]), _ints(cur[:k])
        tail = [MISSING]
        folded = 0
    elif cardinality(plan.profile_col)["cardinality"] == "high":
        return _high_cardinality(plan, ref, cur)
    else:
        names = [str(key) for key in plan.profile_col["categories"]]
        k = len(names)
        top, rest = _top(ref[:k], cur[:k])
        labels = [names[i] for i in top]
        r_counts = [int(ref[i]) for i in top]
        c_counts = [int(cur[i]) for i in top]
        if rest.size:
            labels.append(f"other ({rest.size} categories)")
            r_counts.append(int(ref[rest].sum()))
            c_counts.append(int(cur[rest].sum()))
        tail = [UNSEEN, MISSING]
        cuts, folded = None, int(rest.size)
    # The unseen and missing bars only where either side counts some.
    for label, r, c in zip(tail, ref[k:], cur[k:], strict=True):
        if r or c:
            labels.append(label)
            r_counts.append(int(r))
            c_counts.append(int(c))
    return ColumnChart(plan.name, plan.kind, labels, r_counts, c_counts, cuts, folded)


def _high_cardinality(
    plan: ColumnPlan, ref: np.ndarray, cur: np.ndarray
) -> ColumnChart:
    """The bars the tests read for a high-cardinality column: its top
    categories, one bar of the rare and new values, and the missing."""
    categories = plan.profile_col["categories"]
    names = [str(key) for key in categories]
    top = top_categories(np.asarray(list(categories.values()), dtype=np.float64))
    labels = [names[i] for i in top]
    k = len(labels)
    r_counts, c_counts = _ints(ref[:k]), _ints(cur[:k])
    for label, r, c in zip([RARE_OR_NEW, MISSING], ref[k:], cur[k:], strict=True):
        if r or c or label == RARE_OR_NEW:
            labels.append(label)
            r_counts.append(int(r))
            c_counts.append(int(c))
    folded = len(names) - k
    return ColumnChart(plan.name, plan.kind, labels, r_counts, c_counts, None, folded)


def _top(ref: np.ndarray, cur: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the top categories (in the reference's order) and the rest."""
    share = ref / max(ref.sum(), 1.0) + cur / max(cur.sum(), 1.0)
    order = np.argsort(-share, kind="stable")
    return np.sort(order[:TOP_CATEGORIES]), np.sort(order[TOP_CATEGORIES:])


def _bin_labels(cuts: list[float], low: float | None = None) -> list[str]:
    """``< c1``, ``c1 – c2``, ..., ``≥ ck`` (bins closed on the left); a
    reference of one value has one bin, ``all values`` (naming that value)."""
    if not cuts:
        return ["all values" if low is None else f"all values (reference: {low:.4g})"]
    f = [f"{c:.4g}" for c in cuts]
    middle = [f"{a} – {b}" for a, b in itertools.pairwise(f)]
    return [f"< {f[0]}", *middle, f"≥ {f[-1]}"]


def _ints(values: np.ndarray) -> list[int]:
    return [int(v) for v in values]
