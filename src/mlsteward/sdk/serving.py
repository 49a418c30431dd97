"""Client methods of serving (deployments, predictions)."""

from __future__ import annotations

from mlsteward.context import Context


class ServingMixin:
    ctx: Context
