"""Turning request values into the ONNX graph's input tensors.

Each graph input takes a 1-D array of its dtype (float32, float64, int64 or
string). :func:`as_input` converts what a caller sends (a JSON list, a numpy
array, a pandas column's values) or refuses it with an error naming the
column; :class:`~mlsteward.flavors.onnx.flavor.OnnxModel` tries its fast path
first and comes here for everything else.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Final

import numpy as np

from mlsteward.errors import InvalidInput

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "FLOAT_LIMITS",
    "NP_DTYPES",
    "as_input",
    "missing_column",
    "series_values",
]

#: The numpy dtype of each ONNX input dtype.
NP_DTYPES: Final[dict[str, np.dtype[Any]]] = {
    "float32": np.dtype(np.float32),
    "float64": np.dtype(np.float64),
    "int64": np.dtype(np.int64),
    "string": np.dtype(object),
}
#: Largest magnitude a float input takes without becoming infinite.
FLOAT_LIMITS: Final[dict[str, float]] = {
    "float32": float(np.finfo(np.float32).max),
    "float64": float(np.finfo(np.float64).max) * (1 - 1e-16),
}


def missing_column(name: str, expected: Sequence[str]) -> InvalidInput:
    """The error for input column ``name`` absent from a request."""
    return InvalidInput(
        f"missing input column {name!r}; the ONNX model reads {list(expected)}",
        field=name,
    )


def as_input(name: str, dtype: str, values: Any) -> np.ndarray:
    """A 1-D array of the input's dtype, or an error naming the column."""
    if dtype == "string":
        return _as_strings(name, values)
    target = NP_DTYPES[dtype]
    array = values if isinstance(values, np.ndarray) else _to_array(name, dtype, values)
    if array.ndim != 1:
        if array.ndim == 2 and array.shape[1] == 1:
            array = array[:, 0]
        else:
            raise InvalidInput(
                f"column {name!r} must be a flat list of values, got shape "
                f"{array.shape}",
                field=name,
            )
    kind = array.dtype.kind
    if kind in "iub":
        return array.astype(target, copy=False)
    if kind != "f":
        try:
            array = array.astype(np.float64)
        except (ValueError, TypeError) as exc:
            raise _bad_values(name, dtype, values) from exc
    if dtype == "int64":
        if not (np.isfinite(array).all() and (array == np.round(array)).all()):
            raise _bad_values(name, dtype, values)
        return array.astype(np.int64)
    with np.errstate(over="ignore"):  # too large for float32 -> inf, refused below
        out = array.astype(target, copy=False)
    if np.isinf(out).any():
        raise InvalidInput(
            f"column {name!r} contains infinity or a number too large for "
            f"{dtype}; expected a finite number",
            field=name,
        )
    return out


def _to_array(name: str, dtype: str, values: Any) -> np.ndarray:
    if isinstance(values, (str, bytes)) or not hasattr(values, "__len__"):
        raise _bad_values(name, dtype, values)
    try:
        return np.asarray(values)
    except (ValueError, TypeError) as exc:
        raise _bad_values(name, dtype, values) from exc


def _bad_values(name: str, dtype: str, values: Any) -> InvalidInput:
    expected = {
        "int64": "whole numbers (no missing values)",
        "float32": "numbers (null for missing)",
        "float64": "numbers (null for missing)",
    }[dtype]
    shown = (
        list(values[:3]) if isinstance(values, (list, tuple, np.ndarray)) else values
    )
    return InvalidInput(
        f"column {name!r} must hold {expected} for the ONNX model's {dtype} "
        f"input; got {shown!r}",
        field=name,
    )


def _as_strings(name: str, values: Any) -> np.ndarray:
    # The usual cases first: a list from JSON, an object array from the engine.
    if isinstance(values, np.ndarray):
        if values.dtype.kind == "U" and values.ndim == 1:
            return values.astype(object)
        if values.dtype == object and values.ndim == 1 and _only_str(values):
            return values
    elif isinstance(values, list) and _only_str(values):
        return np.array(values, dtype=object)
    if isinstance(values, str) or not hasattr(values, "__len__"):
        raise InvalidInput(
            f"column {name!r} must be a list of strings, got {type(values).__name__}",
            field=name,
        )
    out = np.empty(len(values), dtype=object)
    for i, value in enumerate(values):
        if type(value) is str:
            out[i] = value
        elif _is_missing(value):
            out[i] = ""  # no category is "", so it scores as unseen
        elif isinstance(value, (str, int, float, np.integer, np.floating, np.str_)):
            out[i] = str(value)
        else:
            raise InvalidInput(
                f"column {name!r} must hold strings for the ONNX model's string "
                f"input; got {type(value).__name__} {value!r}",
                field=name,
            )
    return out


def _only_str(values: Any) -> bool:
    return set(map(type, values)) <= {str}  # C loops; exact str, no subclasses


def _is_missing(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, float):
        return math.isnan(value)
    return type(value).__name__ in ("NAType", "NaTType")


def series_values(series: pd.Series) -> Any:
    """A column as numpy values: numbers as a numeric array, others as objects."""
    import pandas as pd

    dtype = series.dtype
    if pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype):
        if series.hasnans:
            return series.to_numpy(dtype=np.float64, na_value=np.nan)
        return series.to_numpy()
    return series.to_numpy(dtype=object)
