"""A model version's artifact: as saved (bytes and sha256) and as loaded.

Example:
    >>> from mlsteward.artifacts import sha256_hex
    >>> SavedModel("sklearn", b"PK...", sha256_hex(b"PK...")).size
    5
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mlsteward.artifacts import sha256_hex
from mlsteward.errors import IntegrityError
from mlsteward.flavors import get_flavor
from mlsteward.flavors.base import Flavor
from mlsteward.registry.models import ModelVersion
from mlsteward.registry.signature import conform

if TYPE_CHECKING:  # pandas is imported on use: a serving process may not need it
    import numpy as np
    import pandas as pd

__all__ = ["LoadedModel", "SavedModel", "loaded_model"]


@dataclass
class LoadedModel:
    """A model version loaded after its checksum was verified.

    ``predict_proba`` checks the input against the version's signature first,
    so a wrong column is an error naming it, not a confusing library error.
    """

    version: ModelVersion
    flavor: Flavor
    model: Any

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        return self.flavor.predict_proba(self.model, conform(self.version.signature, X))


@dataclass(frozen=True)
class SavedModel:
    """A model already saved by its flavor: the artifact bytes and their sha256.

    What a remote client uploads to register a model (it saves the model with
    the flavor on the laptop, the same bytes the embedded client stores) and
    what the server hands back for ``client.models.load``. Passed to
    :meth:`ModelRegistry.register` in place of a fitted model, the bytes are
    checked against ``sha256`` and loaded by the flavor's safe loader (never
    unpickled) before anything is stored.

    Example:
        >>> from mlsteward.artifacts import sha256_hex
        >>> data = b"PK..."
        >>> SavedModel("sklearn", data, sha256_hex(data)).size
        5
    """

    flavor: str
    data: bytes
    sha256: str

    @property
    def size(self) -> int:
        return len(self.data)

    def verify(self, field: str = "artifact_sha256") -> SavedModel:
        """The same artifact, after checking its bytes hash to ``sha256``.

        Raises:
            IntegrityError: They do not (a corrupted or tampered transfer).
        """
        actual = sha256_hex(self.data)
        if actual != self.sha256:
            raise IntegrityError(
                f"the {self.flavor} artifact's bytes hash to {actual}, not to the "
                f"declared {self.sha256}; it was corrupted or tampered with in "
                "transit, refusing it",
                field=field,
                expected=self.sha256,
                actual=actual,
            )
        return self


def loaded_model(mv: ModelVersion, saved: SavedModel) -> LoadedModel:
    """``saved`` loaded by its flavor's safe loader, after checking its bytes
    are the version's (sha256)."""
    if saved.sha256 != mv.artifact_sha256:
        raise IntegrityError(
            f"the artifact {saved.sha256} is not the one of {mv.ref} "
            f"({mv.artifact_sha256})",
            field="artifact_sha256",
        )
    fl = get_flavor(saved.verify().flavor)
    return LoadedModel(mv, fl, fl.load(saved.data))
