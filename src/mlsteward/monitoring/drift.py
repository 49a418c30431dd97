"""The drift engine: a window against a reference profile, column by column.

Pure (numpy, pandas, scipy; Dask on request): no database, no web framework.
Monitors, the SDK, the CLI and :func:`mlsteward.drift_report` call it. The
full write-up, with the reasoning behind each default, is
``docs/monitoring-drift.md``; in short:

* **Methods** (:data:`METHODS`): ``psi``, ``ks``, ``chi2``,
  ``jensen_shannon``, ``wasserstein``. Each column gets one or more, chosen
  by :func:`default_methods` from the *reference profile* only (numeric:
  PSI + KS; categorical: PSI + chi-square) or by the caller, and recorded in
  the result so a monitor compares like with like on every run.
* **Effect and evidence.** Every method has an effect size with two bands
  (:data:`DEFAULT_THRESHOLDS`, ``(watch, drift)``) and a significance test
  (:data:`TESTS`). A row is ``drift`` when the effect is above the drift band
  **and** the test is significant after Holm's correction across all rows of
  the report; ``watch`` likewise with the watch band; else ``stable``. The
  effect keeps huge windows from alarming on negligible differences, the
  test keeps small windows from alarming on noise, and Holm keeps many
  columns from alarming by chance.
* **Verdict.** The worst column status: one drifted column is a drifted
  dataset; no share-of-columns rule hides it.
* **Streaming.** The window is counted chunk by chunk
  (:mod:`mlsteward.monitoring.engines`) against the reference's bins,
  categories and quantile sketch (:mod:`mlsteward.monitoring.sketch`).

Example:
    >>> import numpy as np, pandas as pd
    >>> from mlsteward.datasets.profile import compute_profile
    >>> rng = np.random.default_rng(0)
    >>> ref = pd.DataFrame({"x": rng.normal(size=5000)})
    >>> cur = pd.DataFrame({"x": rng.normal(1.0, size=5000)})
    >>> res = compute_drift(compute_profile(ref), cur)
    >>> res.verdict, res.methods
    ('drift', {'x': ['psi', 'ks']})
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import stats as _st

from mlsteward.datasets.profile import (
    CATEGORICAL,
    NUMERIC,
    compute_profile,
    infer_kind,
    to_float_array,
)
from mlsteward.errors import InvalidInput
from mlsteward.monitoring import stats
from mlsteward.monitoring.engines import (
    ColumnPlan,
    ColumnState,
    run_dask,
    run_local,
)
from mlsteward.monitoring.sketch import (
    KS_EXACT_MAX_N,
    ReferenceGrid,
    ks_from_counts,
    ks_pvalue,
    wasserstein_from_sums,
)

__all__ = [
    "DEFAULT_THRESHOLDS",
    "METHODS",
    "STATUSES",
    "TESTS",
    "ColumnDrift",
    "DriftMethod",
    "DriftResult",
    "DriftStatus",
    "compute_drift",
    "default_methods",
    "drift_report",
    "exact_reference",
]

DriftMethod = Literal["psi", "ks", "chi2", "jensen_shannon", "wasserstein"]
DriftStatus = Literal["stable", "watch", "drift"]
Mode = Literal["exact", "sketch"]
Engine = Literal["local", "dask"]

METHODS: tuple[str, ...] = ("psi", "ks", "chi2", "jensen_shannon", "wasserstein")
STATUSES: tuple[str, ...] = ("stable", "watch", "drift")
#: Methods allowed per column kind (KS and Wasserstein need an order).
KIND_METHODS: dict[str, tuple[str, ...]] = {
    NUMERIC: METHODS,
    CATEGORICAL: ("psi", "chi2", "jensen_shannon"),
}
#: The significance test paired with each method. PSI and Jensen-Shannon are
#: computed on the reference bins (plus missing and unseen bins); chi-square on
#: those same bins is the test of exactly that table.
TESTS: dict[str, str] = {
    "psi": "chi2",
    "ks": "ks",
    "chi2": "chi2",
    "jensen_shannon": "chi2",
    "wasserstein": "ks",
}
#: ``(watch, drift)`` bands on each method's effect size. For a normal column
#: whose mean moves by a quarter / a half of a standard deviation, every
#: method lands near its watch / drift band (docs/monitoring-drift.md).
DEFAULT_THRESHOLDS: dict[str, tuple[float, float]] = {
    "psi": (stats.PSI_WATCH, stats.PSI_ACT),
    "ks": (0.1, 0.2),
    "chi2": (0.3, 0.5),
    "jensen_shannon": (0.1, 0.2),
    "wasserstein": (0.25, 0.5),
}
_SEVERITY = {s: i for i, s in enumerate(STATUSES)}


# -- results -------------------------------------------------------------------
@dataclass(frozen=True)
class ColumnDrift:
    """One column checked by one method (a row of :attr:`DriftResult.table`)."""

    column: str
    method: str
    statistic: float | None
    p_value: float | None
    threshold: float
    status: DriftStatus
    kind: str
    effect: float | None
    test: str
    p_adjusted: float | None
    watch_threshold: float
    n_reference: int
    n_current: int
    missing_reference: float | None
    missing_current: float | None
    unseen_current: int = 0
    error_bound: float | None = None
    note: str | None = None


@dataclass(frozen=True)
class DriftResult:
    """A drift report: rows per column and method, and the dataset verdict.

    Attributes:
        rows: One :class:`ColumnDrift` per column and method.
        verdict: The worst column status.
        column_status: Worst status over each column's methods.
        methods: The methods used per column (store them in a monitor).
        n_reference: Rows of the reference.
        n_current: Rows of the window.
        alpha: Family-wise significance level.
        correction: Multiple-testing correction (``"holm"``).
        mode: ``"exact"`` (KS/W1 against every reference value) or
            ``"sketch"`` (against the profile's quantile sketch).
        skipped: Profile columns not checked, with the reason.
    """

    rows: list[ColumnDrift]
    verdict: DriftStatus
    column_status: dict[str, DriftStatus]
    methods: dict[str, list[str]]
    n_reference: int
    n_current: int
    alpha: float
    correction: str = "holm"
    mode: Mode = "sketch"
    skipped: dict[str, str] = field(default_factory=dict)

    @property
    def drifted(self) -> list[str]:
        """Columns whose status is ``"drift"``."""
        return [c for c, s in self.column_status.items() if s == "drift"]

    @property
    def watched(self) -> list[str]:
        """Columns whose status is ``"watch"``."""
        return [c for c, s in self.column_status.items() if s == "watch"]

    @property
    def table(self) -> pd.DataFrame:
        """The rows as a DataFrame (``column, method, statistic, p_value,
        threshold, status`` first, then the details)."""
        names = list(ColumnDrift.__dataclass_fields__)
        return pd.DataFrame([asdict(r) for r in self.rows], columns=names)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict (no NaN: undefined values are ``None``)."""
        return {
            "verdict": self.verdict,
            "n_reference": self.n_reference,
            "n_current": self.n_current,
            "alpha": self.alpha,
            "correction": self.correction,
            "mode": self.mode,
            "methods": {k: list(v) for k, v in self.methods.items()},
            "column_status": dict(self.column_status),
            "drifted": self.drifted,
            "watched": self.watched,
            "skipped": dict(self.skipped),
            "rows": [asdict(r) for r in self.rows],
        }


# -- methods and thresholds -------------------------------------------------------
def default_methods(
    profile: Mapping[str, Any], columns: Iterable[str] | None = None
) -> dict[str, list[str]]:
    """Default methods per column, from the reference profile alone.

    Numeric columns get ``["psi", "ks"]`` (``["psi", "chi2"]`` when the
    profile predates quantile sketches, since KS then has no reference
    distribution), categorical columns ``["psi", "chi2"]``. Nothing here
    looks at a window, so the choice can be stored when a monitor is created
    and reused on every run.

    Args:
        profile: A profile from :func:`~mlsteward.datasets.profile.compute_profile`.
        columns: Restrict to these columns (default: all, in profile order).

    Example:
        >>> p = {"columns": {"age": {"kind": "numeric", "sketch": {}},
        ...                  "home": {"kind": "categorical"}}}
        >>> default_methods(p)
        {'age': ['psi', 'ks'], 'home': ['psi', 'chi2']}
    """
    cols = _profile_columns(profile)
    names = list(cols) if columns is None else _known(columns, cols)
    out: dict[str, list[str]] = {}
    for name in names:
        col = cols[name]
        if col.get("kind") == NUMERIC:
            out[name] = ["psi", "ks"] if "sketch" in col else ["psi", "chi2"]
        else:
            out[name] = ["psi", "chi2"]
    return out


def _profile_columns(profile: Mapping[str, Any]) -> Mapping[str, Any]:
    cols = profile.get("columns") if isinstance(profile, Mapping) else None
    if not isinstance(cols, Mapping):
        raise InvalidInput(
            "reference_profile must be a profile dict with a 'columns' mapping "
            "(from compute_profile or a dataset version)",
            field="reference_profile",
        )
    return cols


def _known(columns: Iterable[str], cols: Mapping[str, Any]) -> list[str]:
    if isinstance(columns, str):
        columns = [columns]
    names = [str(c) for c in columns]
    unknown = [c for c in names if c not in cols]
    if unknown:
        raise InvalidInput(
            f"column(s) {unknown} are not in the reference profile",
            field="columns",
            allowed=list(cols),
        )
    return names


def _method_list(name: str, value: Any, kind: str) -> list[str]:
    raw = [value] if isinstance(value, str) else list(value)
    if not raw:
        raise InvalidInput(f"methods for column {name!r} is empty", field="methods")
    allowed = KIND_METHODS[kind]
    out: list[str] = []
    for m in raw:
        if m not in METHODS:
            raise InvalidInput(
                f"unknown drift method {m!r} for column {name!r}; choose from "
                f"{list(METHODS)}",
                field="methods",
                allowed=list(METHODS),
            )
        if m not in allowed:
            raise InvalidInput(
                f"method {m!r} needs ordered values, but column {name!r} is "
                f"{kind}; choose from {list(allowed)}",
                field="methods",
                allowed=list(allowed),
            )
        if m not in out:
            out.append(m)
    return out


def _band(value: Any, where: str) -> tuple[float, float]:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        watch = drift = float(value)
    elif (
        isinstance(value, Sequence)
        and not isinstance(value, str)
        and len(value) == 2
        and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
    ):
        watch, drift = float(value[0]), float(value[1])
    else:
        raise InvalidInput(
            f"threshold for {where} must be a number or a (watch, drift) pair, "
            f"got {value!r}",
            field="thresholds",
        )
    if not (math.isfinite(watch) and math.isfinite(drift) and 0 <= watch <= drift):
        raise InvalidInput(
            f"threshold for {where} must satisfy 0 <= watch <= drift, got "
            f"({watch}, {drift})",
            field="thresholds",
        )
    return watch, drift


def _threshold(
    thresholds: Mapping[str, Any], column: str, method: str
) -> tuple[float, float]:
    """Column-specific setting first, then per method, then the default."""
    if column in thresholds:
        spec = thresholds[column]
        if isinstance(spec, Mapping):
            if method in spec:
                return _band(spec[method], f"{column}.{method}")
        else:
            return _band(spec, column)
    if method in thresholds and not isinstance(thresholds[method], Mapping):
        return _band(thresholds[method], method)
    return DEFAULT_THRESHOLDS[method]


# -- the engine ----------------------------------------------------------------
def compute_drift(
    reference_profile: Mapping[str, Any],
    current: Any,
    *,
    methods: Mapping[str, str | Sequence[str]] | None = None,
    thresholds: Mapping[str, Any] | None = None,
    alpha: float = 0.05,
    columns: Iterable[str] | None = None,
    reference_sample: pd.DataFrame | Mapping[str, ReferenceGrid] | None = None,
    engine: Engine = "local",
    eps: float = stats.DEFAULT_EPS,
    on_chunk: Callable[[int], None] | None = None,
) -> DriftResult:
    """Drift of a window against a reference profile, streamed in chunks.

    Args:
        reference_profile: A profile from
            :func:`~mlsteward.datasets.profile.compute_profile` (a dataset
            version's ``profile``).
        current: The window: a DataFrame, an iterable of DataFrames (chunks,
            consumed once, in bounded memory), or with ``engine="dask"`` a
            ``dask.dataframe.DataFrame`` (or a pandas one, split for Dask).
        methods: ``{column: method or [methods]}`` overriding
            :func:`default_methods` for those columns (a monitor passes the
            full dict it stored at creation).
        thresholds: ``{method or column: (watch, drift)}`` or one float per
            key; a column key may map to ``{method: band}``. Defaults:
            :data:`DEFAULT_THRESHOLDS`.
        alpha: Family-wise significance level for Holm's correction.
        columns: Columns to check. Default: every profile column present in
            the window (absent ones are listed in ``skipped``; a column named
            in ``columns`` or ``methods`` but absent is an error).
        reference_sample: The reference's values: a DataFrame with the
            numeric columns, or :func:`exact_reference` of one (prepared once,
            reused). Given, KS and Wasserstein are exact (``mode="exact"``);
            otherwise they use the profile's sketch.
        engine: ``"local"`` (in process, streaming) or ``"dask"``.
        eps: PSI's floor for empty bins (see :mod:`~mlsteward.monitoring.stats`).
        on_chunk: Called with the row count of each chunk counted (local
            engine), e.g. to drive a progress bar.

    Returns:
        A :class:`DriftResult`.

    Raises:
        InvalidInput: Bad profile, methods, thresholds, alpha or engine; a
            requested column missing from the profile or the window; an
            empty window; non-numeric values in a numeric column.

    Example:
        >>> import pandas as pd
        >>> from mlsteward.datasets.profile import compute_profile
        >>> ref = pd.DataFrame({"home": ["own"] * 50 + ["rent"] * 50})
        >>> cur = pd.DataFrame({"home": ["own"] * 90 + ["rent"] * 10})
        >>> r = compute_drift(compute_profile(ref), cur)
        >>> r.table[["column", "method", "status"]].values.tolist()
        [['home', 'psi', 'drift'], ['home', 'chi2', 'drift']]
    """
    cols = _profile_columns(reference_profile)
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)):
        raise InvalidInput(f"alpha must be a number, got {alpha!r}", field="alpha")
    if not 0.0 < float(alpha) < 1.0:
        raise InvalidInput(f"alpha must be in (0, 1), got {alpha!r}", field="alpha")
    if engine not in ("local", "dask"):
        raise InvalidInput(
            f"engine must be 'local' or 'dask', got {engine!r}",
            field="engine",
            allowed=["local", "dask"],
        )
    if methods is not None and not isinstance(methods, Mapping):
        raise InvalidInput(
            "methods must be a {column: method} mapping", field="methods"
        )
    if thresholds is not None and not isinstance(thresholds, Mapping):
        raise InvalidInput(
            "thresholds must be a {method or column: (watch, drift)} mapping",
            field="thresholds",
        )
    window_columns, source = _open_window(current, engine)

    overridden = _known(list(methods or {}), cols)
    if columns is not None:
        names = _known(columns, cols)
        outside = [c for c in overridden if c not in names]
        if outside:
            raise InvalidInput(
                f"methods names column(s) {outside}, which columns= leaves out",
                field="methods",
                allowed=names,
            )
        requested = set(names)
    else:
        names = list(cols)
        requested = set(overridden)
    skipped: dict[str, str] = {}
    absent = [c for c in names if c not in window_columns]
    missing_asked = [c for c in absent if c in requested]
    if missing_asked:
        raise InvalidInput(
            f"column(s) {missing_asked} are not in the current window",
            field="current",
            allowed=sorted(window_columns),
        )
    for c in absent:
        skipped[c] = "not in the current window"
    names = [c for c in names if c not in skipped]
    if not names:
        raise InvalidInput(
            "no column to check: the window shares no column with the reference "
            f"profile (reference: {list(cols)})",
            field="current",
        )
    chosen = default_methods(reference_profile, names)
    for name, value in (methods or {}).items():
        if name in chosen:
            chosen[name] = _method_list(name, value, _kind(cols, name))
    for name in names:
        _method_list(name, chosen[name], _kind(cols, name))  # validates kinds
    bands = {
        (c, m): _threshold(thresholds or {}, c, m) for c in names for m in chosen[c]
    }

    mode: Mode = "exact" if reference_sample is not None else "sketch"
    grids = _exact_grids(reference_sample, cols, names, chosen)
    # An in-memory window in exact mode is counted one column at a time, so
    # only one column's full-resolution reference grid is alive at once.
    per_column = mode == "exact" and engine == "local"
    per_column = per_column and isinstance(current, pd.DataFrame)
    batches = [[n] for n in names] if per_column else [names]
    pending: list[dict[str, Any]] = []
    n_rows = 0
    for i, batch in enumerate(batches):
        plans = [_plan(n, cols[n], chosen[n], mode, grids.get(n)) for n in batch]
        if engine == "dask":
            states, n_rows = run_dask(plans, source)
        else:
            chunks = [current] if per_column else source
            states, n_rows = run_local(plans, chunks, on_chunk if i == 0 else None)
        if n_rows == 0:
            raise InvalidInput(
                "the current window has no rows; a drift check needs at least one",
                field="current",
            )
        for plan in plans:
            for method in chosen[plan.name]:
                pending.append(
                    _evaluate(plan, states[plan.name], method, mode, float(eps))
                )
    adjusted = _holm([r["p_value"] for r in pending])
    rows: list[ColumnDrift] = []
    for r, p_adj in zip(pending, adjusted, strict=True):
        watch, drift = bands[(r["column"], r["method"])]
        status = _status(r["effect"], p_adj, watch, drift, float(alpha))
        rows.append(
            ColumnDrift(
                **r,
                p_adjusted=p_adj,
                threshold=drift,
                watch_threshold=watch,
                status=status,
            )
        )
    column_status: dict[str, DriftStatus] = {}
    for row in rows:
        prev = column_status.get(row.column, "stable")
        column_status[row.column] = max(prev, row.status, key=_SEVERITY.__getitem__)
    verdict: DriftStatus = max(
        column_status.values(), key=_SEVERITY.__getitem__, default="stable"
    )
    return DriftResult(
        rows=rows,
        verdict=verdict,
        column_status=column_status,
        methods=chosen,
        n_reference=int(reference_profile.get("n_rows") or 0),
        n_current=n_rows,
        alpha=float(alpha),
        mode=mode,
        skipped=skipped,
    )


