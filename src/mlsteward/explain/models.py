"""How each kind of model is taken apart for reason codes.

Resolving what the caller handed to :class:`~mlsteward.explain.explainer.Explainer`
(a ``LoadedModel`` or ``(flavor, model, signature)``), choosing the method,
tracing a scikit-learn pipeline's derived columns back to its inputs, and
LightGBM's own contributions. Pure: numpy, pandas, scikit-learn, LightGBM.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from mlsteward.errors import InvalidInput
from mlsteward.registry.models import Signature
from mlsteward.registry.signature import infer_signature

if TYPE_CHECKING:
    from mlsteward.flavors.base import Flavor

__all__ = [
    "Method",
    "auto_method",
    "lightgbm_contributions",
    "linear_structure",
    "profile_columns",
    "resolve_model",
    "transform",
]

Method = Literal["linear", "lightgbm", "occlusion"]


# -- resolving the model ---------------------------------------------------------
def resolve_model(model: Any, reference: Any) -> tuple[Flavor, Any, Signature]:
    from mlsteward.flavors import get_flavor

    if all(hasattr(model, a) for a in ("version", "flavor", "model")):
        return model.flavor, model.model, model.version.signature
    if isinstance(model, tuple) and len(model) == 3:
        flavor, inner, signature = model
        if isinstance(flavor, str):
            flavor = get_flavor(flavor)
        if not isinstance(signature, Signature):
            names = [signature] if isinstance(signature, str) else list(signature)
            if not isinstance(reference, pd.DataFrame):
                raise InvalidInput(
                    "give a Signature, or pass reference= a frame holding the "
                    f"input columns {names} so their types can be inferred",
                    field="signature",
                )
            missing = [c for c in names if c not in reference.columns]
            if missing:
                raise InvalidInput(
                    f"the reference frame lacks input column(s) {missing}",
                    field=missing[0],
                )
            signature = infer_signature(reference[names])
        return flavor, inner, signature
    raise InvalidInput(
        "model must be a LoadedModel (ModelRegistry.load) or a tuple "
        f"(flavor, model, signature); got {type(model).__name__}",
        field="model",
    )


def profile_columns(reference: Any) -> Mapping[str, Any]:
    profile = getattr(reference, "profile", reference)
    if isinstance(profile, Mapping):
        columns = profile.get("columns")
        if isinstance(columns, Mapping):
            return columns
        if all(isinstance(v, Mapping) and "kind" in v for v in profile.values()):
            return profile
    raise InvalidInput(
        "reference must be a DataFrame, a dataset profile ({'columns': ...}), "
        f"a dataset version, or None; got {type(reference).__name__}",
        field="reference",
    )


def auto_method(flavor: Flavor, model: Any) -> Method:
    if flavor.name == "lightgbm":
        return "lightgbm"
    if _final_logistic(model) is not None:
        return "linear"
    return "occlusion"


def _final_logistic(model: Any) -> tuple[Any, Any] | None:
    """``(preprocessor or None, LogisticRegression)`` if the model is one."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline

    if isinstance(model, LogisticRegression):
        last, pre = model, None
    elif isinstance(model, Pipeline) and isinstance(
        model.steps[-1][1], LogisticRegression
    ):
        last = model.steps[-1][1]
        rest = [s for s in model.steps[:-1] if s[1] not in (None, "passthrough")]
        pre = None if not rest else rest[0][1] if len(rest) == 1 else Pipeline(rest)
    else:
        return None
    coef = getattr(last, "coef_", None)
    if coef is None or coef.shape[0] != 1:
        return None
    return pre, last


