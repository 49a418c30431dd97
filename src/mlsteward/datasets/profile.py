"""Dataset profiles: the per-column summary that later serves as drift reference.

A profile is a plain, JSON-safe ``dict`` (no NaN, no infinity: undefined
values are ``None``) so it can be stored next to the dataset version and read
back years later without this code.

Conventions (they matter for PSI, see :mod:`mlsteward.monitoring.drift.stats`):

* **Kinds.** Numeric dtypes are ``"numeric"``; bool, string, object,
  categorical (and anything else) are ``"categorical"``. The ``columns``
  argument of :func:`compute_profile` overrides the inference per column.
* **Missing.** A value is missing when :func:`pandas.isna` says so (``None``,
  ``NaN``, ``pd.NA``, ``NaT``). Missing values are counted in ``missing`` and
  never fall into a bin or a category.
* **Quantile cuts.** For a numeric column whose ``n`` non-missing values,
  sorted, are ``xs``, cut ``i`` (``i = 1 .. n_bins - 1``) is the observed value
  at 0-based position ``i * n // n_bins``, i.e. the smallest observed value
  with more than ``i / n_bins`` of the rows at or below it (the
  left-continuous empirical quantile, computed in exact integer arithmetic)::

      cuts = np.unique(xs[np.arange(1, n_bins) * n // n_bins])
      cuts = cuts[cuts > xs[0]]

  Duplicated cuts are removed, so heavily tied columns get fewer bins, and
  so is a cut equal to the minimum (it would make a first bin that holds no
  reference row). Because cuts are observed values and bins are closed on
  the left (below), **every reference bin holds at least one reference
  row**, and with distinct values bin ``i`` holds exactly
  ``(i + 1) * n // n_bins - i * n // n_bins`` rows. Interpolated quantiles
  (``np.quantile``'s default ``"linear"``) were rejected: on discrete columns
  they put cuts between observed values and leave empty reference bins.
* **Bins.** The outer edges are implicitly ``-inf`` and ``+inf`` and are not
  stored; only the interior ``cuts`` are. Bins are closed on the left: with
  ``k = len(cuts)`` there are ``k + 1`` bins and bin ``i`` holds
  ``cuts[i-1] <= x < cuts[i]`` (with ``cuts[-1] = -inf``, ``cuts[k] = +inf``),
  which is exactly ``np.searchsorted(cuts, x, side="right")``. New values
  outside the reference range fall into the first or last bin; ``+-inf`` in a
  new sample does too.
* **Categories.** Values are keyed by a canonical string: strings as they are,
  booleans as ``"True"``/``"False"``, integers and integral floats as the
  integer (``1`` and ``1.0`` are both ``"1"``), other floats by ``repr``,
  anything else by ``str``. Categories are listed by descending count, then
  by key.
* **Quantile sketch.** Each numeric entry also carries ``sketch``: the
  reference distribution that the Kolmogorov-Smirnov and Wasserstein drift
  tests need (see :func:`quantile_sketch`). ``knots`` are sorted, distinct
  observed values; ``le[j]`` and ``lt[j]`` count the reference values
  ``<= knots[j]`` and ``< knots[j]`` exactly. With at most ``sketch_size``
  distinct values every distinct value is a knot and the sketch *is* the
  reference distribution (``exact`` is true); otherwise the knots sit at
  evenly spaced ranks, min and max included, so at most
  ``ceil((count - 1) / (sketch_size - 1)) - 1`` reference values fall strictly
  between two neighbouring knots. Profiles written before the sketch existed
  lack the key; drift then falls back to tests that need only the bins.

Example:
    >>> import pandas as pd
    >>> df = pd.DataFrame(
    ...     {"age": [25, 31, 47, None], "home": ["own", "rent", "own", None]}
    ... )
    >>> p = compute_profile(df, n_bins=2)
    >>> p["columns"]["age"]["cuts"], p["columns"]["age"]["counts"]
    ([31.0], [1, 2])
    >>> p["columns"]["home"]["categories"]
    {'own': 2, 'rent': 1}
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from mlsteward.errors import InvalidInput

__all__ = [
    "CATEGORICAL",
    "HIGH_CARDINALITY_SHARE",
    "IDENTIFIER_MIN_COUNT",
    "KINDS",
    "NUMERIC",
    "PROFILE_VERSION",
    "SKETCH_SIZE",
    "bin_counts",
    "cardinality",
    "category_counts",
    "category_key",
    "compute_profile",
    "count_missing",
    "infer_kind",
    "quantile_cuts",
    "quantile_sketch",
    "to_float_array",
]

#: Format version of the profile dict; bump it if the binning rule changes.
PROFILE_VERSION = 1
#: Default number of knots of a numeric column's quantile sketch.
SKETCH_SIZE = 10_000
NUMERIC = "numeric"
CATEGORICAL = "categorical"
KINDS = (NUMERIC, CATEGORICAL)
#: A categorical column whose one-off categories (seen once) hold more than
#: this share of its reference values is "high" cardinality: that share is
#: the Good-Turing estimate of the share of new values in any later sample,
#: and new values cannot be compared category by category.
HIGH_CARDINALITY_SHARE = 0.01
#: A categorical column with at least this many values, all distinct, is an
#: "identifier": nothing about its distribution can drift.
IDENTIFIER_MIN_COUNT = 20


# -- public helpers ------------------------------------------------------------
def infer_kind(series: pd.Series) -> str:
    """Return ``"numeric"`` or ``"categorical"`` for a column's dtype.

    Bool is categorical; integer and float (numpy or nullable) are numeric;
    everything else is categorical.

    Example:
        >>> infer_kind(pd.Series([1.5, 2.0])), infer_kind(pd.Series([True]))
        ('numeric', 'categorical')
    """
    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return CATEGORICAL
    if pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_complex_dtype(
        dtype
    ):
        return NUMERIC
    return CATEGORICAL


def to_float_array(values: Any, field: str = "values") -> np.ndarray:
    """Convert a 1-D array-like to ``float64`` with ``NaN`` for missing values.

    Numeric and bool data convert directly (nullable dtypes included); other
    data (object, strings) must parse as numbers, else :class:`InvalidInput`
    names ``field`` and shows an offending value. Datetimes are refused.

    Args:
        values: A list, numpy array, pandas Series or Index.
        field: Name used in error messages.

    Returns:
        A 1-D ``float64`` array (a view when the input already is one).

    Example:
        >>> to_float_array([1, None, "2.5"])
        array([1. , nan, 2.5])
    """
    s = _as_series(values, field)
    dtype = s.dtype
    if pd.api.types.is_bool_dtype(dtype) or (
        pd.api.types.is_numeric_dtype(dtype)
        and not pd.api.types.is_complex_dtype(dtype)
    ):
        return s.to_numpy(dtype=np.float64, na_value=np.nan)
    if pd.api.types.is_datetime64_any_dtype(dtype) or pd.api.types.is_timedelta64_dtype(
        dtype
    ):
        raise InvalidInput(
            f"{field} must be numeric, got dtype {dtype}", field=field, dtype=str(dtype)
        )
    try:
        converted = pd.to_numeric(s, errors="coerce")
    except (TypeError, ValueError) as exc:  # e.g. unhashable or nested values
        raise InvalidInput(f"{field} must be numeric: {exc}", field=field) from exc
    bad = converted.isna().to_numpy() & s.notna().to_numpy()
    if bad.any():
        example = s[bad].iloc[0]
        raise InvalidInput(f"{field} must be numeric; found {example!r}", field=field)
    return converted.to_numpy(dtype=np.float64, na_value=np.nan)


def count_missing(values: Any, field: str = "values") -> int:
    """Count missing values (``None``, ``NaN``, ``pd.NA``, ``NaT``).

    Example:
        >>> count_missing([1.0, float("nan"), None, 3])
        2
    """
    return int(_as_series(values, field).isna().sum())


def quantile_cuts(values: Any, n_bins: int = 10) -> np.ndarray:
    """Interior cut points of ``n_bins`` quantile bins (rule in module docstring).

    Runs in linear time (:func:`numpy.partition`), so it suits large columns.

    Args:
        values: Finite, non-missing numbers.
        n_bins: Requested number of bins; ties can only make fewer.

    Returns:
        Sorted, unique cut points, all observed values and all above the
        minimum; empty for empty input or ``n_bins == 1``.

    Example:
        >>> quantile_cuts(np.arange(100), 10)[:3].tolist()
        [10.0, 20.0, 30.0]
        >>> quantile_cuts(np.array([0, 0, 0, 0, 0, 1, 1, 1, 2, 2]), 10).tolist()
        [1.0, 2.0]
    """
    x = np.asarray(values, dtype=np.float64)
    n = x.size
    if n == 0 or n_bins < 2:
        return np.empty(0, dtype=np.float64)
    positions = np.arange(1, n_bins, dtype=np.int64) * n // n_bins
    kth = np.unique(np.append(positions, 0))
    part = np.partition(x, kth)
    cuts = np.unique(part[positions])
    return cuts[cuts > part[0]]


def quantile_sketch(values: Any, size: int = SKETCH_SIZE) -> dict[str, Any]:
    """Knots of a column's empirical distribution, with exact ranks.

    Args:
        values: Finite, non-missing numbers.
        size: Maximum number of knots (at least 2).

    Returns:
        ``{"exact": bool, "knots": [...], "le": [...], "lt": [...]}``:
        ``knots`` sorted distinct observed values (the minimum and the
        maximum always among them), ``le[j]`` / ``lt[j]`` the number of values
        ``<=`` / ``<`` ``knots[j]``. ``exact`` is true when every distinct value
        is a knot, i.e. the sketch loses nothing. See the module docstring for
        the bound on values between knots.

    Example:
        >>> quantile_sketch([3.0, 1.0, 1.0, 2.0])
        {'exact': True, 'knots': [1.0, 2.0, 3.0], 'le': [2, 3, 4], 'lt': [0, 2, 3]}
        >>> s = quantile_sketch(np.arange(100.0), size=3)
        >>> s["knots"], s["le"], s["exact"]
        ([0.0, 50.0, 99.0], [1, 51, 100], False)
    """
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 2:
        raise InvalidInput(
            f"sketch size must be an integer >= 2, got {size!r}", field="sketch_size"
        )
    xs = np.sort(np.asarray(values, dtype=np.float64))
    n = xs.size
    if n == 0:
        return {"exact": True, "knots": [], "le": [], "lt": []}
    starts = np.flatnonzero(np.diff(xs)) + 1  # first index of each new value
    if starts.size + 1 <= size:
        knots = xs[np.concatenate(([0], starts))]
        exact = True
    else:
        positions = np.round(np.linspace(0, n - 1, int(size))).astype(np.int64)
        knots = np.unique(xs[positions])
        exact = False
    le = np.searchsorted(xs, knots, side="right")
    lt = np.searchsorted(xs, knots, side="left")
    return {
        "exact": exact,
        "knots": knots.tolist(),
        "le": le.tolist(),
        "lt": lt.tolist(),
    }


def category_key(value: Any) -> str:
    """Canonical string under which a category value is counted.

    Example:
        >>> category_key(1), category_key(1.0), category_key(True), category_key(0.5)
        ('1', '1', 'True', '0.5')
    """
    if isinstance(value, str):
        return value
    if isinstance(value, (bool, np.bool_)):
        return "True" if value else "False"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        f = float(value)
        if f.is_integer() and abs(f) < 2**53:
            return str(int(f))
        return repr(f)
    return str(value)


def bin_counts(profile_col: Mapping[str, Any], values: Any) -> np.ndarray:
    """Count a new sample into a numeric reference column's bins.

    Missing values are not counted (see :func:`count_missing`); values beyond
    the reference range, ``+-inf`` included, land in the outer bins.

    Args:
        profile_col: A numeric column entry of a profile.
        values: The new sample (list, array, Series).

    Returns:
        ``int64`` array of length ``len(profile_col["cuts"]) + 1``.

    Example:
        >>> col = {"kind": "numeric", "cuts": [1.0, 2.0], "counts": [5, 3, 2]}
        >>> bin_counts(col, [0.5, 1.0, 1.5, 2.0, 9.0, None]).tolist()
        [1, 2, 2]
    """
    _check_profile_col(profile_col, NUMERIC, ("cuts",))
    cuts = np.asarray(profile_col["cuts"], dtype=np.float64)
    x = to_float_array(values)
    x = x[~np.isnan(x)]
    idx = np.searchsorted(cuts, x, side="right")
    return np.bincount(idx, minlength=cuts.size + 1).astype(np.int64, copy=False)


def category_counts(
    profile_col: Mapping[str, Any], values: Any
) -> tuple[np.ndarray, int]:
    """Count a new sample into a categorical reference column's categories.

    Args:
        profile_col: A categorical column entry of a profile.
        values: The new sample (list, array, Series).

    Returns:
        ``(counts, unseen)``: an ``int64`` array aligned with
        ``profile_col["categories"]`` (in its order), and the number of
        non-missing values whose category the reference never saw. Missing
        values are in neither (see :func:`count_missing`).

    Example:
        >>> col = {"kind": "categorical", "categories": {"own": 2, "rent": 1}}
        >>> counts, unseen = category_counts(col, ["rent", "free", None, "rent"])
        >>> counts.tolist(), unseen
        ([0, 2], 1)
    """
    _check_profile_col(profile_col, CATEGORICAL, ("categories",))
    index = {key: i for i, key in enumerate(profile_col["categories"])}
    counts = np.zeros(len(index), dtype=np.int64)
    unseen = 0
    for key, n in _category_frequencies(_as_series(values, "values")).items():
        i = index.get(key)
        if i is None:
            unseen += n
        else:
            counts[i] += n
    return counts, unseen


def cardinality(profile_col: Mapping[str, Any]) -> dict[str, Any]:
    """How many categories a categorical profile column has, and what that
    means for drift.

    Returns ``{"cardinality": "low" | "high" | "identifier", "distinct": d,
    "singletons": s, "doubletons": t}``: ``s`` and ``t`` count the
    categories seen exactly once and twice.
    ``"identifier"`` when at least :data:`IDENTIFIER_MIN_COUNT` values are
    all distinct; ``"high"`` when one-off categories hold more than
    :data:`HIGH_CARDINALITY_SHARE` of the values (their share is the
    Good-Turing estimate of the share of never-seen values in a new sample);
    else ``"low"``. Read from the profile when it was stored there, derived
    from ``categories`` for profiles written before.

    Example:
        >>> cardinality({"categories": {"a": 60, "b": 39, "c": 1}, "count": 100})
        {'cardinality': 'low', 'distinct': 3, 'singletons': 1, 'doubletons': 0}
    """
    keys = ("cardinality", "distinct", "singletons", "doubletons")
    if all(k in profile_col for k in keys):
        return {k: profile_col[k] for k in keys}
    counts = np.fromiter(
        (int(v) for v in profile_col.get("categories", {}).values()), np.int64
    )
    count = int(counts.sum())
    singletons = int((counts == 1).sum())
    if count >= IDENTIFIER_MIN_COUNT and singletons == count:
        kind = "identifier"
    elif count and singletons / count > HIGH_CARDINALITY_SHARE:
        kind = "high"
    else:
        kind = "low"
    return {
        "cardinality": kind,
        "distinct": int(counts.size),
        "singletons": singletons,
        "doubletons": int((counts == 2).sum()),
    }


# -- the profile ---------------------------------------------------------------
def _check_profile_args(
    df: Any, columns: Mapping[str, str] | None, n_bins: Any, sketch_size: Any
) -> tuple[list[str], dict[str, str]]:
    """Refuse bad arguments of :func:`compute_profile`, naming the field;
    return the column names as strings and the kind overrides."""
    if not isinstance(df, pd.DataFrame):
        raise InvalidInput(
            f"df must be a pandas DataFrame, got {type(df).__name__}", field="df"
        )
    if isinstance(n_bins, bool) or not isinstance(n_bins, (int, np.integer)):
        raise InvalidInput(
            f"n_bins must be a positive integer, got {n_bins!r}", field="n_bins"
        )
    if n_bins < 1:
        raise InvalidInput(
            f"n_bins must be a positive integer, got {n_bins}", field="n_bins"
        )
    if sketch_size is not None and (
        isinstance(sketch_size, bool)
        or not isinstance(sketch_size, (int, np.integer))
        or sketch_size == 1
        or sketch_size < 0
    ):
        raise InvalidInput(
            f"sketch_size must be None, 0 or an integer >= 2, got {sketch_size!r}",
            field="sketch_size",
        )
    names = [str(c) for c in df.columns]
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise InvalidInput(
                f"column {name!r} appears more than once; column names must be unique",
                field=name,
            )
        seen.add(name)
    overrides = dict(columns or {})
    for name, kind in overrides.items():
        if name not in seen:
            raise InvalidInput(
                f"columns names {name!r}, which is not a column of the table",
                field="columns",
                allowed=sorted(seen),
            )
        if kind not in KINDS:
            raise InvalidInput(
                f"kind of column {name!r} must be one of {list(KINDS)}, got {kind!r}",
                field="columns",
                allowed=list(KINDS),
            )
    return names, overrides


def compute_profile(
    df: pd.DataFrame,
    columns: Mapping[str, str] | None = None,
    n_bins: int = 10,
    sketch_size: int | None = SKETCH_SIZE,
) -> dict[str, Any]:
    """Profile every column of ``df``: the reference for later drift checks.

    Args:
        df: The table. Column names are used as strings.
        columns: Optional ``{column: "numeric" | "categorical"}`` overriding
            the inferred kind (see :func:`infer_kind`).
        n_bins: Number of quantile bins for numeric columns (ties can make
            fewer; see the module docstring for the exact rule).
        sketch_size: Knots of each numeric column's quantile sketch (see
            :func:`quantile_sketch`); ``None`` or ``0`` leaves the sketch out.

    Returns:
        ``{"version": 1, "n_rows": int, "columns": {name: entry}}``. A numeric
        entry has ``kind, dtype, count, missing, missing_rate, min, max, mean,
        std, cuts, counts`` and, unless disabled, ``sketch``; a categorical
        one ``kind, dtype, count, missing, missing_rate, categories`` and
        ``cardinality, distinct, singletons`` (see :func:`cardinality`).
        ``count`` is the number of non-missing values, ``std`` the sample
        standard deviation (``ddof=1``, as pandas), ``counts`` has
        ``len(cuts) + 1`` entries summing to ``count``. Undefined values
        (``min`` of an all-missing column, ``std`` of one value,
        ``missing_rate`` of an empty table) are ``None``.

    Raises:
        InvalidInput: ``df`` is not a DataFrame, ``n_bins`` is not a positive
            integer, ``columns`` names an unknown column or kind, a column
            name repeats, a numeric column holds infinities or non-numbers.

    Example:
        >>> df = pd.DataFrame({"x": range(100), "flag": [True, False] * 50})
        >>> p = compute_profile(df)
        >>> p["n_rows"], p["columns"]["x"]["cuts"][:3], p["columns"]["flag"]["kind"]
        (100, [10.0, 20.0, 30.0], 'categorical')
    """
    names, overrides = _check_profile_args(df, columns, n_bins, sketch_size)
    n_rows = len(df)
    out: dict[str, Any] = {}
    for name, (_, series) in zip(names, df.items(), strict=True):
        kind = overrides.get(name) or infer_kind(series)
        if kind == NUMERIC:
            out[name] = _numeric_profile(
                series, name, int(n_bins), int(sketch_size or 0)
            )
        else:
            out[name] = _categorical_profile(series)
    return {"version": PROFILE_VERSION, "n_rows": n_rows, "columns": out}


def _numeric_profile(
    series: pd.Series, name: str, n_bins: int, sketch_size: int = 0
) -> dict[str, Any]:
    x = to_float_array(series, field=name)
    present = x[~np.isnan(x)]
    if np.isinf(present).any():
        raise InvalidInput(
            f"column {name!r} holds infinite values; a reference profile needs "
            "finite numbers (replace them, or mark them missing)",
            field=name,
        )
    n = int(x.size)
    count = int(present.size)
    missing = n - count
    cuts = quantile_cuts(present, n_bins)
    counts = np.bincount(
        np.searchsorted(cuts, present, side="right"), minlength=cuts.size + 1
    )
    entry: dict[str, Any] = {
        "kind": NUMERIC,
        "dtype": str(series.dtype),
        "count": count,
        "missing": missing,
        "missing_rate": _ratio(missing, n),
        "min": _finite(present.min()) if count else None,
        "max": _finite(present.max()) if count else None,
        "mean": _finite(present.mean()) if count else None,
        "std": _finite(present.std(ddof=1)) if count > 1 else None,
        "cuts": [float(c) for c in cuts],
        "counts": [int(c) for c in counts],
    }
    if sketch_size:
        entry["sketch"] = quantile_sketch(present, sketch_size)
    return entry


def _categorical_profile(series: pd.Series) -> dict[str, Any]:
    n = len(series)
    missing = int(series.isna().sum())
    freq = _category_frequencies(series)
    ordered = sorted(freq.items(), key=lambda kv: (-kv[1], kv[0]))
    entry: dict[str, Any] = {
        "kind": CATEGORICAL,
        "dtype": str(series.dtype),
        "count": n - missing,
        "missing": missing,
        "missing_rate": _ratio(missing, n),
        "categories": dict(ordered),
    }
    return {**entry, **cardinality(entry)}


# -- internals -----------------------------------------------------------------
def _as_series(values: Any, field: str) -> pd.Series:
    if isinstance(values, pd.DataFrame):
        raise InvalidInput(
            f"{field} must be one-dimensional, got a DataFrame", field=field
        )
    if isinstance(values, pd.Series):
        return values
    if isinstance(values, pd.Index):
        return pd.Series(values, copy=False)
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise InvalidInput(
            f"{field} must be one-dimensional, got shape {arr.shape}", field=field
        )
    return pd.Series(arr, copy=False)


def _category_frequencies(series: pd.Series) -> dict[str, int]:
    """``{canonical key: count}`` of non-missing values, hashed by pandas."""
    vc = series.value_counts(dropna=True, sort=False)
    out: dict[str, int] = {}
    for value, n in zip(vc.index, vc.to_numpy(), strict=True):
        if n:
            key = category_key(value)
            out[key] = out.get(key, 0) + int(n)
    return out


def _check_profile_col(
    profile_col: Mapping[str, Any], kind: str, keys: tuple[str, ...]
) -> None:
    if not isinstance(profile_col, Mapping) or profile_col.get("kind") != kind:
        got = profile_col.get("kind") if isinstance(profile_col, Mapping) else None
        raise InvalidInput(
            f"profile column must be of kind {kind!r}, got {got!r}",
            field="profile",
        )
    for key in keys:
        if key not in profile_col:
            raise InvalidInput(
                f"profile column lacks {key!r}; is it a profile from compute_profile?",
                field="profile",
            )


def _ratio(num: int, den: int) -> float | None:
    return num / den if den else None


def _finite(value: Any) -> float | None:
    f = float(value)
    return f if math.isfinite(f) else None
