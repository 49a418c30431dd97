"""retraining tables."""

from __future__ import annotations

from mlsteward.store import metadata  # noqa: F401
