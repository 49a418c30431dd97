"""The contract every model flavor fulfils.

A flavor knows how one kind of model is turned into bytes, how those bytes are
turned back into a model *without running code from the artifact*, and how the
model is asked for the probability of the positive class (label 1, "bad").

This module imports neither numpy nor pandas at run time, so that
``import mlsteward.flavors`` stays cheap; the heavy work lives in the flavor
modules, which are imported on first use.
"""

from __future__ import annotations

import abc
from typing import TYPE_CHECKING, Any

from mlsteward.errors import InvalidInput, UnsafeArtifact

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

__all__ = ["Flavor", "positive_class_proba", "refuse_pickle"]

# Protocol 2+ pickles start with the PROTO opcode (0x80) followed by the
# protocol number; that covers every pickle Python 3 writes by default.
_PICKLE_PROTO = 0x80


class Flavor(abc.ABC):
    """How one kind of model is saved, loaded safely and called.

    Concrete flavors set the class attributes ``name`` (the key used in
    :data:`mlsteward.flavors.FLAVORS`) and ``extension`` (file suffix of the
    stored artifact) and implement every abstract method; a flavor that
    forgets one cannot be instantiated.

    Example:
        >>> from mlsteward.flavors import get_flavor
        >>> flavor = get_flavor("sklearn")  # doctest: +SKIP
        >>> data = flavor.save(fitted_pipeline)  # doctest: +SKIP
        >>> model = flavor.load(data)  # doctest: +SKIP
        >>> flavor.predict_proba(model, frame)  # doctest: +SKIP
        array([0.12, 0.87])
    """

    @property
    @abc.abstractmethod
    def name(self) -> str:
        """Flavor name, e.g. ``"sklearn"``; a class attribute in subclasses."""

    @property
    @abc.abstractmethod
    def extension(self) -> str:
        """Artifact file suffix, e.g. ``".skops"``; a class attribute."""

    def file_extension(self) -> str:
        """Return :attr:`extension`, for callers that prefer a method."""
        return self.extension

    @abc.abstractmethod
    def can_save(self, model: object) -> bool:
        """Whether this flavor knows how to save ``model``.

        Must be cheap and must not import a heavy library unless ``model``
        plainly comes from it (its class module starts with the library name).

        Args:
            model: Any object.

        Returns:
            True if :meth:`save` accepts this kind of object.
        """

    @abc.abstractmethod
    def save(self, model: object) -> bytes:
        """Serialise a fitted binary classifier to bytes.

        Args:
            model: A fitted model this flavor can save.

        Returns:
            The artifact bytes.

        Raises:
            InvalidInput: The model is of the wrong kind, unfitted, not a
                binary classifier, or holds something that could not be loaded
                back safely.
        """

    @abc.abstractmethod
    def load(self, data: bytes) -> object:
        """Rebuild a model from artifact bytes without running their code.

        Args:
            data: Bytes produced by :meth:`save` (or by someone pretending to).

        Returns:
            The model, ready for :meth:`predict_proba`.

        Raises:
            UnsafeArtifact: The bytes would run code, name types mlsteward does
                not trust, or could crash the process when used.
            InvalidInput: The bytes are not an artifact of this flavor.
        """

    @abc.abstractmethod
    def predict_proba(self, model: object, X: pd.DataFrame) -> np.ndarray:
        """Probability of the positive class (label 1, "bad") for each row.

        Args:
            model: A model returned by :meth:`load` or accepted by :meth:`save`.
            X: Feature frame, one row per applicant.

        Returns:
            1-D float64 array of length ``len(X)`` with values in [0, 1].

        Raises:
            InvalidInput: ``X`` does not fit the model (missing columns, wrong
                types) or the model's output is not a probability.
        """

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name!r}>"


def refuse_pickle(data: object, *, flavor: str) -> bytes:
    """Return ``data`` as bytes, refusing non-bytes and pickles.

    Args:
        data: What the caller handed to :meth:`Flavor.load`.
        flavor: Flavor name, for the message.

    Returns:
        ``data`` as an immutable ``bytes`` object.

    Raises:
        InvalidInput: ``data`` is not bytes-like, or empty.
        UnsafeArtifact: ``data`` looks like a pickle.

    Example:
        >>> refuse_pickle(b"PK...", flavor="sklearn")
        b'PK...'
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise InvalidInput(
            f"A {flavor} artifact must be bytes, got {type(data).__name__}.",
            field="data",
        )
    raw = bytes(data)
    if not raw:
        raise InvalidInput(f"The {flavor} artifact is empty.", field="data")
    if raw[0] == _PICKLE_PROTO:
        raise UnsafeArtifact(
            f"The {flavor} artifact looks like a pickle; mlsteward never "
            "unpickles, because unpickling runs arbitrary code. Save the model "
            f"again with the {flavor} flavor.",
            field="data",
        )
    return raw


def positive_class_proba(values: Any, n_rows: int, *, flavor: str) -> np.ndarray:
    """Check and normalise a model's positive-class probabilities.

    Args:
        values: One probability per row, as returned by the model.
        n_rows: Number of rows that were scored.
        flavor: Flavor name, for the message.

    Returns:
        A contiguous 1-D float64 array of length ``n_rows`` in [0, 1].

    Raises:
        InvalidInput: The output has the wrong shape or is not a probability.

    Example:
        >>> positive_class_proba([0.25, 1.0], 2, flavor="sklearn")
        array([0.25, 1.  ])
    """
    import numpy as np

    out = np.ascontiguousarray(values, dtype=np.float64)
    if out.ndim != 1 or out.shape[0] != n_rows:
        raise InvalidInput(
            f"The {flavor} model returned probabilities of shape {out.shape} "
            f"for {n_rows} rows; expected ({n_rows},).",
            field="X",
        )
    if n_rows and not (np.isfinite(out).all() and out.min() >= 0 and out.max() <= 1):
        raise InvalidInput(
            f"The {flavor} model returned values outside [0, 1]; expected "
            "probabilities. Is it a probabilistic binary classifier?",
            field="X",
        )
    return out
