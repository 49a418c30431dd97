"""A loaded model version ready to score validated columns.

The model gets exactly the frame :func:`mlsteward.registry.signature.conform`
would build (same columns, order and dtypes), built straight from validated
column lists rather than through a per-request DataFrame of raw records. A
flavor that can score columns without pandas declares it by implementing
:class:`ColumnarFlavor`; the server then skips the DataFrame altogether.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np

from mlsteward.registry.service import LoadedModel

__all__ = ["ColumnarFlavor", "LiveModel", "known_categories"]


@runtime_checkable
class ColumnarFlavor(Protocol):
    """Optional flavor ability: score column arrays without a DataFrame.

    ``columns`` maps each signature input to its validated values, one per
    row, as :class:`mlsteward.serving.schema.RequestSchema` leaves them
    (lists, usually): numbers (whole numbers for whole-number columns),
    ``str`` for categorical columns, ``bool`` for boolean ones, ``None`` for
    missing. The result must equal ``predict_proba`` on the frame
    :func:`mlsteward.registry.signature.conform` would build from them.
    """

    def predict_proba_columns(
        self, model: Any, columns: Mapping[str, np.ndarray], n_rows: int
    ) -> np.ndarray: ...


@runtime_checkable
class CategoriesFlavor(Protocol):
    """Optional flavor ability: the categories a model knows, per column."""

    def categories(self, model: Any) -> Mapping[str, Sequence[str]]: ...


class LiveModel:
    """One model version in a serving process.

    Args:
        loaded: The version, loaded after its checksum was verified.
    """

    def __init__(self, loaded: LoadedModel) -> None:
        self.loaded = loaded
        self.version = loaded.version
        self.label = str(loaded.version.version)
        self.specs = [
            (
                str(c["name"]),
                str(c["kind"]),
                str(c["dtype"]),
            )
            for c in loaded.version.signature.inputs
        ]
        self.columnar = isinstance(loaded.flavor, ColumnarFlavor)

    def arrays(self, columns: Mapping[str, Sequence[Any]]) -> dict[str, Any]:
        """Column arrays typed as ``conform`` types them."""
        import pandas as pd

        out: dict[str, Any] = {}
        for name, kind, dtype in self.specs:
            values = columns[name]
            if kind == "numeric":
                arr = np.asarray(
                    [np.nan if v is None else v for v in values]
                    if None in values
                    else values,
                    dtype=np.float64,
                )
                if dtype.startswith(("int", "uint")) and not np.isnan(arr).any():
                    arr = arr.astype(dtype)
                out[name] = arr
            elif dtype in ("bool", "boolean"):
                out[name] = (
                    np.asarray(values, dtype=object)
                    if None in values
                    else np.asarray(values, dtype=bool)
                )
            elif dtype in ("str", "string") and not self.columnar:
                out[name] = pd.array(list(values), dtype=dtype)  # type: ignore[call-overload]
            else:
                out[name] = np.asarray(values, dtype=object)
        return out

    def frame(self, columns: Mapping[str, Sequence[Any]]) -> Any:
        """The frame ``conform`` would build from these columns."""
        import pandas as pd

        return pd.DataFrame(self.arrays(columns), copy=False)

    def score(self, columns: Mapping[str, Sequence[Any]], n: int) -> np.ndarray:
        """Probability of label 1 for each of the ``n`` rows."""
        flavor = self.loaded.flavor
        if self.columnar:
            scores = flavor.predict_proba_columns(  # type: ignore[attr-defined]
                self.loaded.model, columns, n
            )
        else:
            scores = flavor.predict_proba(self.loaded.model, self.frame(columns))
        return np.asarray(scores, dtype=np.float64)


def known_categories(loaded: LoadedModel) -> dict[str, frozenset[str]]:
    """Categories the model was fitted on, per input column, where knowable.

    The flavor's own ``categories(model)`` is used if it has one; otherwise
    scikit-learn pipelines are read (one-hot and ordinal encoders applied
    directly to input columns). Columns not found are not checked for unseen
    values.
    """
    if isinstance(loaded.flavor, CategoriesFlavor):
        found = loaded.flavor.categories(loaded.model)
        return {k: frozenset(str(v) for v in vs) for k, vs in found.items()}
    if type(loaded.model).__module__.partition(".")[0] != "sklearn":
        return {}
    categorical = {
        c["name"]
        for c in loaded.version.signature.inputs
        if c["kind"] == "categorical" and c["dtype"] not in ("bool", "boolean")
    }
    out: dict[str, frozenset[str]] = {}
    for name, cats in _sklearn_categories(loaded.model):
        if name in categorical:
            known = frozenset(str(c) for c in cats if isinstance(c, str))
            out[name] = out[name] | known if name in out else known
    return out


def _sklearn_categories(model: Any) -> list[tuple[str, Any]]:
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder

    found: list[tuple[str, Any]] = []
    stack = [model]
    while stack:
        obj = stack.pop()
        if isinstance(obj, Pipeline):
            stack.extend(step for _, step in obj.steps)
        elif isinstance(obj, ColumnTransformer) and hasattr(obj, "transformers_"):
            names_in = list(getattr(obj, "feature_names_in_", []))
            for _, trans, cols in obj.transformers_:
                encoder = trans
                if isinstance(trans, Pipeline) and trans.steps:
                    encoder = trans.steps[0][1]
                if not isinstance(encoder, (OneHotEncoder, OrdinalEncoder)):
                    continue
                if not hasattr(encoder, "categories_"):
                    continue
                col_names = _column_names(cols, names_in)
                if len(col_names) != len(encoder.categories_):
                    continue
                found.extend(zip(col_names, encoder.categories_, strict=True))
    return found


def _column_names(cols: Any, names_in: list[str]) -> list[str]:
    arr = np.asarray(cols)
    if arr.dtype == bool:
        return [names_in[i] for i in np.flatnonzero(arr)]
    if arr.dtype.kind in "iu":
        return [names_in[int(i)] for i in arr]
    return [str(c) for c in arr]
