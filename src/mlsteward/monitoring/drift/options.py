"""What a drift check runs: its methods, thresholds and columns.

The methods, their paired tests and default bands, the default choice per
column (from the reference profile alone), and the checks that refuse a bad
option naming the field. :mod:`mlsteward.monitoring.drift.compute` uses them
and re-exports the public names; the reasoning is in
``docs/monitoring-drift.md``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal

from mlsteward.datasets.profile import CATEGORICAL, NUMERIC, cardinality
from mlsteward.errors import InvalidInput
from mlsteward.monitoring.drift import stats

__all__ = [
    "DEFAULT_THRESHOLDS",
    "KIND_METHODS",
    "METHODS",
    "STATUSES",
    "TESTS",
    "DriftMethod",
    "DriftStatus",
    "Engine",
    "Mode",
    "check_options",
    "column_kind",
    "default_methods",
    "known_columns",
    "method_list",
    "profile_columns",
    "select_columns",
    "threshold_band",
]

DriftMethod = Literal["psi", "ks", "chi2", "jensen_shannon", "wasserstein", "unseen"]
DriftStatus = Literal["stable", "watch", "drift"]
Mode = Literal["exact", "sketch"]
Engine = Literal["local", "dask"]

METHODS: tuple[str, ...] = (
    "psi",
    "ks",
    "chi2",
    "jensen_shannon",
    "wasserstein",
    "unseen",
)
STATUSES: tuple[str, ...] = ("stable", "watch", "drift")
#: Methods allowed per column kind (KS and Wasserstein need an order).
KIND_METHODS: dict[str, tuple[str, ...]] = {
    NUMERIC: ("psi", "ks", "chi2", "jensen_shannon", "wasserstein"),
    CATEGORICAL: ("psi", "chi2", "jensen_shannon", "unseen"),
}
#: The significance test paired with each method. PSI and Jensen-Shannon are
#: computed on the reference bins (plus missing and unseen bins); chi-square on
#: those same bins is the test of exactly that table (pooled where sparse, see
#: :mod:`~mlsteward.monitoring.drift.contingency`). ``unseen`` compares the
#: window's share of never-seen categories with the share the reference
#: predicts (Good-Turing: its share of one-off categories).
TESTS: dict[str, str] = {
    "psi": "chi2",
    "ks": "ks",
    "chi2": "chi2",
    "jensen_shannon": "chi2",
    "wasserstein": "ks",
    "unseen": "unseen",
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
    "unseen": (0.05, 0.1),
}


_NEEDS = {"unseen": "counts categories"}


# -- methods and thresholds -------------------------------------------------------
def default_methods(
    profile: Mapping[str, Any], columns: Iterable[str] | None = None
) -> dict[str, list[str]]:
    """Default methods per column, from the reference profile alone.

    Numeric columns get ``["psi", "ks"]`` (``["psi", "chi2"]`` when the
    profile predates quantile sketches, since KS then has no reference
    distribution), categorical columns ``["psi", "chi2"]``, high-cardinality
    categorical columns (:func:`~mlsteward.datasets.profile.cardinality`)
    ``["psi", "chi2", "unseen"]`` (their PSI and chi-square read the top
    categories plus one "rest" bin; ``unseen`` compares the share of new
    values with the Good-Turing share). Nothing here looks at a window, so
    the choice can be stored when a monitor is created and reused on every
    run.

    Args:
        profile: A profile from :func:`~mlsteward.datasets.profile.compute_profile`.
        columns: Restrict to these columns (default: all, in profile order).

    Example:
        >>> p = {"columns": {"age": {"kind": "numeric", "sketch": {}},
        ...                  "home": {"kind": "categorical"}}}
        >>> default_methods(p)
        {'age': ['psi', 'ks'], 'home': ['psi', 'chi2']}
    """
    cols = profile_columns(profile)
    names = list(cols) if columns is None else known_columns(columns, cols)
    out: dict[str, list[str]] = {}
    for name in names:
        col = cols[name]
        if col.get("kind") == NUMERIC:
            out[name] = ["psi", "ks"] if "sketch" in col else ["psi", "chi2"]
        elif cardinality(col)["cardinality"] == "high":
            out[name] = ["psi", "chi2", "unseen"]
        else:
            out[name] = ["psi", "chi2"]
    return out


def profile_columns(profile: Mapping[str, Any]) -> Mapping[str, Any]:
    """The profile's ``columns`` mapping, or InvalidInput if it is no profile."""
    cols = profile.get("columns") if isinstance(profile, Mapping) else None
    if not isinstance(cols, Mapping):
        raise InvalidInput(
            "reference_profile must be a profile dict with a 'columns' mapping "
            "(from compute_profile or a dataset version)",
            field="reference_profile",
        )
    return cols


def known_columns(columns: Iterable[str], cols: Mapping[str, Any]) -> list[str]:
    """``columns`` as a list, refusing any the profile's ``cols`` lack."""
    if isinstance(columns, str):
        columns = [columns]
    names = [str(c) for c in columns]
    unknown = [c for c in names if c not in cols]
    if unknown:
        raise InvalidInput(
            f"column(s) {unknown} are not in the reference profile; it has: "
            + ", ".join(map(str, cols)),
            field="columns",
            allowed=list(cols),
        )
    return names


def method_list(name: str, value: Any, kind: str) -> list[str]:
    """Column ``name``'s methods (one or a list), checked against its ``kind``,
    without repeats."""
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
                f"method {m!r} {_NEEDS.get(m, 'needs ordered values')}, but "
                f"column {name!r} is {kind}; choose from {list(allowed)}",
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


def threshold_band(
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


# -- the options of a check --------------------------------------------------------
def check_options(alpha: Any, engine: Any, methods: Any, thresholds: Any) -> None:
    """Refuse bad options of
    :func:`~mlsteward.monitoring.drift.compute.compute_drift`, naming the field."""
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


def select_columns(
    cols: Mapping[str, Any],
    methods: Mapping[str, Any] | None,
    columns: Iterable[str] | None,
    window_columns: set[str],
) -> tuple[list[str], dict[str, str]]:
    """The columns to check and those skipped (with why). A column asked for
    by name (``columns=`` or ``methods=``) but absent is an error; a profile
    column the window lacks is skipped."""
    overridden = known_columns(list(methods or {}), cols)
    if columns is not None:
        names = known_columns(columns, cols)
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


def column_kind(cols: Mapping[str, Any], name: str) -> str:
    """``"numeric"`` or ``"categorical"``: column ``name``'s kind in the profile."""
    kind = cols[name].get("kind") if isinstance(cols[name], Mapping) else None
    if kind not in (NUMERIC, CATEGORICAL):
        raise InvalidInput(
            f"profile column {name!r} has kind {kind!r}; expected 'numeric' or "
            "'categorical'",
            field="reference_profile",
        )
    return str(kind)
