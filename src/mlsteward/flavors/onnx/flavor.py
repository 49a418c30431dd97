"""The ONNX flavor: a checked protobuf graph scored by ONNX Runtime.

An ONNX model is a protobuf description of a computation graph, not a pickle:
loading it runs no Python code from the artifact. What it can still do is
name operators from custom domains (which ONNX Runtime resolves to native
code registered by a library) and point its tensors at external files (which
ONNX Runtime would read from the local disk). So before ONNX Runtime sees the
bytes, mlsteward checks that every operator comes from the standard domains
(``ai.onnx`` and ``ai.onnx.ml``), that no tensor lives outside the artifact,
and that the graph has the shape mlsteward scores: one input per column
(float, double, int64 or string; shape ``[N, 1]`` or ``[N]``) and a float
probability output of shape ``[N, 2]`` whose column 1 is the positive class.

The session runs on the CPU provider with one intra-op and one inter-op
thread and sequential execution: rows are scored one request at a time, and
thread pools only add latency and contention on a busy serving machine.

scikit-learn models become ONNX through :func:`convert_sklearn`, which scores
a sample with both and refuses the conversion when they disagree (ONNX
computes in float32, so agreement is to about ``1e-7``; the default tolerance
is ``1e-5``).

Example:
    >>> from mlsteward.flavors.onnx.flavor import convert_sklearn
    >>> onnx_bytes = convert_sklearn(pipeline, X_holdout)  # doctest: +SKIP
    >>> client.register_model(  # doctest: +SKIP
    ...     "credit-risk", onnx_bytes, X_train, flavor="onnx"
    ... )

Conversion needs ``skl2onnx`` and scikit-learn; loading and scoring need only
``onnx``, ``onnxruntime`` and numpy (pandas only for :meth:`predict_proba`),
which keeps a serving process small and quick to start.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

import numpy as np

from mlsteward.errors import InvalidInput, MlstewardError
from mlsteward.flavors.base import Flavor, positive_class_proba, refuse_pickle
from mlsteward.flavors.onnx.graph import (
    FIELDS,
    STANDARD_DOMAINS,
    OnnxInput,
    categories,
    check_graph,
    read,
)
from mlsteward.flavors.onnx.inputs import (
    FLOAT_LIMITS,
    NP_DTYPES,
    as_input,
    missing_column,
    series_values,
)

if TYPE_CHECKING:
    import onnxruntime
    import pandas as pd

__all__ = [
    "PARITY_ATOL",
    "STANDARD_DOMAINS",
    "TARGET_OPSET",
    "OnnxFlavor",
    "OnnxInput",
    "OnnxModel",
    "convert_sklearn",
]

#: Opsets :func:`convert_sklearn` targets (skl2onnx emits the lowest version
#: each operator needs, up to these). Pinned so that a converter upgrade
#: cannot silently change the graphs mlsteward produces; checked with
#: skl2onnx 1.20, onnx 1.23 and onnxruntime 1.32.
TARGET_OPSET: Final[dict[str, int]] = {"": 21, "ai.onnx.ml": 3}

#: Largest absolute difference in P(label 1) that :func:`convert_sklearn`
#: accepts between the source model and its ONNX graph (float32 inside).
PARITY_ATOL: Final = 1e-5

_MODEL: Final = FIELDS["ModelProto"]
_GRAPH: Final = FIELDS["GraphProto"]


def _onnx() -> Any:
    try:
        import onnx
    except ImportError as exc:  # an optional extra
        raise InvalidInput(
            "The onnx flavor needs onnx and onnxruntime: "
            "pip install 'mlsteward[onnx]'.",
            field="flavor",
        ) from exc
    return onnx


def _ort() -> Any:
    try:
        import onnxruntime
    except ImportError as exc:
        raise InvalidInput(
            "The onnx flavor needs onnxruntime: pip install 'mlsteward[onnx]'.",
            field="flavor",
        ) from exc
    return onnxruntime


class OnnxModel:
    """A loaded ONNX model: an ONNX Runtime session and how to feed it.

    Made by :meth:`OnnxFlavor.load`; hand it to :meth:`OnnxFlavor.predict_proba`
    (a DataFrame) or call :meth:`predict_columns` (one array per column, the
    serving path). Scoring is thread-safe.

    Attributes:
        data: The artifact bytes the model was loaded from.
        inputs: One :class:`OnnxInput` per graph input, in graph order.
        output: Name of the probability output, shape ``[N, 2]``.
        metadata: The graph's ``metadata_props`` (converter, parity, ...).
    """

    __slots__ = ("_run", "_specs", "data", "inputs", "metadata", "output", "session")

    def __init__(
        self,
        session: onnxruntime.InferenceSession,
        data: bytes,
        inputs: tuple[OnnxInput, ...],
        output: str,
        metadata: dict[str, str],
    ) -> None:
        self.session = session
        self.data = data
        self.inputs = inputs
        self.output = output
        self.metadata = metadata
        self._run = session.run
        self._specs = tuple((i.name, i.dtype, i.rank) for i in inputs)

    @property
    def input_names(self) -> list[str]:
        """Column names the model reads, in graph order."""
        return [i.name for i in self.inputs]

    def predict_columns(self, columns: Mapping[str, Any]) -> np.ndarray:
        """P(label 1) for rows given column by column.

        Args:
            columns: ``{column: values}`` for every name in
                :attr:`input_names` (extra keys are ignored). Values are 1-D
                arrays or sequences of equal length; numbers for numeric
                inputs (whole numbers for int64 ones; ``None``/NaN means
                missing for float ones), strings for string inputs (``None``
                becomes ``""``, which scores as an unseen category).

        Returns:
            1-D float64 array, one probability per row.

        Raises:
            InvalidInput: A column is missing, has the wrong length, or holds
                values its input cannot take; the column is named.

        Example:
            >>> cols = {"age": [30], "purpose": ["car"]}
            >>> model.predict_columns(cols)  # doctest: +SKIP
            array([0.1034])
        """
        feed = self._plain_feed(columns)
        if feed is not None:
            return self._score(feed)
        feed = {}
        n = -1
        for name, dtype, rank in self._specs:
            try:
                values = columns[name]
            except KeyError:
                raise missing_column(name, self.input_names) from None
            array = as_input(name, dtype, values)
            if n != array.shape[0]:
                if n >= 0:
                    raise InvalidInput(
                        f"column {name!r} has {array.shape[0]} values but "
                        f"{self._specs[0][0]!r} has {n}; every column needs one "
                        "value per row",
                        field=name,
                    )
                n = array.shape[0]
            feed[name] = array.reshape(-1, 1) if rank == 2 else array
        if n <= 0:
            return np.empty(0, dtype=np.float64)
        return self._score(feed)

    def _plain_feed(self, columns: Mapping[str, Any]) -> dict[str, Any] | None:
        """The feed for the common case, with no per-value Python work:
        every column a non-empty list of equal length, strings for string
        inputs, ints for int64 ones, finite numbers for float ones (no
        missing values anywhere). None when any column is otherwise: the
        general path then converts it or names what is wrong."""
        feed: dict[str, Any] = {}
        n = -1
        for name, dtype, rank in self._specs:
            values = columns.get(name)
            if type(values) is not list or not values or None in values:
                return None
            if n != len(values):
                if n >= 0:
                    return None
                n = len(values)
            kinds = set(map(type, values))
            if dtype == "string":
                if kinds != {str}:
                    return None
                array = np.array(values, dtype=object)
            elif dtype == "int64":
                if kinds != {int}:
                    return None
                try:
                    array = np.array(values, dtype=np.int64)
                except OverflowError:
                    return None
            else:
                if not kinds <= {int, float}:
                    return None
                top = max(max(values), -min(values))
                if not top < FLOAT_LIMITS[dtype]:  # also false for NaN
                    return None
                array = np.array(values, dtype=NP_DTYPES[dtype])
            feed[name] = array.reshape(n, 1) if rank == 2 else array
        return feed

    def _score(self, feed: dict[str, Any]) -> np.ndarray:
        try:
            proba = self._run([self.output], feed)[0]
        except Exception as exc:  # onnxruntime raises its own error types
            raise InvalidInput(
                f"The ONNX model could not score the input: {exc}", field="X"
            ) from exc
        return np.asarray(proba[:, 1], dtype=np.float64)

    def __repr__(self) -> str:
        return f"<OnnxModel inputs={len(self.inputs)} output={self.output!r}>"


class OnnxFlavor(Flavor):
    """ONNX binary classifiers, stored as the serialized ``ModelProto``.

    :meth:`save` accepts an ``onnx.ModelProto``, its serialized bytes, or a
    loaded :class:`OnnxModel`; :meth:`load` returns an :class:`OnnxModel`.
    scikit-learn models are converted first with :func:`convert_sklearn`.

    Example:
        >>> flavor = OnnxFlavor()
        >>> model = flavor.load(flavor.save(onnx_bytes))  # doctest: +SKIP
        >>> flavor.predict_proba(model, frame)  # doctest: +SKIP
        array([0.11, 0.72])
        >>> flavor.predict_columns(model, {"age": [30], ...})  # doctest: +SKIP
        array([0.11])
    """

    name = "onnx"
    extension = ".onnx"

    def can_save(self, model: object) -> bool:
        """True for an ``onnx.ModelProto``, an :class:`OnnxModel`, or bytes
        that parse as an ONNX model with a graph."""
        if isinstance(model, OnnxModel):
            return True
        if isinstance(model, (bytes, bytearray, memoryview)):
            try:
                _, graph = read(bytes(model))
            except MlstewardError:
                return False
            return graph.has(_GRAPH["node"])
        cls = type(model)
        return cls.__module__.startswith("onnx.") and cls.__name__ == "ModelProto"

    def save(self, model: object) -> bytes:
        """Check an ONNX model and return its bytes.

        Raises:
            InvalidInput: Not an ONNX model (a scikit-learn model gets told to
                convert it first), or a graph mlsteward cannot score.
            UnsafeArtifact: The graph uses custom operator domains or
                external data.
        """
        if isinstance(model, OnnxModel):
            return model.data
        if isinstance(model, (bytes, bytearray, memoryview)):
            raw = refuse_pickle(model, flavor=self.name)
        elif self.can_save(model):
            raw = model.SerializeToString()  # type: ignore[attr-defined]
        else:
            raise _not_onnx(model)
        check_graph(*read(raw))
        _check_model(raw)  # the onnx package's full checker, at registration
        return raw

    def load(self, data: bytes) -> OnnxModel:
        """Check ONNX bytes and open an ONNX Runtime session on them.

        Raises:
            UnsafeArtifact: A pickle, custom operator domains, model-local
                functions or external data.
            InvalidInput: Not an ONNX model, or not one with a column per
                input and a ``[N, 2]`` probability output.
        """
        raw = refuse_pickle(data, flavor=self.name)
        # The structural and safety checks read the bytes directly: a
        # serving process never imports the onnx package (28 MB resident).
        # The full checker ran at registration, on these very bytes (their
        # checksum is verified before load), and ONNX Runtime validates the
        # graph again as it opens the session.
        model, graph = read(raw)
        inputs, output = check_graph(model, graph)
        ort = _ort()
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.log_severity_level = 3  # errors only; warnings become exceptions
        try:
            session = ort.InferenceSession(
                raw, sess_options=options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:
            raise InvalidInput(
                f"ONNX Runtime could not load the onnx artifact: {exc}",
                field="data",
            ) from exc
        entry = FIELDS["StringStringEntryProto"]
        metadata = {
            p.string(entry["key"]): p.string(entry["value"])
            for p in model.messages(_MODEL["metadata_props"])
        }
        return OnnxModel(session, raw, inputs, output, metadata)

    def predict_proba(self, model: object, X: pd.DataFrame) -> np.ndarray:
        """P(label 1) for each row of ``X``, as float64.

        ``model`` may be an :class:`OnnxModel`, or anything :meth:`save`
        accepts (it is then loaded first, which costs a session per call).

        Raises:
            InvalidInput: ``X`` is not a DataFrame, lacks a column, or holds
                values a column's input cannot take.
        """
        import pandas as pd

        loaded = self._loaded(model)
        if not isinstance(X, pd.DataFrame):
            raise InvalidInput(
                f"X must be a pandas DataFrame, got {type(X).__name__}.", field="X"
            )
        missing = [i.name for i in loaded.inputs if i.name not in X.columns]
        if missing:
            raise missing_column(missing[0], loaded.input_names)
        columns = {i.name: series_values(X[i.name]) for i in loaded.inputs}
        proba = loaded.predict_columns(columns)
        return positive_class_proba(proba, len(X), flavor=self.name)

    def predict_columns(
        self, model: OnnxModel, columns: Mapping[str, Any]
    ) -> np.ndarray:
        """P(label 1) for rows given as one array per column, without pandas.

        The serving hot path: see :meth:`OnnxModel.predict_columns`.

        Example:
            >>> cols = {"age": np.array([30]), "purpose": np.array(["car"])}
            >>> flavor.predict_columns(model, cols)  # doctest: +SKIP
            array([0.11])
        """
        return self._loaded(model).predict_columns(columns)

    def predict_proba_columns(
        self, model: object, columns: Mapping[str, Any], n_rows: int
    ) -> np.ndarray:
        """The serving engine's columnar ability (``ColumnarFlavor``).

        ``columns`` holds one 1-D array per input, typed as
        :func:`mlsteward.registry.signature.conform` types them (float64 or
        int64 numbers, object arrays of ``str`` or ``None``); the result
        equals :meth:`predict_proba` on the conformed frame.
        """
        if n_rows == 0:
            return np.empty(0, dtype=np.float64)
        return self._loaded(model).predict_columns(columns)

    def categories(self, model: object) -> dict[str, list[str]]:
        """Categories the graph knows per string input (``CategoriesFlavor``).

        Read from the ``ai.onnx.ml`` ``OneHotEncoder`` and ``LabelEncoder``
        nodes that read a graph input directly (what skl2onnx writes for
        one-hot and ordinal encoders); other inputs are absent.

        Example:
            >>> flavor.categories(model)["housing"]  # doctest: +SKIP
            ['for free', 'own', 'rent']
        """
        loaded = self._loaded(model)
        strings = {i.name for i in loaded.inputs if i.dtype == "string"}
        return categories(loaded.data, strings)

    def _loaded(self, model: object) -> OnnxModel:
        if isinstance(model, OnnxModel):
            return model
        return self.load(self.save(model))


# --- reading and checking the graph -----------------------------------------


def _check_model(raw: bytes) -> None:
    """The onnx package's checker (registration only: it imports onnx)."""
    onnx = _onnx()
    proto = onnx.ModelProto()
    try:
        proto.ParseFromString(raw)
        onnx.checker.check_model(proto)
    except Exception as exc:
        raise InvalidInput(
            f"The onnx artifact is not a valid ONNX model: {exc}", field="data"
        ) from exc


