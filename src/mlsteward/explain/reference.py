"""The reference population of an explanation, summarised per model input.

Reason codes compare an applicant with a reference population (usually the
training data): the linear method needs the mean of each derived column over
it, the occlusion method representative values with their shares, and the
phrases a typical value. This module turns a reference frame or a dataset
profile (:mod:`mlsteward.datasets.profile`) into one
:class:`FeatureReference` per model input.

From a frame everything is exact: numeric representatives are the means of
the values in each reference decile bin (so their weighted mean is the
column mean). From a profile, numeric representatives are the midpoints of
the profile's bins (an approximation: the profile keeps the bins' edges and
counts, not their means), while the column mean, the missing share and the
category shares are exact.

Pure: numpy and pandas only.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from mlsteward.datasets.profile import category_key, quantile_cuts, to_float_array
from mlsteward.errors import InvalidInput
from mlsteward.registry.models import Signature

__all__ = [
    "FeatureReference",
    "mean_transformed",
    "reference_from_frame",
    "reference_from_profile",
]

_N_BINS = 10
_AFFINE_TOL = 1e-9


@dataclass(frozen=True)
class FeatureReference:
    """One model input in the reference population.

    Args:
        name: Column name.
        kind: ``"numeric"`` or ``"categorical"``.
        mean: Mean of the non-missing values (numeric), else ``None``.
        low: Smallest value (numeric), else ``None``.
        high: Largest value (numeric), else ``None``.
        missing_share: Share of rows where it is missing.
        categories: ``{category_key: share of all rows}`` (categorical).
        values: Representative values (``NaN`` / ``None`` for missing).
        weights: Their shares, summing to 1.
        exact_values: Whether ``values`` reproduce the column's mean exactly.
    """

    name: str
    kind: str
    mean: float | None
    low: float | None
    high: float | None
    missing_share: float
    categories: dict[str, float]
    values: list[Any]
    weights: np.ndarray = field(repr=False)
    exact_values: bool = True

    def share(self, value: Any) -> float:
        """Share of the reference population holding this category."""
        return self.categories.get(category_key(value), 0.0)

    def background(self, max_categories: int) -> tuple[list[Any], np.ndarray]:
        """Representative values and weights, at most ``max_categories``
        categories (the most frequent; shares renormalised)."""
        if self.kind == "numeric" or len(self.values) <= max_categories:
            return self.values, self.weights
        order = np.argsort(-self.weights, kind="stable")[: max(1, max_categories)]
        keep = np.sort(order)
        w = self.weights[keep]
        return [self.values[i] for i in keep], w / w.sum()


def _spec_nullable(spec: Mapping[str, Any]) -> bool:
    return bool(spec.get("nullable", True))


def _finish(values: list[Any], weights: list[float], nullable: bool) -> tuple:
    """Drop missing representatives the model cannot take; renormalise."""
    pairs = [
        (v, w)
        for v, w in zip(values, weights, strict=True)
        if w > 0 and (nullable or not _is_missing(v))
    ]
    if not pairs:
        raise InvalidInput(
            "the reference population has no usable value for a model input",
            field="reference",
        )
    vals = [v for v, _ in pairs]
    ws = np.array([w for _, w in pairs], dtype=np.float64)
    return vals, ws / ws.sum()


def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def reference_from_frame(
    frame: pd.DataFrame, signature: Signature
) -> dict[str, FeatureReference]:
    """Summarise a (conformed) reference frame for every signature input.

    Raises:
        InvalidInput: The frame has no rows.
    """
    n = len(frame)
    if n == 0:
        raise InvalidInput("the reference frame has no rows", field="reference")
    out: dict[str, FeatureReference] = {}
    for spec in signature.inputs:
        name = spec["name"]
        col = frame[name]
        nullable = _spec_nullable(spec)
        if spec["kind"] == "numeric":
            x = to_float_array(col, field=name)
            present = x[~np.isnan(x)]
            missing = (n - present.size) / n
            values: list[Any] = []
            weights: list[float] = []
            if present.size:
                cuts = quantile_cuts(present, _N_BINS)
                bins = np.searchsorted(cuts, present, side="right")
                counts = np.bincount(bins, minlength=cuts.size + 1)
                sums = np.bincount(bins, weights=present, minlength=cuts.size + 1)
                for c, s in zip(counts, sums, strict=True):
                    if c:
                        values.append(float(s / c))
                        weights.append(c / n)
            values.append(float("nan"))
            weights.append(missing)
            vals, ws = _finish(values, weights, nullable)
            out[name] = FeatureReference(
                name,
                "numeric",
                float(present.mean()) if present.size else None,
                float(present.min()) if present.size else None,
                float(present.max()) if present.size else None,
                missing,
                {},
                vals,
                ws,
            )
        else:
            counts_s = col.value_counts(dropna=True, sort=False)
            cats: dict[str, float] = {}
            values, weights = [], []
            for value, count in zip(counts_s.index, counts_s.to_numpy(), strict=True):
                if count:
                    key = category_key(value)
                    cats[key] = cats.get(key, 0.0) + count / n
                    values.append(
                        value.item() if isinstance(value, np.generic) else value
                    )
                    weights.append(count / n)
            missing = float(col.isna().sum()) / n
            values.append(None)
            weights.append(missing)
            vals, ws = _finish(values, weights, nullable)
            out[name] = FeatureReference(
                name, "categorical", None, None, None, missing, cats, vals, ws
            )
    return out


def reference_from_profile(
    columns: Mapping[str, Any], signature: Signature
) -> dict[str, FeatureReference]:
    """Summarise a dataset profile's columns for every signature input.

    Raises:
        InvalidInput: The profile lacks an input, or profiles it as the
            other kind.
    """
    missing_cols = [c for c in signature.feature_names if c not in columns]
    if missing_cols:
        raise InvalidInput(
            f"the reference profile lacks model input(s) {missing_cols}; profile "
            "the data the model was trained on (its dataset version's profile)",
            field="reference",
        )
    out: dict[str, FeatureReference] = {}
    for spec in signature.inputs:
        name = spec["name"]
        col = columns[name]
        if col.get("kind") != spec["kind"]:
            raise InvalidInput(
                f"the reference profile has {name!r} as {col.get('kind')!r}, the "
                f"model as {spec['kind']!r}",
                field=name,
            )
        count = int(col.get("count") or 0)
        n_missing = int(col.get("missing") or 0)
        total = count + n_missing
        if total == 0:
            raise InvalidInput(
                f"the reference profile of {name!r} has no rows", field=name
            )
        nullable = _spec_nullable(spec)
        if spec["kind"] == "numeric":
            low, high, mean = col.get("min"), col.get("max"), col.get("mean")
            values: list[Any] = []
            weights: list[float] = []
            if count and low is not None and high is not None:
                edges = [float(low), *map(float, col.get("cuts") or []), float(high)]
                for i, c in enumerate(col.get("counts") or []):
                    if c:
                        values.append((edges[i] + edges[i + 1]) / 2)
                        weights.append(c / total)
            values.append(float("nan"))
            weights.append(n_missing / total)
            vals, ws = _finish(values, weights, nullable)
            out[name] = FeatureReference(
                name,
                "numeric",
                None if mean is None else float(mean),
                None if low is None else float(low),
                None if high is None else float(high),
                n_missing / total,
                {},
                vals,
                ws,
                exact_values=False,
            )
        else:
            as_bool = spec.get("dtype") in ("bool", "boolean")
            cats = {str(k): v / total for k, v in (col.get("categories") or {}).items()}
            values = [(k == "True") if as_bool else k for k in cats]
            weights = list(cats.values())
            values.append(None)
            weights.append(n_missing / total)
            vals, ws = _finish(values, weights, nullable)
            out[name] = FeatureReference(
                name, "categorical", None, None, None, n_missing / total, cats, vals, ws
            )
    return out


def _frame_of(rows: list[dict[str, Any]], signature: Signature) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=signature.feature_names)
    for spec in signature.inputs:
        if spec["kind"] == "numeric":
            frame[spec["name"]] = frame[spec["name"]].astype("float64")
        elif spec.get("dtype") not in ("bool", "boolean"):
            frame[spec["name"]] = frame[spec["name"]].astype("object")
    return frame


def mean_transformed(
    transform: Callable[[pd.DataFrame], np.ndarray],
    owner: np.ndarray,
    references: Mapping[str, FeatureReference],
    signature: Signature,
) -> tuple[np.ndarray, bool]:
    """Mean of each derived column over a reference known only by its profile.

    Derived columns must each depend on one input only (true of a
    ``ColumnTransformer`` of one-hot encoders, imputers and scalers), so the
    mean of a derived column is the weighted mean over its input's
    representative values. Numeric inputs whose transform is affine (checked
    on the input's range) use their exact mean and missing share; others use
    the bin representatives.

    Returns:
        ``(mean per derived column, exact)``.
    """
    names = signature.feature_names
    filler: dict[str, Any] = {}
    for name in names:
        ref = references[name]
        present = [v for v in ref.values if not _is_missing(v)]
        filler[name] = present[0] if present else ref.values[0]
    exact = True
    plan: list[tuple[int, list[Any], np.ndarray]] = []
    for j, spec in enumerate(signature.inputs):
        ref = references[spec["name"]]
        if ref.kind == "numeric" and ref.mean is not None:
            if _affine(transform, owner == j, spec["name"], ref, filler, signature):
                vals, ws = _finish(
                    [ref.mean, float("nan")],
                    [1.0 - ref.missing_share, ref.missing_share],
                    _spec_nullable(spec),
                )
                plan.append((j, vals, ws))
                continue
            exact = exact and ref.exact_values
        plan.append((j, ref.values, ref.weights))
    rows = [{**filler, names[j]: v} for j, values, _ in plan for v in values]
    z = transform(_frame_of(rows, signature))
    mean = np.zeros(owner.size)
    start = 0
    for j, reps, shares in plan:
        block = z[start : start + len(reps)]
        cols = owner == j
        mean[cols] = shares @ block[:, cols]
        start += len(reps)
    return mean, exact


def _affine(
    transform: Callable[[pd.DataFrame], np.ndarray],
    cols: np.ndarray,
    name: str,
    ref: FeatureReference,
    filler: Mapping[str, Any],
    signature: Signature,
) -> bool:
    low = ref.low if ref.low is not None else ref.mean
    high = ref.high if ref.high is not None else ref.mean
    assert low is not None and high is not None
    if high == low:
        return True
    points = [low, high, (low + high) / 2, low + (high - low) / 4]
    z = transform(_frame_of([{**filler, name: p} for p in points], signature))[:, cols]
    scale = 1.0 + float(np.abs(z).max())
    mid_ok = np.abs(z[2] - (z[0] + z[1]) / 2).max() <= _AFFINE_TOL * scale
    quarter_ok = np.abs(z[3] - (3 * z[0] + z[1]) / 4).max() <= _AFFINE_TOL * scale
    return bool(mid_ok and quarter_ok)