def _kind(cols: Mapping[str, Any], name: str) -> str:
    kind = cols[name].get("kind") if isinstance(cols[name], Mapping) else None
    if kind not in (NUMERIC, CATEGORICAL):
        raise InvalidInput(
            f"profile column {name!r} has kind {kind!r}; expected 'numeric' or "
            "'categorical'",
            field="reference_profile",
        )
    return str(kind)


def _open_window(current: Any, engine: str) -> tuple[set[str], Any]:
    """Columns of the window, and what the engine will consume."""
    if engine == "dask":
        if isinstance(current, pd.DataFrame):
            import dask.dataframe as dd

            current = dd.from_pandas(
                current, npartitions=max(1, len(current) // 250_000 + 1)
            )
        if not hasattr(current, "to_delayed"):
            raise InvalidInput(
                "engine='dask' needs a dask.dataframe.DataFrame or a pandas "
                f"DataFrame, got {type(current).__name__}",
                field="current",
            )
        return {str(c) for c in current.columns}, current
    if isinstance(current, pd.DataFrame):
        return {str(c) for c in current.columns}, [current]
    if hasattr(current, "to_delayed"):
        raise InvalidInput(
            "a Dask DataFrame needs engine='dask'", field="engine", allowed=["dask"]
        )
    if isinstance(current, (str, bytes, Mapping)) or not isinstance(current, Iterable):
        raise InvalidInput(
            "current must be a DataFrame or an iterable of DataFrames, got "
            f"{type(current).__name__}",
            field="current",
        )
    it: Iterator[Any] = iter(current)
    first = next(it, None)
    if first is None:
        raise InvalidInput(
            "the current window has no chunks; a drift check needs rows",
            field="current",
        )
    if not isinstance(first, pd.DataFrame):
        raise InvalidInput(
            "each chunk of the current window must be a pandas DataFrame, got "
            f"{type(first).__name__}",
            field="current",
        )
    return {str(c) for c in first.columns}, itertools.chain([first], it)


def exact_reference(
    sample: pd.DataFrame, columns: Iterable[str] | None = None
) -> dict[str, ReferenceGrid]:
    """Prepare a reference sample once for exact KS/Wasserstein checks.

    Sorting the reference is the costly part of exact mode; do it once and
    pass the result as ``reference_sample=`` to every :func:`compute_drift`.

    Args:
        sample: The reference values.
        columns: Columns to prepare (default: every numeric column).

    Returns:
        ``{column: ReferenceGrid}`` with every distinct value as a knot.

    Example:
        >>> g = exact_reference(pd.DataFrame({"x": [3.0, 1.0, None]}))
        >>> g["x"].knots.tolist(), g["x"].n
        ([1.0, 3.0], 2)
    """
    if not isinstance(sample, pd.DataFrame):
        raise InvalidInput(
            f"reference_sample must be a DataFrame, got {type(sample).__name__}",
            field="reference_sample",
        )
    names = [str(c) for c in sample.columns] if columns is None else list(columns)
    out: dict[str, ReferenceGrid] = {}
    for name in names:
        if name not in sample.columns:
            raise InvalidInput(
                f"reference_sample lacks column {name!r}", field="reference_sample"
            )
        series = sample[name]
        if columns is None and infer_kind(series) != NUMERIC:
            continue
        out[name] = ReferenceGrid.from_values(to_float_array(series, field=name))
    return out


def _exact_grids(
    sample: Any,
    cols: Mapping[str, Any],
    names: list[str],
    chosen: Mapping[str, list[str]],
) -> dict[str, Any]:
    """``{column: ReferenceGrid or DataFrame}`` for columns that need KS/W1."""
    if sample is None:
        return {}
    needed = [
        n
        for n in names
        if cols[n].get("kind") == NUMERIC and any(TESTS[m] == "ks" for m in chosen[n])
    ]
    if isinstance(sample, pd.DataFrame):
        missing = [n for n in needed if n not in sample.columns]
        grids: dict[str, Any] = {n: sample for n in needed if n in sample.columns}
    elif isinstance(sample, Mapping):
        missing = [n for n in needed if n not in sample]
        grids = {n: sample[n] for n in needed if n in sample}
        bad = [n for n, g in grids.items() if not isinstance(g, ReferenceGrid)]
        if bad:
            raise InvalidInput(
                f"reference_sample entries {bad} are not ReferenceGrid objects; "
                "build them with exact_reference()",
                field="reference_sample",
            )
    else:
        raise InvalidInput(
            "reference_sample must be a DataFrame or the result of "
            f"exact_reference(), got {type(sample).__name__}",
            field="reference_sample",
        )
    if missing:
        raise InvalidInput(
            f"reference_sample lacks column(s) {missing}", field="reference_sample"
        )
    return grids


def _plan(
    name: str,
    col: Mapping[str, Any],
    methods: list[str],
    mode: Mode,
    exact: Any = None,
) -> ColumnPlan:
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
    if any(TESTS[m] == "ks" for m in methods):
        if mode == "exact":
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
            asked = [m for m in methods if TESTS[m] == "ks"]
            raise InvalidInput(
                f"method(s) {asked} for column {name!r} need the reference "
                "distribution, but this profile has no quantile sketch (it predates "
                "them); pass reference_sample=, re-profile the reference, or use "
                "psi/chi2/jensen_shannon",
                field="methods",
            )
    w1 = "wasserstein" in methods
    return ColumnPlan(
        name=name,
        kind=kind,
        profile_col=col,
        cuts=cuts,
        grid=grid,
        w1_sums=w1 and mode == "sketch",
        w1_values=w1 and mode == "exact",
        ks_buffer=grid is not None and grid.exact and grid.n <= KS_EXACT_MAX_N,
    )


# -- statistics from the counts -------------------------------------------------------
def _binned(plan: ColumnPlan, st: ColumnState) -> tuple[np.ndarray, np.ndarray]:
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


def _evaluate(
    plan: ColumnPlan, st: ColumnState, method: str, mode: Mode, eps: float
) -> dict[str, Any]:
    col = plan.profile_col
    n_ref = int(col.get("count", 0) or 0) + int(col.get("missing", 0) or 0)
    row: dict[str, Any] = {
        "column": plan.name,
        "method": method,
        "kind": plan.kind,
        "test": TESTS[method],
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
    if TESTS[method] == "chi2":
        ref, cur = _binned(plan, st)
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
        _evaluate_ordered(plan, st, method, mode, row, notes)
    if st.n and st.missing == st.n:
        notes.append("every value in the window is missing")
    row["note"] = "; ".join(notes) or None
    return row


def _evaluate_ordered(
    plan: ColumnPlan,
    st: ColumnState,
    method: str,
    mode: Mode,
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
    if mode == "exact":
        assert st.values is not None
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


def _holm(pvalues: Sequence[float | None]) -> list[float | None]:
    """Holm-adjusted p-values over the non-None entries (step-down, monotone).

    Example:
        >>> _holm([0.01, None, 0.04, 0.03])
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


def _status(
    effect: float | None,
    p_adjusted: float | None,
    watch: float,
    drift: float,
    alpha: float,
) -> DriftStatus:
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


# -- the notebook entry point ------------------------------------------------------
def drift_report(
    reference: Any,
    current: Any,
    *,
    methods: Mapping[str, str | Sequence[str]] | None = None,
    thresholds: Mapping[str, Any] | None = None,
    alpha: float = 0.05,
    columns: Iterable[str] | None = None,
    mode: Mode | None = None,
    engine: Engine = "local",
    on_chunk: Callable[[int], None] | None = None,
) -> DriftResult:
    """Compare a window with a reference: per-column table and verdict.

    Args:
        reference: A DataFrame (profiled here), a profile dict, or a dataset
            version (anything with a ``profile`` attribute).
        current: A DataFrame, an iterable of DataFrames, or (with
            ``engine="dask"``) a Dask DataFrame.
        methods, thresholds, alpha, columns, engine, on_chunk: See
            :func:`compute_drift`.
        mode: ``"exact"`` (KS and Wasserstein against every reference value;
            needs a DataFrame reference, and is its default) or ``"sketch"``
            (against the 10k-knot quantile sketch; the default for profiles).

    Returns:
        A :class:`DriftResult`: ``.table``, ``.verdict``, ``.to_dict()``.

    Example:
        >>> import numpy as np, pandas as pd, mlsteward
        >>> rng = np.random.default_rng(1)
        >>> ref = pd.DataFrame({"income": rng.lognormal(8, 1, 2000)})
        >>> cur = pd.DataFrame({"income": rng.lognormal(8, 1, 2000)})
        >>> mlsteward.drift_report(ref, cur).verdict
        'stable'
    """
    if mode not in (None, "exact", "sketch"):
        raise InvalidInput(
            f"mode must be 'exact' or 'sketch', got {mode!r}",
            field="mode",
            allowed=["exact", "sketch"],
        )
    sample: pd.DataFrame | None = None
    if isinstance(reference, pd.DataFrame):
        profile = compute_profile(reference)
        sample = reference if mode in (None, "exact") else None
    elif isinstance(reference, Mapping):
        profile = dict(reference)
    elif isinstance(getattr(reference, "profile", None), Mapping):
        profile = reference.profile
    else:
        raise InvalidInput(
            "reference must be a DataFrame, a profile dict or a dataset version, "
            f"got {type(reference).__name__}",
            field="reference",
        )
    if mode == "exact" and sample is None:
        raise InvalidInput(
            "mode='exact' needs the reference values: pass the reference as a "
            "DataFrame (a profile holds only its sketch)",
            field="mode",
        )
    return compute_drift(
        profile,
        current,
        methods=methods,
        thresholds=thresholds,
        alpha=alpha,
        columns=columns,
        reference_sample=sample,
        engine=engine,
        on_chunk=on_chunk,
    )
