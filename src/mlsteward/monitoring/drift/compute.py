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
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

import pandas as pd

from mlsteward.datasets.profile import (
    CATEGORICAL,
    NUMERIC,
    cardinality,
    compute_profile,
)
from mlsteward.errors import InvalidInput
from mlsteward.monitoring.drift import stats
from mlsteward.monitoring.drift.charts import ColumnChart, column_chart
from mlsteward.monitoring.drift.engines import make_plan, run_dask, run_local
from mlsteward.monitoring.drift.options import (
    DEFAULT_THRESHOLDS,
    KIND_METHODS,
    METHODS,
    STATUSES,
    TESTS,
    DriftMethod,
    DriftStatus,
    Engine,
    Mode,
    check_options,
    column_kind,
    default_methods,
    method_list,
    profile_columns,
    select_columns,
    threshold_band,
)
from mlsteward.monitoring.drift.results import ColumnDrift, DriftResult, judge_rows
from mlsteward.monitoring.drift.rows import evaluate_column
from mlsteward.monitoring.drift.sketch import ReferenceGrid, exact_reference

__all__ = [
    "DEFAULT_THRESHOLDS",
    "KIND_METHODS",
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
    ids: Iterable[str] = (),
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
        ids: Columns with the ``id`` role: never tested, listed in
            ``skipped``. Categorical columns whose reference values are all
            distinct are identifiers too (detected from the profile, see
            :func:`~mlsteward.datasets.profile.cardinality`).

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
    cols = profile_columns(reference_profile)
    check_options(alpha, engine, methods, thresholds)
    window_columns, source = _open_window(current, engine)

    names, skipped = select_columns(cols, methods, columns, window_columns)
    skipped.update(_identifiers(cols, names, ids))
    names = [n for n in names if n not in skipped]
    chosen = default_methods(reference_profile, names)
    for name, value in (methods or {}).items():
        if name in chosen:
            chosen[name] = method_list(name, value, column_kind(cols, name))
    for name in names:
        method_list(name, chosen[name], column_kind(cols, name))  # validates kinds
    bands = {
        (c, m): threshold_band(thresholds or {}, c, m) for c in names for m in chosen[c]
    }

    mode: Mode = "exact" if reference_sample is not None else "sketch"
    grids = _exact_grids(reference_sample, cols, names, chosen)
    # An in-memory window in exact mode is counted one column at a time, so
    # only one column's full-resolution reference grid is alive at once.
    per_column = mode == "exact" and engine == "local"
    per_column = per_column and isinstance(current, pd.DataFrame)
    batches = [[n] for n in names] if per_column else [names]
    pending: list[dict[str, Any]] = []
    charts: dict[str, ColumnChart] = {}
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
            charts[plan.name] = column_chart(plan, states[plan.name])
            pending.extend(
                evaluate_column(plan, states[plan.name], chosen[plan.name], float(eps))
            )
    rows, column_status, verdict = judge_rows(pending, bands, float(alpha))
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
        charts=charts,
    )


def _identifiers(
    cols: Mapping[str, Any], names: list[str], ids: Iterable[str]
) -> dict[str, str]:
    """``{column: why}`` for the identifier columns among ``names``."""
    declared = {ids} if isinstance(ids, str) else {str(c) for c in ids}
    out: dict[str, str] = {}
    for name in names:
        col = cols[name]
        if name in declared:
            out[name] = "id role: identifiers are never drift-tested"
        elif (
            isinstance(col, Mapping)
            and col.get("kind") == CATEGORICAL
            and isinstance(col.get("categories"), Mapping)
            and cardinality(col)["cardinality"] == "identifier"
        ):
            out[name] = (
                f"identifier-like: all {col.get('count')} reference values are "
                "distinct, so there is no distribution to compare (declare it "
                "with the id role to say so)"
            )
    return out


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
    ids: Iterable[str] = (),
) -> DriftResult:
    """Compare a window with a reference: per-column table and verdict.

    Args:
        reference: A DataFrame (profiled here), a profile dict, or a dataset
            version (anything with a ``profile`` attribute).
        current: A DataFrame, an iterable of DataFrames, or (with
            ``engine="dask"``) a Dask DataFrame.
        methods, thresholds, alpha, columns, engine, on_chunk, ids: See
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
        ids=ids,
    )
