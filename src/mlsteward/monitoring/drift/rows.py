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

from mlsteward.datasets.profile import NUMERIC
from mlsteward.errors import InvalidInput
from mlsteward.monitoring.drift import stats
from mlsteward.monitoring.drift.engines import ColumnPlan, ColumnState
from mlsteward.monitoring.drift.sketch import (
    KS_EXACT_MAX_N,
    ks_from_counts,
    ks_pvalue,
    wasserstein_from_sums,
)

__all__ = ["binned", "evaluate", "holm", "status_of"]

Status = Literal["stable", "watch", "drift"]


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
    return (
        np.concatenate([ref, [0.0, ref_missing]]),
        np.concatenate([st.counts, [st.unseen, st.missing]]).astype(np.float64),
    )


def evaluate(
    plan: ColumnPlan, st: ColumnState, method: str, test: str, eps: float
) -> dict[str, Any]:
    """One report row (without its adjusted p-value and status) from counts.

    Args:
        plan: The column's plan.
        st: The window's counts for the column.
        method: The method of the row.
        test: Its paired test, ``"chi2"`` (on the bins) or ``"ks"``.
        eps: PSI's floor.

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
    }
    notes: list[str] = []
    if st.unseen:
        notes.append(f"{st.unseen} value(s) in categories the reference never saw")
    if test == "chi2":
        ref, cur = binned(plan, st)
        if ref.sum() <= 0:
            raise InvalidInput(
                f"the reference profile of column {plan.name!r} has no rows",
                field=plan.name,
            )
        chi = stats.chi_square(ref, cur)
        row["p_value"] = chi.pvalue
        if method == "psi":
            row["statistic"] = stats.psi(ref, cur, eps)
        elif method == "jensen_shannon":
            row["statistic"] = stats.jensen_shannon(ref, cur)
        else:
            row["statistic"] = chi.statistic
        row["effect"] = (
            math.sqrt(chi.statistic * (1.0 / ref.sum() + 1.0 / cur.sum()))
            if method == "chi2"
            else row["statistic"]
        )
    else:
        _evaluate_ordered(plan, st, method, row, notes)
    if st.n and st.missing == st.n:
        notes.append("every value in the window is missing")
    row["note"] = "; ".join(notes) or None
    return row


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
