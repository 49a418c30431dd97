"""Counting a window against a reference, chunk by chunk, locally or on Dask.

Everything the drift statistics need from the current window is a handful of
counts per column (:class:`ColumnState`): rows, missing values, counts per
reference bin or category, values in categories the reference never saw,
and, for the KS and Wasserstein tests, counts (and in sketch mode sums) per
knot of the reference grid. Those states are computed per chunk
(:func:`count_chunk`) and added up (:func:`merge_states`), so

* the local engine (:func:`run_local`) streams any iterable of DataFrames in
  memory bounded by one chunk plus the states, and
* the Dask engine (:func:`run_dask`) computes one state per partition on the
  workers and adds them up in a tree; integer counts are identical to the
  local engine's, floating-point sums agree to rounding.

Two states hold window values and are therefore bounded differently: the
small-sample buffer (at most ``KS_EXACT_MAX_N`` values per KS column, kept so
that small windows get scipy's exact KS p-value) and, in exact mode only, the
values of Wasserstein columns (exact W1 needs them all; sketch mode does not).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from mlsteward.datasets.profile import CATEGORICAL, category_counts, to_float_array
from mlsteward.errors import InvalidInput
from mlsteward.monitoring.drift.sketch import KS_EXACT_MAX_N, ReferenceGrid

__all__ = [
    "ColumnPlan",
    "ColumnState",
    "count_chunk",
    "make_plan",
    "merge_states",
    "run_dask",
    "run_local",
]

States = dict[str, "ColumnState"]


@dataclass(frozen=True)
class ColumnPlan:
    """What to count for one column (built once from the reference)."""

    name: str
    kind: str
    profile_col: Mapping[str, Any]
    cuts: np.ndarray | None = None
    grid: ReferenceGrid | None = None
    w1_sums: bool = False
    w1_values: bool = False
    ks_buffer: bool = False


@dataclass
class ColumnState:
    """Counts of one column of the window (see the module docstring)."""

    n: int = 0
    missing: int = 0
    counts: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    unseen: int = 0
    cle: np.ndarray | None = None
    clt: np.ndarray | None = None
    n_neginf: int = 0
    n_posinf: int = 0
    gap_sums: np.ndarray | None = None
    below_sum: float = 0.0
    above_sum: float = 0.0
    values: list[np.ndarray] | None = None
    buffer: list[np.ndarray] | None = None

    @property
    def present(self) -> int:
        """Non-missing values counted."""
        return self.n - self.missing


def make_plan(
    name: str,
    col: Mapping[str, Any],
    *,
    ordered: list[str],
    wasserstein: bool,
    exact: Any = None,
) -> ColumnPlan:
    """What to count for one profile column.

    Args:
        name: The column.
        col: Its profile entry.
        ordered: The column's methods that need the reference distribution
            (KS and Wasserstein); empty when only bins are needed.
        wasserstein: Whether Wasserstein is among them.
        exact: In exact mode, the reference values: a ``ReferenceGrid`` or a
            DataFrame holding the column; None for sketch mode.

    Raises:
        InvalidInput: A malformed profile column, a reference sample that
            does not match the profile, or ordered methods on a profile
            without a sketch.
    """
    kind = col["kind"]
    if kind == CATEGORICAL:
        if not isinstance(col.get("categories"), Mapping):
            raise InvalidInput(
                f"profile column {name!r} lacks its categories", field=name
            )
        return ColumnPlan(name=name, kind=kind, profile_col=col)
    if "cuts" not in col or "counts" not in col:
        raise InvalidInput(f"profile column {name!r} lacks cuts/counts", field=name)
    cuts = np.asarray(col["cuts"], dtype=np.float64)
    grid: ReferenceGrid | None = None
    if ordered:
        if exact is not None:
            if isinstance(exact, pd.DataFrame):
                values = to_float_array(exact[name], field=name)
                grid = ReferenceGrid.from_values(values)
            else:
                grid = exact
            assert grid is not None
            if grid.n != int(col.get("count", grid.n)):
                raise InvalidInput(
                    f"reference_sample column {name!r} has {grid.n} values but the "
                    f"profile counted {col.get('count')}; they describe different "
                    "data",
                    field="reference_sample",
                )
        elif "sketch" in col:
            grid = ReferenceGrid.from_sketch(col["sketch"], name)
        else:
            raise InvalidInput(
                f"method(s) {ordered} for column {name!r} need the reference "
                "distribution, but this profile has no quantile sketch (it predates "
                "them); pass reference_sample=, re-profile the reference, or use "
                "psi/chi2/jensen_shannon",
                field="methods",
            )
    return ColumnPlan(
        name=name,
        kind=kind,
        profile_col=col,
        cuts=cuts,
        grid=grid,
        w1_sums=wasserstein and exact is None,
        w1_values=wasserstein and exact is not None,
        ks_buffer=grid is not None and grid.exact and grid.n <= KS_EXACT_MAX_N,
    )


def _empty_state(plan: ColumnPlan) -> ColumnState:
    if plan.kind == "numeric":
        assert plan.cuts is not None
        size = plan.cuts.size + 1
    else:
        size = len(plan.profile_col["categories"])
    st = ColumnState(counts=np.zeros(size, dtype=np.int64))
    if plan.grid is not None:
        k = plan.grid.knots.size
        st.cle = np.zeros(k, dtype=np.int64)
        st.clt = np.zeros(k, dtype=np.int64)
        if plan.w1_sums:
            st.gap_sums = np.zeros(max(k - 1, 0), dtype=np.float64)
    if plan.w1_values:
        st.values = []
    if plan.ks_buffer:
        st.buffer = []
    return st


def _ranks(xs: np.ndarray, knots: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Values of sorted ``xs`` at or below, and below, each knot.

    Same as two ``searchsorted`` calls (``side="right"`` and ``"left"``), but
    the second search runs only for knots that some value equals.
    """
    cle = np.searchsorted(xs, knots, side="right")
    clt = cle.copy()
    if xs.size:
        tied = cle > 0
        tied[tied] = xs[cle[tied] - 1] == knots[tied]
        if tied.any():
            clt[tied] = np.searchsorted(xs, knots[tied], side="left")
    return cle, clt


