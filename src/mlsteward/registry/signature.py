"""Model signatures: inferred from training data, enforced at prediction."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mlsteward.errors import InvalidInput
from mlsteward.registry.models import Signature

if TYPE_CHECKING:  # imported on use: a serving process may not need pandas
    import pandas as pd

__all__ = ["conform", "infer_signature"]

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


def conform(signature: Signature, X: pd.DataFrame) -> pd.DataFrame:
    """Select and type the signature's columns from ``X``, or say what is wrong.

    Extra columns are dropped (they may be ids or protected attributes logged
    beside the inputs). Missing columns, non-numeric values in numeric
    columns, infinity, and missing values in columns that had none in
    training are refused with the column named.
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
            if not spec.get("nullable", True) and np.isnan(arr).any():
                raise InvalidInput(
                    f"column {name!r} has missing values, which the model did "
                    "not see in training; expected a number",
                    field=name,
                )
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
            if not spec.get("nullable", True) and col.isna().any():
                raise InvalidInput(
                    f"column {name!r} has missing values, which the model did "
                    "not see in training; expected a category",
                    field=name,
                )
            if spec["dtype"] in ("bool", "boolean"):
                out[name] = col
            else:
                as_text = col.map(lambda v: None if pd.isna(v) else str(v))
                target = (
                    spec["dtype"] if spec["dtype"] in ("str", "string") else "object"
                )
                out[name] = as_text.astype(target)
    return pd.DataFrame(out, index=X.index)
