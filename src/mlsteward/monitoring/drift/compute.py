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
  (:mod:`mlsteward.monitoring.drift.engines`) against the reference's bins,
  categories and quantile sketch (:mod:`mlsteward.monitoring.drift.sketch`).

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

import pandas as pd

from mlsteward.datasets.profile import (
    CATEGORICAL,
    NUMERIC,
    compute_profile,
)
from mlsteward.errors import InvalidInput
from mlsteward.monitoring.drift import stats
from mlsteward.monitoring.drift.engines import make_plan, run_dask, run_local
from mlsteward.monitoring.drift.rows import evaluate, holm, status_of
from mlsteward.monitoring.drift.sketch import ReferenceGrid, exact_reference

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
def _check_options(alpha: Any, engine: Any, methods: Any, thresholds: Any) -> None:
    """Refuse bad options of :func:`compute_drift`, naming the field."""
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


def _select_columns(
    cols: Mapping[str, Any],
    methods: Mapping[str, Any] | None,
    columns: Iterable[str] | None,
    window_columns: set[str],
) -> tuple[list[str], dict[str, str]]:
    """The columns to check and those skipped (with why). A column asked for
    by name (``columns=`` or ``methods=``) but absent is an error; a profile
    column the window lacks is skipped."""
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
    return names, skipped


def _judge_rows(
    pending: list[dict[str, Any]],
    bands: Mapping[tuple[str, str], tuple[float, float]],
    alpha: float,
) -> tuple[list[ColumnDrift], dict[str, DriftStatus], DriftStatus]:
    """Holm-adjust the p-values, judge each row, then each column and the
    dataset (the worst column: no share-of-columns rule)."""
    adjusted = holm([r["p_value"] for r in pending])
    rows: list[ColumnDrift] = []
    for r, p_adj in zip(pending, adjusted, strict=True):
        watch, drift = bands[(r["column"], r["method"])]
        status = status_of(r["effect"], p_adj, watch, drift, alpha)
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
    return rows, column_status, verdict


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
        eps: PSI's floor for empty bins (see :mod:`~mlsteward.monitoring.drift.stats`).
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
    _check_options(alpha, engine, methods, thresholds)
    window_columns, source = _open_window(current, engine)

    names, skipped = _select_columns(cols, methods, columns, window_columns)
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
        plans = [
            make_plan(
                n,
                cols[n],
                ordered=[m for m in chosen[n] if TESTS[m] == "ks"],
                wasserstein="wasserstein" in chosen[n],
                exact=grids.get(n),
            )
            for n in batch
        ]
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
                    evaluate(plan, states[plan.name], method, TESTS[method], float(eps))
                )
    rows, column_status, verdict = _judge_rows(pending, bands, float(alpha))
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
