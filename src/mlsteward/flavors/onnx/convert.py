"""Converting scikit-learn pipelines to ONNX, with a parity check.

Split from :mod:`mlsteward.flavors.onnx.flavor` (the flavor: saving, safe loading,
scoring); :func:`convert_sklearn` is re-exported there.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from mlsteward.errors import InvalidInput
from mlsteward.flavors.base import positive_class_proba
from mlsteward.flavors.onnx.flavor import PARITY_ATOL, TARGET_OPSET, OnnxFlavor

if TYPE_CHECKING:
    import onnx
    import pandas as pd

__all__ = ["convert_sklearn"]


# --- conversion from scikit-learn ------------------------------------------------


def convert_sklearn(
    model: object,
    sample: pd.DataFrame,
    *,
    atol: float = PARITY_ATOL,
    target_opset: Mapping[str, int] | None = None,
) -> bytes:
    """Convert a fitted scikit-learn binary classifier to checked ONNX bytes.

    The graph gets one input per feature column, typed from ``sample``'s
    dtypes: integer columns ``int64``, float columns ``float`` (float32;
    NaN = missing), string, object and category columns ``string``. A model
    that does not start with a ``ColumnTransformer`` is wrapped in one that
    passes the columns through, so that it too reads one input per column.
    Probabilities come out as a ``[N, 2]`` tensor (no ZipMap).

    Parity: ``sample`` is scored by the source model and by the ONNX graph in
    ONNX Runtime; if P(label 1) differs anywhere by more than ``atol``, the
    conversion is refused. Pass held-out rows that cover the categories.

    Args:
        model: A fitted scikit-learn classifier with two classes, e.g. a
            ``Pipeline(ColumnTransformer, LogisticRegression)``.
        sample: Feature rows (at least one) with the columns the model was
            fitted on; extra columns are ignored when the model knows its
            ``feature_names_in_``.
        atol: Largest accepted absolute difference in P(label 1).
        target_opset: Opsets to target; defaults to :data:`TARGET_OPSET`.

    Returns:
        Serialized ONNX ``ModelProto`` bytes, ready for
        ``register_model(name, data, X, flavor="onnx")``. Its metadata records
        the converter versions, the source model's class and the measured
        parity (``mlsteward.parity_max_abs_diff``).

    Raises:
        InvalidInput: The model is not a fitted binary classifier, a column
            has a type ONNX cannot take, skl2onnx cannot convert the model
            (HistGradientBoosting fails with skl2onnx 1.20 and onnx 1.23), or
            the converted graph disagrees with the model beyond ``atol``.

    Example:
        >>> data = convert_sklearn(pipeline, X_holdout)  # doctest: +SKIP
        >>> meta = OnnxFlavor().load(data).metadata  # doctest: +SKIP
        >>> meta["mlsteward.parity_max_abs_diff"]  # doctest: +SKIP
        '1.1e-07'
    """
    import pandas as pd

    if not isinstance(sample, pd.DataFrame) or len(sample) == 0:
        raise InvalidInput(
            "sample must be a non-empty pandas DataFrame of feature rows; it "
            "types the ONNX inputs and checks parity",
            field="sample",
        )
    if not (isinstance(atol, (int, float)) and 0 <= atol < 1):
        raise InvalidInput(f"atol must be in [0, 1), got {atol!r}", field="atol")
    _require_fitted_binary(model)
    columns = _feature_columns(model, sample)
    frame = sample[columns]
    initial_types = [(name, _tensor_type(name, frame[name])) for name in columns]
    wrapped = _with_column_inputs(model, frame)
    proto = _run_converter(model, wrapped, initial_types, target_opset)
    raw = proto.SerializeToString()
    loaded = OnnxFlavor().load(raw)
    expected = positive_class_proba(
        np.asarray(model.predict_proba(frame))[:, 1],  # type: ignore[attr-defined]
        len(frame),
        flavor="sklearn",
    )
    got = OnnxFlavor().predict_proba(loaded, frame)
    diff = np.abs(got - expected)
    worst = int(np.argmax(diff))
    if not diff[worst] <= atol:
        raise InvalidInput(
            f"The ONNX conversion of the {type(model).__name__} disagrees with "
            f"it: P(label 1) differs by up to {diff[worst]:.3g} (row "
            f"{frame.index[worst]!r}: {expected[worst]:.6g} vs "
            f"{got[worst]:.6g}), above the tolerance {atol:g}. Keep the "
            "scikit-learn flavor for this model, or report the converter bug.",
            field="model",
            max_abs_diff=float(diff[worst]),
        )
    _annotate(proto, model, float(diff.max()), len(frame))
    return proto.SerializeToString()


def _require_fitted_binary(model: object) -> None:
    from sklearn.base import is_classifier
    from sklearn.exceptions import NotFittedError
    from sklearn.utils.validation import check_is_fitted

    name = type(model).__name__
    if not (is_classifier(model) and hasattr(model, "predict_proba")):
        raise InvalidInput(
            f"convert_sklearn converts scikit-learn classifiers with "
            f"predict_proba; got a {type(model).__module__}.{name}.",
            field="model",
        )
    try:
        check_is_fitted(model)
    except NotFittedError as exc:
        raise InvalidInput(
            f"The {name} is not fitted; fit it before converting.", field="model"
        ) from exc
    classes = getattr(model, "classes_", None)
    if classes is None or len(classes) != 2:
        raise InvalidInput(
            f"mlsteward scores binary classifiers; this {name} has classes "
            f"{classes!r}. The positive (bad) class is classes_[1].",
            field="model",
        )


def _feature_columns(model: object, sample: pd.DataFrame) -> list[str]:
    names = getattr(model, "feature_names_in_", None)
    if names is None:
        return [str(c) for c in sample.columns]
    columns = [str(c) for c in names]
    missing = [c for c in columns if c not in sample.columns]
    if missing:
        raise InvalidInput(
            f"sample lacks column(s) {missing} the model was fitted on; it "
            f"needs {columns}",
            field=missing[0],
        )
    return columns


def _tensor_type(name: str, column: pd.Series) -> Any:
    import pandas as pd
    from skl2onnx.common.data_types import (
        FloatTensorType,
        Int64TensorType,
        StringTensorType,
    )

    dtype = column.dtype
    if pd.api.types.is_bool_dtype(dtype):
        raise InvalidInput(
            f"column {name!r} is boolean; ONNX conversion takes numbers and "
            "strings. Cast it to int or str before fitting.",
            field=name,
        )
    if pd.api.types.is_integer_dtype(dtype) and isinstance(dtype, np.dtype):
        return Int64TensorType([None, 1])
    if pd.api.types.is_numeric_dtype(dtype):  # floats, nullable integers
        return FloatTensorType([None, 1])
    if (
        pd.api.types.is_string_dtype(dtype)
        or isinstance(dtype, pd.CategoricalDtype)
        or dtype == np.dtype(object)
    ):
        return StringTensorType([None, 1])
    raise InvalidInput(
        f"column {name!r} has dtype {dtype}; ONNX conversion takes integer, "
        "float, string and category columns",
        field=name,
    )


def _with_column_inputs(model: object, frame: pd.DataFrame) -> object:
    """The model, or a pipeline that first passes each column through."""
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline

    if isinstance(model, ColumnTransformer) or (
        isinstance(model, Pipeline) and isinstance(model.steps[0][1], ColumnTransformer)
    ):
        return model
    columns = ColumnTransformer([("columns", "passthrough", list(frame.columns))])
    return Pipeline([("columns", columns.fit(frame)), ("model", model)])


def _run_converter(
    model: object,
    wrapped: object,
    initial_types: list[tuple[str, Any]],
    target_opset: Mapping[str, int] | None,
) -> onnx.ModelProto:
    try:
        from skl2onnx import convert_sklearn as skl2onnx_convert
    except ImportError as exc:
        raise InvalidInput(
            "Converting to ONNX needs skl2onnx: pip install 'mlsteward[onnx]'.",
            field="model",
        ) from exc
    options = {id(model): {"zipmap": False}, id(wrapped): {"zipmap": False}}
    try:
        with warnings.catch_warnings():
            # skl2onnx casts SimpleImputer's NaN marker for int64 inputs, where
            # no value can be NaN anyway.
            warnings.filterwarnings("ignore", "invalid value encountered in cast")
            return skl2onnx_convert(
                wrapped,
                initial_types=initial_types,
                options=options,
                target_opset=dict(target_opset or TARGET_OPSET),
            )
    except Exception as exc:
        cause = exc.__cause__ or exc.__context__
        lines = str(exc).splitlines() or [type(exc).__name__]
        detail = lines[0][:300] + (f" (caused by: {cause})" if cause else "")
        raise InvalidInput(
            f"skl2onnx could not convert the {type(model).__name__}: {detail}. "
            "Keep the scikit-learn flavor for this model.",
            field="model",
        ) from exc


def _annotate(
    proto: onnx.ModelProto, model: object, max_abs_diff: float, rows: int
) -> None:
    import onnx
    import skl2onnx
    import sklearn

    cls = type(model)
    proto.producer_name = "mlsteward"
    props = {
        "mlsteward.source_model": f"{cls.__module__}.{cls.__qualname__}",
        "mlsteward.converter": (
            f"skl2onnx {skl2onnx.__version__}; onnx {onnx.__version__}; "
            f"scikit-learn {sklearn.__version__}"
        ),
        "mlsteward.parity_max_abs_diff": f"{max_abs_diff:.3g}",
        "mlsteward.parity_rows": str(rows),
    }
    onnx.helper.set_model_props(proto, props)
