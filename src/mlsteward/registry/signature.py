"""Model signatures: inferred from training data, enforced at prediction."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from mlsteward.errors import InvalidInput
from mlsteward.registry.models import Signature

if TYPE_CHECKING:  # imported on use: a serving process may not need pandas
    import numpy as np
    import pandas as pd

__all__ = [
    "MISSING_REFUSED",
    "accepts_missing",
    "conform",
    "flags_missing",
    "infer_signature",
    "probe_missing",
]

#: Why a missing value is refused, said the same way online and in batch.
MISSING_REFUSED = (
    "the model does not accept a missing value there (training data had "
    "none, and the model does not impute one)"
)
_OUTPUT = {"name": "score", "type": "float64", "meaning": "probability of label 1"}


def infer_signature(X: pd.DataFrame) -> Signature:
    """The input columns of ``X`` with their kinds and dtypes.

    Example:
        >>> import pandas as pd
        >>> sig = infer_signature(pd.DataFrame({"age": [30], "purpose": ["car"]}))
        >>> [(c["name"], c["kind"]) for c in sig.inputs]
        [('age', 'numeric'), ('purpose', 'categorical')]
    """
    import pandas as pd

    inputs: list[dict[str, Any]] = []
    for name in X.columns:
        col = X[name]
        if pd.api.types.is_bool_dtype(col.dtype):
            kind = "categorical"
        elif pd.api.types.is_numeric_dtype(col.dtype):
            kind = "numeric"
        else:
            kind = "categorical"
        inputs.append(
            {
                "name": str(name),
                "kind": kind,
                "dtype": str(col.dtype),
                "nullable": bool(col.isna().any()),
            }
        )
    return Signature(inputs=inputs, output=dict(_OUTPUT))


def _not_numeric(name: str, dtype: str, col: pd.Series) -> InvalidInput:
    """The first value of ``col`` that is not a number, by row (from 1)."""
    import numpy as np
    import pandas as pd

    coerced = pd.to_numeric(col, errors="coerce")
    bad = np.flatnonzero((coerced.isna() & col.notna()).to_numpy())
    pos = int(bad[0]) if len(bad) else 0
    value = col.iloc[pos]
    value = value.item() if hasattr(value, "item") else value
    problem = f"must be numeric ({dtype}), found {value!r}"
    return InvalidInput(
        f"column {name!r}, row {pos + 1}: {problem}",
        field=name,
        row=pos,
        problem=problem,
    )


def accepts_missing(spec: Mapping[str, Any]) -> bool:
    """Whether a missing value in this input is scored rather than refused.

    It is where training data had missing values (``nullable``), or where the
    model's own pipeline scores one (``accepts_missing``, probed at
    registration by :func:`probe_missing`). A signature recorded before the
    probe existed has no ``accepts_missing`` and keeps to ``nullable``.
    """
    return bool(spec.get("nullable", True) or spec.get("accepts_missing", False))


def flags_missing(spec: Mapping[str, Any]) -> bool:
    """Whether a missing value here is scored but flagged: the model accepts
    it, yet training data never had one (a data-quality signal)."""
    return not spec.get("nullable", True) and bool(spec.get("accepts_missing", False))


def probe_missing(
    signature: Signature,
    X: pd.DataFrame,
    predict: Callable[[pd.DataFrame], np.ndarray],
) -> Signature:
    """``signature`` with ``accepts_missing`` recorded for every input.

    An input that had missing values in training accepts them. For each other
    input, the model is asked to score a row of ``X`` (a few training rows)
    with that input missing: it accepts missing values there if it answers a
    finite score (a pipeline that imputes), not if it raises or answers NaN
    (a bare estimator). One call probes every input at once (row ``i`` lacks
    input ``i``); only if that call fails is each input probed alone.

    Example:
        >>> import pandas as pd
        >>> X = pd.DataFrame({"age": [30, 40]})
        >>> sig = probe_missing(infer_signature(X), X, lambda f: f["age"] * 0.0)
        >>> sig.inputs[0]["accepts_missing"]
        False
    """
    probed = [c["name"] for c in signature.inputs if not c.get("nullable", True)]
    accepted = set(_probe(signature, X, probed, predict))
    inputs = [
        {**c, "accepts_missing": bool(c.get("nullable", True) or c["name"] in accepted)}
        for c in signature.inputs
    ]
    return Signature(inputs=inputs, output=dict(signature.output))


def _probe(
    signature: Signature,
    X: pd.DataFrame,
    names: list[str],
    predict: Callable[[pd.DataFrame], np.ndarray],
) -> list[str]:
    """The inputs among ``names`` whose missing values the model scores."""
    import numpy as np
    import pandas as pd

    if not names or X.empty:
        return []
    kinds = {c["name"]: c["kind"] for c in signature.inputs}
    relaxed = Signature(
        inputs=[{**c, "nullable": True} for c in signature.inputs],
        output=dict(signature.output),
    )

    def scores(group: list[str]) -> Any:
        rows = X.iloc[[i % len(X) for i in range(len(group))]].copy()
        for i, name in enumerate(group):
            values = rows[name].astype(object).tolist()
            values[i] = np.nan if kinds[name] == "numeric" else None
            rows[name] = pd.Series(values, index=rows.index, dtype=object)
        # Any error means "not accepted": whatever a flavor raises on a
        # missing value, the answer is the same (refuse such rows).
        try:
            out = np.asarray(predict(conform(relaxed, rows)), dtype="float64")
        except Exception:
            return None
        return out if out.shape == (len(group),) else None

    together = scores(names)
    if together is not None:
        return [n for n, s in zip(names, together, strict=True) if np.isfinite(s)]
    return [
        n for n in names if (one := scores([n])) is not None and np.isfinite(one[0])
    ]


def _missing(name: str, missing: np.ndarray, expected: str) -> InvalidInput:
    """The first missing value the model does not accept, by row (from 1);
    ``row`` in the details counts from 0, ``problem`` says what is wrong."""
    import numpy as np

    pos = int(np.flatnonzero(missing)[0])
    problem = f"missing, but {MISSING_REFUSED}; expected {expected}"
    return InvalidInput(
        f"column {name!r}, row {pos + 1}: {problem}",
        field=name,
        row=pos,
        problem=problem,
    )


def conform(signature: Signature, X: pd.DataFrame) -> pd.DataFrame:
    """Select and type the signature's columns from ``X``, or say what is wrong.

    Extra columns are dropped (they may be ids or protected attributes logged
    beside the inputs). Missing columns, non-numeric values in numeric
    columns, infinity, and missing values the model does not accept
    (:func:`accepts_missing`) are refused with the column named.
    """
    import numpy as np
    import pandas as pd

    missing = [c["name"] for c in signature.inputs if c["name"] not in X.columns]
    if missing:
        raise InvalidInput(
            f"missing input column(s) {missing}; the model expects "
            f"{signature.feature_names}",
            field=missing[0],
        )
    out = {}
    for spec in signature.inputs:
        name = spec["name"]
        col = X[name]
        if spec["kind"] == "numeric":
            try:
                values = pd.to_numeric(col, errors="raise")
            except (ValueError, TypeError) as exc:
                raise _not_numeric(name, spec["dtype"], col) from exc
            arr = values.to_numpy(dtype="float64", na_value=np.nan)
            if np.isinf(arr).any():
                raise InvalidInput(
                    f"column {name!r} contains infinity; expected a finite number",
                    field=name,
                )
            if not accepts_missing(spec) and np.isnan(arr).any():
                raise _missing(name, np.isnan(arr), "a number")
            dtype = spec["dtype"]
            if dtype.startswith("int") and not np.isnan(arr).any():
                if not np.all(np.mod(arr, 1) == 0):
                    raise InvalidInput(
                        f"column {name!r} must hold whole numbers ({dtype})",
                        field=name,
                    )
                out[name] = arr.astype(dtype)
            else:
                out[name] = arr
        else:
            if not accepts_missing(spec) and col.isna().any():
                raise _missing(name, col.isna().to_numpy(), "a category")
            if spec["dtype"] in ("bool", "boolean"):
                out[name] = col
            else:
                as_text = col.map(lambda v: None if pd.isna(v) else str(v))
                target = (
                    spec["dtype"] if spec["dtype"] in ("str", "string") else "object"
                )
                out[name] = as_text.astype(target)
    return pd.DataFrame(out, index=X.index)
