"""Drift report rows from a window's counts; Holm; the status rule.

The counting is in :mod:`mlsteward.monitoring.drift.engines`; the API and the
reasoning are in :mod:`mlsteward.monitoring.drift.compute` and
``docs/monitoring-drift.md``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
from scipy import stats as _st

from mlsteward.datasets.profile import NUMERIC, cardinality
from mlsteward.errors import InvalidInput
from mlsteward.monitoring.drift import stats
from mlsteward.monitoring.drift.contingency import (
    MIN_EXPECTED,
    TableTest,
    homogeneity_test,
)
from mlsteward.monitoring.drift.engines import ColumnPlan, ColumnState
from mlsteward.monitoring.drift.options import TESTS
from mlsteward.monitoring.drift.sketch import (
    KS_EXACT_MAX_N,
    ks_from_counts,
    ks_pvalue,
    wasserstein_from_sums,
)

__all__ = [
    "MAX_TOP",
    "TOP_MIN_COUNT",
    "binned",
    "evaluate",
    "evaluate_column",
    "holm",
    "status_of",
    "top_categories",
]

Status = Literal["stable", "watch", "drift"]

#: A high-cardinality column's "top" categories, read one by one: at most
#: this many of the most frequent ...
MAX_TOP = 20
#: ... each seen at least this often in the reference. Every other category,
#: and every value the reference never saw, falls in one "rest" bin.
TOP_MIN_COUNT = 25


def binned(plan: ColumnPlan, st: ColumnState) -> tuple[np.ndarray, np.ndarray]:
    """Reference and window counts over the same bins (missing and unseen too)."""
    col = plan.profile_col
    ref_missing = float(col.get("missing", 0) or 0)
    if plan.kind == NUMERIC:
        ref = np.asarray(col["counts"], dtype=np.float64)
        if ref.size != st.counts.size:
            raise InvalidInput(
                f"profile column {plan.name!r} has inconsistent cuts and counts",
                field=plan.name,
            )
        return (
            np.append(ref, ref_missing),
            np.append(st.counts, st.missing).astype(np.float64),
        )
    ref = np.asarray(list(col["categories"].values()), dtype=np.float64)
    if cardinality(col)["cardinality"] == "high":
        # New values are expected here: one "rest" bin holds the rare
        # categories and the unseen ones (docs/monitoring-drift.md).
        top = top_categories(ref)
        rest = float(ref.sum() - ref[top].sum())
        cur_rest = float(st.counts.sum() - st.counts[top].sum() + st.unseen)
        return (
            np.concatenate([ref[top], [rest, ref_missing]]),
            np.concatenate([st.counts[top], [cur_rest, st.missing]]).astype(np.float64),
        )
    return (
        np.concatenate([ref, [0.0, ref_missing]]),
        np.concatenate([st.counts, [st.unseen, st.missing]]).astype(np.float64),
    )


def top_categories(ref: np.ndarray) -> np.ndarray:
    """Indices of a high-cardinality column's top categories, most frequent
    first: at most :data:`MAX_TOP`, each counted :data:`TOP_MIN_COUNT` times
    or more in the reference.

    Example:
        >>> top_categories(np.array([3.0, 50.0, 30.0, 1.0])).tolist()
        [1, 2]
    """
    order = np.argsort(-ref, kind="stable")[:MAX_TOP]
    return order[ref[order] >= TOP_MIN_COUNT]


def evaluate_column(
    plan: ColumnPlan, st: ColumnState, methods: Sequence[str], eps: float
) -> list[dict[str, Any]]:
    """The report rows of one column, one per method (see :func:`evaluate`);
    the test on the bins is computed once and shared by its methods."""
    bins: TableTest | None = None
    out = []
    for method in methods:
        test = TESTS[method]
        if test == "chi2" and bins is None:
            bins = homogeneity_test(*_checked_bins(plan, st))
        out.append(evaluate(plan, st, method, test, eps, bins))
    return out


def _checked_bins(plan: ColumnPlan, st: ColumnState) -> tuple[np.ndarray, np.ndarray]:
    ref, cur = binned(plan, st)
    if ref.sum() <= 0:
        raise InvalidInput(
            f"the reference profile of column {plan.name!r} has no rows",
            field=plan.name,
        )
    return ref, cur


def evaluate(
    plan: ColumnPlan,
    st: ColumnState,
    method: str,
    test: str,
    eps: float,
    bins_test: TableTest | None = None,
) -> dict[str, Any]:
    """One report row (without its adjusted p-value and status) from counts.

    Args:
        plan: The column's plan.
        st: The window's counts for the column.
        method: The method of the row.
        test: Its paired test, ``"chi2"`` (on the bins), ``"ks"`` or
            ``"unseen"`` (new values against the Good-Turing share).
        eps: PSI's floor.
        bins_test: The chi-square test of the column's bins, if already
            computed (:func:`evaluate_column` shares it between methods).

    Returns:
        The fields of :class:`~mlsteward.monitoring.drift.compute.ColumnDrift` but
        ``p_adjusted``, ``status``, ``threshold`` and ``watch_threshold``.
    """
    col = plan.profile_col
    n_ref = int(col.get("count", 0) or 0) + int(col.get("missing", 0) or 0)
    row: dict[str, Any] = {
        "column": plan.name,
        "method": method,
        "kind": plan.kind,
        "test": test,
        "n_reference": n_ref,
        "n_current": st.n,
        "missing_reference": col.get("missing_rate"),
        "missing_current": st.missing / st.n if st.n else None,
        "unseen_current": st.unseen,
        "error_bound": None,
        "note": None,
        "statistic": None,
        "effect": None,
        "p_value": None,
        "p_method": None,
    }
    notes: list[str] = []
    if st.unseen:
        notes.append(f"{st.unseen} value(s) in categories the reference never saw")
    if test == "chi2":
        ref, cur = _checked_bins(plan, st)
        chi = bins_test or homogeneity_test(ref, cur)
        _fill_binned(row, method, chi, ref, cur, eps)
        notes.append(chi.describe(st.n) or "")
    elif test == "unseen":
        notes.append(_evaluate_unseen(plan, st, row))
    else:
        _evaluate_ordered(plan, st, method, row, notes)
    if st.n and st.missing == st.n:
        notes.append("every value in the window is missing")
    row["note"] = "; ".join(n for n in notes if n) or None
    return row


def _fill_binned(
    row: dict[str, Any],
    method: str,
    chi: TableTest,
    ref: np.ndarray,
    cur: np.ndarray,
    eps: float,
) -> None:
    """Statistic, effect and p-value of a method read on the bins."""
    row["p_value"] = chi.pvalue
    row["p_method"] = chi.p_method
    if method == "psi":
        row["statistic"] = row["effect"] = stats.psi(ref, cur, eps)
    elif method == "jensen_shannon":
        row["statistic"] = row["effect"] = stats.jensen_shannon(ref, cur)
    else:
        row["statistic"] = chi.statistic
        row["effect"] = math.sqrt(chi.statistic * (1.0 / ref.sum() + 1.0 / cur.sum()))


def _evaluate_unseen(plan: ColumnPlan, st: ColumnState, row: dict[str, Any]) -> str:
    """New values in the window against the share the reference predicts.

    The Good-Turing estimate of the chance that a new draw shows a category
    the reference never saw is the reference's share of one-off categories
    (``q = N1 / n``); the effect is the absolute difference between the
    window's share of unseen values and ``q``. The test: with at least
    :data:`~mlsteward.monitoring.drift.contingency.MIN_EXPECTED` expected
    unseen and seen values in the window, a two-sided z-test whose variance
    adds the window's binomial variance and the estimate's own,
    ``(N1 + 2 N2 - N1**2 / n) / n**2`` (Esty, 1983); below that, scipy's
    exact two-sided binomial test against ``(N1 + 1) / (n + 1)``. Returns
    the row's note.
    """
    col = plan.profile_col
    count = int(col.get("count", 0) or 0)
    present = st.present
    if count == 0 or present == 0:
        side = "reference" if count == 0 else "window"
        return f"unseen not computed: the {side} has no non-missing value"
    card = cardinality(col)
    n1, n2 = int(card["singletons"]), int(card.get("doubletons", 0))
    expected = n1 / count
    share = st.unseen / present
    row["statistic"] = share
    row["effect"] = abs(share - expected)
    if present * min(expected, 1.0 - expected) >= MIN_EXPECTED:
        var_ref = max(n1 + 2 * n2 - n1 * n1 / count, 0.0) / count**2
        var = expected * (1.0 - expected) / present + var_ref
        row["p_value"] = float(2.0 * _st.norm.sf(abs(share - expected) / var**0.5))
        row["p_method"] = "good_turing_z"
    else:
        q = (n1 + 1) / (count + 1)
        row["p_value"] = float(_st.binomtest(st.unseen, present, q).pvalue)
        row["p_method"] = "binomial"
    return (
        f"new values: {share:.1%} of the window, {expected:.1%} expected "
        "(the reference's one-off categories, Good-Turing)"
    )


def _evaluate_ordered(
    plan: ColumnPlan,
    st: ColumnState,
    method: str,
    row: dict[str, Any],
    notes: list[str],
) -> None:
    grid = plan.grid
    assert grid is not None and st.cle is not None and st.clt is not None
    m = st.present
    if grid.n == 0 or m == 0:
        side = "reference" if grid.n == 0 else "window"
        notes.append(
            f"{method} not computed: the {side} has no non-missing value "
            "(PSI/chi2 see the missing bin)"
        )
        return
    d, bound = ks_from_counts(grid, st.cle, st.clt, m)
    if st.buffer is not None and grid.exact and max(grid.n, m) <= KS_EXACT_MAX_N:
        cur_vals = np.concatenate(st.buffer) if st.buffer else np.empty(0)
        small = _st.ks_2samp(grid.values(), cur_vals, method="auto")
        # scipy's exact path snaps D to the 1/lcm(n, m) lattice; report its D.
        d, p = float(small.statistic), float(small.pvalue)
    else:
        p = ks_pvalue(d, grid.n, m)
    row["p_value"] = p
    if method == "ks":
        row["statistic"] = row["effect"] = d
        row["error_bound"] = bound
        return
    # Wasserstein-1 over finite values, normalised by the reference's
    # population standard deviation (as stats.wasserstein_normalised).
    n_inf = st.n_neginf + st.n_posinf
    m_f = m - n_inf
    if n_inf:
        notes.append(f"{n_inf} infinite value(s) left out of the Wasserstein distance")
    if m_f == 0:
        notes.append("wasserstein not computed: no finite value in the window")
        return
    if st.values is not None:  # exact mode: the window's values
        xs = np.concatenate(st.values)
        xs = xs[np.isfinite(xs)]
        weights = (grid.le - grid.lt).astype(np.float64)
        w1 = float(_st.wasserstein_distance(grid.knots, xs, weights, None))
        std = float(np.std(grid.values()))
        bound = 0.0
    else:
        assert st.gap_sums is not None
        w1, bound = wasserstein_from_sums(
            grid,
            st.cle - st.n_neginf,
            st.clt - st.n_neginf,
            m_f,
            st.gap_sums,
            st.below_sum,
            st.above_sum,
        )
        sd1 = plan.profile_col.get("std")
        std = float(sd1) * math.sqrt((grid.n - 1) / grid.n) if sd1 else 0.0
    if std > 0:
        row["statistic"] = row["effect"] = w1 / std
        row["error_bound"] = bound / std
    else:
        notes.append("the reference is constant: Wasserstein left unnormalised")
        row["statistic"] = row["effect"] = w1
        row["error_bound"] = bound


def holm(pvalues: Sequence[float | None]) -> list[float | None]:
    """Holm-adjusted p-values over the non-None entries (step-down, monotone).

    Example:
        >>> holm([0.01, None, 0.04, 0.03])
        [0.03, None, 0.06, 0.06]
    """
    idx = [i for i, p in enumerate(pvalues) if p is not None]
    k = len(idx)
    out: list[float | None] = [None] * len(pvalues)
    running = 0.0
    for rank, i in enumerate(sorted(idx, key=lambda j: pvalues[j])):  # type: ignore[arg-type,return-value]
        p = pvalues[i]
        assert p is not None
        running = max(running, min(1.0, (k - rank) * p))
        out[i] = running
    return out


def status_of(
    effect: float | None,
    p_adjusted: float | None,
    watch: float,
    drift: float,
    alpha: float,
) -> Status:
    """Effect above the band AND significant; effect alone when no test ran.

    Bands follow the credit reading of PSI: above ``drift`` is drift, from
    ``watch`` up to ``drift`` included is watch.
    """
    if effect is None:
        return "stable"
    if p_adjusted is not None and p_adjusted >= alpha:
        return "stable"
    if effect > drift:
        return "drift"
    if effect >= watch and effect > 0:
        return "watch"
    return "stable"