def linear_structure(
    model: Any, features: Sequence[str]
) -> tuple[Any, np.ndarray, float, np.ndarray] | None:
    """Preprocessor, coefficients, intercept and the input each derived
    column comes from (an index into ``features``), or ``None``."""
    found = _final_logistic(model)
    if found is None:
        return None
    pre, lr = found
    coef = np.asarray(lr.coef_, dtype=np.float64).ravel()
    intercept = float(np.asarray(lr.intercept_).ravel()[0])
    if pre is None:
        names: list[str] = list(getattr(lr, "feature_names_in_", features))
    else:
        try:
            names = _output_owners(pre, list(features))
        except (AttributeError, ValueError, TypeError, KeyError):
            return None
    if len(names) != coef.size:
        return None
    index = {f: i for i, f in enumerate(features)}
    if any(n not in index for n in names):
        return None
    return pre, coef, intercept, np.array([index[n] for n in names])


def _output_owners(pre: Any, features: list[str]) -> list[str]:
    """The input feature each output column of ``pre`` is derived from."""
    from sklearn.compose import ColumnTransformer

    if isinstance(pre, ColumnTransformer):
        width = max((s.stop for s in pre.output_indices_.values()), default=0)
        owners: list[str | None] = [None] * width
        names_in = list(getattr(pre, "feature_names_in_", features))
        for name, trans, cols in pre.transformers_:
            out = pre.output_indices_.get(name, slice(0, 0))
            if trans == "drop" or out.stop <= out.start:
                continue
            inputs = _column_names(cols, names_in)
            if trans == "passthrough":
                produced = inputs
            else:
                produced = [str(n) for n in trans.get_feature_names_out()]
            for k, produced_name in enumerate(produced):
                owners[out.start + k] = _owner(produced_name, inputs)
        if any(o is None for o in owners):
            raise ValueError("a derived column has no input")
        return [str(o) for o in owners]
    produced = [str(n) for n in pre.get_feature_names_out()]
    found = [_owner(n, features) for n in produced]
    if any(o is None for o in found):
        raise ValueError("a derived column has no input")
    return [str(o) for o in found]


def _column_names(cols: Any, names_in: list[str]) -> list[str]:
    if isinstance(cols, str):
        return [cols]
    if isinstance(cols, slice):
        return names_in[cols]
    values = list(cols)
    if values and all(isinstance(v, (bool, np.bool_)) for v in values):
        return [n for n, keep in zip(names_in, values, strict=True) if keep]
    return [names_in[int(v)] if not isinstance(v, str) else v for v in values]


def _owner(name: str, inputs: Sequence[str]) -> str | None:
    """Which input a derived column name comes from: the input itself, else
    the longest input it starts with (``purpose_car``), else the longest it
    contains (``missingindicator_age``). A one-input transformer owns all."""
    if len(inputs) == 1:
        return inputs[0]
    if name in inputs:
        return name
    prefixed = [c for c in inputs if name.startswith(f"{c}_")]
    if prefixed:
        return max(prefixed, key=len)
    inside = [c for c in inputs if c in name]
    return max(inside, key=len) if inside else None


def transform(pre: Any, frame: pd.DataFrame) -> np.ndarray:
    if pre is None:
        return frame.to_numpy(dtype=np.float64)
    z = pre.transform(frame)
    if hasattr(z, "toarray"):
        z = z.toarray()
    return np.asarray(z, dtype=np.float64)


# -- LightGBM --------------------------------------------------------------------
def lightgbm_contributions(
    model: Any, frame: pd.DataFrame, features: tuple[str, ...]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    from mlsteward.flavors.lightgbm import _align, _booster

    booster = _booster(model)
    aligned = _align(booster, frame)
    contrib = np.asarray(booster.predict(aligned, pred_contrib=True), dtype=np.float64)
    raw = np.asarray(booster.predict(aligned, raw_score=True), dtype=np.float64)
    names = [str(n) for n in booster.feature_name()]
    out = np.zeros((len(frame), len(features)))
    index = {f.replace(" ", "_"): j for j, f in enumerate(features)}
    for k, name in enumerate(names):
        j = index.get(name)
        if j is None:
            raise InvalidInput(
                f"the LightGBM model uses feature {name!r}, which its signature "
                f"lacks ({list(features)})",
                field="model",
            )
        out[:, j] += contrib[:, k]
    return out, raw, contrib[:, -1]