def _not_onnx(model: object) -> InvalidInput:
    cls = type(model)
    what = f"{cls.__module__}.{cls.__qualname__}"
    if cls.__module__.startswith("sklearn"):
        from sklearn.exceptions import NotFittedError
        from sklearn.utils.validation import check_is_fitted

        try:
            check_is_fitted(model)
        except NotFittedError:
            return InvalidInput(
                f"The {cls.__name__} is not fitted, and the onnx flavor saves "
                "ONNX models: fit it, then convert it with "
                "mlsteward.flavors.onnx.convert_sklearn(model, sample).",
                field="model",
            )
        except TypeError:
            pass
        return InvalidInput(
            f"The onnx flavor saves ONNX models; this is a {what}. Convert it "
            "first with mlsteward.flavors.onnx.convert_sklearn(model, sample), "
            "or register it with flavor='sklearn'.",
            field="model",
        )
    return InvalidInput(
        f"The onnx flavor saves ONNX models (onnx.ModelProto or its serialized "
        f"bytes); got a {what}.",
        field="model",
    )


def convert_sklearn(
    model: object,
    sample: pd.DataFrame,
    *,
    atol: float = PARITY_ATOL,
    target_opset: Mapping[str, int] | None = None,
) -> bytes:
    """Convert a fitted scikit-learn classifier to ONNX bytes, checking that
    both score ``sample`` alike; see :mod:`mlsteward.flavors.onnx.convert`."""
    from mlsteward.flavors.onnx.convert import convert_sklearn as convert

    return convert(model, sample, atol=atol, target_opset=target_opset)