def _count_numeric(plan: ColumnPlan, series: pd.Series, st: ColumnState) -> None:
    assert plan.cuts is not None
    x = to_float_array(series, field=plan.name)
    nan = np.isnan(x)
    n_missing = int(nan.sum())
    st.n += int(x.size)
    st.missing += n_missing
    xs = np.sort(x[~nan] if n_missing else x)
    # Bins are closed on the left: bin i holds cuts[i-1] <= x < cuts[i].
    below = np.searchsorted(xs, plan.cuts, side="left")
    st.counts += np.diff(np.concatenate(([0], below, [xs.size])))
    neg = int(np.searchsorted(xs, -np.inf, side="right"))
    pos = int(xs.size - np.searchsorted(xs, np.inf, side="left"))
    st.n_neginf += neg
    st.n_posinf += pos
    grid = plan.grid
    if grid is not None and grid.knots.size:
        assert st.cle is not None and st.clt is not None
        cle, clt = _ranks(xs, grid.knots)
        st.cle += cle
        st.clt += clt
        if plan.w1_sums:
            assert st.gap_sums is not None
            finite = xs[neg : xs.size - pos]
            csum = np.concatenate(([0.0], np.cumsum(finite)))
            cle_f, clt_f = cle - neg, clt - neg
            st.below_sum += float(csum[clt_f[0]])
            st.above_sum += float(csum[-1] - csum[cle_f[-1]])
            st.gap_sums += csum[clt_f[1:]] - csum[cle_f[:-1]]
    if st.values is not None:
        st.values.append(xs)
    if st.buffer is not None:
        if sum(b.size for b in st.buffer) + xs.size <= KS_EXACT_MAX_N:
            st.buffer.append(xs)
        else:
            st.buffer = None  # too large for an exact p-value: asymptotic


def _count_categorical(plan: ColumnPlan, series: pd.Series, st: ColumnState) -> None:
    counts, unseen = category_counts(plan.profile_col, series)
    st.n += len(series)
    st.missing += int(series.isna().sum())
    st.counts += counts
    st.unseen += unseen


