"""mlsteward: closed-loop model operations with governance built in.

Example:
    >>> import mlsteward
    >>> client = mlsteward.Client(home="/tmp/ms-doc")  # doctest: +SKIP
"""

from __future__ import annotations

from importlib import metadata as _metadata
from typing import TYPE_CHECKING, Any

from mlsteward.errors import (
    Conflict,
    Forbidden,
    IntegrityError,
    InvalidInput,
    MlstewardError,
    NotFound,
    PolicyViolation,
    UnsafeArtifact,
)

if TYPE_CHECKING:
    from mlsteward.config import Settings, get_settings

try:
    __version__ = _metadata.version("mlsteward")
except _metadata.PackageNotFoundError:  # running from a source tree
    __version__ = "0.0.0"

__all__ = [
    "Client",
    "Conflict",
    "Forbidden",
    "IntegrityError",
    "InvalidInput",
    "MlstewardError",
    "NotFound",
    "PolicyViolation",
    "Settings",
    "UnsafeArtifact",
    "__version__",
    "datasets",
    "drift_report",
    "get_settings",
]


def __getattr__(name: str) -> Any:
    # The client pulls in pandas and SQLAlchemy, the settings pydantic;
    # `import mlsteward` stays light (the log shipper process imports only
    # what it uses).
    if name in ("Settings", "get_settings"):
        from mlsteward import config

        return getattr(config, name)
    if name == "Client":
        # Embedded, or remote given a URL (mlsteward.remote.client.Client).
        # Imported by name: modules of every layer import ``mlsteward`` for
        # its version, and must not be seen to reach the top adapter.
        import importlib

        return importlib.import_module("mlsteward.remote.client").Client
    if name == "drift_report":
        from mlsteward.monitoring.drift.compute import drift_report

        return drift_report
    if name == "datasets":
        import importlib

        return importlib.import_module("mlsteward.datasets")
    raise AttributeError(f"module 'mlsteward' has no attribute {name!r}")