def count_chunk(plans: Iterable[ColumnPlan], chunk: pd.DataFrame) -> States:
    """Count one chunk of the window: ``{column: ColumnState}``.

    Raises:
        InvalidInput: ``chunk`` is not a DataFrame or lacks a planned column,
            or a numeric column holds values that are not numbers.
    """
    if not isinstance(chunk, pd.DataFrame):
        raise InvalidInput(
            f"each chunk of the current window must be a pandas DataFrame, got "
            f"{type(chunk).__name__}",
            field="current",
        )
    states: States = {}
    for plan in plans:
        if plan.name not in chunk.columns:
            raise InvalidInput(
                f"a chunk of the current window lacks column {plan.name!r}",
                field="current",
                column=plan.name,
            )
        series = chunk[plan.name]
        if isinstance(series, pd.DataFrame):
            raise InvalidInput(
                f"column {plan.name!r} appears more than once in the current window",
                field="current",
            )
        st = _empty_state(plan)
        if plan.kind == "numeric":
            _count_numeric(plan, series, st)
        else:
            _count_categorical(plan, series, st)
        states[plan.name] = st
    return states


def _add(a: np.ndarray | None, b: np.ndarray | None) -> np.ndarray | None:
    if a is None or b is None:
        return a if b is None else b
    a += b
    return a


def merge_states(a: States, b: States) -> States:
    """Add ``b``'s counts into ``a`` column by column and return ``a``.

    ``a`` is updated in place (its arrays are reused); ``b`` is unchanged.
    """
    for name, sa in a.items():
        sb = b[name]
        if sa.buffer is not None and sb.buffer is not None:
            joined = [*sa.buffer, *sb.buffer]
            sa.buffer = (
                joined if sum(x.size for x in joined) <= KS_EXACT_MAX_N else None
            )
        else:
            sa.buffer = None
        sa.n += sb.n
        sa.missing += sb.missing
        sa.counts += sb.counts
        sa.unseen += sb.unseen
        sa.cle = _add(sa.cle, sb.cle)
        sa.clt = _add(sa.clt, sb.clt)
        sa.n_neginf += sb.n_neginf
        sa.n_posinf += sb.n_posinf
        sa.gap_sums = _add(sa.gap_sums, sb.gap_sums)
        sa.below_sum += sb.below_sum
        sa.above_sum += sb.above_sum
        sa.values = (
            None if sa.values is None or sb.values is None else [*sa.values, *sb.values]
        )
    return a


def run_local(
    plans: list[ColumnPlan],
    chunks: Iterable[pd.DataFrame],
    on_chunk: Callable[[int], None] | None = None,
) -> tuple[States, int]:
    """Stream ``chunks`` through :func:`count_chunk`; return states and rows.

    Memory: one chunk at a time plus the states.
    """
    total: States | None = None
    rows = 0
    for chunk in chunks:
        states = count_chunk(plans, chunk)
        total = states if total is None else merge_states(total, states)
        rows += len(chunk)
        if on_chunk is not None:
            on_chunk(len(chunk))
    if total is None:
        total = {p.name: _empty_state(p) for p in plans}
    return total, rows


def _partition(df: pd.DataFrame, plans: list[ColumnPlan]) -> tuple[States, int]:
    return count_chunk(plans, df), len(df)


def _merge_pair(a: tuple[States, int], b: tuple[States, int]) -> tuple[States, int]:
    # Dask may hand the same input to several tasks: never mutate it.
    return merge_states(copy.deepcopy(a[0]), b[0]), a[1] + b[1]


def run_dask(plans: list[ColumnPlan], ddf: Any) -> tuple[States, int]:
    """Count a ``dask.dataframe.DataFrame`` on the current Dask scheduler.

    With a ``dask.distributed.Client`` active the partitions are counted on
    its workers; the per-partition states (a few kB) are added in a tree.
    """
    import dask

    parts = ddf.to_delayed()
    if not parts:
        return {p.name: _empty_state(p) for p in plans}, 0
    plans_d = dask.delayed(plans, traverse=False)
    level = [dask.delayed(_partition)(part, plans_d) for part in parts]
    while len(level) > 1:
        nxt = [
            dask.delayed(_merge_pair)(level[i], level[i + 1])
            for i in range(0, len(level) - 1, 2)
        ]
        if len(level) % 2:
            nxt.append(level[-1])
        level = nxt
    (result,) = dask.compute(level[0])
    states, rows = result
    return states, int(rows)
